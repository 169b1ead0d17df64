"""Stage 2, sandbox: what protects actlint and the user's state from user code.

``fence`` runs user code without actlint's argv, stdin, stdout or network and with a time
limit; ``preserved`` leaves a model exactly as it was found.
"""
