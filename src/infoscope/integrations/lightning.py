"""A Lightning callback that records MI of a LightningModule's layers into an infoscope store.

Install with ``pip install 'infoscope[lightning]'``. The callback observes the trainer's
loop (it never owns it): it records the initial state as epoch 0 when training starts and
then after every training epoch (epoch e + 1 after Lightning's epoch e), or every N
optimisation steps, and logs the headline values through the trainer's loggers, so
TensorBoard or CSV loggers show them beside the loss. Under a multi-process strategy every
rank takes part (see :class:`~infoscope.recorder.Recorder`) and rank 0 writes.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

try:
    from lightning.pytorch import Callback
except ImportError as exc:  # pragma: no cover - depends on the optional extra
    raise ImportError("the Lightning integration needs Lightning: pip install 'infoscope[lightning]'") from exc

from ..options import RecordingOptions, recording_options
from ..recorder import Recorder
from . import logged_values

__all__ = ["InfoscopeCallback"]


class InfoscopeCallback(Callback):
    """Record information-plane values of a LightningModule during ``trainer.fit``.

    Parameters
    ----------
    probes : (x, y), Probe or dict
        Probe set(s), as for :class:`~infoscope.recorder.Recorder`.
    options : RecordingOptions, optional
        What to record; ``every`` is "epoch" (after every training epoch) or N (every N
        optimisation steps).
    store : path
        SQLite database.
    run : str, optional
        Run name (default: the module's class name and the time).
    log : bool
        Log whole-layer I(X;T), I(T;Y) and H(T) as ``infoscope/<probe>/<layer>/<quantity>/<estimator>``.
    **overrides
        Fields of :class:`~infoscope.options.RecordingOptions` (``layers=``, ``estimators=``,
        ``units=``, ``every=``, ``bootstrap=``, …).

    Examples
    --------
    >>> callback = InfoscopeCallback(probes=(x_probe, y_probe), estimators=["renyi"], store="runs.db")  # doctest: +SKIP
    >>> Trainer(max_epochs=10, callbacks=[callback]).fit(module, loader)  # doctest: +SKIP
    """

    def __init__(
        self,
        probes: Any,
        options: RecordingOptions | None = None,
        *,
        store: str | Path = "runs.db",
        run: str | None = None,
        log: bool = True,
        **overrides: Any,
    ):
        super().__init__()
        self.options = recording_options(options, **overrides)  # checked now, before training starts
        self.probes, self.store, self.run, self.log = probes, store, run, log
        self.recorder: Recorder | None = None

    @property
    def every(self) -> str | int:
        """The recording cadence: "epoch" or a number of optimisation steps."""
        return self.options.every

    # -- lifecycle -------------------------------------------------------------------------
    def on_fit_start(self, trainer, pl_module) -> None:
        self.recorder = Recorder(
            pl_module, self.probes, self.options, store=self.store, run=self.run,
            experiment=type(pl_module).__name__, config={"lightning": {"max_epochs": trainer.max_epochs}},
        )

    def on_train_start(self, trainer, pl_module) -> None:
        self._record(trainer, epoch=0, force=True)

    def on_train_epoch_end(self, trainer, pl_module) -> None:
        if self.every == "epoch":
            self._record(trainer, epoch=trainer.current_epoch + 1, force=True)

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        if self.recorder is not None and self.recorder.due_within_epoch(trainer.current_epoch + 1, trainer.global_step):
            self._record(trainer, epoch=trainer.current_epoch + 1, force=True)

    def on_fit_end(self, trainer, pl_module) -> None:
        self._close("finished")

    def on_exception(self, trainer, pl_module, exception: BaseException) -> None:
        self._close("interrupted" if isinstance(exception, KeyboardInterrupt) else "failed")

    # -- helpers ----------------------------------------------------------------------------
    def _close(self, status: str) -> None:
        if self.recorder is not None:
            self.recorder.close(status)
            self.recorder = None

    def _record(self, trainer, epoch: int, force: bool) -> None:
        if self.recorder is None:
            return
        metrics = {k: float(v) for k, v in trainer.callback_metrics.items() if getattr(v, "numel", lambda: 1)() == 1}
        summary = self.recorder.record(epoch=epoch, step=trainer.global_step, metrics=metrics, force=force)
        if self.log and summary and trainer.loggers:
            values = logged_values(summary)
            for logger in trainer.loggers:
                logger.log_metrics(values, step=trainer.global_step)
