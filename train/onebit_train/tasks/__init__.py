"""The task families. Each module here (``classify``, ``detect``, ``segment``, ``superres``,
``match``) is one family and defines the same hooks, which cli.py's generic training loop,
export, report and parity commands call:

- ``RECIPES: dict[str, dict]``: recipe name -> ``dict(family=<module name>, model=<key in
  MODELS>, model_args=dict(...), batch=int, lr=float)`` plus ``epochs`` or ``steps``, and
  ``tiny`` (model_args overrides for the parity run, optional). ``<family>_int8`` is the 8-bit
  twin of ``<family>``: the same widths and strides, int8 QAT, all-``qconv2d`` export.
- ``MODELS: dict[str, type]``: nn.Module classes with ``task`` (the DESIGN.md task name),
  ``config`` (constructor kwargs, saved in the checkpoint), ``forward(x, trace=None)``
  (x: NCHW float tensor of u8 values; training forward with STEs, eval forward = the exported
  semantics; ``trace`` collects every binary/u8 layer by graph name) and
  ``export(batch=1, trace=False) -> GraphWriter``.
- ``train_data(recipe, seed)`` and ``test_data(recipe, limit)``: objects with ``__len__``
  (batches per epoch) and ``epoch(shuffle=True)`` yielding ``(x, target)``.
- ``loss(model, x, target) -> (loss tensor, dict of float stats for the progress bar)``.
- ``evaluate(model, test) -> dict of float metrics`` (eval mode: the exported semantics).
- ``parity_inputs(recipe, model, batch) -> dict case name -> u8 NHWC array [batch, H, W, C]``
  (a ``random`` and a ``real`` case).
- ``reference_outputs(model, x) -> dict graph output name -> flat array as the runtime
  returns it`` (bits packed to u64 words, u8/i32/f32 NHWC).
- ``PARITY_TOLERANCE: dict`` (optional): graph output name -> ``{"abs": float}`` for f32
  outputs behind a transcendental (sigmoid), or ``{"mismatch": fraction}`` for an i32 map
  behind a float op; every other output must match byte for byte.
- ``write_evalset(out: Path, limit: int | None) -> dict`` (optional): the held-out set that
  ``deno task eval <plugin>`` reads, written deterministically into ``out``.
"""

from __future__ import annotations

import importlib
from types import ModuleType

FAMILIES = ("classify", "detect", "segment", "superres", "match")


def family(name: str) -> ModuleType:
    """The module of a family by name."""
    if name not in FAMILIES:
        raise KeyError(f"unknown family '{name}' (known: {', '.join(FAMILIES)})")
    return importlib.import_module(f"{__name__}.{name}")


def _modules() -> list[ModuleType]:
    found = []
    for name in FAMILIES:
        try:
            found.append(family(name))
        except ModuleNotFoundError as error:
            if error.name != f"{__name__}.{name}":
                raise
    return found


def all_recipes() -> dict[str, dict]:
    """Every recipe of every family present, by name."""
    out: dict[str, dict] = {}
    for module in _modules():
        for name, recipe in module.RECIPES.items():
            assert name not in out, f"recipe '{name}' defined twice"
            out[name] = {**recipe, "family": module.__name__.rsplit(".", 1)[1]}
    return out


def all_models() -> dict[str, type]:
    out: dict[str, type] = {}
    for module in _modules():
        out.update(module.MODELS)
    return out
