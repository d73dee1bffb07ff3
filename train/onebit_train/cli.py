"""Command line: ``python -m onebit_train {train,export,report,parity,evalset,recipes} ...``.
Every command is generic over the task families of ``tasks/`` (their hooks are listed in
``tasks/__init__.py``).

- ``train <recipe> [--steps N] [--epochs E] [--out DIR]``: train with a progress bar and a
  per-epoch log (``DIR/log.jsonl``: loss and metrics), then write ``DIR/model.pt`` and the
  onebit model ``DIR/model.onebit`` (and for an ``*_int8`` twin its ONNX ``DIR/model.onnx``),
  with ``DIR/kernels.json`` (kernel frequencies); metrics use the exported semantics.
- ``export DIR/model.pt [--out FILE] [--trace] [--batch N]``: (re)write the model file.
- ``report DIR/model.pt``: kernel frequency distribution of each binary 3x3 layer.
- ``parity <recipe> --out DIR [--steps N]``: a tiny training run, a traced export (every
  binary layer an output) and reference outputs on random and real inputs for the Deno test.
- ``evalset <family> --out DIR [--limit N]``: the held-out set ``deno task eval`` reads.
- ``recipes``: every recipe as JSON.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from . import __version__
from .layers import BinealBlock
from .sks import kernel_report
from .tasks import all_models, all_recipes, family

PRODUCER = f"onebit-train {__version__}"


def build(recipe: dict, overrides: dict | None = None):
    args = {**recipe["model_args"], **(overrides or {})}
    return all_models()[recipe["model"]](**args)


@torch.no_grad()
def recalibrate(model, batches, count: int = 20) -> None:
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


def train(recipe_name: str, out: Path, steps: int | None = None, epochs: int | None = None,
          limit_test: int | None = None, quiet: bool = False, seed: int = 0) -> dict:
    """Trains a recipe with a progress bar; logs loss and metrics per epoch to
    ``out/log.jsonl`` and writes ``model.pt``, ``model.onebit`` and ``kernels.json``."""
    recipe = all_recipes()[recipe_name]
    fam = family(recipe["family"])
    torch.manual_seed(seed)
    model = build(recipe)
    data = fam.train_data(recipe, seed)
    test = fam.test_data(recipe, limit_test)
    if steps is None and epochs is None and "steps" in recipe:
        steps = recipe["steps"]
    epochs = epochs or recipe.get("epochs", 1)
    total_steps = steps if steps is not None else epochs * len(data)
    if steps is not None:
        epochs = math.ceil(steps / len(data))
    opt = torch.optim.Adam(model.parameters(), lr=recipe["lr"])
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: 0.5 * (1 + math.cos(math.pi * min(s, total_steps) / total_steps)))
    out.mkdir(parents=True, exist_ok=True)
    log = open(out / "log.jsonl", "w")
    step, started = 0, time.time()
    entry: dict = {}
    for epoch in range(epochs):
        model.train()
        seen = 0
        sums: dict[str, float] = {}
        bar = tqdm(data.epoch(), total=min(len(data), total_steps - step), disable=quiet,
                   desc=f"{recipe_name} epoch {epoch + 1}/{epochs}", file=sys.stderr)
        for x, target in bar:
            if step >= total_steps:
                break
            loss, stats = fam.loss(model, x, target)
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
            step += 1
            seen += 1
            for key, value in {"loss": float(loss), **stats}.items():
                sums[key] = sums.get(key, 0.0) + value
            bar.set_postfix({key: f"{value / seen:.3f}" for key, value in sums.items()})
        recalibrate(model, data)
        metrics = fam.evaluate(model, test)
        entry = {"epoch": epoch + 1, "step": step,
                 **{f"train_{k}" if k != "loss" else k: round(v / max(seen, 1), 5) for k, v in sums.items()},
                 **{f"test_{k}": round(v, 5) for k, v in metrics.items()},
                 "seconds": round(time.time() - started, 1)}
        log.write(json.dumps(entry) + "\n")
        log.flush()
        print(json.dumps(entry), file=sys.stderr)
    save(model, recipe_name, out / "model.pt")
    (out / "model.onebit").write_bytes(model.export().to_bytes(name=recipe_name, task=model.task, producer=PRODUCER))
    (out / "kernels.json").write_text(json.dumps(report(model), indent=1))
    if recipe_name.endswith("_int8"):
        write_onnx(out / "model.onebit", out / "model.onnx")
    return entry


REPO = Path(__file__).resolve().parents[2]


def write_onnx(model: Path, onnx: Path) -> None:
    """The 8-bit twin as ONNX (QLinearConv u8 x s8), written by the runtime's own converter
    (``onebit model onnx``, daemon/runtime/int8_twin.ts), which is tested against ONNX
    Runtime; skipped with a message when Deno is not installed."""
    deno = REPO / "tools/bin/deno"
    exe = str(deno) if deno.exists() else shutil.which("deno")
    if exe is None:
        print(f"onebit_train: no deno; write the ONNX twin with: onebit model onnx {model} --out {onnx}",
              file=sys.stderr)
        return
    subprocess.run([exe, "run", "--allow-all", str(REPO / "daemon/main.ts"), "model", "onnx",
                    str(model.resolve()), "--out", str(onnx.resolve())], check=True, cwd=REPO)


def save(model, recipe_name: str, path: Path) -> None:
    torch.save({"recipe": recipe_name, "config": model.config, "state": model.state_dict()}, path)


def load(path: Path):
    ckpt = torch.load(path, weights_only=False)
    recipe = all_recipes()[ckpt["recipe"]]
    model = all_models()[recipe["model"]](**ckpt["config"])
    # One training-mode forward on the recipe's own data initialises lazy state (codebooks).
    x, _ = next(iter(family(recipe["family"]).train_data(recipe, 0).epoch()))
    model.train()
    with torch.no_grad():
        model(x[:2])
    model.load_state_dict(ckpt["state"])
    model.eval()
    return model, ckpt["recipe"]


def report(model) -> dict:
    """Kernel frequency distribution of every binary 3x3 conv of the BiNeal blocks."""
    layers = {}
    for i, m in enumerate(b for b in model.modules() if isinstance(b, BinealBlock)):
        w = m.conv_weight().detach() if m.sks is not None else m.conv.weight.detach()
        layers[f"b{i + 1}"] = kernel_report(w)
    if layers:
        slopes = [layer["loglog_slope"] for layer in layers.values()]
        layers["all"] = {"layers": len(slopes), "mean_loglog_slope": round(sum(slopes) / len(slopes), 3),
                         "mean_top32": round(sum(l["top32"] for l in layers.values()) / len(slopes), 4),
                         "power_law_layers": sum(l["power_law"] for l in layers.values())}
    return layers


def parity(recipe_name: str, out: Path, steps: int, batch: int = 2) -> None:
    """Tiny run + traced export + reference outputs of the eval (exported) semantics."""
    recipe = all_recipes()[recipe_name]
    fam = family(recipe["family"])
    torch.manual_seed(1)
    model = build(recipe, recipe.get("tiny"))
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    model.train()
    for _, (x, target) in zip(range(steps), fam.train_data({**recipe, "batch": 8}, 1).epoch()):
        loss, _ = fam.loss(model, x, target)
        opt.zero_grad()
        loss.backward()
        opt.step()
    model.eval()
    out.mkdir(parents=True, exist_ok=True)
    (out / "model.onebit").write_bytes(model.export(batch=batch, trace=True).to_bytes(
        name=f"{recipe_name}-parity", task=model.task, producer=PRODUCER))
    manifest = {"model": "model.onebit", "recipe": recipe_name, "cases": [],
                "tolerance": getattr(fam, "PARITY_TOLERANCE", {}), "kernels": report(model)}
    for name, image in fam.parity_inputs(recipe, model, batch).items():
        (out / f"{name}.image.bin").write_bytes(image.tobytes())
        x = torch.from_numpy(image.astype(np.float32)).permute(0, 3, 1, 2)
        outputs = {}
        for key, value in fam.reference_outputs(model, x).items():
            (out / f"{name}.{key}.bin").write_bytes(np.ascontiguousarray(value).tobytes())
            outputs[key] = f"{name}.{key}.bin"
        manifest["cases"].append({"name": name, "inputs": {"image": f"{name}.image.bin"}, "outputs": outputs})
    (out / "manifest.json").write_text(json.dumps(manifest, indent=1))
    print(json.dumps({"parity_dump": str(out), "outputs": len(manifest["cases"][0]["outputs"])}))


def main(argv: list[str] | None = None) -> None:
    torch.set_num_threads(int(os.environ.get("ONEBIT_TRAIN_THREADS", "2")))
    p = argparse.ArgumentParser(prog="onebit_train")
    sub = p.add_subparsers(dest="cmd", required=True)
    t = sub.add_parser("train")
    t.add_argument("recipe", choices=sorted(all_recipes()))
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
    q.add_argument("recipe", choices=sorted(all_recipes()))
    q.add_argument("--out", type=Path, required=True)
    q.add_argument("--steps", type=int, default=3)
    v = sub.add_parser("evalset")
    v.add_argument("family")
    v.add_argument("--out", type=Path, required=True)
    v.add_argument("--limit", type=int)
    sub.add_parser("recipes")
    a = p.parse_args(argv)
    if a.cmd == "train":
        out = a.out or REPO / "train/runs" / a.recipe
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
    elif a.cmd == "evalset":
        print(json.dumps(family(a.family).write_evalset(a.out, a.limit)))
    elif a.cmd == "recipes":
        print(json.dumps(all_recipes(), indent=1))
