"""``python -m benchmarks.report DB [DB ...]``: how big the report is and how fast it opens.

For each database: the report's size, the seconds to build it, and the seconds from
navigation to the views drawn (``body[data-ready]``) in headless Chromium, cold (a new browser
each time) and warm (a reload), medians of ``--repeat`` tries. The reference in the same run
is a page with Plotly's bundle alone and one empty plot, opened the same way: the ratio says
what the views and the data add to what the charting library costs by itself.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import tempfile
import time
from pathlib import Path

from infoscope.report import write_report
from infoscope.report.html import plotly_js

ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--no-first-run"]


def _open_seconds(p, chromium: str, url: str, ready: str, repeat: int) -> tuple[float, float]:
    cold, warm = [], []
    for _ in range(repeat):
        browser = p.chromium.launch(executable_path=chromium, args=ARGS)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            t = time.perf_counter()
            page.goto(url, wait_until="load")
            page.wait_for_selector(ready, timeout=60_000)
            cold.append(time.perf_counter() - t)
            t = time.perf_counter()
            page.reload(wait_until="load")
            page.wait_for_selector(ready, timeout=60_000)
            warm.append(time.perf_counter() - t)
        finally:
            browser.close()
    return statistics.median(cold), statistics.median(warm)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("dbs", nargs="+", type=Path, help="infoscope databases")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--out", type=Path, default=None, help="folder for the reports (default: a temporary one)")
    args = parser.parse_args(argv)
    from playwright.sync_api import sync_playwright

    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        raise SystemExit("Chromium is needed (apt-get install chromium)")
    out = args.out or Path(tempfile.mkdtemp())
    out.mkdir(parents=True, exist_ok=True)
    ref = out / "plotly-only.html"
    ref.write_text("<!DOCTYPE html><html><head><meta charset='utf-8'><script>" + plotly_js() + "</script></head><body>"
                   "<div id='p'></div><script>Plotly.newPlot('p', [], {}).then(function () { document.body.dataset.ready = '1'; });"
                   "</script></body></html>", encoding="utf-8")
    with sync_playwright() as p:
        ref_cold, ref_warm = _open_seconds(p, chromium, ref.resolve().as_uri(), "body[data-ready='1']", args.repeat)
        print(f"reference: Plotly alone, {ref.stat().st_size / 1e6:.2f} MB, opens in {ref_cold:.2f} s cold, {ref_warm:.2f} s warm")
        print("| database | report MB | build s | opens cold s | ratio to Plotly alone | warm s |")
        print("|---|---|---|---|---|---|")
        for db in args.dbs:
            t = time.perf_counter()
            report = write_report(db, out / (db.stem + ".html"))
            built = time.perf_counter() - t
            cold, warm = _open_seconds(p, chromium, report.resolve().as_uri(), "body[data-ready='1']", args.repeat)
            print(f"| {db.name} | {report.stat().st_size / 1e6:.2f} | {built:.2f} | {cold:.2f} | {cold / ref_cold:.2f}× | {warm:.2f} |")


if __name__ == "__main__":
    main()
