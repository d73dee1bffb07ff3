"""Sparse kernel selection (Wang et al., CVPR 2023): each binary 3x3 layer keeps a codebook of
2^tau distinct codewords out of the 512 possible ±1 3x3 kernels, and every (out, in) kernel
is one codeword, stored as a tau-bit index (tau/9 bits per weight).

Training: the codebook is the first 2^tau rows of a permutation of the 512 patterns. The
permutation is relaxed with Gumbel-Sinkhorn over learned scores (a soft doubly stochastic
matrix) and made hard by a greedy assignment that never reuses a pattern (so codewords are
never repeated); the permutation straight-through estimator uses the hard codebook forward
and the soft one backward. Each kernel takes the codeword nearest its latent weights (max
inner product); gradients reach the latent weights straight through and the scores through
the soft codebook.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn as nn

from .modelfile import pack_indices

TAPS = 9


def all_patterns() -> torch.Tensor:
    """The 512 ±1 3x3 kernels, row p has tap j = -1 iff bit j of p is 1 (the runtime's
    codeword bit order: bit ky*3+kx is tap (ky, kx), bit 1 = -1)."""
    p = torch.arange(2 ** TAPS).view(-1, 1)
    bits = (p >> torch.arange(TAPS)) & 1
    return (1 - 2 * bits).float()


def pattern_ids(binary: torch.Tensor) -> torch.Tensor:
    """Pattern number of each ±1 kernel of a weight ``[O, C, 3, 3]`` -> ``[O, C]``."""
    bits = (binary.flatten(2) < 0).long()
    return (bits << torch.arange(TAPS)).sum(-1)


def log_sinkhorn(log_alpha: torch.Tensor, iters: int = 10) -> torch.Tensor:
    for _ in range(iters):
        log_alpha = log_alpha - torch.logsumexp(log_alpha, dim=1, keepdim=True)
        log_alpha = log_alpha - torch.logsumexp(log_alpha, dim=0, keepdim=True)
    return log_alpha.exp()


class Codebook(nn.Module):
    """A learned codebook of 2^tau distinct binary 3x3 codewords for one layer."""

    def __init__(self, tau: int = 5, temperature: float = 0.5, noise: float = 0.1):
        super().__init__()
        assert 1 <= tau <= 8, tau
        self.tau, self.size = tau, 2 ** tau
        self.temperature, self.noise = temperature, noise
        # Scores [size, 512], set from the latent weights' pattern frequencies on first use.
        self.scores = nn.Parameter(torch.zeros(self.size, 2 ** TAPS))
        self.register_buffer("ready", torch.tensor(False))
        self.register_buffer("patterns", all_patterns(), persistent=False)

    @torch.no_grad()
    def init_from(self, weight: torch.Tensor) -> None:
        """Start from the 2^tau most frequent patterns of sign(weight), rank by rank."""
        counts = torch.bincount(pattern_ids(torch.where(weight >= 0, 1.0, -1.0)).ravel(), minlength=512)
        order = torch.argsort(counts.float() + torch.rand(512) * 0.01, descending=True)
        self.scores.zero_()
        self.scores[torch.arange(self.size), order[: self.size]] = 5.0
        self.ready.fill_(True)

    def soft(self) -> torch.Tensor:
        """Soft permutation rows [size, 512] (Gumbel-Sinkhorn on the padded square)."""
        log_alpha = torch.cat([self.scores, torch.zeros(2 ** TAPS - self.size, 2 ** TAPS)])
        if self.training and self.noise > 0:
            u = torch.rand_like(log_alpha).clamp(1e-9, 1 - 1e-9)
            log_alpha = log_alpha + self.noise * -torch.log(-torch.log(u))
        return log_sinkhorn(log_alpha / self.temperature)[: self.size]

    @torch.no_grad()
    def hard_ids(self) -> torch.Tensor:
        """Greedy unique assignment: each row takes its best pattern not taken yet."""
        s = self.scores.detach().clone()
        ids = torch.empty(self.size, dtype=torch.long)
        for _ in range(self.size):
            flat = int(torch.argmax(s))
            row, col = divmod(flat, s.shape[1])
            ids[row] = col
            s[row, :] = -float("inf")
            s[:, col] = -float("inf")
        return ids

    def codewords(self) -> torch.Tensor:
        """[size, 9] ±1 codewords: hard forward, soft backward (permutation STE)."""
        hard = self.patterns[self.hard_ids()]
        if not self.training:
            return hard
        soft = self.soft() @ self.patterns
        return soft + (hard - soft).detach()

    def assign(self, weight: torch.Tensor, words: torch.Tensor) -> torch.Tensor:
        """Index [O, C] of the codeword nearest each kernel's latent weights."""
        return torch.argmax(weight.detach().flatten(2) @ words.detach().T, dim=-1)

    def forward(self, weight: torch.Tensor) -> torch.Tensor:
        """±1 weights [O, C, 3, 3] made of codewords, with straight-through gradients."""
        if not bool(self.ready):
            self.init_from(weight)
        words = self.codewords()
        idx = self.assign(weight, words)
        chosen = words[idx].view_as(weight)
        # Straight through to the latent weights (clipped), and to the codebook scores.
        latent = weight.clamp(-1, 1)
        return chosen + (latent - latent.detach()) * (weight.abs() <= 1)

    @torch.no_grad()
    def export(self, weight: torch.Tensor) -> tuple[np.ndarray, np.ndarray]:
        """(codebook U16 [2^tau], packed tau-bit indices U8) of the layer."""
        ids = self.hard_ids()
        assert len(set(ids.tolist())) == self.size, "codewords repeat"
        words = self.patterns[ids]
        idx = self.assign(weight, words)
        return ids.numpy().astype(np.uint16), pack_indices(idx.numpy().ravel(), self.tau)


def kernel_report(weight: torch.Tensor) -> dict:
    """Frequency distribution of the 512 binary 3x3 patterns of a layer: top-k coverage and
    whether rank-frequency follows a power law: the least-squares line of log(frequency) vs
    log(rank) (its slope, and its R^2; a power law is a straight line there, R^2 near 1),
    against the same fit of log(frequency) vs rank (an exponential tail is straight there).
    ``power_law`` is true when the log-log fit has R^2 >= 0.9 and beats the exponential one."""
    ids = pattern_ids(torch.where(weight >= 0, 1.0, -1.0)).ravel()
    counts = torch.bincount(ids, minlength=512).double()
    freq = torch.sort(counts, descending=True).values
    total = float(freq.sum())
    nz = freq[freq > 0]
    ranks = torch.arange(1, len(nz) + 1).double()
    y = (nz / total).log()
    slope, r2_loglog = _line_fit(ranks.log(), y)
    _, r2_exp = _line_fit(ranks, y)
    return {
        "kernels": int(total), "distinct": int(len(nz)), "loglog_slope": round(slope, 3),
        "loglog_r2": round(r2_loglog, 3), "exponential_r2": round(r2_exp, 3),
        "power_law": bool(r2_loglog >= 0.9 and r2_loglog > r2_exp),
        "top16": round(float(freq[:16].sum()) / total, 4), "top32": round(float(freq[:32].sum()) / total, 4),
        "top64": round(float(freq[:64].sum()) / total, 4),
    }


def _line_fit(x: torch.Tensor, y: torch.Tensor) -> tuple[float, float]:
    """(slope, R^2) of the least-squares line through (x, y); (0, 0) for under 3 points."""
    if len(x) < 3:
        return 0.0, 0.0
    dx, dy = x - x.mean(), y - y.mean()
    slope = float((dx * dy).sum() / (dx * dx).sum())
    residual = dy - slope * dx
    total = float((dy * dy).sum())
    return slope, (1 - float((residual * residual).sum()) / total) if total > 0 else 0.0
