"""Fixes: concrete source edits a rule offers for its finding, made with LibCST.

A rule builds a :class:`~actlint.fixes.edits.Fix` while it checks (``ctx.fix(...)``), from
a rewrite of the pristine syntax tree of the user's file; comments and formatting outside
the rewritten nodes are kept byte for byte. Applying, verifying and writing fixes is the
``fixer`` stage's job; this stage only describes them.
"""
