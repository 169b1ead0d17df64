"""Stage 1, files: which files a run covers (gitignore-style discovery) and the cheap text
check that skips files with no model before torch is imported.

In: paths and patterns. Out: the list of files worth loading.
"""
