"""Train a reference experiment while a :class:`~infoscope.recorder.Recorder` watches.

The runner is one client of the recorder API: a plain PyTorch loop that calls
``recorder.record`` once before training (epoch 0) and after every epoch (or every N steps).
The model, optimiser and random-number state are stored with each epoch so an interrupted run
can be resumed exactly; the same seed gives the same numbers on CPU.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from ..inputs import ModelInputs, as_inputs, call, n_rows, take
from ..options import RecordingOptions, recording_options
from ..recorder import Recorder
from ..errors import StoreError
from ..store import Store
from ..weights import stored_checkpoint
from .inspection import findings_of
from .registry import Experiment, get_experiment, make_probes

__all__ = ["RunResult", "run_experiment", "evaluate", "build_model"]

#: Called after every epoch with (epoch, epochs, metrics).
EpochCallback = Callable[[int, int, dict[str, float]], None]


@dataclasses.dataclass(frozen=True)
class RunResult:
    """What a finished run left behind."""

    run: str
    store: Path
    epochs: int
    seconds: float
    seconds_per_epoch: list[float]
    metrics: dict[str, float]
    #: What the run could not do as asked (one line each; also stored as warnings of the run).
    notes: tuple[str, ...] = ()


def _logits(out: Any) -> torch.Tensor:
    """A model's output scores: the tensor itself, or the ``logits`` of a Hugging Face output."""
    return out if isinstance(out, torch.Tensor) else out.logits if hasattr(out, "logits") else out[0]


def _loss(exp: Experiment, out: Any, y: torch.Tensor) -> torch.Tensor:
    out = _logits(out)
    if exp.output == "probs":
        return F.nll_loss(torch.log(out.clamp_min(1e-12)), y)
    return F.cross_entropy(out, y)


def evaluate(model: nn.Module, exp: Experiment, x: torch.Tensor | ModelInputs, y: torch.Tensor,
             forward_batch_size: int = 1000) -> tuple[float, float]:
    """(loss, accuracy) of ``model`` on (x, y), in eval mode, mode restored afterwards."""
    was = model.training
    model.eval()
    total, correct, n = 0.0, 0, n_rows(x)
    with torch.no_grad():
        for s in range(0, n, forward_batch_size):
            out = _logits(call(model, take(x, slice(s, s + forward_batch_size))))
            total += float(_loss(exp, out, y[s : s + forward_batch_size])) * len(out)
            correct += int((out.argmax(dim=1) == y[s : s + forward_batch_size]).sum())
    model.train(was)
    return total / n, correct / n


def build_model(exp: Experiment, activation: str, seed: int) -> nn.Module:
    """The experiment's network with seeded initial weights."""
    torch.manual_seed(seed)
    return exp.model(activation)


def _make_optimizer(exp: Experiment, model: nn.Module) -> torch.optim.Optimizer:
    if exp.optimizer == "sgd":
        return torch.optim.SGD(model.parameters(), lr=exp.lr, momentum=exp.momentum)
    return torch.optim.Adam(model.parameters(), lr=exp.lr)


class _Training:
    """State of one training run: model, optimiser, batch order, step counter."""

    def __init__(self, exp: Experiment, model: nn.Module, seed: int, x_train, y_train, x_test, y_test, activation: str):
        self.exp, self.model, self.activation = exp, model, activation
        self.optimizer = _make_optimizer(exp, model)
        self.batches = torch.Generator().manual_seed(seed)
        self.x_train, self.y_train, self.x_test, self.y_test = x_train, y_train, x_test, y_test
        self.epoch, self.step = 0, 0

    def state(self) -> dict[str, Any]:
        return {
            "model": self.model.state_dict(), "optimizer": self.optimizer.state_dict(),
            "batches": self.batches.get_state(), "torch_rng": torch.get_rng_state(),
            "epoch": self.epoch, "step": self.step, "activation": self.activation,
        }

    def restore(self, state: dict[str, Any]) -> None:
        self.model.load_state_dict(state["model"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.batches.set_state(state["batches"])
        torch.set_rng_state(state["torch_rng"])
        self.epoch, self.step = int(state["epoch"]), int(state["step"])

    def metrics(self) -> dict[str, float]:
        tr_loss, tr_acc = evaluate(self.model, self.exp, self.x_train, self.y_train)
        te_loss, te_acc = evaluate(self.model, self.exp, self.x_test, self.y_test)
        return {"train_loss": tr_loss, "train_acc": tr_acc, "test_loss": te_loss, "test_acc": te_acc}

    def run(self, recorder: Recorder, epochs: int, every: str | int, measure_first: bool,
            on_epoch: EpochCallback | None = None) -> tuple[dict[str, float], list[float]]:
        """Train up to ``epochs``, recording at epoch 0 (``measure_first``) and on the cadence
        ``every``, with per-unit values at the last epoch; the final metrics and the seconds
        each epoch took."""
        last = self.metrics()
        if measure_first:
            recorder.record(0, step=0, metrics=last, checkpoint=self.state(), force=True)
        per_epoch: list[float] = []
        while self.epoch < epochs:
            e0 = time.perf_counter()
            self.train_epoch(recorder, every)
            last = self.metrics()
            if every == "epoch":
                recorder.record(self.epoch, step=self.step, metrics=last, checkpoint=self.state(),
                                units=True if self.epoch == epochs else None)
            else:  # keep the epoch-end metrics and checkpoint between measurements
                recorder.log(self.epoch, self.step, last, self.state())
            per_epoch.append(time.perf_counter() - e0)
            if on_epoch is not None:
                on_epoch(self.epoch, epochs, last)
        return last, per_epoch

    def train_epoch(self, recorder: Recorder, every: str | int) -> None:
        self.epoch += 1
        self.model.train()
        order = torch.randperm(n_rows(self.x_train), generator=self.batches)
        for s in range(0, len(order), self.exp.batch_size):
            idx = order[s : s + self.exp.batch_size]
            self.optimizer.zero_grad()
            loss = _loss(self.exp, call(self.model, take(self.x_train, idx)), self.y_train[idx])
            loss.backward()
            self.optimizer.step()
            self.step += 1
            if recorder.due_within_epoch(self.epoch, self.step):
                recorder.record(self.epoch, step=self.step, metrics={"batch_loss": float(loss.detach())}, force=True)


def _setup(exp: Experiment, activation: str, seed: int, data: str | Path | None, device: torch.device):
    """The experiment's data set, and its seeded network with the data on ``device``."""
    dataset = exp.dataset(0, data)
    tensors = [as_inputs(a).to(device) for a in (dataset.x_train, dataset.y_train, dataset.x_test, dataset.y_test)]
    return dataset, _Training(exp, build_model(exp, activation, seed).to(device), seed, *tensors, activation)


def run_experiment(
    name: str,
    *,
    store: str | Path = "runs.db",
    run: str | None = None,
    epochs: int | None = None,
    probe_size: int | None = None,
    seed: int = 0,
    activation: str | None = None,
    device: str | torch.device | None = None,
    data: str | Path | None = None,
    options: RecordingOptions | None = None,
    resume: bool = False,
    on_epoch: EpochCallback | None = None,
    whole_probe: bool = False,
    **overrides: Any,
) -> RunResult:
    """Train experiment ``name`` and record it into ``store``.

    Parameters
    ----------
    name : str
        One of :data:`~infoscope.experiments.EXPERIMENTS`.
    store : path
        SQLite database (created if missing).
    run : str, optional
        Run name; default ``"<name>-<activation>-s<seed>"``.
    epochs, probe_size, activation : optional
        Override the experiment's defaults.
    seed : int
        Seeds weights, batch order and probe choice (the data split is fixed).
    device : str or torch.device, optional
        Where the network trains and, unless ``options.device`` says otherwise, where its
        activations are measured (default: the CPU). The same seed gives the same numbers on
        the CPU; GPU kernels may differ in the last bits.
    data : path or "synthetic", optional
        Where the experiment's data set is (the CIFAR experiments: the CIFAR folder; default
        ``$INFOSCOPE_DATA``, else synthetic CIFAR-shaped data). Stored with the run.
    options : RecordingOptions, optional
        What to record (default: the experiment's, :meth:`Experiment.recording`: its
        estimators, per-unit values on the train probe every ``unit_every`` epochs). Per-unit
        values are always measured at the last epoch.
    resume : bool
        Continue the run of that name from its last stored epoch.
    on_epoch : callable, optional
        Progress callback ``(epoch, epochs, metrics)``.
    whole_probe : bool
        Also measure the probe ``"all"``: every sample of the data set (use
        ``probe_estimators`` to choose which estimators can afford it, e.g. exact counts).
    **overrides
        Fields of :class:`~infoscope.options.RecordingOptions` replacing those of
        ``options`` (``estimators=``, ``units=``, ``every=``, ``bootstrap=``, …).

    Returns
    -------
    RunResult
    """
    exp = get_experiment(name)
    activation = activation or exp.activation
    epochs = exp.epochs if epochs is None else int(epochs)
    asked = probe_size
    probe_size = exp.probe_size if probe_size is None else int(probe_size)
    if epochs < 0 or probe_size < 2:
        raise ValueError(f"epochs must be >= 0, got {epochs}" if epochs < 0 else f"probe_size must be at least 2, got {probe_size}")
    run = run or f"{name}-{activation}-s{seed}"
    opts = recording_options(options or exp.recording(activation), **overrides)
    dataset, training = _setup(exp, activation, seed, data, torch.device(device or "cpu"))
    probes = make_probes(dataset, probe_size, seed, whole=whole_probe)
    used = {p.name: n_rows(p.x) for p in probes}
    notes = tuple(f"probe_size {asked} asked, but {name}'s {p} split has {n} samples: its probe holds all of them"
                  for p, n in used.items() if asked is not None and n < asked and p != "all")
    # what was used: the size that draws these same probes again, and each probe's samples
    config = {**exp.config(), "activation": activation, "epochs": epochs, "probe_size": max(n for p, n in used.items() if p != "all"),
              "probe_samples": used, "seed": seed, "device": str(training.x_train.device), "dataset": dataset.name,
              "data": None if data is None else str(data)}
    with Store(store) as db:
        recorder = Recorder(training.model, probes, opts, store=db, run=run, experiment=name, config=config, seed=seed,
                            resume=resume)
        if notes:
            recorder.writer.replace_warnings("config: ", [(None, None, n) for n in notes])
        checkpoint = stored_checkpoint(db, run, map_location=training.x_train.device) if recorder.resumed else None
        if checkpoint is not None:
            training.restore(checkpoint)
        t0 = time.perf_counter()
        status = "failed"
        try:
            last, per_epoch = training.run(recorder, epochs, opts.every, measure_first=checkpoint is None, on_epoch=on_epoch)
            # what only the model can tell, stored now so that reports never rebuild it
            findings = findings_of(training.model, recorder.probes[0].x, db.layers(run), layouts=recorder.layouts)
            recorder.writer.write_findings(findings.to_dict(), training.epoch)
            status = "finished"
        except KeyboardInterrupt:
            status = "interrupted"
            raise
        finally:
            try:
                recorder.close(status)
            except StoreError:  # (a full disk): the error that stopped the run is the one to tell
                if status == "finished":
                    raise
    return RunResult(run, Path(store), training.epoch, time.perf_counter() - t0, per_epoch, last, notes)
