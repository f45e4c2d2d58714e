"""Browser tests: the app served on a free loopback port, and Debian's Chromium driven by
Playwright. No browser is ever downloaded (no ``playwright install``): ``make install`` puts
Debian's ``chromium`` at /usr/bin/chromium. Without it the browser tests skip, or fail when
PEIXUN_REQUIRE_SERVICES=1, like the PostgreSQL tests."""

from __future__ import annotations

import base64
import hashlib
import os
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from werkzeug.serving import make_server

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking"]
REQUIRE_SERVICES = os.environ.get("PEIXUN_REQUIRE_SERVICES") == "1"


class LiveServer:
    """The app on a real socket. The app's database connection is the test's own (one outer
    transaction, rolled back), which is not made for two threads at once: the server answers
    one request at a time, and the test thread uses the database only inside ``paused()``."""

    def __init__(self, app) -> None:
        self._app = app
        self._lock = threading.Lock()
        self._server = make_server("127.0.0.1", 0, self._serve, threaded=True)
        self.url = f"http://127.0.0.1:{self._server.server_port}"

    def _serve(self, environ, start_response):
        with self._lock:
            body = self._app(environ, start_response)
            try:
                return [b"".join(body)]
            finally:
                if hasattr(body, "close"):
                    body.close()

    @contextmanager
    def paused(self) -> Iterator[None]:
        """While inside, the server answers no request."""
        with self._lock:
            yield

    @contextmanager
    def running(self) -> Iterator[LiveServer]:
        thread = threading.Thread(target=self._server.serve_forever, name="live-server",
                                  daemon=True)
        thread.start()
        try:
            yield self
        finally:
            self._server.shutdown()
            self._server.server_close()
            thread.join(timeout=10)
            with self._lock:  # a request still being answered finishes before the test's end
                pass


def live_server(app):
    """``with live_server(app) as server:`` the app answers at ``server.url``."""
    return LiveServer(app).running()


def _unavailable(why: str) -> None:
    message = f"{why}; `make install` provides it"
    if REQUIRE_SERVICES:
        pytest.fail(message + " — PEIXUN_REQUIRE_SERVICES=1 makes the browser tests mandatory")
    pytest.skip(message)


@contextmanager
def chromium():
    """A headless Chromium browser (Playwright's ``Browser``)."""
    if not CHROMIUM.exists():
        _unavailable(f"{CHROMIUM} is missing (Debian's chromium package)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _unavailable("Playwright is not installed (the dev extras)")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS,
                                             headless=True)
        try:
            yield browser
        finally:
            browser.close()


def scripts_run_only_by_hash(answer) -> bool:
    """Whether a page's CSP lets a modern browser run its inline scripts only by their hashes
    (so nothing injected into the page would run), and every one of them so."""
    policy = answer.headers["Content-Security-Policy"]
    scripts = re.findall(r"<script>(.*?)</script>", answer.get_data(as_text=True), re.S)
    hashes = {"'sha256-" + base64.b64encode(hashlib.sha256(s.encode()).digest()).decode() + "'"
              for s in scripts}
    allowed = re.search(r"script-src ([^;]*)", policy).group(1).split()
    return bool(scripts) and hashes <= set(allowed) and all(
        source in hashes or source == "'unsafe-inline'" for source in allowed)


def qr_markup(page) -> str:
    """The rotating code a page draws (webhooks/templates/live_code.js keeps it in #qr), once
    it shows one."""
    page.locator("#qr svg").wait_for(state="visible")
    return page.eval_on_selector("#qr", "element => element.innerHTML")


def wait_for_a_new_code(page, before: str) -> None:
    """Until the page's script has drawn another code than ``before``."""
    page.wait_for_function("old => document.querySelector('#qr').innerHTML !== old",
                           arg=before, timeout=10_000)
