"""The report page: one self-contained HTML file with interactive views of each run.

The page holds everything it needs: Plotly's JavaScript (from the ``plotly`` package), the
views' script (``assets/app.js``), their style and the runs' values as JSON
(:mod:`infoscope.report.payload`). It opens from a plain file path with no network, and can be
mailed or archived as is. ``infoscope serve`` sends the same page with a note telling the
script where to fetch fresh values while a run writes.
"""

from __future__ import annotations

import datetime as _dt
import html
import json
from collections.abc import Sequence
from functools import cache
from importlib.resources import files
from pathlib import Path
from typing import Any

from ..store import Store, opened
from .payload import run_payload
from .tables import run_tables

__all__ = ["build_report", "write_report", "page", "plotly_js"]


@cache
def plotly_js() -> str:
    """Plotly's minified JavaScript bundle, as shipped inside the ``plotly`` Python package."""
    from plotly.offline import get_plotlyjs

    return get_plotlyjs()


def _asset(name: str) -> str:
    return files("infoscope.report").joinpath("assets", name).read_text(encoding="utf-8")


def _script_json(obj: Any) -> str:
    """JSON that is safe inside a <script> element: no ``<`` (which could open ``<!--`` or close
    the element), ``>`` or ``&`` appears in it, and no line separator, whatever names it holds.

    Examples
    --------
    >>> print(_script_json({"run": "<!--<script>"}))
    {"run":"\\u003c!--\\u003cscript\\u003e"}
    """
    text = json.dumps(obj, separators=(",", ":"), allow_nan=False)
    for ch, code in (("<", "\\u003c"), (">", "\\u003e"), ("&", "\\u0026"), ("\u2028", "\\u2028"), ("\u2029", "\\u2029")):
        text = text.replace(ch, code)
    return text


def run_section(st: Store, run: str, live: bool = False) -> str:
    """A run's part of the page: heading, the views' holder (filled by the script) and tables
    (:func:`~infoscope.report.tables.run_tables`; ``live`` adds the live status line)."""
    name = html.escape(run)
    status = '<p class="live-status muted">live · connecting…</p>' if live else ""
    return (f'<section class="run" data-run="{name}" id="run-{name}"><h2>Run {name}</h2>{status}'
            f'<div class="views"></div><div class="tables">{run_tables(st, run)}</div></section>')


def page(title: str, intro: str, sections: Sequence[str], payloads: dict[str, Any], live: dict[str, Any] | None = None) -> str:
    """Assemble a complete HTML document (used by the report and by ``infoscope serve``).

    Parameters
    ----------
    title : str
    intro : str
        HTML shown under the title.
    sections : list of str
        :func:`run_section` of each run.
    payloads : dict
        Run name → :func:`~infoscope.report.payload.run_payload`.
    live : dict, optional
        ``{"api": URL prefix, "every": milliseconds, "revision": the store's revision of these
        values}``: poll the server for newer values.
    """
    live_js = f"<script>window.INFOSCOPE_LIVE={_script_json(live)};</script>" if live else ""
    return (
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>"
        f"<meta name='viewport' content='width=device-width,initial-scale=1'><title>{html.escape(title)}</title>"
        f"<style>{_asset('app.css')}</style><script>{plotly_js()}</script></head><body>"
        f"<h1>{html.escape(title)}</h1>{intro}{''.join(sections)}"
        f'<script id="infoscope-data" type="application/json">{_script_json(payloads)}</script>'
        f"{live_js}<script>{_asset('app.js')}</script></body></html>"
    )


def build_report(store: Store | str | Path, runs: Sequence[str] | None = None, title: str = "infoscope report") -> str:
    """The report as an HTML string.

    Parameters
    ----------
    store : Store or path
    runs : list of str, optional
        Default: every run in the database.
    title : str

    Returns
    -------
    str
        A complete HTML document: interactive views (information plane with an epoch slider,
        information against epoch with accuracy and loss, per-unit heat maps), tables and
        the analysis of each run; all information values in bits.
    """
    with opened(store) as st:
        names = list(runs) if runs else st.run_names()
        if not names:
            raise ValueError(f"{st.path} holds no runs; record one first (infoscope run …)")
        for n in names:
            st.run_id(n)  # a clear error for unknown names before any work
        intro = (f'<p class="muted">{html.escape(str(st.path))} · generated {_dt.datetime.now():%Y-%m-%d %H:%M} · '
                 "all information values in bits</p><p>Runs: "
                 + ", ".join(f'<a href="#run-{html.escape(n)}">{html.escape(n)}</a>' for n in names) + "</p>")
        sections = [run_section(st, n) for n in names]
        payloads = {n: run_payload(st, n) for n in names}
    return page(title, intro, sections, payloads)


def write_report(store: Store | str | Path, out: str | Path, runs: Sequence[str] | None = None, title: str = "infoscope report") -> Path:
    """Write :func:`build_report` to ``out`` (an ``.html`` file) and return its path."""
    out = Path(out)
    if out.suffix.lower() not in (".html", ".htm"):
        raise ValueError(f"the report is HTML: name the output file *.html, got {out.name}")
    text = build_report(store, runs, title)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text, encoding="utf-8")
    return out
