"""Progress of a long wait: silent for its first seconds, then a Rich bar in a terminal, plain
lines elsewhere (CI logs, notebooks), or a callback of the caller's (a command line's own bar).

:class:`WaitProgress` is what the recorder reports a measurement's layers through; ``mode``
``"off"`` silences it.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from typing import Any, TextIO

__all__ = ["PROGRESS_MODES", "WaitProgress", "check_progress"]

#: ``"auto"``: a Rich bar when the stream is a terminal, plain lines otherwise; ``"rich"``,
#: ``"plain"``, ``"off"``; or a callable ``(done, total, what)``.
PROGRESS_MODES = ("auto", "rich", "plain", "off")


def check_progress(value: Any) -> Any:
    """``value`` if it is one of :data:`PROGRESS_MODES` or a callable, else a ``ValueError``."""
    if callable(value) or value in PROGRESS_MODES:
        return value
    raise ValueError(f"progress must be one of {', '.join(PROGRESS_MODES)} or a callable (done, total, what); got {value!r}")


class WaitProgress:
    """Report ``done`` of ``total`` steps of a wait, once it has lasted ``delay`` seconds.

    Parameters
    ----------
    description : str
        What is waited for (``"record of epoch 3"``).
    total : int
        Steps in all.
    mode : {"auto", "rich", "plain", "off"} or callable
        See :data:`PROGRESS_MODES`; a callable gets every update, from the first.
    delay : float
        Seconds of silence before anything is shown (a short wait shows nothing).
    every : float
        Seconds between plain lines.
    stream : file, optional
        Where to write (default ``sys.stderr``).

    Examples
    --------
    >>> import io
    >>> out = io.StringIO()
    >>> with WaitProgress("record of epoch 0", 2, mode="plain", delay=0, every=0, stream=out) as p:
    ...     p.update(1, "layer 'fc1'")
    >>> out.getvalue().splitlines()[0].startswith("infoscope: record of epoch 0: 1/2 (layer 'fc1')")
    True
    """

    def __init__(self, description: str, total: int, mode: Any = "auto", delay: float = 2.0, every: float = 10.0,
                 stream: TextIO | None = None):
        self.description, self.total, self.delay, self.every = description, max(int(total), 1), delay, every
        self.stream = stream or sys.stderr
        self.callback: Callable[[int, int, str], None] | None = mode if callable(mode) else None
        if mode == "auto":
            mode = "rich" if getattr(self.stream, "isatty", lambda: False)() else "plain"
        self.mode = "callback" if self.callback else mode
        self.start = time.perf_counter()
        self.done, self.what = 0, ""
        self._bar: Any = None
        self._task: Any = None
        self._last_line = -float("inf")
        self._shown = False

    def __enter__(self) -> WaitProgress:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def elapsed(self) -> float:
        """Seconds since the wait began."""
        return time.perf_counter() - self.start

    def left(self) -> float | None:
        """Seconds still to wait at the pace so far (None before the first step)."""
        return self.elapsed() / self.done * (self.total - self.done) if self.done else None

    def update(self, done: int, what: str = "") -> None:
        """``done`` steps are finished; ``what`` is the last one (or the one under way)."""
        self.done, self.what = int(done), what
        if self.callback is not None:
            self.callback(self.done, self.total, what)
            return
        if self.mode == "off" or self.elapsed() < self.delay:
            return
        if self.mode == "rich":
            self._rich()
        elif self.elapsed() - self._last_line >= self.every or self.done >= self.total:
            self._line()

    def _line(self) -> None:
        left = self.left()
        tail = f", ~{left:.0f} s left" if left is not None and self.done < self.total else ""
        what = f" ({self.what})" if self.what else ""
        print(f"infoscope: {self.description}: {self.done}/{self.total}{what}, {self.elapsed():.0f} s{tail}",
              file=self.stream, flush=True)
        self._last_line, self._shown = self.elapsed(), True

    def _rich(self) -> None:
        if self._bar is None:
            from rich.console import Console
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

            self._bar = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                                 TextColumn("{task.fields[what]}"), TimeElapsedColumn(), TimeRemainingColumn(),
                                 console=Console(file=self.stream), transient=True)
            self._bar.start()
            self._task = self._bar.add_task(self.description, total=self.total, what="")
        self._bar.update(self._task, completed=self.done, what=self.what)

    def close(self) -> None:
        """End the report (a plain report ends with its last line)."""
        if self._bar is not None:
            self._bar.stop()
            self._bar = None
        elif self.mode == "plain" and self._shown and self._last_line < self.elapsed() and self.done < self.total:
            self._line()
