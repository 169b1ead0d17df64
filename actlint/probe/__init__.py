"""Stage 8, probe: short seeded runs that *measure* (never judge) gradient flow,
linearity and a few training steps.

In: a built model, its inputs and the training setup. Out: probe reports for the measured
rules.
"""
