"""The fixer: apply the rules' fixes to the user's files, verify each by linting again, write safely.

It runs after a lint (load -> trace -> rules -> probe -> measured rules -> **fixer** ->
report): it picks the fixes the run offered (safe ones; unsafe ones too with
``--unsafe-fixes``), combines the fixes of each file, writes the result atomically, lints the
file again with the same options and seed, and keeps a fix only when its finding is gone and
no new error appeared; otherwise the file is restored. It receives the re-lint as a
callable, so it depends on no front door.
"""
