"""Stage 6, graph: the tracer-independent dataflow graph rules read.

In: what a tracer recorded. Out: a :class:`~actlint.graph.view.view.GraphView` with cached
analyses, the op table that classifies calls, and shared graph queries.
"""
