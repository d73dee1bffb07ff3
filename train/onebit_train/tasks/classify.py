"""Classification family: BiNeal ResNet-style classifiers on 28x28 glyphs (Fashion-MNIST,
MNIST), their sparse-kernel-selection variant and their 8-bit twin."""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from ..data import GlyphBatches, glyphs
from ..int8_twin import Int8Classifier
from ..models import Classifier
from ..models import reference_outputs as _reference_outputs

RECIPES = {
    # BiNeal classifier on Fashion-MNIST, width 1.5x.
    "classify": dict(model="classify", data="fashion", model_args=dict(m=1.5), epochs=2,
                     batch=128, lr=2e-3),
    # The same with sparse kernel selection on every binary 3x3 conv (tau 5: 32 codewords).
    "classify_sks": dict(model="classify", data="fashion", model_args=dict(m=1.5, tau=5),
                         epochs=2, batch=128, lr=2e-3),
    # BiNeal classifier on MNIST digits.
    "classify_mnist": dict(model="classify", data="mnist", model_args=dict(m=1.5), epochs=2,
                           batch=128, lr=2e-3),
    # The 8-bit twin of "classify": same widths and strides, int8 QAT (int8_twin.py).
    "classify_int8": dict(model="classify_int8", data="fashion", model_args=dict(m=1.5),
                          epochs=2, batch=128, lr=2e-3),
}

MODELS = {"classify": Classifier, "classify_int8": Int8Classifier}


def train_data(recipe: dict, seed: int, limit: int | None = None) -> GlyphBatches:
    return GlyphBatches(recipe["data"], "train", recipe["batch"], seed=seed, limit=limit)


def test_data(recipe: dict, limit: int | None = None) -> GlyphBatches:
    return GlyphBatches(recipe["data"], "test", 500, limit=limit)


def loss(model, x: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, dict]:
    logits = model(x)
    return F.cross_entropy(logits, y), {"acc": float((logits.argmax(1) == y).float().mean())}


@torch.no_grad()
def evaluate(model, test: GlyphBatches) -> dict:
    model.eval()
    correct = total = 0
    for x, y in test.epoch(shuffle=False):
        correct += int((model(x).argmax(1) == y).sum())
        total += len(y)
    return {"accuracy": correct / max(total, 1)}


def parity_inputs(recipe: dict, model, batch: int) -> dict[str, np.ndarray]:
    cfg = model.config
    rng = np.random.default_rng(7)
    real, _ = glyphs(recipe["data"], "test")
    return {
        "random": rng.integers(0, 256, (batch, cfg["size"], cfg["size"], cfg["in_channels"]), dtype=np.uint8),
        "real": real[:batch, :, :, None].astype(np.uint8),
    }


def reference_outputs(model, x: torch.Tensor) -> dict:
    return _reference_outputs(model, x)
