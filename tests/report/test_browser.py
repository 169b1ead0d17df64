"""The HTML report in a real browser: headless Chromium renders it without console errors,
makes no network request, draws both charts, and the screenshot is not blank.

Chromium is driven over the DevTools protocol on a pipe (``--remote-debugging-pipe``: JSON
messages ending in NUL on file descriptors 3 and 4), so no Playwright/Selenium is needed.
``.ci/run`` installs the Debian ``chromium`` package; without it the test is skipped.

``ACTLINT_UPDATE_SCREENSHOT=1`` also copies the screenshot to ``docs/report.png`` (the
README's picture of the report).
"""

from __future__ import annotations

import base64
import io
import json
import os
import queue
import shutil
import subprocess
import threading
import time
from pathlib import Path

import pytest

from actlint.options import LintOptions
from actlint.pipeline import lint_paths
from actlint.report.html import write_html_reports

from helpers import REPO

CHROMIUM = next((shutil.which(name) for name in ("chromium", "chromium-browser") if shutil.which(name)), None)
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="Chromium is not installed (apt-get install chromium)")

VIEWPORT = {"width": 1280, "height": 1020}  # the header, the findings and the gradient chart
TIMEOUT = 60.0


class DevTools:
    """A minimal Chrome DevTools protocol client over ``--remote-debugging-pipe``."""

    def __init__(self, profile: Path) -> None:
        args = [
            CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
            "--no-first-run", "--no-default-browser-check", "--disable-background-networking",
            "--disable-component-update", "--disable-sync", "--disable-extensions", "--hide-scrollbars",
            "--mute-audio", f"--user-data-dir={profile}", "--remote-debugging-pipe", "about:blank",
        ]
        # Chromium reads commands on fd 3 and writes replies on fd 4: the shell maps our
        # stdin/stdout pipes there and points 0/1 at /dev/null.
        self.stderr = open(profile / "chromium.log", "wb")
        self.proc = subprocess.Popen(
            ["sh", "-c", 'exec "$0" "$@" 3<&0 4>&1 0</dev/null 1>/dev/null', *args],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self.stderr,
        )
        self.events: list[dict] = []
        self._replies: "queue.Queue[dict]" = queue.Queue()
        self._next_id = 0
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        buffer = b""
        while True:
            chunk = self.proc.stdout.read1(65536)
            if not chunk:
                self._replies.put({"closed": True})
                return
            buffer += chunk
            while b"\0" in buffer:
                raw, buffer = buffer.split(b"\0", 1)
                message = json.loads(raw)
                if "id" in message:
                    self._replies.put(message)
                else:
                    self.events.append(message)

    def send(self, method: str, params: dict | None = None, session: str | None = None) -> dict:
        """Send one command and wait for its reply (events are collected meanwhile)."""
        self._next_id += 1
        message = {"id": self._next_id, "method": method, "params": params or {}}
        if session:
            message["sessionId"] = session
        self.proc.stdin.write(json.dumps(message).encode() + b"\0")
        self.proc.stdin.flush()
        deadline = time.monotonic() + TIMEOUT
        while True:
            reply = self._replies.get(timeout=max(0.1, deadline - time.monotonic()))
            if reply.get("closed"):
                raise RuntimeError(f"Chromium exited: see {self.stderr.name}")
            if reply.get("id") == self._next_id:
                if "error" in reply:
                    raise RuntimeError(f"{method}: {reply['error']}")
                return reply.get("result", {})

    def wait_for(self, method: str, session: str) -> dict:
        deadline = time.monotonic() + TIMEOUT
        while time.monotonic() < deadline:
            for event in self.events:
                if event.get("method") == method and event.get("sessionId") == session:
                    return event
            time.sleep(0.05)
        raise TimeoutError(method)

    def close(self) -> None:
        try:
            self.send("Browser.close")
        except Exception:  # noqa: BLE001 - already gone
            pass
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.stderr.close()


def _render(page: Path, profile: Path) -> tuple[bytes, list[dict], dict]:
    """Open ``page``; return the PNG screenshot, the events, and facts read from the DOM."""
    browser = DevTools(profile)
    try:
        target = browser.send("Target.createTarget", {"url": "about:blank"})["targetId"]
        session = browser.send("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
        for domain in ("Page", "Runtime", "Log", "Network"):
            browser.send(f"{domain}.enable", session=session)
        browser.send("Emulation.setDeviceMetricsOverride",
                     {**VIEWPORT, "deviceScaleFactor": 1, "mobile": False}, session=session)
        browser.send("Page.navigate", {"url": page.as_uri()}, session=session)
        browser.wait_for("Page.loadEventFired", session)
        facts = json.loads(browser.send("Runtime.evaluate", {"returnByValue": True, "expression": """
            JSON.stringify({
              charts: [...document.querySelectorAll('section[data-chart] svg')].map(svg => {
                const box = svg.getBoundingClientRect();
                return {chart: svg.closest('section').dataset.chart, width: box.width, height: box.height,
                        lines: svg.querySelectorAll('path.line').length};
              }),
              cards: document.querySelectorAll('section.finding').length,
              fonts: getComputedStyle(document.body).fontFamily,
              scrollHeight: document.documentElement.scrollHeight,
            })"""}, session=session)["result"]["value"])
        shot = browser.send("Page.captureScreenshot", {"format": "png"}, session=session)
        return base64.b64decode(shot["data"]), list(browser.events), facts
    finally:
        browser.close()


def _problems(events: list[dict]) -> list[str]:
    """Console errors/warnings, exceptions, failed loads, and any request that leaves the file."""
    problems = []
    for event in events:
        method, params = event.get("method"), event.get("params", {})
        if method == "Runtime.consoleAPICalled" and params.get("type") in ("error", "warning", "assert"):
            problems.append(f"console.{params['type']}: {params.get('args')}")
        elif method == "Runtime.exceptionThrown":
            problems.append(f"exception: {params.get('exceptionDetails', {}).get('text')}")
        elif method == "Log.entryAdded" and params.get("entry", {}).get("level") in ("error", "warning"):
            problems.append(f"log: {params['entry'].get('text')} ({params['entry'].get('url', '')})")
        elif method == "Network.requestWillBeSent":
            url = params.get("request", {}).get("url", "")
            if not url.startswith(("file://", "data:")):
                problems.append(f"network request: {url}")
        elif method == "Network.loadingFailed":
            problems.append(f"load failed: {params.get('errorText')}")
    return problems


def _pixel_spread(png: bytes) -> tuple[tuple[int, int], int, float]:
    """(size, distinct colours, standard deviation of grey levels) of a PNG."""
    from PIL import Image, ImageStat

    image = Image.open(io.BytesIO(png)).convert("RGB")
    colours = image.getcolors(maxcolors=1 << 20)
    grey = ImageStat.Stat(image.convert("L"))
    return image.size, len(colours) if colours is not None else 1 << 20, grey.stddev[0]


def test_report_renders_in_chromium(tmp_path, monkeypatch):
    monkeypatch.chdir(REPO)  # paths in the report read as the README shows them
    run = lint_paths(["examples/deep_sigmoid.py"], LintOptions())
    assert run.findings() and not run.errors
    page = write_html_reports(run, str(tmp_path / "report.html"))[0]
    profile = tmp_path / "profile"
    profile.mkdir()

    png, events, facts = _render(page, profile)

    assert _problems(events) == []
    # Both charts are laid out at a readable size and hold their lines.
    charts = {c["chart"]: c for c in facts["charts"]}
    assert set(charts) == {"gradient-flow", "activation-health", "training-loss", "update-ratio"}
    for key, chart in charts.items():
        assert chart["width"] > 900 and chart["height"] > 250, chart
        # The loss chart draws the file's rate and the sweep's; the ratio chart one line.
        assert chart["lines"] >= (1 if key == "update-ratio" else 2), chart
    assert facts["cards"] == len(run.findings())
    assert facts["scrollHeight"] > VIEWPORT["height"]
    # The screenshot shows a page, not a blank or single-colour canvas.
    size, colours, spread = _pixel_spread(png)
    assert size == (VIEWPORT["width"], VIEWPORT["height"])
    assert colours > 200, colours
    assert spread > 10, spread
    if os.environ.get("ACTLINT_UPDATE_SCREENSHOT"):
        (REPO / "docs").mkdir(exist_ok=True)
        (REPO / "docs" / "report.png").write_bytes(png)


def test_blank_page_is_detected(tmp_path):
    """The screenshot check can fail: an empty page is one colour."""
    page = tmp_path / "blank.html"
    page.write_text("<!DOCTYPE html><html><head><title>blank</title></head><body></body></html>")
    profile = tmp_path / "profile"
    profile.mkdir()
    png, events, _ = _render(page, profile)
    assert _problems(events) == []
    _, colours, spread = _pixel_spread(png)
    assert colours == 1 and spread == 0


def test_console_errors_and_requests_are_caught(tmp_path):
    """The event checks can fail: a script error and an external image are reported."""
    page = tmp_path / "bad.html"
    page.write_text(
        "<!DOCTYPE html><html><head><title>bad</title></head><body>"
        "<img src='https://example.invalid/x.png'><script>console.error('boom'); undefinedCall();</script>"
        "</body></html>"
    )
    profile = tmp_path / "profile"
    profile.mkdir()
    _, events, _ = _render(page, profile)
    problems = _problems(events)
    assert any("console.error" in p for p in problems), problems
    assert any(p.startswith("exception:") for p in problems), problems
    assert any("network request: https://example.invalid/x.png" in p for p in problems), problems
