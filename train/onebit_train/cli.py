"""Command line: ``python -m onebit_train {train,export,report,parity} ...``.

- ``train <recipe> [--steps N] [--epochs E] [--out DIR]``: train with a progress bar and a
  per-epoch log (``DIR/log.jsonl``: loss and metrics), then write ``DIR/model.pt`` and the
  onebit model ``DIR/model.onebit``; the metrics are measured with the exported semantics.
- ``export DIR/model.pt [--out FILE] [--trace] [--batch N]``: (re)write the model file.
- ``report DIR/model.pt``: kernel frequency distribution of each binary 3x3 layer.
- ``parity <recipe> --out DIR [--steps N]``: a tiny training run, a traced export (every
  binary layer an output) and reference outputs on random and real inputs for the Deno test.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from tqdm import tqdm

from . import __version__
from .data import GlyphBatches, glyphs
from .layers import BinealBlock
from .models import MODELS, reference_outputs
from .recipes import RECIPES
from .sks import kernel_report

PRODUCER = f"onebit-train {__version__}"


def build(recipe: dict, overrides: dict | None = None):
    args = {**recipe["model_args"], **(overrides or {})}
    return MODELS[recipe["model"]](**args)


@torch.no_grad()
def recalibrate(model, batches: GlyphBatches, count: int = 20) -> None:
    """Re-estimates every batch norm's running statistics with the final weights (a
    cumulative average over ``count`` batches): the exported thresholds fold the running
    statistics, which lag behind while binary weights flip during training."""
    norms = [m for m in model.modules() if isinstance(m, torch.nn.BatchNorm2d)]
    saved = [m.momentum for m in norms]
    for m in norms:
        m.reset_running_stats()
        m.momentum = None
    model.train()
    for _, (x, _) in zip(range(count), batches.epoch()):
        model(x)
    for m, momentum in zip(norms, saved):
        m.momentum = momentum


@torch.no_grad()
def evaluate(model, batches: GlyphBatches) -> dict:
    model.eval()
    correct = total = 0
    for x, y in batches.epoch(shuffle=False):
        correct += int((model(x).argmax(1) == y).sum())
        total += len(y)
    return {"accuracy": correct / max(total, 1)}


def train(recipe_name: str, out: Path, steps: int | None = None, epochs: int | None = None,
          limit_test: int | None = None, quiet: bool = False, seed: int = 0) -> dict:
    recipe = RECIPES[recipe_name]
    torch.manual_seed(seed)
    model = build(recipe)
    data = GlyphBatches(recipe["data"], "train", recipe["batch"], seed=seed)
    test = GlyphBatches(recipe["data"], "test", 500, limit=limit_test)
    epochs = epochs or recipe["epochs"]
    total_steps = steps if steps is not None else epochs * len(data)
    if steps is not None:
        epochs = math.ceil(steps / len(data))
    opt = torch.optim.Adam(model.parameters(), lr=recipe["lr"])
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: 0.5 * (1 + math.cos(math.pi * min(s, total_steps) / total_steps)))
    out.mkdir(parents=True, exist_ok=True)
    log = open(out / "log.jsonl", "w")
    step, started = 0, time.time()
    for epoch in range(epochs):
        model.train()
        seen = loss_sum = correct = 0
        bar = tqdm(data.epoch(), total=min(len(data), total_steps - step), disable=quiet,
                   desc=f"{recipe_name} epoch {epoch + 1}/{epochs}", file=sys.stderr)
        for x, y in bar:
            if step >= total_steps:
                break
            logits = model(x)
            loss = F.cross_entropy(logits, y)
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
            step += 1
            seen += len(y)
            loss_sum += float(loss) * len(y)
            correct += int((logits.argmax(1) == y).sum())
            bar.set_postfix(loss=f"{loss_sum / seen:.3f}", acc=f"{correct / seen:.3f}")
        recalibrate(model, data)
        metrics = evaluate(model, test)
        entry = {"epoch": epoch + 1, "step": step, "loss": loss_sum / max(seen, 1),
                 "train_accuracy": correct / max(seen, 1), "test_accuracy": metrics["accuracy"],
                 "seconds": round(time.time() - started, 1)}
        log.write(json.dumps(entry) + "\n")
        log.flush()
        print(json.dumps(entry), file=sys.stderr)
    save(model, recipe_name, out / "model.pt")
    (out / "model.onebit").write_bytes(model.export().to_bytes(name=recipe_name, task=model.task, producer=PRODUCER))
    return entry


def save(model, recipe_name: str, path: Path) -> None:
    torch.save({"recipe": recipe_name, "config": model.config, "state": model.state_dict()}, path)


def load(path: Path):
    ckpt = torch.load(path, weights_only=False)
    model = MODELS[RECIPES[ckpt["recipe"]]["model"]](**ckpt["config"])
    model.train()
    model(torch.zeros(2, ckpt["config"]["in_channels"], ckpt["config"]["size"], ckpt["config"]["size"]))  # codebook init
    model.load_state_dict(ckpt["state"])
    model.eval()
    return model, ckpt["recipe"]


def report(model) -> dict:
    layers = {}
    for i, m in enumerate(b for b in model.modules() if isinstance(b, BinealBlock)):
        w = m.conv_weight().detach() if m.sks is not None else m.conv.weight.detach()
        layers[f"b{i + 1}"] = kernel_report(w)
    return layers


def parity(recipe_name: str, out: Path, steps: int, batch: int = 4) -> None:
    """Tiny run + traced export + reference outputs of the eval (exported) semantics."""
    recipe = RECIPES[recipe_name]
    torch.manual_seed(1)
    model = build(recipe)
    data = GlyphBatches(recipe["data"], "train", 32, seed=1, limit=2048)
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    model.train()
    for step, (x, y) in zip(range(steps), data.epoch()):
        loss = F.cross_entropy(model(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
    model.eval()
    out.mkdir(parents=True, exist_ok=True)
    (out / "model.onebit").write_bytes(model.export(batch=batch, trace=True).to_bytes(
        name=f"{recipe_name}-parity", task=model.task, producer=PRODUCER))
    cfg = model.config
    rng = np.random.default_rng(7)
    real, _ = glyphs(recipe["data"], "test")
    cases = {
        "random": rng.integers(0, 256, (batch, cfg["size"], cfg["size"], cfg["in_channels"]), dtype=np.uint8),
        "real": real[:batch, :, :, None].astype(np.uint8),
    }
    manifest = {"model": "model.onebit", "recipe": recipe_name, "cases": []}
    for name, image in cases.items():
        (out / f"{name}.image.bin").write_bytes(image.tobytes())
        x = torch.from_numpy(image.astype(np.float32)).permute(0, 3, 1, 2)
        outputs = {}
        for key, value in reference_outputs(model, x).items():
            (out / f"{name}.{key}.bin").write_bytes(value.tobytes())
            outputs[key] = f"{name}.{key}.bin"
        manifest["cases"].append({"name": name, "inputs": {"image": f"{name}.image.bin"}, "outputs": outputs})
    (out / "manifest.json").write_text(json.dumps(manifest, indent=1))
    print(json.dumps({"parity_dump": str(out), "outputs": len(manifest["cases"][0]["outputs"])}))


def main(argv: list[str] | None = None) -> None:
    torch.set_num_threads(int(os.environ.get("ONEBIT_TRAIN_THREADS", "2")))
    p = argparse.ArgumentParser(prog="onebit_train")
    sub = p.add_subparsers(dest="cmd", required=True)
    t = sub.add_parser("train")
    t.add_argument("recipe", choices=sorted(RECIPES))
    t.add_argument("--steps", type=int)
    t.add_argument("--epochs", type=int)
    t.add_argument("--out", type=Path)
    t.add_argument("--limit-test", type=int)
    t.add_argument("--quiet", action="store_true")
    e = sub.add_parser("export")
    e.add_argument("checkpoint", type=Path)
    e.add_argument("--out", type=Path)
    e.add_argument("--batch", type=int, default=1)
    e.add_argument("--trace", action="store_true")
    r = sub.add_parser("report")
    r.add_argument("checkpoint", type=Path)
    q = sub.add_parser("parity")
    q.add_argument("recipe", choices=sorted(RECIPES))
    q.add_argument("--out", type=Path, required=True)
    q.add_argument("--steps", type=int, default=3)
    a = p.parse_args(argv)
    if a.cmd == "train":
        out = a.out or Path("train/runs") / a.recipe
        train(a.recipe, out, steps=a.steps, epochs=a.epochs, limit_test=a.limit_test, quiet=a.quiet)
        print(json.dumps({"model": str(out / "model.onebit"), "kernels": report(load(out / "model.pt")[0])}, indent=1))
    elif a.cmd == "export":
        model, name = load(a.checkpoint)
        out = a.out or a.checkpoint.with_suffix(".onebit")
        out.write_bytes(model.export(batch=a.batch, trace=a.trace).to_bytes(name=name, task=model.task, producer=PRODUCER))
        print(out)
    elif a.cmd == "report":
        print(json.dumps(report(load(a.checkpoint)[0]), indent=1))
    elif a.cmd == "parity":
        parity(a.recipe, a.out, a.steps)
