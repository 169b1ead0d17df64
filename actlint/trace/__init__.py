"""Tracing: a model -> :class:`~actlint.graph.view.GraphView`, by the first method that works.

The chain, each method named in JSON ``trace`` and in the text header:

1. ``fx`` (:mod:`actlint.trace.fx`): torch.fx symbolic tracing, torch.nn layers as leaves;
2. ``fx-partial``: submodules fx cannot trace become opaque leaves, the rest stays exact;
3. ``executed`` (:mod:`actlint.trace.executed`): one real forward pass on the example
   inputs, recorded op by op, for forwards with Python control flow, asserts on sizes,
   third-party layers; it replaces ``fx-partial`` and ``modules`` whenever inputs are
   known and the pass runs (it sees inside what fx left opaque);
4. ``modules`` (:mod:`actlint.trace.modules`): the module tree, no dataflow.

:func:`trace_model` runs the fx methods (falling back to the module tree); the pipeline
then resolves inputs and, where the chain says so, calls :func:`trace_executed`.
"""

from actlint.trace.executed import trace_executed
from actlint.trace.fx import TraceResult, forward_error, propagate_shapes, runs_for_real, to_meta, trace_model
from actlint.trace.modules import module_tree_view

#: Methods after which the executed trace is tried when inputs are known.
EXECUTE_AFTER = frozenset({"fx-partial", "modules"})

__all__ = [
    "TraceResult", "trace_model", "trace_executed", "module_tree_view", "propagate_shapes", "forward_error",
    "runs_for_real", "to_meta", "EXECUTE_AFTER",
]
