"""The result cache: a file whose inputs are unchanged is not linted again (``.actlint_cache``).

In: a target, the run's options, the files its lint read. Out: the stored result, replayed
byte for byte by every report, or nothing. Keys are content hashes (see :mod:`.store`).
"""
