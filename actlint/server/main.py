"""The LSP server: diagnostics on open and save, code actions, progress; ``actlint server``.

Handlers return at once: each lint runs on a thread of its own (and its user code in a
worker process), so the editor is never blocked; a slow model file shows
"actlint: linting..." as work-done progress while it runs.
"""

from __future__ import annotations

import os
import threading
import uuid
from typing import Any

from lsprotocol import types
from pygls.lsp.server import LanguageServer
from pygls.uris import from_fs_path, to_fs_path

from actlint.core.findings import Finding
from actlint.core.version import __version__
from actlint.server.diagnostics import SOURCE, code_actions, to_diagnostic
from actlint.server.linting import DocumentLinter


class ActlintServer(LanguageServer):
    """pygls's server with actlint's document linter."""

    def __init__(self) -> None:
        super().__init__("actlint", __version__, text_document_sync_kind=types.TextDocumentSyncKind.Full)
        use_cache = os.environ.get("ACTLINT_NO_CACHE", "").strip() in ("", "0")
        self.linter = DocumentLinter(self._publish, use_cache=use_cache)
        self.progress_supported = False

    def _publish(self, path: str, findings: list[Finding], errors: list[str], phase: str) -> None:
        diagnostics = [to_diagnostic(f) for f in findings]
        diagnostics += [types.Diagnostic(range=types.Range(start=types.Position(line=0, character=0),
                                                           end=types.Position(line=1, character=0)),
                                         message=f"actlint could not lint this file: {e}",
                                         severity=types.DiagnosticSeverity.Error, source=SOURCE) for e in errors]
        self.text_document_publish_diagnostics(types.PublishDiagnosticsParams(
            uri=from_fs_path(path), diagnostics=diagnostics))
        self.window_log_message(types.LogMessageParams(
            type=types.MessageType.Log,
            message=f"actlint: {path}: {len(findings)} finding(s) ({phase})"))

    def schedule(self, uri: str) -> None:
        """Lint the document's file in the background (a new generation of it)."""
        path = to_fs_path(uri)
        if not path or not path.endswith(".py"):
            return
        generation = self.linter.changed(path)
        threading.Thread(target=self._lint, args=(path, generation), daemon=True, name="actlint-lint").start()

    def _lint(self, path: str, generation: int) -> None:
        token = str(uuid.uuid4())
        progress = self.progress_supported
        if progress:
            self.window_work_done_progress_create(types.WorkDoneProgressCreateParams(token=token))
            self.work_done_progress.begin(token, types.WorkDoneProgressBegin(
                title="actlint", message=f"linting {path}...", cancellable=False))
        try:
            self.linter.lint(path, generation)
        except Exception as exc:  # noqa: BLE001 - one file's internal error must not end the server
            self.window_log_message(types.LogMessageParams(type=types.MessageType.Error,
                                                           message=f"actlint: {path}: internal error: {exc}"))
        finally:
            if progress:
                self.work_done_progress.end(token, types.WorkDoneProgressEnd(message="done"))


server = ActlintServer()


@server.feature(types.INITIALIZE)
def _initialize(ls: ActlintServer, params: types.InitializeParams) -> None:
    window = params.capabilities.window
    ls.progress_supported = bool(window and window.work_done_progress)


@server.feature(types.TEXT_DOCUMENT_DID_OPEN)
def _did_open(ls: ActlintServer, params: types.DidOpenTextDocumentParams) -> None:
    ls.schedule(params.text_document.uri)


@server.feature(types.TEXT_DOCUMENT_DID_SAVE)
def _did_save(ls: ActlintServer, params: types.DidSaveTextDocumentParams) -> None:
    ls.schedule(params.text_document.uri)


@server.feature(types.TEXT_DOCUMENT_DID_CLOSE)
def _did_close(ls: ActlintServer, params: types.DidCloseTextDocumentParams) -> None:
    path = to_fs_path(params.text_document.uri)
    if path:
        ls.linter.changed(path)  # nothing pending for it is published any more
        ls.text_document_publish_diagnostics(types.PublishDiagnosticsParams(uri=params.text_document.uri,
                                                                            diagnostics=[]))


@server.feature(types.TEXT_DOCUMENT_CODE_ACTION,
                types.CodeActionOptions(code_action_kinds=[types.CodeActionKind.QuickFix]))
def _code_action(ls: ActlintServer, params: types.CodeActionParams) -> list[types.CodeAction]:
    path = to_fs_path(params.text_document.uri) or ""
    findings = ls.linter.findings.get(path, [])
    actions: list[types.CodeAction] = []
    for line in range(params.range.start.line, params.range.end.line + 1):
        actions += code_actions(params.text_document.uri, findings, line)
    return actions


@server.command("actlint.showDocumentation")
def _show_documentation(ls: ActlintServer, *args: Any) -> None:
    url = args[0] if args else None
    if isinstance(url, list):  # some clients pass the arguments as one list
        url = url[0] if url else None
    if isinstance(url, str):
        ls.window_show_document(types.ShowDocumentParams(uri=url, external=True))


@server.feature(types.SHUTDOWN)
def _shutdown(ls: ActlintServer, params: Any) -> None:
    ls.linter.close()


def serve() -> None:
    """Speak LSP on stdin/stdout until the client exits."""
    server.start_io()
