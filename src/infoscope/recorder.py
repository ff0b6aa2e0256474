"""Record layer and unit information of a model over training into an infoscope store.

:class:`Recorder` observes a user's own training loop: one call, ``recorder.record(epoch=…,
step=…, metrics=…)``, decides whether a measurement is due, captures the chosen layers on
the probe set(s), has :mod:`~infoscope.measurement` compute per layer H(T), I(X;T) and
I(T;Y) (and per unit the same three) for every estimator, and writes them with the user's
metrics in one database transaction. What is measured is set by
:class:`~infoscope.options.RecordingOptions`; uncertainty bands and σ smoothing live in
:mod:`~infoscope.uncertainty`, multi-process recording in :mod:`~infoscope.distributed`.
"""

from __future__ import annotations

import platform
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from ._version import __version__
from .budget import check_budget, default_budget, device_budget
from .calibration import calibration_records
from .capture import ForwardTrace, model_device, probe_activations, resolve_layers, split_call, trace_forward
from .distributed import Processes, TaskSplit
from .errors import MemoryBudgetError
from .estimators.base import ProbeContext
from .estimators.discrete import plugin_entropy
from .estimators.units import unit_view
from .inputs import input_representation, main_input, n_rows, take
from .layouts import LayerLayout, infer_layout
from .measurement import Measurement, Probe, ProbeMeasurement, as_probes, noisy
from .options import RecordingOptions, recording_options
from .progress import WaitProgress
from .store import RunWriter, Store
from .uncertainty import SigmaSmoother, permuted_labels, subsamples
from .weights import dump_checkpoint

__all__ = ["Probe", "Recorder", "unit_view", "library_versions", "MemoryBudgetError"]


def library_versions() -> dict[str, str]:
    """Versions of Python and the libraries a result depends on."""
    import scipy
    import sklearn

    return {
        "infoscope": __version__,
        "python": platform.python_version(),
        "torch": torch.__version__,
        "numpy": np.__version__,
        "scipy": scipy.__version__,
        "scikit-learn": sklearn.__version__,
    }


class Recorder:
    """Measure information in a model's layers and units and store it, one call per epoch.

    Parameters
    ----------
    model : torch.nn.Module
        A ``DistributedDataParallel`` model is unwrapped to its module.
    probes : (x, y), Probe, list of Probe, or dict name -> (x, y)
        Fixed probe set(s), e.g. ``{"train": (x_tr, y_tr), "test": (x_te, y_te)}``; x is one
        tensor fed as ``model(x)``, or a mapping of tensors (``input_ids``, ``attention_mask``
        …) fed as ``model(**x)``, whose padding is left out of every value. (Elsewhere
        ``probe`` is a probe's name, as in ``Store.measurements(probe="train")``.)
    options : RecordingOptions, optional
        What to measure and how (layers, estimators, units, cadence, bands …).
    store : str, Path, Store or None
        The SQLite database; None measures without storing (:meth:`measure`, or
        :meth:`record` returning values only).
    run : str, optional
        Run name (default: experiment or model class name and the time).
    experiment : str, optional
    config : dict, optional
        Anything worth keeping with the run (hyper-parameters …); stored as JSON.
    seed : int, optional
        Seeds the noise of the noise-injected variant and the bootstrap subsamples.
    resume : bool
        Continue a run of the same name (see :meth:`~infoscope.store.Store.open_run`)
        instead of refusing it; :attr:`resumed` tells which happened.
    distributed : bool, optional
        Record from every process of a ``torch.distributed`` job (default: whenever a process
        group with more than one process is initialised; see :mod:`~infoscope.distributed`).
        Only rank 0 opens and writes the store; every rank must call :meth:`record` at the
        same points.
    **overrides
        Fields of :class:`~infoscope.options.RecordingOptions` (``layers=``,
        ``estimators=``, ``units=``, ``unit_every=``, ``bootstrap=``, …) replacing those of
        ``options``.

    Raises
    ------
    MemoryBudgetError
        When one record call would need more memory than ``memory_budget``.

    Examples
    --------
    >>> import tempfile, os
    >>> model = nn.Sequential(nn.Linear(4, 3), nn.Tanh(), nn.Linear(3, 2))
    >>> x, y = torch.randn(64, 4), torch.randint(0, 2, (64,))
    >>> db = os.path.join(tempfile.mkdtemp(), "runs.db")
    >>> with Recorder(model, (x, y), estimators=["binning"], store=db, run="r1") as rec:
    ...     summary = rec.record(epoch=0, metrics={"loss": 0.7})
    >>> sorted(summary)[:2]
    [('train', '1', 'H(T)', 'binning'), ('train', '1', 'I(T;Y)', 'binning')]
    """

    def __init__(
        self,
        model: nn.Module,
        probes: Any,
        options: RecordingOptions | None = None,
        *,
        store: str | Path | Store | None = "runs.db",
        run: str | None = None,
        experiment: str | None = None,
        config: dict[str, Any] | None = None,
        seed: int | None = None,
        resume: bool = False,
        distributed: bool | None = None,
        **overrides: Any,
    ):
        self.model = model.module if isinstance(model, nn.parallel.DistributedDataParallel) else model
        self.processes = Processes.detect(distributed)
        self.options = recording_options(options, **overrides)
        self.probes = as_probes(probes)
        self.seed = seed
        trace = trace_forward(self.model, take(self.probes[0].x, slice(0, 2)))
        self.layers = resolve_layers(self.model, self.options.layers, trace)
        self.unit_layers = self._unit_layers()
        self.unit_probes = self._unit_probes()
        self.device = torch.device(self.options.device) if self.options.device else model_device(self.model)
        shapes = self._layer_shapes()
        self.layouts = self._layouts(trace, shapes)
        self._check_budget(shapes)
        draws = self.options.draws
        self._contexts, self.x_representations = {}, {}
        for p in self.probes:
            x, kind = self._representation(p)
            self.x_representations[p.name] = kind
            self._contexts[p.name] = ProbeContext.build(x.repeat_interleave(draws, dim=0), p.y.repeat_interleave(draws, dim=0),
                                                        self.options.continuous_y).to(self.device)
        self._check_inputs()
        self._permuted = {name: permuted_labels(ctx, self.options.chance, seed or 0) for name, ctx in self._contexts.items()}
        weight = self.options.sigma_smoothing
        self._smoother = SigmaSmoother(weight) if weight is not None else None
        self._critics: dict[str, dict] = {p.name: {} for p in self.probes}  # warm starts, per probe
        lead = self.processes.lead
        self._owns_store = store is not None and not isinstance(store, Store) and lead
        self.store: Store | None = (Store(store) if self._owns_store else store) if lead else None
        self.run_name = run or f"{experiment or type(self.model).__name__}-{time.strftime('%Y%m%d-%H%M%S')}"
        self.writer: RunWriter | None = None
        if self.store is not None:
            self.writer = self.store.open_run(self.run_name, experiment, self._config(config), seed, library_versions(), resume=resume)
            self.writer.add_layers(self._layer_rows(shapes))

    # -- set-up ----------------------------------------------------------------------------
    def _unit_layers(self) -> list[str]:
        units = self.options.units
        if isinstance(units, bool):
            return list(self.layers) if units else []
        unknown = [u for u in units if u not in self.layers]
        if unknown:
            raise ValueError(f"units names layer(s) {unknown} that are not recorded; recorded layers: {self.layers}")
        return list(units)

    def _unit_probes(self) -> list[str]:
        names = [p.name for p in self.probes]
        chosen = self.options.unit_probes
        unknown = [p for p in (chosen or []) if p not in names]
        if unknown:
            raise ValueError(f"unit_probes names probe(s) {unknown} that are not given; probes: {names}")
        unknown = [p for p in (self.options.probe_estimators or {}) if p not in names]
        if unknown:
            raise ValueError(f"probe_estimators names probe(s) {unknown} that are not given; probes: {names}")
        return list(names if chosen is None else chosen)

    def _layouts(self, trace: ForwardTrace, shapes: dict[str, tuple[int, ...]]) -> dict[str, LayerLayout]:
        """Each layer's layout (:func:`~infoscope.layouts.infer_layout`), from its module, what ran
        before it, and what the user declared (``unit_axis``, ``heads``)."""
        opts = self.options
        axes = opts.unit_axis if isinstance(opts.unit_axis, dict) else {}
        heads = opts.heads or {}
        for option, named in (("unit_axis", axes), ("heads", heads)):
            unknown = [n for n in named if n not in self.layers]
            if unknown:
                raise ValueError(f"{option} names layer(s) {unknown} that are not recorded; recorded layers: {self.layers}")
        modules = dict(self.model.named_modules())
        layouts = {}
        for layer in self.layers:
            declared = axes.get(layer) if isinstance(opts.unit_axis, dict) else opts.unit_axis
            before = [(modules[n], shape) for n, shape in trace.before(layer)]
            layouts[layer] = infer_layout(layer, modules[split_call(layer)[0]], shapes[layer], before, declared,
                                          opts.token_pooling, heads.get(layer))
        pooled = [n for n in self.unit_layers if layouts[n].token_pooling == "all"]
        if pooled and opts.unit_pooling not in (None, "map"):
            raise ValueError(f"unit_pooling={opts.unit_pooling!r} cannot pool the units of sequence layer(s) {pooled}: with "
                             f"token_pooling='all' a unit is its real tokens, and a {opts.unit_pooling} over positions would take "
                             f"padding in; use token_pooling='mean' or 'first' to pool tokens")
        return layouts

    def _representation(self, probe: Probe) -> tuple[torch.Tensor, str]:
        """X of a probe as the estimators see it (:func:`~infoscope.inputs.input_representation`)."""
        how = self.options.input_representation
        embedded = None
        if how == "embedding":
            name = self._embedding_module()
            embedded = probe_activations(self.model, probe.x, [name], self.options.forward_batch_size, "cpu")[name]
        return input_representation(probe.x, how, embedded)

    def _embedding_module(self) -> str:
        """The name of the model's input embedding: ``get_input_embeddings()`` where the model has
        it (Hugging Face), else its first ``nn.Embedding``."""
        getter = getattr(self.model, "get_input_embeddings", None)
        wanted = getter() if callable(getter) else None
        for name, module in self.model.named_modules():
            if name and (module is wanted or (wanted is None and isinstance(module, nn.Embedding))):
                return name
        raise ValueError("input_representation='embedding': the model has no input embedding (no get_input_embeddings(), no "
                         "nn.Embedding); use 'tokens' or 'values'")

    def _check_inputs(self) -> None:
        """Refuse up front an estimator that cannot measure a probe's X (token ids for KSG)."""
        for est in self.options.estimators:
            for p in self.probes:
                if self.options.measures(p.name, est):
                    est.check_inputs(self._contexts[p.name])

    def _layer_shapes(self) -> dict[str, tuple[int, ...]]:
        """Each layer's activation shape without N, from a forward pass of two probe samples."""
        acts = probe_activations(self.model, take(self.probes[0].x, slice(0, 2)), self.layers, store_device=self.device)
        wrong = {k: v.shape[0] if v.ndim else 0 for k, v in acts.items() if v.ndim == 0 or v.shape[0] != 2}
        if wrong:
            k, got = next(iter(wrong.items()))
            raise ValueError(
                f"layer {k!r} gives {got} rows for 2 probe samples: its output does not hold one row per sample on "
                f"axis 0 (a module applied to reshaped or time-major tensors), so its information cannot be measured; "
                f"choose another layer (e.g. the block around it)" + (f"; also {sorted(wrong)[1:]}" if len(wrong) > 1 else "")
            )
        self._templates = {k: v[:0] for k, v in acts.items()}  # shape and dtype of an empty shard
        self._shapes = {k: tuple(v.shape[1:]) for k, v in acts.items()}
        return self._shapes

    def _check_budget(self, shapes: dict[str, tuple[int, ...]]) -> None:
        """Refuse up front what would not fit (see :func:`~infoscope.budget.check_budget`)."""
        per_sample = {k: int(np.prod(s)) if s else 1 for k, s in shapes.items()}
        self._values_per_sample = per_sample
        probes = [(p.name, n_rows(p.x) * self.options.draws, int(np.prod(main_input(p.x).shape[1:]))) for p in self.probes]
        budget = default_budget() if self.options.memory_budget is None else int(self.options.memory_budget)
        check_budget(per_sample, probes, self.options.estimators, budget)

    def _layer_rows(self, shapes: dict[str, tuple[int, ...]]) -> list[tuple[str, list[int], str, int]]:
        """(name, shape without N, module kind, number of units) of every recorded layer."""
        modules = dict(self.model.named_modules())
        return [(name, list(shapes[name]), type(modules[split_call(name)[0]]).__name__, self.layouts[name].units(shapes[name]))
                for name in self.layers]

    def _config(self, config: dict[str, Any] | None) -> dict[str, Any]:
        probes = {p.name: {"n": n_rows(p.x), "label_entropy_bits": self._label_entropy(self._contexts[p.name]),
                           "target": "continuous" if self._contexts[p.name].continuous_y else "classes",
                           "x_representation": self.x_representations[p.name], "padded": p.mask is not None and not bool(p.mask.all())}
                  for p in self.probes}
        layouts = {n: {"layout": v.layout, "reason": v.reason, "units": self.layouts[n].units(self._shapes[n]),
                       **v.params()} for n, v in self.layouts.items()}
        extra = {}
        if self.options.calibrate:  # at the train probe's N and each layer's D
            n = len(self.probes[0].x) * self.options.draws
            extra["calibration"] = calibration_records(self.options.estimators, [(n, d) for d in self._values_per_sample.values()],
                                                       self.seed or 0)
        return {**self.options.as_config(), "layers": self.layers, "layouts": layouts, "units": self.unit_layers,
                "unit_probes": self.unit_probes, "probes": probes, **extra, **(config or {})}

    @staticmethod
    def _label_entropy(ctx: ProbeContext) -> float | None:
        """H(Y) of class labels in bits; None for a continuous target (no such bound)."""
        return None if ctx.continuous_y else plugin_entropy(ctx.y.cpu().numpy())

    @property
    def run_id(self) -> int | None:
        """The run's row in the store (None when nothing is stored, and on ranks other than 0)."""
        return None if self.writer is None else self.writer.run_id

    @property
    def resumed(self) -> bool:
        """Whether an existing run was resumed (see :meth:`~infoscope.store.Store.open_run`)."""
        return self.writer is not None and self.writer.resumed

    @property
    def distributed(self) -> bool:
        """Whether this recorder is one of several processes recording together."""
        return self.processes.distributed

    # -- lifecycle ---------------------------------------------------------------------
    def __enter__(self) -> Recorder:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        self.close("finished" if exc_type is None else "failed")

    def close(self, status: str = "finished") -> None:
        """Mark the run finished (or failed) and close the store if this recorder opened it."""
        if self.writer is None:
            return
        try:
            self.writer.set_status(status)
        finally:
            if self._owns_store:
                self.store.close()

    # -- scheduling --------------------------------------------------------------------------
    def due(self, step: int | None) -> bool:
        """Whether a :meth:`record` call at ``step`` measures, under the ``every`` cadence."""
        every = self.options.every
        return every == "epoch" or (step is not None and step % int(every) == 0)

    def due_within_epoch(self, epoch: int, step: int) -> bool:
        """Whether a training loop should record after optimisation ``step`` of ``epoch`` (counted
        from 1): every ``every`` steps, and every ``early_every`` steps in the first
        ``early_epochs`` epochs (a schedule dense early, when nearly all change happens)."""
        every, early = self.options.every, self.options.early_every
        if every != "epoch" and step % int(every) == 0:
            return True
        return early is not None and epoch <= self.options.early_epochs and step % early == 0

    def units_due(self, epoch: int, step: int) -> bool:
        """Whether a measurement at (``epoch``, ``step``) includes per-unit values under ``unit_every``."""
        return self._index(epoch, step) % self.options.unit_every == 0

    def bands_due(self, epoch: int, step: int) -> bool:
        """Whether a measurement at (``epoch``, ``step``) includes bootstrap and chance bands under ``band_every``."""
        return self._index(epoch, step) % self.options.band_every == 0

    def _index(self, epoch: int, step: int) -> int:
        every = self.options.every
        return epoch if every == "epoch" else step // int(every)

    # -- measuring and writing ------------------------------------------------------------------
    def measure(self, epoch: int = 0, step: int = 0, units: bool | None = None) -> Measurement:
        """Measure every probe, layer, unit and estimator without storing anything.

        Parameters
        ----------
        epoch, step : int
        units : bool, optional
            Include per-unit values (default: as ``unit_every`` schedules them).

        Returns
        -------
        Measurement
            ``(rows, warnings, bands)``: values in bits, (layer, message) pairs, bands.
        """
        with_units = self.units_due(epoch, step) if units is None else bool(units)
        tasks = TaskSplit(self.processes)
        rows, warnings, bands = [], [], []
        opts = self.options
        with_bands = self.bands_due(epoch, step)
        steps = len(self.probes) * len(self.layers)
        report = WaitProgress(f"record of epoch {epoch}", steps, opts.progress if self.processes.lead else "off")
        for pi, probe_set in enumerate(self.probes):
            probe = probe_set.name
            ctx = self._contexts[probe]
            boot = opts.bootstrap if with_bands else 0
            subs = subsamples(ctx, boot, opts.bootstrap_fraction, (self.seed or 0, epoch, step)) if boot else []
            part = ProbeMeasurement(opts, probe, ctx, tasks, with_units and probe in self.unit_probes,
                                    self.unit_layers, subs, self._smoother, device_budget(self.device, opts.memory_budget), step,
                                    self._permuted[probe] if with_bands else [], self.layouts, self.x_representations[probe],
                                    self._critics[probe])
            acts = self._capture(probe_set)
            if opts.noise_variance is None:  # (noisy copies of every layer at once would cost their draws in memory)
                part.prefetch({layer: acts[layer] for layer in self.layers})
            for li, layer in enumerate(self.layers):
                t = noisy(acts[layer], opts.noise_variance, opts.draws, (self.seed or 0, epoch, step, li))
                where = f"layer {layer!r}, epoch {epoch}, step {step}, probe {probe!r}"
                report.update(pi * len(self.layers) + li, f"probe {probe}, layer {layer}" + (" and its units" if with_units else ""))
                part.layer(layer, t, where, note_skipped_units=epoch == 0 and probe_set is self.probes[0])
            rows += part.rows
            warnings += part.warnings
            bands += part.bands
        report.update(steps, "done")
        report.close()
        rows, warnings, bands = self.processes.gather_results(rows, warnings, bands)
        in_order = lambda tagged: [r for _, part in sorted(tagged, key=lambda p: p[0]) for r in part]  # noqa: E731
        return Measurement(in_order(rows), warnings, in_order(bands))

    def _capture(self, probe_set: Probe) -> dict[str, torch.Tensor]:
        """Activations of every layer on the whole probe (gathered from every rank's shard), as
        the estimators measure them (:meth:`~infoscope.layouts.LayerLayout.view`: a sequence's
        units on axis 1, its padding left out)."""
        x, batch = probe_set.x, self.options.forward_batch_size
        if not self.processes.distributed:
            acts = probe_activations(self.model, x, self.layers, batch, self.device)
        else:
            shard = self.processes.shard(n_rows(x))
            local = probe_activations(self.model, take(x, shard), self.layers, batch, self.device) if len(shard) else {}
            acts = self.processes.gather_activations(local, n_rows(x), self._templates)
        return {k: self.layouts[k].view(t, probe_set.mask) for k, t in acts.items()}

    def record(
        self,
        epoch: int,
        step: int | None = None,
        metrics: dict[str, float] | None = None,
        checkpoint: Any = None,
        force: bool = False,
        units: bool | None = None,
    ) -> dict[tuple[str, str, str, str], float] | None:
        """Measure and store, if due under ``every`` (or ``force``).

        Parameters
        ----------
        epoch : int
        step : int, optional
            Global optimisation step (defaults to ``epoch``).
        metrics : dict, optional
            The user's metrics (loss, accuracy, …), stored with the measurement.
        checkpoint : object, optional
            Model and optimiser state as plain data (``state_dict()``s: tensors, numbers,
            strings and containers of them; anything else is refused); stored as the
            run's ``"last"`` checkpoint in the same transaction.
        force : bool
            Measure even if not due.
        units : bool, optional
            Include per-unit values (default: as ``unit_every`` schedules them).

        Returns
        -------
        dict or None
            (probe, layer, quantity, estimator) → bits for whole layers; None if not due.
        """
        step = epoch if step is None else int(step)
        if not (force or self.due(step)):
            return None
        start = time.perf_counter()
        measured = self.measure(epoch, step, units)
        self.write(epoch, step, measured, metrics, checkpoint, seconds=time.perf_counter() - start)
        self.processes.barrier()  # rank 0 has committed before anyone goes on
        return {(r.probe, r.layer, r.quantity, r.estimator): r.value for r in measured.rows if r.unit is None}

    def write(
        self, epoch: int, step: int, measured: Measurement, metrics: dict[str, float] | None = None,
        checkpoint: Any = None, seconds: float = 0.0,
    ) -> None:
        """Store one measurement (made here or elsewhere, e.g. in a worker process) in one transaction."""
        if self.writer is not None:
            self.writer.write_record(
                int(epoch), int(step), measured.rows, metrics=metrics, warnings=measured.warnings,
                checkpoints=_serialize(checkpoint), seconds=seconds, bands=measured.bands,
            )

    def log(self, epoch: int, step: int, metrics: dict[str, float], checkpoint: Any = None) -> None:
        """Store metrics (and a checkpoint) without measuring, e.g. at an epoch end between measurements."""
        if self.writer is not None:
            self.writer.write_metrics(int(epoch), int(step), metrics, _serialize(checkpoint))


def _serialize(checkpoint: Any) -> dict[str, bytes] | None:
    """``torch.save`` bytes of a checkpoint, as the run's ``"last"`` checkpoint; only plain data
    (tensors, numbers, strings, containers), which can be read back without running code."""
    if checkpoint is None:
        return None
    return {"last": dump_checkpoint(checkpoint, "the checkpoint given to record()")}
