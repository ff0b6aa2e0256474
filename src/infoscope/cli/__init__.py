"""The ``infoscope`` command line (Typer, with Rich tables and progress bars), one module per
group of commands: :mod:`.estimating` (arrays on disk), :mod:`.recording` (experiments and
checkpoints), :mod:`.reading` (what a database holds); :mod:`.app` holds the application and
what the groups share."""

from __future__ import annotations

from . import estimating, reading, recording  # noqa: F401  (each registers its commands)
from .app import USER_ERRORS, app, main

__all__ = ["app", "main", "USER_ERRORS"]
