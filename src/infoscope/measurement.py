"""What one measurement computes: the rows of every layer and unit on one probe.

Given a probe's captured activations, :class:`ProbeMeasurement` produces, for every layer
and estimator, the whole-layer values H(T), I(X;T), I(T;Y) with their uncertainty bands, and
for every unit the same three values; the result is plain rows (no storage here).

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
number of draws). The KDE estimator gives the same quantity in closed form.

Per-unit information
--------------------
A unit is one neuron of a dense layer (a scalar per sample) or one channel of a conv layer
(an H×W map per sample). By default kernel estimators (``renyi``, ``kde``) see the unit's
whole map, and binning/KSG see the map's spatial mean (``unit_pooling`` overrides: ``"map"``,
``"mean"`` or ``"max"``).
"""

from __future__ import annotations

import dataclasses
import math
import time
from collections.abc import Mapping, Sequence
from typing import Any, NamedTuple

import numpy as np
import torch

from ._validation import all_finite, check_same_length, check_samples
from .distributed import TaskSplit
from .estimators import Estimator
from .estimators.base import Estimate, ProbeContext
from .estimators.estimate import I_TY, I_XT
from .estimators.scale import rms_distance, to_unit_variance
from .inputs import ModelInputs, as_inputs, attention_mask, main_input
from .layouts import LayerLayout
from .options import RecordingOptions
from .records import BandRow, MeasurementRow, MeasurementWarning
from .uncertainty import SigmaSmoother, Subsample, bootstrap_bands, chance_band, sensitivity_bands

__all__ = ["Probe", "as_probes", "noisy", "Measurement", "ProbeMeasurement"]


@dataclasses.dataclass
class Probe:
    """A fixed probe set: inputs ``x`` and integer labels ``y`` (N,), with a name.

    ``x`` is one tensor (N, ...), fed as ``model(x)``, or a mapping of tensors with N rows
    each (``{"input_ids": …, "attention_mask": …}``), fed as ``model(**x)``
    (:class:`~infoscope.inputs.ModelInputs`); its ``attention_mask`` (:attr:`mask`) says which
    tokens are real, and padded ones are left out of every value.
    """

    x: torch.Tensor | ModelInputs
    y: torch.Tensor
    name: str = "train"

    def __post_init__(self) -> None:
        x = as_inputs(self.x)
        if isinstance(x, ModelInputs):
            self.x = ModelInputs({k: check_samples(t, f"probe {self.name!r} input {k!r}") for k, t in x.items()})
        else:
            self.x = check_samples(x, f"probe {self.name!r} inputs")
        self.y = check_samples(self.y, f"probe {self.name!r} labels")
        # (a mapping's tensors share their N: ModelInputs checks it)
        check_same_length(main_input(self.x), self.y, (f"probe {self.name!r} inputs", "its labels"))
        self.mask = attention_mask(self.x)


def as_probes(given: Any) -> list[Probe]:
    """Probes from (x, y), a Probe, a list of Probes or a dict name → (x, y); names must differ."""
    if isinstance(given, Probe):
        probes = [given]
    elif isinstance(given, Mapping):
        probes = [p if isinstance(p, Probe) else Probe(*p, name=str(k)) for k, p in given.items()]
    elif isinstance(given, tuple) and len(given) == 2:
        probes = [Probe(*given)]
    elif isinstance(given, Sequence) and all(isinstance(p, Probe) for p in given):
        probes = list(given)
    else:
        raise TypeError("probes must be (x, y), a Probe, a list of Probes or a dict name -> (x, y)")
    names = [p.name for p in probes]
    if len(set(names)) != len(names):
        raise ValueError(f"probe names repeat: {names}")
    return probes


def noisy(t: torch.Tensor, variance: float | None, draws: int, seed_key: tuple) -> torch.Tensor:
    """T itself (``variance`` None), or ``draws`` copies of every sample with independent
    N(0, variance) noise added, in float64, seeded by ``seed_key``."""
    if variance is None:
        return t
    t = t.to(torch.float64).repeat_interleave(draws, dim=0)
    g = torch.Generator(device="cpu").manual_seed(hash(seed_key) % (2**63))
    noise = torch.randn(t.shape, generator=g, dtype=torch.float64)
    return t + math.sqrt(variance) * noise.to(t.device)


class Measurement(NamedTuple):
    """What one measurement produced: value rows, warnings (layer, message) and bands."""

    rows: list[MeasurementRow]
    warnings: list[MeasurementWarning]
    bands: list[BandRow]


@dataclasses.dataclass
class ProbeMeasurement:
    """The rows of every layer, unit and estimator of one probe's activations.

    Results are tagged with their task number (:class:`~infoscope.distributed.TaskSplit`), so
    that rows computed on several ranks can be put back in one order.

    Attributes
    ----------
    options : RecordingOptions
    probe : str
        The probe's name.
    ctx : ProbeContext
        The prepared probe (repeated ``noise_draws`` times for the noise-injected variant).
    tasks : TaskSplit
    with_units : bool
        Whether per-unit values are due on this probe.
    unit_layers : list of str
        Layers whose units are measured.
    subsamples : list
        Bootstrap subsamples of the probe (empty: no bootstrap bands).
    smoother : SigmaSmoother, optional
    unit_memory : int, optional
        Bytes a batched per-unit computation may hold at once.
    step : int
        The optimisation step of this measurement (σ smoothing weighs by steps).
    permuted : list of ProbeContext
        The probe with permuted labels, for the chance level of I(T;Y) (empty: none).
    layouts : dict of str to LayerLayout
        Each layer's layout (:mod:`~infoscope.layouts`); a sequence's is stored with its values.
    x_representation : str
        How X entered (:func:`~infoscope.inputs.input_representation`); stored with I(X;T)
        values where it is not the input's own values.
    critics : dict
        (layer, estimator index) → the trained critics of an estimator that warm-starts
        (``warm_layer_information``) from the previous record: kept by the recorder per probe
        across records, updated here.
    """

    options: RecordingOptions
    probe: str
    ctx: ProbeContext
    tasks: TaskSplit
    with_units: bool
    unit_layers: list[str]
    subsamples: list[Subsample]
    smoother: SigmaSmoother | None = None
    unit_memory: int | None = None
    step: int = 0
    permuted: list[ProbeContext] = dataclasses.field(default_factory=list)
    layouts: dict[str, LayerLayout] = dataclasses.field(default_factory=dict)
    x_representation: str = "values"
    critics: dict[tuple[str, int], Any] = dataclasses.field(default_factory=dict)
    rows: list[tuple[int, list[MeasurementRow]]] = dataclasses.field(default_factory=list)
    bands: list[tuple[int, list[BandRow]]] = dataclasses.field(default_factory=list)
    warnings: list[MeasurementWarning] = dataclasses.field(default_factory=list)
    #: (estimator index, layer) → whole-layer results computed ahead by :meth:`prefetch`, and
    #: each layer's share of the seconds they took.
    ready: dict[tuple[int, str], tuple[dict[str, Estimate], float]] = dataclasses.field(default_factory=dict)

    def prefetch(self, acts: Mapping[str, torch.Tensor]) -> None:
        """Whole-layer values of all these layers at once, per estimator (one batched computation
        where the estimator batches layers, :meth:`Estimator.layers_information`); :meth:`layer`
        then takes them instead of measuring each layer by itself.

        Only in a job of one process (a distributed job deals layers out to its ranks instead).
        Layers with NaN or inf are left to :meth:`layer`, which reports them; if the batched
        computation fails, every layer is measured by itself, where the failure is named.
        """
        # estimators without their own layers_information go layer by layer anyway: in turn,
        # each layer with its own time
        batching = [(i, est) for i, est in enumerate(self.options.estimators)
                    if est.tags.batches_layers and self.options.measures(self.probe, est)]
        if self.tasks.processes.world > 1 or not batching:
            return
        finite = {k: t for k, t in acts.items() if all_finite(t)}
        if len(finite) < 2:
            return
        for index, est in batching:
            start = time.perf_counter()
            try:
                results = est.layers_information(list(finite.values()), self.ctx, self.unit_memory)
            except (ValueError, RuntimeError, np.linalg.LinAlgError):
                continue
            share = (time.perf_counter() - start) / len(finite)
            self.ready.update({(index, layer): (res, share) for layer, res in zip(finite, results)})

    def layer(self, layer: str, t: torch.Tensor, where: str, note_skipped_units: bool) -> None:
        """Measure one layer's activations ``t`` (N, ...) with every estimator, and its units if due.

        A failed estimate (NaN activations, a singular input) is stored as a warning, or raised
        with ``on_error="raise"``; ``where`` names the layer, epoch, step and probe in messages.
        """
        lead = self.tasks.processes.lead
        checked = any(name == layer for _, name in self.ready)  # found finite by prefetch
        if not checked and not all_finite(t):
            msg = f"{where}: activations contain NaN or inf; not estimated"
            if self.options.on_error == "raise":
                raise ValueError(msg)
            if lead:
                self.warnings.append((layer, msg))
            return
        n_units = t.shape[1] if t.ndim >= 2 else 1
        too_many = self.options.max_units is not None and n_units > self.options.max_units
        do_units = self.with_units and layer in self.unit_layers and not too_many
        if lead and note_skipped_units and layer in self.unit_layers and too_many:
            self.warnings.append((layer, f"per-unit MI skipped for {layer!r}: {n_units} units > max_units={self.options.max_units}"))
        for index, est in enumerate(self.options.estimators):
            if not self.options.measures(self.probe, est):
                continue
            try:
                if self.tasks.mine():
                    self._whole_layer(est, index, layer, t)
                if do_units and self.options.measures_units(est):
                    dealt = [(j, self.tasks.task) for j in range(n_units) if self.tasks.mine()]  # (unit, task number)
                    self._units(est, layer, t, dealt)
            except (ValueError, RuntimeError, np.linalg.LinAlgError) as exc:
                msg = f"{where}, estimator {est.name}: {exc}"
                if self.options.on_error == "raise":
                    raise ValueError(msg) from exc
                self.warnings.append((layer, msg))

    def _whole_layer(self, est: Estimator, index: int, layer: str, t: torch.Tensor) -> None:
        start = time.perf_counter()
        results, ahead = self.ready.pop((index, layer), None) or (self._layer_values(est, index, layer, t), 0.0)
        if self.smoother is not None and self.smoother.applies(est):
            results = self.smoother.smooth(est, (self.probe, layer, index), t, self.ctx, results, self.step)
        seconds = time.perf_counter() - start + ahead
        scale = rms_distance(t)
        invariant = est.scale_invariant()
        per_value: dict[str, dict[str, Any]] = {q: {"layer_scale": scale, "scale_invariant": invariant} for q in results}
        if self.options.scale_check and not invariant and scale > 0:  # (its time is not the value's)
            rescaled = est.scale_check().layer_information(to_unit_variance(t, scale), self.ctx)
            for q, r in rescaled.items():
                per_value[q]["at_unit_variance"] = r.value
        chance = chance_band(est, t, self.permuted, results, self.probe, layer)  # marks results' I(T;Y)
        rows = self._to_rows(est, results, layer, None, None, seconds, per_value)
        bands = chance + bootstrap_bands(est, t, results, self.subsamples, self.options.bootstrap_fraction, self.probe, layer)
        if self.options.sensitivity:
            bands += sensitivity_bands(est, t, self.ctx, results, self.probe, layer)
        self.rows.append((self.tasks.task, rows))
        self.bands.append((self.tasks.task, bands))

    def _layer_values(self, est: Estimator, index: int, layer: str, t: torch.Tensor) -> dict[str, Estimate]:
        """One layer's values; an estimator that warm-starts trains from its critics of the
        previous record (``warm_start``) and leaves its new ones for the next."""
        warm = getattr(est, "warm_layer_information", None)
        if warm is None or not self.options.warm_start:
            return est.layer_information(t, self.ctx)
        est.check_inputs(self.ctx)
        results, self.critics[(layer, index)] = warm(check_samples(t, "layer activations"), self.ctx,
                                                     self.critics.get((layer, index), {}))
        return results

    def _units(self, est: Estimator, layer: str, t: torch.Tensor, dealt: list[tuple[int, int]]) -> None:
        """This rank's units of the layer, (unit, task number) pairs, in one call (batched where
        the estimator can)."""
        if not dealt:
            return
        layout = self.layouts.get(layer)
        # a unit of a sequence's tokens is all its tokens (a pooled map would average padding in)
        pooling = "map" if layout is not None and layout.token_pooling == "all" else self.options.pooling(est)
        start = time.perf_counter()
        results = est.units_information(t, self.ctx, [u for u, _ in dealt], pooling, self.unit_memory)
        seconds = (time.perf_counter() - start) / len(dealt)
        for (unit, task), res in zip(dealt, results):
            self.rows.append((task, self._to_rows(est, res, layer, unit, pooling, seconds)))

    def _to_rows(self, est: Estimator, results: dict[str, Estimate], layer: str, unit: int | None,
                 pooling: str | None, seconds: float, more: dict[str, dict[str, Any]] | None = None) -> list[MeasurementRow]:
        """Rows of one layer's (or unit's) values, with the flags of each (and ``more``
        parameters per quantity)."""
        extra: dict[str, Any] = {}
        if self.options.noise_variance is not None:
            extra["added_noise_variance"] = self.options.noise_variance
            extra["noise_draws"] = self.options.draws
        if unit is not None:
            extra["unit_pooling"] = pooling
        per_value = seconds / len(results)
        layout = self.layouts.get(layer)
        if layout is not None:
            extra.update(layout.params())
        flags = est.value_flags(results, self.ctx)
        more = more or {}
        per_quantity = {I_XT: {"x_representation": self.x_representation} if self.x_representation != "values" else {},
                        I_TY: {"y_continuous": True} if self.ctx.continuous_y else {}}
        return [MeasurementRow(self.probe, layer, unit, quantity, est.name,
                               {**r.params, **extra, **per_quantity.get(quantity, {}), **flags[quantity],
                                **more.get(quantity, {})},
                               r.value, per_value)
                for quantity, r in results.items()]
