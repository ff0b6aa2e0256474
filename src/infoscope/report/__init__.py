"""A self-contained HTML report of recorded runs: no network, no external files."""

from .html import build_report, write_report

__all__ = ["build_report", "write_report"]
