"""The HTML report: self-contained, and it loads in headless Chromium with every figure drawn."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from infoscope.cli import main
from infoscope.experiments import run_experiment
from infoscope.report import build_report, write_report

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.fixture(scope="module")
def db(tmp_path_factory):
    path = tmp_path_factory.mktemp("report") / "runs.db"
    run_experiment("tishby", store=path, run="tanh", epochs=2, probe_size=300)
    run_experiment("tishby", store=path, run="relu", epochs=2, probe_size=300, activation="relu")
    return path


def test_report_is_self_contained(db, tmp_path):
    text = build_report(db)
    assert text.startswith("<!DOCTYPE html>")
    # nothing fetched from anywhere: no external src/href, no link or script tags pointing out
    assert not re.search(r'(src|href)\s*=\s*["\'](?!data:|#)', text)
    assert "<link" not in text
    assert text.count("data:image/png;base64,") >= 2 * 5 + 1  # five pictures per run, plus comparison
    for needed in ("Configuration", "Final values", "Analysis", "Phases", "Recorded warnings", "tanh", "relu", "I(T;Y)", "bits"):
        assert needed in text


def test_unknown_run_and_bad_suffix(db, tmp_path):
    from infoscope import StoreError

    with pytest.raises(StoreError, match="no run named"):
        build_report(db, ["nope"])
    with pytest.raises(ValueError, match="html"):
        write_report(db, tmp_path / "r.pdf")


def test_cli_report(db, tmp_path, capsys):
    out = tmp_path / "sub" / "r.html"
    assert main(["report", str(db), "tanh", "-o", str(out)]) == 0
    assert out.exists() and "wrote" in capsys.readouterr().out


@pytest.mark.skipif(CHROMIUM is None, reason="Chromium is not installed (scripts/test.sh installs Debian's chromium)")
def test_report_loads_in_headless_chromium(db, tmp_path):
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is part of the test extra")
    out = write_report(db, tmp_path / "report.html")
    messages = []
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=CHROMIUM,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                  "--disable-sync", "--no-first-run", "--disable-quic"],
        )
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            page.on("console", lambda m: messages.append((m.type, m.text)))
            page.on("pageerror", lambda e: messages.append(("pageerror", str(e))))
            page.goto(Path(out).resolve().as_uri(), wait_until="load")
            sizes = page.evaluate(
                "Array.from(document.querySelectorAll('img, figure')).map(e => {const r = e.getBoundingClientRect();"
                " return [e.tagName, r.width, r.height, e.naturalWidth || 0];})"
            )
            page.screenshot(path=str(tmp_path / "report.png"), full_page=True)
        finally:
            browser.close()
    assert not [m for m in messages if m[0] in ("error", "pageerror")], messages
    imgs = [s for s in sizes if s[0] == "IMG"]
    assert len(imgs) >= 11
    assert all(w > 0 and h > 0 for _, w, h, _ in sizes)
    assert all(natural > 0 for *_, natural in imgs)  # every image decoded
    assert (tmp_path / "report.png").stat().st_size > 50_000
