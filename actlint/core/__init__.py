"""Values every stage hands on: errors, source locations, findings, run results.

No stage logic lives here; these are the small typed records the stages pass along.
"""
