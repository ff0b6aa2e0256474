"""A Hugging Face ``TrainerCallback`` that records MI of a model's layers into an infoscope store.

Install with ``pip install 'infoscope[transformers]'``. The counterpart of the Lightning
callback: it observes the ``Trainer``'s loop (it never owns it), records the initial state
as epoch 0 when training begins and then after every training epoch (epoch e + 1 after the
Trainer's epoch e), or every N optimisation steps (``every=N``), and logs the headline values
through the Trainer's loggers when it is given the Trainer (``trainer.log``: TensorBoard,
W&B, … show them beside the loss; the Trainer's ``log_history`` keeps them). Under the
Trainer's distributed launch (``torchrun``, ``accelerate launch``) every rank takes part (see
:class:`~infoscope.recorder.Recorder`) and rank 0 writes.

Probes of token models are mappings of tensors passed as ``model(**x)``, with their
``attention_mask``: ``probes=({"input_ids": ids, "attention_mask": mask}, labels)``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

try:
    from transformers import TrainerCallback
except ImportError as exc:  # pragma: no cover - depends on the optional extra
    raise ImportError("the Hugging Face integration needs transformers: pip install 'infoscope[transformers]'") from exc

from ..options import RecordingOptions, recording_options
from ..recorder import Recorder
from . import logged_values

__all__ = ["InfoscopeCallback"]


class InfoscopeCallback(TrainerCallback):
    """Record information-plane values of a model during ``Trainer.train``.

    Parameters
    ----------
    probes : (x, y), Probe or dict
        Probe set(s), as for :class:`~infoscope.recorder.Recorder`; x may be a mapping of
        tensors (``input_ids``, ``attention_mask`` …), fed as ``model(**x)``.
    options : RecordingOptions, optional
        What to record; ``every`` is "epoch" (after every training epoch) or N (every N
        optimisation steps).
    store : path
        SQLite database.
    run : str, optional
        Run name (default: the model's class name and the time).
    trainer : transformers.Trainer, optional
        The Trainer this callback is added to (``trainer.add_callback(InfoscopeCallback(...,
        trainer=trainer))``): the headline values are then logged with ``trainer.log``, so
        every logger the Trainer reports to shows them.
    log : bool
        Log whole-layer H(T), I(X;T) and I(T;Y) as ``infoscope/<probe>/<layer>/<quantity>/<estimator>``.
    **overrides
        Fields of :class:`~infoscope.options.RecordingOptions` (``layers=``, ``estimators=``,
        ``units=``, ``every=``, ``token_pooling=``, …).

    Examples
    --------
    >>> trainer = Trainer(model=model, args=args, train_dataset=data)  # doctest: +SKIP
    >>> probe = ({"input_ids": ids, "attention_mask": mask}, labels)  # doctest: +SKIP
    >>> trainer.add_callback(InfoscopeCallback(probe, store="runs.db", trainer=trainer))  # doctest: +SKIP
    >>> trainer.train()  # doctest: +SKIP
    """

    def __init__(
        self,
        probes: Any,
        options: RecordingOptions | None = None,
        *,
        store: str | Path = "runs.db",
        run: str | None = None,
        trainer: Any = None,
        log: bool = True,
        **overrides: Any,
    ):
        self.options = recording_options(options, **overrides)  # checked now, before training starts
        self.probes, self.store, self.run, self.trainer, self.log = probes, store, run, trainer, log
        self.recorder: Recorder | None = None

    @property
    def every(self) -> str | int:
        """The recording cadence: "epoch" or a number of optimisation steps."""
        return self.options.every

    # -- events ----------------------------------------------------------------------------
    def on_train_begin(self, args, state, control, model=None, **kwargs) -> None:
        if model is None:
            raise ValueError("the Trainer passed no model to the infoscope callback")
        self.recorder = Recorder(
            model, self.probes, self.options, store=self.store, run=self.run, experiment=type(model).__name__,
            config={"transformers": {"num_train_epochs": args.num_train_epochs, "max_steps": args.max_steps}},
        )
        self._record(state, epoch=0)

    def on_epoch_end(self, args, state, control, **kwargs) -> None:
        if self.every == "epoch":
            self._record(state, epoch=int(round(state.epoch or 0)))

    def on_step_end(self, args, state, control, **kwargs) -> None:
        epoch = int(state.epoch or 0) + 1
        if self.recorder is not None and self.recorder.due_within_epoch(epoch, state.global_step):
            self._record(state, epoch=epoch)

    def on_train_end(self, args, state, control, **kwargs) -> None:
        if self.recorder is not None:
            self.recorder.close("finished")
            self.recorder = None

    # -- helpers ----------------------------------------------------------------------------
    def _record(self, state, epoch: int) -> None:
        if self.recorder is None:
            return
        metrics = {k: float(v) for entry in state.log_history[-1:] for k, v in entry.items()
                   if isinstance(v, (int, float)) and not isinstance(v, bool) and k not in ("epoch", "step")}
        summary = self.recorder.record(epoch=epoch, step=state.global_step, metrics=metrics, force=True)
        if self.log and summary and self.trainer is not None:
            self.trainer.log(logged_values(summary))
