"""Record layer and unit information of a model over training into an infoscope store.

:class:`Recorder` observes a user's own training loop: one call, ``recorder.record(epoch=…,
step=…, metrics=…)``, captures the chosen layers on the probe set(s), estimates per layer
H(T), I(X;T) and I(T;Y), and per unit the same three quantities, for every estimator, and
writes them with the user's metrics in one database transaction.

What I(X;T) means for a deterministic network
----------------------------------------------
For a deterministic network the true I(X;T) of a continuous input is infinite, and on a
finite probe of distinct inputs it is simply H(T): the estimators measure how finely T
separates the probe samples under the estimator's resolution (bins, kernel width, noise).
Binning and KDE read X as "which probe sample" (so I(X;T) = H(T) for distinct inputs);
matrix Rényi and KSG use the input's own values.

``noise_variance`` selects the noise-injected variant T' = T + ε, ε ~ N(0, σ² I) (Saxe et al.;
Goldfeld et al. 2019), whose I(X;T') is finite and falls as σ² grows. Each probe sample is
repeated ``noise_draws`` times with independent noise, so that H(T' | X) is estimated from
the repeats and I(X;T') = H(T') − H(T' | X) with any estimator (the cost grows with the
number of draws). The KDE estimator gives the same quantity in closed form for the noise
variance it is built with.

Per-unit information
--------------------
A unit is one neuron of a dense layer (a scalar per sample) or one channel of a conv layer
(an H×W map per sample). By default kernel estimators (``renyi``, ``kde``) see the unit's
whole map, and binning/KSG see the map's spatial mean (``unit_pooling`` overrides: ``"map"``,
``"mean"`` or ``"max"``).
"""

from __future__ import annotations

import dataclasses
import io
import math
import platform
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from ._validation import check_same_length, check_samples
from .capture import probe_activations, resolve_layers
from .estimators import Estimator, make_estimator
from .estimators.base import ProbeContext
from .estimators.discrete import plugin_entropy
from .budget import MemoryBudgetError, default_budget, estimator_bytes, format_bytes
from .store import BandRow, MeasurementRow, Store

__all__ = ["Probe", "Recorder", "DEFAULT_UNIT_POOLING", "unit_view", "library_versions", "MemoryBudgetError"]

#: How a conv unit's H×W map is presented to each estimator unless ``unit_pooling`` is given.
DEFAULT_UNIT_POOLING = {"renyi": "map", "kde": "map", "binning": "mean", "ksg": "mean"}
POOLINGS = ("map", "mean", "max")


@dataclasses.dataclass
class Probe:
    """A fixed probe set: inputs ``x`` (N, ...) and integer labels ``y`` (N,), with a name."""

    x: torch.Tensor
    y: torch.Tensor
    name: str = "train"

    def __post_init__(self) -> None:
        self.x = check_samples(self.x, f"probe {self.name!r} inputs")
        self.y = check_samples(self.y, f"probe {self.name!r} labels")
        check_same_length(self.x, self.y, (f"probe {self.name!r} inputs", "its labels"))


def _as_probes(probe: Any) -> list[Probe]:
    if isinstance(probe, Probe):
        return [probe]
    if isinstance(probe, Mapping):
        return [p if isinstance(p, Probe) else Probe(*p, name=str(k)) for k, p in probe.items()]
    if isinstance(probe, tuple) and len(probe) == 2:
        return [Probe(*probe)]
    if isinstance(probe, Sequence) and all(isinstance(p, Probe) for p in probe):
        return list(probe)
    raise TypeError("probe must be (x, y), a Probe, a list of Probes or a dict name -> (x, y)")


def unit_view(t: torch.Tensor, unit: int, pooling: str = "map") -> torch.Tensor:
    """Activations of one unit: column ``unit`` of a dense layer, channel ``unit`` of a conv layer.

    Parameters
    ----------
    t : torch.Tensor, shape (N, D) or (N, C, ...)
    unit : int
    pooling : {"map", "mean", "max"}
        For conv channels: the whole map, or its spatial mean / max (shape (N, 1)).

    Returns
    -------
    torch.Tensor, shape (N, 1) for a neuron or pooled map, (N, H, W) for a map.

    Examples
    --------
    >>> unit_view(torch.arange(12.0).reshape(2, 3, 2), 1, "mean").tolist()
    [[2.5], [8.5]]
    """
    u = t[:, unit]
    if u.ndim == 1:
        return u[:, None]
    if pooling == "map":
        return u
    flat = u.reshape(u.shape[0], -1)
    return (flat.mean(dim=1) if pooling == "mean" else flat.amax(dim=1))[:, None]


def library_versions() -> dict[str, str]:
    """Versions of Python and the libraries a result depends on."""
    import scipy
    import sklearn

    from . import __version__

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
    probe : (x, y), Probe, list of Probe, or dict name -> (x, y)
        Fixed probe set(s), e.g. ``{"train": (x_tr, y_tr), "test": (x_te, y_te)}``.
    layers : "auto" or sequence of str
        Names from ``model.named_modules()``.
    estimators : sequence of str or Estimator
        Estimators (names use their defaults), e.g. ``["renyi", Binning(n_bins=30)]``.
    units : bool or sequence of str
        Per-unit measurement for every layer (True), none (False) or the named layers.
    max_units : int or None
        Layers with more units than this are measured as a whole only (a note is stored).
    every : "epoch" or int
        ``"epoch"``: every :meth:`record` call measures; N: only calls whose ``step`` is a
        multiple of N.
    unit_every : int
        Per-unit values on every ``unit_every``-th measurement only (epochs that are multiples
        of it under ``every="epoch"``, else measurements whose ``step // every`` is); the
        others measure whole layers only. Per-unit estimates cost one estimate per unit, so
        this bounds the recording overhead; ``record(..., units=True)`` forces them (the
        experiment runner does so at the last epoch).
    unit_probes : sequence of str, optional
        Probes on which per-unit values are measured (default: all). Unit rankings, pruning
        and unit maps read the ``"train"`` probe.
    store : str, Path, Store or None
        The SQLite database; None measures without storing (:meth:`measure`, or
        :meth:`record` returning values only).
    run : str, optional
        Run name (default: model class name and time).
    experiment : str, optional
    config : dict, optional
        Anything worth keeping with the run (hyper-parameters …); stored as JSON.
    seed : int, optional
    batch_size : int
        Probe samples per forward pass.
    noise_variance : float, optional
        Measure the noise-injected variant T + N(0, noise_variance) (see the module notes).
    noise_draws : int
        Noise draws per probe sample for that variant (default 5).
    unit_pooling : {"map", "mean", "max"}, optional
        How conv units are presented (default per estimator, see ``DEFAULT_UNIT_POOLING``).
    bootstrap : int
        Number of probe subsamples (without replacement, m = ``bootstrap_fraction`` × N) used
        for a 90 % ``"bootstrap"`` band of each layer value (0: none). Subsampling avoids the
        duplicate samples a resample with replacement would create, which every estimator
        here reads as structure. The band is centred on the full-probe value, with the 5th and
        95th percentiles' distances from the subsample median scaled by √(m/N).
    bootstrap_fraction : float
        Subsample size as a fraction of the probe.
    sensitivity : bool
        Also store, per layer value, the range over the estimator at half and twice its key
        setting (bins, σ, noise variance, k) as a ``"sensitivity"`` band.
    sigma_smoothing : float, optional
        For matrix-Rényi estimators with a σ rule: smooth each layer's σ across record calls
        with an exponential moving average, σ ← w·σ_previous + (1 − w)·σ_rule, as Wickstrøm et
        al. do with w = 0.9 (whole layers only; stored as ``sigma_x``, the rule's own choice as
        ``sigma_x_rule``).
    memory_budget : int, optional
        Bytes one record call may use (default: half the machine's memory). A configuration
        that would need more is refused when the recorder is built
        (:class:`~infoscope.budget.MemoryBudgetError`).
    on_error : {"warn", "raise"}
        What a failed estimate (e.g. NaN activations) does: store a warning and go on, or
        raise.
    resume : bool
        Continue a run of the same name instead of refusing it.
    distributed : bool, optional
        Record from every process of a ``torch.distributed`` job (default: whenever a process
        group with more than one process is initialised). Each rank pushes its shard of the
        probe through its replica, the activations are gathered so every estimate is made on
        the whole probe (equal to a single-process recording), the layer/unit/estimator work
        is split across ranks, and only rank 0 opens and writes the store. Every rank must
        call :meth:`record` at the same points. A ``DistributedDataParallel`` model is
        unwrapped to its module.

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
        probe: Any,
        layers: str | Sequence[str] = "auto",
        estimators: Sequence[str | Estimator] = ("renyi",),
        units: bool | Sequence[str] = True,
        max_units: int | None = 256,
        every: str | int = "epoch",
        unit_every: int = 1,
        unit_probes: Sequence[str] | None = None,
        store: str | Path | Store | None = "runs.db",
        run: str | None = None,
        experiment: str | None = None,
        config: dict[str, Any] | None = None,
        seed: int | None = None,
        batch_size: int = 256,
        noise_variance: float | None = None,
        noise_draws: int = 5,
        unit_pooling: str | None = None,
        bootstrap: int = 0,
        bootstrap_fraction: float = 0.8,
        sensitivity: bool = False,
        sigma_smoothing: float | None = None,
        memory_budget: int | None = None,
        on_error: str = "warn",
        resume: bool = False,
        distributed: bool | None = None,
    ):
        self.model = model.module if isinstance(model, nn.parallel.DistributedDataParallel) else model
        model = self.model
        dist_ready = torch.distributed.is_available() and torch.distributed.is_initialized()
        if distributed is None:
            distributed = dist_ready and torch.distributed.get_world_size() > 1
        if distributed and not dist_ready:
            raise ValueError("distributed=True needs an initialised torch.distributed process group (init_process_group)")
        self.distributed = bool(distributed)
        self.rank = torch.distributed.get_rank() if self.distributed else 0
        self.world = torch.distributed.get_world_size() if self.distributed else 1
        self.probes = _as_probes(probe)
        names = [p.name for p in self.probes]
        if len(set(names)) != len(names):
            raise ValueError(f"probe names repeat: {names}")
        if isinstance(unit_probes, str):
            unit_probes = [unit_probes]
        unknown_probes = [p for p in (unit_probes or []) if p not in names]
        if unknown_probes:
            raise ValueError(f"unit_probes names probe(s) {unknown_probes} that are not given; probes: {names}")
        self.unit_probes = list(names if unit_probes is None else unit_probes)
        self.layers = resolve_layers(model, layers)
        if isinstance(estimators, (str, Estimator)):
            estimators = [estimators]
        self.estimators: list[Estimator] = [make_estimator(e) if isinstance(e, str) else e for e in estimators]
        if not self.estimators:
            raise ValueError("estimators is empty; give at least one, e.g. ['renyi']")
        if isinstance(units, bool):
            self.unit_layers = list(self.layers) if units else []
        else:
            unknown = [u for u in units if u not in self.layers]
            if unknown:
                raise ValueError(f"units names layer(s) {unknown} that are not recorded; recorded layers: {self.layers}")
            self.unit_layers = list(units)
        self.max_units = max_units
        if every != "epoch" and not (isinstance(every, int) and not isinstance(every, bool) and every >= 1):
            raise ValueError(f"every must be 'epoch' or a whole number of steps >= 1, got {every!r}")
        self.every = every
        if isinstance(unit_every, bool) or not isinstance(unit_every, int) or unit_every < 1:
            raise ValueError(f"unit_every must be a whole number >= 1, got {unit_every!r}")
        self.unit_every = unit_every
        if noise_variance is not None and not (math.isfinite(noise_variance) and noise_variance > 0):
            raise ValueError(f"noise_variance must be a number > 0 or None, got {noise_variance!r}")
        self.noise_variance = noise_variance
        if noise_draws < 1:
            raise ValueError(f"noise_draws must be >= 1, got {noise_draws}")
        self.noise_draws = int(noise_draws) if noise_variance is not None else 1
        if unit_pooling is not None and unit_pooling not in POOLINGS:
            raise ValueError(f"unknown unit_pooling {unit_pooling!r}; choose one of: {', '.join(POOLINGS)}")
        self.unit_pooling = unit_pooling
        if bootstrap < 0 or not 0.1 <= bootstrap_fraction < 1.0:
            raise ValueError(
                f"bootstrap must be >= 0 and bootstrap_fraction in [0.1, 1), got {bootstrap!r} and {bootstrap_fraction!r}"
            )
        self.bootstrap, self.bootstrap_fraction, self.sensitivity = int(bootstrap), float(bootstrap_fraction), bool(sensitivity)
        if sigma_smoothing is not None and not 0 <= sigma_smoothing < 1:
            raise ValueError(f"sigma_smoothing must be in [0, 1), got {sigma_smoothing!r}")
        self.sigma_smoothing = sigma_smoothing
        self._smoothed: dict[tuple[str, str, int], float] = {}
        if on_error not in ("warn", "raise"):
            raise ValueError(f"on_error must be 'warn' or 'raise', got {on_error!r}")
        self.on_error = on_error
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        self.batch_size = batch_size
        self.seed = seed
        self.memory_budget = default_budget() if memory_budget is None else int(memory_budget)
        self._check_budget()
        r = self.noise_draws
        self._contexts = {
            p.name: ProbeContext.build(p.x.repeat_interleave(r, dim=0), p.y.repeat_interleave(r, dim=0)) for p in self.probes
        }
        self._owns_store = store is not None and not isinstance(store, Store) and self.rank == 0
        self.store: Store | None = (Store(store) if self._owns_store else store) if self.rank == 0 else None
        self.run_name = run or f"{experiment or type(model).__name__}-{time.strftime('%Y%m%d-%H%M%S')}"
        full_config = {
            "layers": self.layers,
            "estimators": [{"method": e.name, **e.get_params()} for e in self.estimators],
            "units": self.unit_layers,
            "max_units": max_units,
            "every": every,
            "unit_every": unit_every,
            "unit_probes": self.unit_probes,
            "probes": {p.name: {"n": len(p.x), "label_entropy_bits": plugin_entropy(self._contexts[p.name].y.numpy())}
                       for p in self.probes},
            "noise_variance": noise_variance,
            "noise_draws": self.noise_draws,
            "unit_pooling": unit_pooling,
            "bootstrap": self.bootstrap,
            "bootstrap_fraction": self.bootstrap_fraction,
            "sensitivity": self.sensitivity,
            "sigma_smoothing": sigma_smoothing,
            **(config or {}),
        }
        self.run_id: int | None = None
        if self.store is not None:
            existing = self.store.run_id(self.run_name, missing_ok=True)
            if existing is not None and resume:
                self.run_id = existing
                self.store.set_status(existing, "running", ended=False)
            else:
                self.run_id = self.store.create_run(self.run_name, experiment, full_config, seed, library_versions())
        self._layers_registered = False

    def _check_budget(self) -> None:
        """Refuse up front what would not fit: shapes from a forward pass of two probe samples."""
        shapes = {k: tuple(v.shape[1:]) for k, v in probe_activations(self.model, self.probes[0].x[:2], self.layers).items()}
        per_sample = {k: int(np.prod(s)) if s else 1 for k, s in shapes.items()}
        worst, where = 0, ""
        for p in self.probes:
            n = len(p.x) * self.noise_draws
            captured = 4 * n * sum(per_sample.values())
            for layer, d in per_sample.items():
                for est in self.estimators:
                    need = captured + estimator_bytes(est.name, n, d) + estimator_bytes(est.name, n, int(np.prod(p.x.shape[1:])))
                    if need > worst:
                        worst, where = need, f"probe {p.name!r} (N={n}), layer {layer!r} ({d} values per sample), estimator {est.name}"
        if worst > self.memory_budget:
            raise MemoryBudgetError(
                f"recording would need about {format_bytes(worst)} for {where}, over the memory budget of "
                f"{format_bytes(self.memory_budget)}; use a smaller probe (fewer samples), fewer or pooled layers "
                "(unit_pooling='mean' for units), binning or KSG instead of a kernel estimator, or raise memory_budget"
            )

    # -- lifecycle ---------------------------------------------------------------------
    def __enter__(self) -> Recorder:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        self.close("finished" if exc_type is None else "failed")

    def close(self, status: str = "finished") -> None:
        """Mark the run finished (or failed) and close the store if this recorder opened it."""
        if self.store is None:
            return
        try:
            self.store.set_status(self.run_id, status)
        finally:
            if self._owns_store:
                self.store.close()

    # -- measuring -----------------------------------------------------------------------
    def due(self, step: int | None) -> bool:
        """Whether a :meth:`record` call at ``step`` measures, under the ``every`` cadence."""
        return self.every == "epoch" or (step is not None and step % int(self.every) == 0)

    def units_due(self, epoch: int, step: int) -> bool:
        """Whether a measurement at (``epoch``, ``step``) includes per-unit values under ``unit_every``."""
        index = epoch if self.every == "epoch" else step // int(self.every)
        return index % self.unit_every == 0

    def _register_layers(self, acts: dict[str, torch.Tensor]) -> None:
        modules = dict(self.model.named_modules())
        rows = []
        for name in self.layers:
            t = acts[name]
            n_units = t.shape[1] if t.ndim >= 2 else 1
            rows.append((name, list(t.shape[1:]), type(modules[name]).__name__, n_units))
        if self.store is not None:
            self.store.add_layers(self.run_id, rows)
        self._layers_registered = True

    def _noisy(self, t: torch.Tensor, epoch: int, step: int, layer_index: int) -> torch.Tensor:
        """T itself, or ``noise_draws`` noisy copies of every sample (seeded by run, epoch, step, layer)."""
        if self.noise_variance is None:
            return t
        t = t.to(torch.float64).repeat_interleave(self.noise_draws, dim=0)
        g = torch.Generator(device="cpu").manual_seed(hash((self.seed or 0, epoch, step, layer_index)) % (2**63))
        noise = torch.randn(t.shape, generator=g, dtype=torch.float64)
        return t + math.sqrt(self.noise_variance) * noise.to(t.device)

    def _subsamples(self, probe: Probe, epoch: int, step: int) -> list[tuple[torch.Tensor, ProbeContext]]:
        """Seeded probe subsamples (indices into the probe, and their contexts) for bootstrap bands."""
        n = len(probe.x) * self.noise_draws
        m = max(2, int(round(self.bootstrap_fraction * n)))
        ctx = self._contexts[probe.name]
        out = []
        for b in range(self.bootstrap):
            g = torch.Generator().manual_seed(hash((self.seed or 0, epoch, step, b)) % (2**63))
            idx = torch.randperm(n, generator=g)[:m].sort().values
            out.append((idx, ProbeContext.build(ctx.x[idx], ctx.y[idx])))
        return out

    def _bands(self, est: Estimator, t: torch.Tensor, ctx: ProbeContext, base: dict, subsamples, probe: str, layer: str) -> list[BandRow]:
        bands: list[BandRow] = []
        if subsamples:
            boot = [est.layer_information(t[idx], sub) for idx, sub in subsamples]
            shrink = math.sqrt(self.bootstrap_fraction)  # m-out-of-n: spread at m scaled to N
            for q, r0 in base.items():
                vals = np.array([r[q].value for r in boot])
                p5, p50, p95 = np.percentile(vals, [5, 50, 95])
                lo, hi = r0.value - shrink * (p50 - p5), r0.value + shrink * (p95 - p50)
                bands.append(BandRow(probe, layer, q, est.name, "bootstrap", lo, hi,
                                     {"n": len(vals), "fraction": self.bootstrap_fraction,
                                      "subsample_median": float(p50), "std": float(vals.std(ddof=1)) if len(vals) > 1 else 0.0}))
        if self.sensitivity:
            variants = est.variants()
            if variants:
                results = [v.layer_information(t, ctx) for v in variants]
                for q, r0 in base.items():
                    vals = [r0.value] + [r[q].value for r in results]
                    bands.append(BandRow(probe, layer, q, est.name, "sensitivity", min(vals), max(vals),
                                         {"variants": [v.get_params() for v in variants], "values": vals[1:]}))
        return bands

    def measure(
        self, epoch: int = 0, step: int = 0, units: bool | None = None
    ) -> tuple[list[MeasurementRow], list[tuple[str | None, str]], list[BandRow]]:
        """Measure every probe, layer, unit and estimator without storing anything.

        Parameters
        ----------
        epoch, step : int
        units : bool, optional
            Include per-unit values (default: as ``unit_every`` schedules them).

        Returns
        -------
        rows : list of MeasurementRow
        warnings : list of (layer, message)
        bands : list of BandRow
        """
        rows: list[tuple[int, list[MeasurementRow]]] = []
        warnings: list[tuple[str | None, str]] = []
        bands: list[tuple[int, list[BandRow]]] = []
        task = -1

        def mine() -> bool:  # tasks go round-robin to the ranks, in the same order everywhere
            nonlocal task
            task += 1
            return task % self.world == self.rank

        lead = self.rank == 0
        with_units = self.units_due(epoch, step) if units is None else bool(units)
        for probe in self.probes:
            ctx = self._contexts[probe.name]
            subsamples = self._subsamples(probe, epoch, step) if self.bootstrap else []
            acts = self._capture(probe)
            if not self._layers_registered:
                self._register_layers(acts)
            for li, layer in enumerate(self.layers):
                t = self._noisy(acts[layer], epoch, step, li)
                where = f"layer {layer!r}, epoch {epoch}, step {step}, probe {probe.name!r}"
                if torch.is_floating_point(t) and not bool(torch.isfinite(t).all()):
                    msg = f"{where}: activations contain NaN or inf; not estimated"
                    if self.on_error == "raise":
                        raise ValueError(msg)
                    if lead:
                        warnings.append((layer, msg))
                    continue
                n_units = t.shape[1] if t.ndim >= 2 else 1
                too_many = self.max_units is not None and n_units > self.max_units
                do_units = with_units and probe.name in self.unit_probes and layer in self.unit_layers and not too_many
                if lead and layer in self.unit_layers and too_many and epoch == 0 and probe is self.probes[0]:
                    warnings.append((layer, f"per-unit MI skipped for {layer!r}: {n_units} units > max_units={self.max_units}"))
                for est in self.estimators:
                    try:
                        if mine():
                            layer_rows, base = self._rows(est, t, ctx, probe.name, layer, None)
                            rows.append((task, layer_rows))
                            bands.append((task, self._bands(est, t, ctx, base, subsamples, probe.name, layer)))
                        if do_units:
                            pooling = self.unit_pooling or DEFAULT_UNIT_POOLING.get(est.name, "map")
                            for j in range(n_units):
                                if mine():
                                    rows.append((task, self._rows(est, unit_view(t, j, pooling), ctx, probe.name, layer, j, pooling)[0]))
                    except (ValueError, RuntimeError, np.linalg.LinAlgError) as exc:
                        msg = f"{where}, estimator {est.name}: {exc}"
                        if self.on_error == "raise":
                            raise ValueError(msg) from exc
                        warnings.append((layer, msg))
        if self.distributed:
            gathered: list[Any] = [None] * self.world
            torch.distributed.all_gather_object(gathered, (rows, warnings, bands))
            rows = [r for g in gathered for r in g[0]]
            warnings = [w for g in gathered for w in g[1]]
            bands = [b for g in gathered for b in g[2]]
        flat_rows = [r for _, part in sorted(rows, key=lambda p: p[0]) for r in part]
        flat_bands = [b for _, part in sorted(bands, key=lambda p: p[0]) for b in part]
        return flat_rows, warnings, flat_bands

    def _capture(self, probe: Probe) -> dict[str, torch.Tensor]:
        """Activations of every layer on the whole probe; in a distributed job each rank pushes
        its contiguous shard and the shards are gathered back in probe order."""
        if not self.distributed:
            return probe_activations(self.model, probe.x, self.layers, self.batch_size)
        shard = np.array_split(np.arange(len(probe.x)), self.world)[self.rank]
        local = probe_activations(self.model, probe.x[torch.from_numpy(shard)], self.layers, self.batch_size) if len(shard) else {}
        gathered: list[Any] = [None] * self.world
        torch.distributed.all_gather_object(gathered, {k: v.cpu() for k, v in local.items()})
        return {layer: torch.cat([g[layer] for g in gathered if g]) for layer in self.layers}

    def _rows(
        self, est: Estimator, t: torch.Tensor, ctx: ProbeContext, probe: str, layer: str, unit: int | None, pooling: str | None = None
    ) -> tuple[list[MeasurementRow], dict]:
        start = time.perf_counter()
        results = est.layer_information(t, ctx)
        if unit is None and self._smooths(est):
            results = self._smooth(est, t, ctx, probe, layer, results)
        seconds = (time.perf_counter() - start) / len(results)
        extra: dict[str, Any] = {}
        if self.noise_variance is not None:
            extra["added_noise_variance"] = self.noise_variance
            extra["noise_draws"] = self.noise_draws
        if unit is not None:
            extra["unit_pooling"] = pooling
        rows = [
            MeasurementRow(probe, layer, unit, quantity, est.name, {**r.params, **extra}, r.value, seconds)
            for quantity, r in results.items()
        ]
        return rows, results

    def _smooths(self, est: Estimator) -> bool:
        return self.sigma_smoothing is not None and est.name == "renyi" and isinstance(est.get_params()["sigma_x"], str)

    def _smooth(self, est: Estimator, t: torch.Tensor, ctx: ProbeContext, probe: str, layer: str, results: dict) -> dict:
        """Re-estimate with the EMA of the rule's σ (the first call keeps the rule's σ)."""
        chosen = results[next(iter(results))].params["sigma_x"]
        if not isinstance(chosen, float):
            return results  # per-channel widths are not smoothed
        key = (probe, layer, self.estimators.index(est))
        prev = self._smoothed.get(key)
        sigma = chosen if prev is None else self.sigma_smoothing * prev + (1 - self.sigma_smoothing) * chosen
        self._smoothed[key] = sigma
        if prev is not None:
            fixed = dataclasses.replace(est, sigma_x=sigma, sigma_scale=1.0)
            results = fixed.layer_information(t, ctx)
        for r in results.values():
            r.params.update(sigma_x_rule=chosen, sigma_smoothing=self.sigma_smoothing, sigma_x_rule_name=est.get_params()["sigma_x"])
        return results

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
            Anything ``torch.save`` can write (e.g. model and optimiser state); stored as the
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
        rows, warnings, bands = self.measure(epoch, step, units)
        if self.store is not None:
            self.store.write_record(
                self.run_id, int(epoch), step, rows, metrics=metrics, warnings=warnings,
                checkpoints=_serialize(checkpoint), seconds=time.perf_counter() - start, bands=bands,
            )
        if self.distributed:
            torch.distributed.barrier()  # rank 0 has committed before anyone goes on
        return {(r.probe, r.layer, r.quantity, r.estimator): r.value for r in rows if r.unit is None}

    def log(self, epoch: int, step: int, metrics: dict[str, float], checkpoint: Any = None) -> None:
        """Store metrics (and a checkpoint) without measuring, e.g. at an epoch end between measurements."""
        if self.store is not None:
            self.store.write_metrics(self.run_id, int(epoch), int(step), metrics, _serialize(checkpoint))


def _serialize(checkpoint: Any) -> dict[str, bytes] | None:
    """``torch.save`` bytes of a checkpoint, as the run's ``"last"`` checkpoint."""
    if checkpoint is None:
        return None
    buf = io.BytesIO()
    torch.save(checkpoint, buf)
    return {"last": buf.getvalue()}
