"""Headless Chromium driven over the DevTools protocol on a pipe (no extra dependency), for the
page tests: screenshots at a window size, every request the page makes, element boxes, and
printing to PDF.

Requests go through a proxy that does not exist (as in test_report.py), so a page that needs
the network shows it both as a broken page and in `requests`.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import re
import select
import shutil
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

CHROMIUM = shutil.which("chromium")
LOCAL = ("file:", "data:", "about:", "blob:")


class Browser:
    """One headless Chromium; `open` loads a page in a fresh tab at a window size."""

    def __init__(self) -> None:
        self._profile = tempfile.TemporaryDirectory()
        to_chrome_r, to_chrome_w = os.pipe()
        from_chrome_r, from_chrome_w = os.pipe()

        def child() -> None:  # the protocol pipe is fd 3 (in) and fd 4 (out)
            a, b = os.dup(to_chrome_r), os.dup(from_chrome_w)
            os.dup2(a, 3)
            os.dup2(b, 4)

        self._proc = subprocess.Popen(
            [CHROMIUM or "chromium", "--headless", "--no-sandbox", "--disable-gpu",
             "--remote-debugging-pipe", "--disable-quic", "--no-first-run",
             "--disable-background-networking", "--disable-component-update",
             "--disable-sync", "--hide-scrollbars", f"--user-data-dir={self._profile.name}",
             "--proxy-server=127.0.0.1:9", "--proxy-bypass-list=<-loopback>", "about:blank"],
            pass_fds=(3, 4), preexec_fn=child, stdout=subprocess.DEVNULL,  # noqa: PLW1509
            stderr=subprocess.DEVNULL)
        os.close(to_chrome_r)
        os.close(from_chrome_w)
        self._w, self._r = to_chrome_w, from_chrome_r
        self._buf = b""
        self._id = 0
        self.events: list[dict[str, Any]] = []

    def send(self, method: str, params: dict | None = None, session: str | None = None,
             timeout: float = 60.0) -> dict[str, Any]:
        self._id += 1
        msg: dict[str, Any] = {"id": self._id, "method": method, "params": params or {}}
        if session:
            msg["sessionId"] = session
        os.write(self._w, json.dumps(msg).encode() + b"\0")
        end = time.monotonic() + timeout
        while True:
            reply = self._read(end)
            if reply.get("id") == self._id:
                if "error" in reply:
                    raise RuntimeError(f"{method}: {reply['error']}")
                return reply.get("result", {})
            self.events.append(reply)

    def _read(self, end: float) -> dict[str, Any]:
        while b"\0" not in self._buf:
            left = end - time.monotonic()
            if left <= 0:
                raise TimeoutError("chromium did not answer")
            ready, _, _ = select.select([self._r], [], [], left)
            if ready:
                chunk = os.read(self._r, 1 << 20)
                if not chunk:
                    raise EOFError("chromium closed the pipe")
                self._buf += chunk
        raw, self._buf = self._buf.split(b"\0", 1)
        return json.loads(raw)

    def open(self, page: Path, width: int, height: int, settle: float = 1.5) -> Tab:
        target = self.send("Target.createTarget", {"url": "about:blank"})["targetId"]
        session = self.send("Target.attachToTarget", {"targetId": target,
                                                       "flatten": True})["sessionId"]
        tab = Tab(self, target, session, len(self.events))
        tab.call("Network.enable")
        tab.call("Page.enable")
        tab.call("Emulation.setDeviceMetricsOverride", {
            "width": width, "height": height, "deviceScaleFactor": 1, "mobile": False})
        tab.call("Page.navigate", {"url": page.resolve().as_uri()})
        end = time.monotonic() + 30
        while tab.eval("document.readyState") != "complete" and time.monotonic() < end:
            time.sleep(0.1)
        time.sleep(settle)
        return tab

    def close(self) -> None:
        with contextlib.suppress(RuntimeError, TimeoutError, EOFError, OSError):
            self.send("Browser.close", timeout=5)
        try:
            self._proc.wait(10)
        except subprocess.TimeoutExpired:
            self._proc.kill()
        os.close(self._w)
        os.close(self._r)
        self._profile.cleanup()


class Tab:
    """A loaded page: evaluate script, list requests, screenshot, print."""

    def __init__(self, browser: Browser, target: str, session: str, first_event: int) -> None:
        self.browser, self.target, self.session = browser, target, session
        self._first = first_event

    def call(self, method: str, params: dict | None = None) -> dict[str, Any]:
        return self.browser.send(method, params, self.session)

    def eval(self, expression: str) -> Any:
        out = self.call("Runtime.evaluate", {"expression": expression, "returnByValue": True})
        if "exceptionDetails" in out:
            raise RuntimeError(f"{expression}: {out['exceptionDetails']}")
        return out["result"].get("value")

    def requests(self) -> list[str]:
        """URLs of every request this page made."""
        return [e["params"]["request"]["url"] for e in self.browser.events[self._first:]
                if e.get("sessionId") == self.session
                and e.get("method") == "Network.requestWillBeSent"]

    def remote_requests(self) -> list[str]:
        return [u for u in self.requests() if not u.startswith(LOCAL)]

    def boxes(self, selector: str) -> list[dict[str, float]]:
        """Bounding boxes (viewport pixels) of the elements a CSS selector matches."""
        return self.eval(
            f"[...document.querySelectorAll({json.dumps(selector)})].map(e => {{"
            "const r = e.getBoundingClientRect(); return {left: r.left, top: r.top, "
            "right: r.right, bottom: r.bottom, width: r.width, height: r.height}; })")

    def scroll_to(self, selector: str) -> None:
        self.eval(f"document.querySelector({json.dumps(selector)}).scrollIntoView()")
        time.sleep(0.2)

    def viewport(self) -> tuple[float, float]:
        return tuple(self.eval("[window.innerWidth, window.innerHeight]"))  # type: ignore

    def screenshot(self, path: Path) -> Path:
        data = self.call("Page.captureScreenshot", {"format": "png"})["data"]
        path.write_bytes(base64.b64decode(data))
        return path

    def pdf_pages(self, path: Path | None = None) -> int:
        """Print to US Letter (as a browser's Print would) and count the pages."""
        data = base64.b64decode(self.call("Page.printToPDF", {
            "paperWidth": 8.5, "paperHeight": 11, "preferCSSPageSize": True})["data"])
        if path is not None:
            path.write_bytes(data)
        return len(re.findall(rb"/Type\s*/Page[^s]", data))

    def close(self) -> None:
        self.browser.send("Target.closeTarget", {"targetId": self.target})


def inside(box: dict[str, float], width: float, height: float, slack: float = 1.0) -> bool:
    """Whether a box lies wholly inside a width x height viewport."""
    return (box["left"] >= -slack and box["top"] >= -slack
            and box["right"] <= width + slack and box["bottom"] <= height + slack)
