"""``actlint server``: a Language Server Protocol server over stdio (pygls and lsprotocol).

In: the editor's open and save notifications. Out: actlint's findings as diagnostics, code
actions (a rule's fix, its documentation) and progress. A long-lived front door: the server
process imports torch once and never runs the user's code itself; every lint runs in a
worker forked from it (:mod:`actlint.sandbox.isolation`), kept warm between saves.
"""
