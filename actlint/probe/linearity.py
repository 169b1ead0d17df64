"""Exact linearity tests (ACT102/ACT103's confirmation): is a model, or a segment of it, affine?

On a float64 eval-mode copy of the model (the user's model is never run here):
``f(x+y) == f(x) + f(y) - f(0)`` to a relative tolerance.
"""

from __future__ import annotations

from typing import Any, Iterable

import torch
import torch.nn as nn
from torch.utils._pytree import tree_flatten, tree_map

from actlint.core.errors import one_line
from actlint.probe.reports import LinearityResult
from actlint.probe.copying import model_copy


def _float_inputs(inputs: tuple[Any, ...]) -> bool:
    leaves = [x for x in tree_flatten(inputs)[0] if isinstance(x, torch.Tensor)]
    return bool(leaves) and all(x.is_floating_point() for x in leaves)


def _max_abs(values: Iterable[torch.Tensor]) -> float:
    return max((float(v.abs().max()) for v in values if v.numel()), default=0.0)


def _tensors(out: Any) -> list[torch.Tensor]:
    return [t.double() for t in tree_flatten(out)[0] if isinstance(t, torch.Tensor) and t.is_floating_point()]


def linearity_test(model: nn.Module, inputs: tuple[Any, ...], tolerance: float = 1e-9) -> LinearityResult:
    """ACT103's exact test: f(x+y) == f(x) + f(y) - f(0), in float64 and eval mode on a copy."""
    if not _float_inputs(inputs):
        return LinearityResult("not-applicable", detail="the model takes non-float inputs", tolerance=tolerance)
    try:
        clone = model_copy(model).double().eval()
        gen = torch.Generator().manual_seed(1)

        def rand(x: Any) -> Any:
            if isinstance(x, torch.Tensor):
                return torch.randn(x.shape, generator=gen, dtype=torch.float64).to(x.device)
            return x

        xs = tree_map(rand, inputs)
        ys = tree_map(rand, inputs)
        zs = tree_map(lambda t: torch.zeros_like(t) if isinstance(t, torch.Tensor) else t, xs)
        xy = tree_map(lambda a, b: a + b if isinstance(a, torch.Tensor) else a, xs, ys)
        with torch.no_grad():
            fx, fy, f0, fxy = (_tensors(clone(*v)) for v in (xs, ys, zs, xy))
    except Exception as exc:
        return LinearityResult("not-applicable", detail=f"the float64 copy failed: {one_line(exc)}", tolerance=tolerance)
    return _compare(fxy, fx, fy, f0, tolerance)


def _compare(fxy: list, fx: list, fy: list, f0: list, tolerance: float) -> LinearityResult:
    if not fxy:
        return LinearityResult("not-applicable", detail="no floating output", tolerance=tolerance)
    residual = _max_abs(a - b - c + d for a, b, c, d in zip(fxy, fx, fy, f0))
    scale = max(_max_abs(fxy), _max_abs(fx), _max_abs(fy), 1e-300)
    rel = residual / scale
    status = "linear" if rel <= tolerance else "nonlinear"
    return LinearityResult(status, relative_error=rel, tolerance=tolerance)


def segment_linearity(
    model: nn.Module, inputs: tuple[Any, ...], first: str, second: str, tolerance: float = 1e-9
) -> LinearityResult:
    """Is the map from module ``first``'s output to module ``second``'s output affine?

    On a float64 eval copy: capture ``first``'s outputs a, b for two inputs, then run the
    model on one input with ``first``'s output replaced by a, b, a+b and 0 and check
    ``s(a+b) == s(a) + s(b) - s(0)`` at ``second``'s output (what does not depend on
    ``first`` is constant across the four runs, so it cancels).
    """
    try:
        clone = model_copy(model).double().eval()
        mods = dict(clone.named_modules())
        a_mod, b_mod = mods[first], mods[second]
        gen = torch.Generator().manual_seed(2)

        def resample(x: Any) -> Any:
            if isinstance(x, torch.Tensor) and x.is_floating_point():
                return torch.randn(x.shape, generator=gen, dtype=torch.float64).to(x.device)
            return x

        xs, ys = tree_map(resample, inputs), tree_map(resample, inputs)
        captured: list[torch.Tensor] = []
        replacement: list[torch.Tensor | None] = [None]
        seen: list[list[torch.Tensor]] = []

        def on_first(module: nn.Module, args: Any, out: Any) -> Any:
            if replacement[0] is not None:
                return replacement[0]
            captured.append(out.detach().clone())
            return None

        def on_second(module: nn.Module, args: Any, out: Any) -> None:
            seen[-1].append(out.detach().double().clone())

        h1 = a_mod.register_forward_hook(on_first)
        h2 = b_mod.register_forward_hook(on_second)
        try:
            with torch.no_grad():
                seen.append([])
                clone(*xs)
                seen.append([])
                clone(*ys)
                a, b = captured[0], captured[1]
                results = []
                for value in (a, b, a + b, torch.zeros_like(a)):
                    replacement[0] = value
                    seen.append([])
                    clone(*xs)
                    results.append(seen[-1][0])
        finally:
            h1.remove()
            h2.remove()
    except Exception as exc:
        return LinearityResult("not-applicable", detail=f"segment test failed: {one_line(exc)}", tolerance=tolerance)
    fa, fb, fab, f0 = ([r] for r in results)
    return _compare(fab, fa, fb, f0, tolerance)


__all__ = ["linearity_test", "segment_linearity"]
