"""The rule families, one file per family of rule IDs (ACT1xx activations, ACT2xx depth
and normalization, ...), registered through :mod:`actlint.rules.builtin`.
"""
