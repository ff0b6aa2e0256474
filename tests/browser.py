"""Headless Chromium for the tests of the report and of ``infoscope serve``: a page opened
with its console collected and every request off this machine refused."""

from __future__ import annotations

import shutil

import pytest

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
needs_browser = pytest.mark.skipif(CHROMIUM is None, reason="Chromium is not installed (scripts/test.sh installs Debian's chromium)")
BROWSER_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                "--disable-sync", "--no-first-run", "--disable-quic"]


def open_page(browser, url: str, offline: bool = True):
    """A page at ``url`` with console errors collected and every request off this machine refused."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.messages, page.outside = [], []
    page.on("console", lambda m: page.messages.append((m.type, m.text)))
    page.on("pageerror", lambda e: page.messages.append(("pageerror", str(e))))
    if offline:
        def guard(route):
            url = route.request.url
            if url.startswith(("file:", "data:", "http://127.0.0.1")):
                return route.continue_()
            page.outside.append(url)
            return route.abort()
        context.route("**/*", guard)
    page.goto(url, wait_until="load")
    page.wait_for_selector("body[data-ready='1']", timeout=20_000)
    return page


def errors(page) -> list:
    return [m for m in page.messages if m[0] in ("error", "pageerror")]


def plane_points(page, run: str) -> list[dict]:
    """Every point Plotly drew in the plane: trace name, I(X;T), I(T;Y), epoch colour."""
    return page.evaluate(
        f"""Array.from(document.querySelector('section[data-run="{run}"] .plane').data).flatMap(t =>
             t.x.map((x, i) => ({{name: t.name, x: x, y: t.y[i], epoch: t.marker.color[i], symbol: t.marker.symbol[i]}})))""")


