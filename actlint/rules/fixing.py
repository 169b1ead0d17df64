"""What fixable rules share: a graph node described as a :class:`~actlint.fixes.layers.LayerSite`."""

from __future__ import annotations

import torch.nn as nn

from actlint.fixes.layers import LayerSite
from actlint.loader.provenance import module_construction_site
from actlint.rules.base import RuleContext


def layer_site(ctx: RuleContext, node) -> LayerSite:
    """Where ``node`` (an OpNode of ``ctx.graph``) is called and built in the user's file."""
    module = node.module if node.op == "call_module" else None
    built_at = module_construction_site(module) if module is not None else None
    built_here = 1
    renumbers = False
    if module is not None and built_at is not None:
        built_here = sum(1 for m in ctx.model.modules() if module_construction_site(m) == built_at)
        renumbers = _renumbers_state(ctx.model, node.module_path or "")
    return LayerSite(
        kind=node.kind, op=node.op, file=str(ctx.file.path), called_at=node.location, built_at=built_at,
        built_here=built_here, attribute=(node.module_path or "").rpartition(".")[2] or None,
        renumbers_state=renumbers)


def _renumbers_state(model: nn.Module, path: str) -> bool:
    """Would removing the module at ``path`` from its nn.Sequential shift later children's state_dict keys?"""
    parent_path, _, name = path.rpartition(".")
    try:
        parent = model.get_submodule(parent_path) if parent_path else model
    except AttributeError:
        return True
    if not isinstance(parent, nn.Sequential) or not name.isdigit():
        return False
    later = list(parent.children())[int(name) + 1:]
    return any(next(iter(m.state_dict()), None) is not None for m in later)


# --- fix evidence: numbers read from a model's JSON result, before and after a fix -----------


def _weight_layers(model: dict) -> list[dict]:
    layers = (model.get("probe") or {}).get("layers") or []
    return sorted((layer for layer in layers if layer.get("weight_layer")), key=lambda layer: layer["order"])


def first_layer_gradient(model: dict) -> tuple[str, float] | None:
    """The backward signal reaching the first weight layer (what a hidden softmax attenuates)."""
    layers = [layer for layer in _weight_layers(model) if layer.get("backward_signal") is not None]
    return ("gradient at the first layer", layers[0]["backward_signal"]) if layers else None


def output_layer_gradient(model: dict) -> tuple[str, float] | None:
    """The gradient at the last weight layer's output (what an output sigmoid/softmax before the loss squashes)."""
    layers = [layer for layer in _weight_layers(model) if layer.get("grad_output_rms") is not None]
    return ("gradient at the output layer", layers[-1]["grad_output_rms"]) if layers else None


def deepest_signal(model: dict) -> tuple[str, float] | None:
    """The input-dependent forward signal RMS at the last hidden weight layer (what a mismatched init scales)."""
    layers = [layer for layer in _weight_layers(model)
              if (layer.get("activation_std") if layer.get("activation_std") is not None else layer.get("activation_rms")) is not None]
    if len(layers) > 1:
        layers = layers[:-1]  # the output layer's scale is the logit temperature
    if not layers:
        return None
    layer = layers[-1]
    value = layer["activation_std"] if layer.get("activation_std") is not None else layer["activation_rms"]
    return (f"forward signal at {layer['path']}", value)


def parameter_count(model: dict) -> tuple[str, float] | None:
    return ("parameters", model["parameters"]) if isinstance(model.get("parameters"), int) else None


__all__ = ["deepest_signal", "first_layer_gradient", "layer_site", "output_layer_gradient", "parameter_count"]
