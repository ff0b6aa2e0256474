"""Reading the numbers: convergence, phases, unit rankings, prune candidates, sanity warnings.

:func:`analyze` turns a recorded run's stored tables into verdicts with numbers; the pieces
are pure functions on series and tables (:mod:`.convergence`, :mod:`.phases`,
:mod:`.redundancy`, :mod:`.sanity`). Analysis reads stored data only and writes nothing: what
needs the trained model (unit health, redundant pairs from activations, the pruning check) is
computed by :mod:`infoscope.experiments.inspection` and handed in as :class:`ModelFindings`,
and whoever calls :func:`analyze` decides whether to store its warnings.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..estimators import I_TY, I_XT
from ..labels import layer_labels
from ..store import Store, opened
from .convergence import DEFAULT_ATOL, DEFAULT_RTOL, DEFAULT_WINDOW, Convergence, converged_since
from .phases import RESCALED_WORDS, Phases, fitting, noise_level, phases, rescaled_fall
from .redundancy import Candidate, prune_candidates, rank_units, redundant_pairs
from .sanity import bound_warnings, chance_warnings, dpi_warnings, grid_edge_warnings
from .series import final_values, last_per_epoch

__all__ = [
    "Analysis", "ModelFindings", "analyze", "converged_since", "Convergence", "phases", "Phases", "noise_level",
    "rank_units", "redundant_pairs", "prune_candidates", "Candidate", "WARNING_PREFIX", "AnalysisWarning",
    "last_per_epoch", "final_values",
]

#: Stored analysis warnings start with this, so a new analysis replaces the old ones.
WARNING_PREFIX = "analysis: "

#: A warning of an analysis: (first epoch or None, layer or None, message).
AnalysisWarning = tuple[int | None, str | None, str]


@dataclasses.dataclass
class ModelFindings:
    """What only the trained model can tell about a run, found by its caller.

    Attributes
    ----------
    warnings : list of (epoch, layer, message)
        Dead and saturated units of the final model.
    pairs : dict
        Layer → redundant unit pairs (i, j, r), strongest first.
    unavailable : str, optional
        Why nothing could be found (e.g. the run stores no model).
    """

    warnings: list[AnalysisWarning] = dataclasses.field(default_factory=list)
    pairs: dict[str, list[tuple[int, int, float]]] = dataclasses.field(default_factory=dict)
    unavailable: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-able data, as the store keeps it (``RunWriter.write_findings``)."""
        return {"warnings": [list(w) for w in self.warnings], "pairs": {k: [list(p) for p in v] for k, v in self.pairs.items()},
                "unavailable": self.unavailable}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ModelFindings:
        """The findings :meth:`to_dict` stored (``Store.findings``).

        Examples
        --------
        >>> f = ModelFindings([(None, "fc", "2 of 8 units are dead")], {"fc": [(0, 1, 0.97)]})
        >>> ModelFindings.from_dict(f.to_dict()) == f
        True
        """
        return cls([tuple(w) for w in data.get("warnings", [])],
                   {k: [(int(i), int(j), float(r)) for i, j, r in v] for k, v in data.get("pairs", {}).items()},
                   data.get("unavailable"))


@dataclasses.dataclass
class Analysis:
    """Everything :func:`analyze` found for one run.

    Attributes
    ----------
    convergence : DataFrame
        Per probe, estimator, layer and quantity: ``since`` (epoch or NaN), plateau, tolerance.
    network : dict
        ``mi_since``, ``loss_since``, ``accuracy_since`` (epoch or None) and a ``verdict``.
    phases : DataFrame
        Per probe, estimator and layer: the :class:`~.phases.Phases` fields of I(X;T) and a
        verdict, ``rescaled`` (:func:`~.phases.rescaled_fall`), ``scale_change`` (the layer's
        scale at the end over its scale at the peak), and ``fits`` / ``fit_evidence``: whether
        I(T;Y) rises beyond noise, the bootstrap band and the chance band
        (:func:`~.phases.fitting`).
    compression : DataFrame
        Per estimator and layer: whether compression shows on the train and held-out probes.
    units : DataFrame
        Final per-unit ranking (:func:`~.redundancy.rank_units`), train probe.
    pairs : dict
        Layer → redundant unit pairs (i, j, r).
    candidates : list of Candidate
    warnings : list of (epoch, layer, message)
    notes : list of str
        What could not be checked, and why.
    """

    run: str
    convergence: pd.DataFrame
    network: dict[str, Any]
    phases: pd.DataFrame
    compression: pd.DataFrame
    units: pd.DataFrame
    pairs: dict[str, list[tuple[int, int, float]]]
    candidates: list[Candidate]
    warnings: list[AnalysisWarning]
    notes: list[str]


def _series(g: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    g = last_per_epoch(g)
    return g.epoch.to_numpy(), g.value.to_numpy()


def _band_noise(bands: pd.DataFrame, probe: str, est: str, layer: str, quantity: str, kind: str = "bootstrap") -> float:
    """The mean width of a layer's stored bands of one kind (0 where none were recorded)."""
    b = bands[(bands.probe == probe) & (bands.estimator == est) & (bands.layer == layer)
              & (bands.quantity == quantity) & (bands.kind == kind)]
    return float((b.high - b.low).mean()) if not b.empty else 0.0


def analyze(
    store: Store | str | Path,
    run: str,
    window: int = DEFAULT_WINDOW,
    rtol: float = DEFAULT_RTOL,
    atol: float = DEFAULT_ATOL,
    fraction: float = 0.25,
    findings: ModelFindings | None = None,
) -> Analysis:
    """Analyse a recorded run from its stored tables (nothing is written).

    Parameters
    ----------
    store : Store or path
    run : str
    window, rtol, atol
        Convergence: a plateau of ``window`` epochs within max(atol, rtol·|plateau|) (MI in
        bits; the loss uses rtol only, the accuracy atol = 0.01).
    fraction : float
        Share of each layer's units proposed for pruning by low I(unit;Y).
    findings : ModelFindings, optional
        Unit health and redundant pairs from the trained model
        (:func:`infoscope.experiments.inspection.model_findings`); default: those stored with
        the run when it was recorded or analysed. Without any, the analysis says what it could
        not check.
    """
    with opened(store) as st:
        info = st.run_info(run)
        m = st.measurements(run=run)
        if m.empty:
            raise ValueError(f"run {run!r} has no measurements to analyse")
        layers = st.layers(run)
        order, labels = list(layers.name), layer_labels(layers)
        bands, metrics = st.bands(run=run), st.metrics(run=run)
        units = st.measurements(run=run, units=True, probe="train")
        if findings is None:
            stored = st.findings(run)
            findings = ModelFindings.from_dict(stored) if stored is not None else None
    convergence, phase_df = _series_verdicts(m, bands, order, window, rtol, atol)
    network = _network_verdict(convergence, metrics, window, rtol)
    comp = phase_df.pivot_table(index=["estimator", "layer"], columns="probe", values="compressed", aggfunc="first").reset_index()
    comp.columns.name = None
    notes: list[str] = []
    ranks = pd.DataFrame()
    if units.empty:
        notes.append("no per-unit measurements: unit ranking and prune candidates skipped")
    else:
        ranks = rank_units(units[units.estimator == sorted(units.estimator.unique())[0]])
    findings = findings or ModelFindings(unavailable="no trained model was given")
    if findings.unavailable:
        notes.append(f"redundant pairs and unit health need the trained model: {findings.unavailable}")
    warnings = (bound_warnings(m, info["config"].get("probes", {})) + dpi_warnings(m, order, labels=labels)
                + grid_edge_warnings(m, labels=labels) + chance_warnings(m, labels=labels))
    warnings += findings.warnings
    candidates = prune_candidates(ranks[ranks.layer.isin(order[:-1])], fraction, findings.pairs) if not ranks.empty else []
    return Analysis(run, convergence, network, phase_df, comp, ranks, findings.pairs, candidates, warnings, notes)


def _series_verdicts(m: pd.DataFrame, bands: pd.DataFrame, order: list[str], window: int, rtol: float, atol: float
                     ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Convergence of I(X;T) and I(T;Y), and phases of I(X;T), per probe, estimator and layer."""
    conv_rows, phase_rows = [], []
    for (probe, est, layer), g in m.groupby(["probe", "estimator", "layer"]):
        for q in (I_XT, I_TY):
            e, v = _series(g[g.quantity == q])
            c = converged_since(e, v, window, rtol, atol)
            conv_rows.append({"probe": probe, "estimator": est, "layer": layer, "quantity": q,
                              "since": c.since, "plateau": c.plateau, "tolerance": c.tolerance})
        ixt = last_per_epoch(g[g.quantity == I_XT])
        e, v = ixt.epoch.to_numpy(), ixt.value.to_numpy()
        noise = max(noise_level(v), _band_noise(bands, probe, est, layer, I_XT))
        p = phases(e, v, noise=noise, saturated=ixt.params.map(lambda q: bool(q.get("saturated"))).to_numpy())
        unit = ixt.params.map(lambda q: q.get("at_unit_variance", np.nan)).to_numpy(dtype=float)
        scales = ixt.params.map(lambda q: q.get("layer_scale", np.nan)).to_numpy(dtype=float)
        rescaled = rescaled_fall(p, e, None if ixt.params.iloc[-1].get("scale_invariant") else unit)
        k = int(np.flatnonzero(e == p.peak_epoch)[0])
        scale_change = float(scales[-1] / scales[k]) if scales[k] > 0 else np.nan
        verdict = p.verdict
        if rescaled:
            verdict += (f"; the layer's scale changed ×{scale_change:.2f} over the fall" if scale_change == scale_change else "")
            verdict += f"; {RESCALED_WORDS[rescaled]}"
        ity = last_per_epoch(g[g.quantity == I_TY])
        band_widths = (_band_noise(bands, probe, est, layer, I_TY, kind) for kind in ("bootstrap", "chance"))
        fit = fitting(ity.epoch.to_numpy(), ity.value.to_numpy(), noise=max(noise_level(ity.value.to_numpy()), *band_widths),
                      saturated=ity.params.map(lambda q: bool(q.get("saturated"))).to_numpy(),
                      above_chance=ity.params.map(lambda q: q.get("above_chance")).to_numpy()) if len(ity) else None
        phase_rows.append({"probe": probe, "estimator": est, "layer": layer, **dataclasses.asdict(p),
                           "scale_change": scale_change, "rescaled": rescaled, "verdict": verdict,
                           "fits": fit.status if fit else "not testable", "fit_evidence": fit.reason if fit else "no I(T;Y) recorded"})
    pos = {n: i for i, n in enumerate(order)}
    by_layer = lambda s: s.map(pos) if s.name == "layer" else s  # noqa: E731
    convergence = pd.DataFrame(conv_rows).sort_values(["probe", "estimator", "layer"], key=by_layer)
    phase_df = pd.DataFrame(phase_rows).sort_values(["probe", "estimator", "layer"], key=by_layer)
    return convergence.reset_index(drop=True), phase_df.reset_index(drop=True)


def _network_verdict(convergence: pd.DataFrame, metrics: pd.DataFrame, window: int, rtol: float) -> dict[str, Any]:
    """MI on the train probe set against the loss and accuracy plateaus."""
    train = convergence[convergence.probe == "train"] if "train" in set(convergence.probe) else convergence
    mi_since = None if train.since.isna().any() else int(train.since.max())
    since: dict[str, int | None] = {"loss": None, "acc": None}
    if not metrics.empty:
        for name, kind in (("train_loss", "loss"), ("train_acc", "acc")):
            g = last_per_epoch(metrics[metrics.name == name])
            if len(g):
                since[kind] = converged_since(g.epoch.to_numpy(), g.value.to_numpy(), window, rtol=rtol if kind == "loss" else 0.0,
                                              atol=0.0 if kind == "loss" else 0.01).since
    loss_since = since["loss"]
    verdict = (f"converged: every layer's MI stays within tolerance from epoch {mi_since}" if mi_since is not None
               else "still changing: at least one layer's MI has not settled")
    if mi_since is not None and loss_since is not None and abs(mi_since - loss_since) > window:
        verdict += f"; the loss settled at epoch {loss_since}, so the two disagree by {abs(mi_since - loss_since)} epochs"
    return {"mi_since": mi_since, "loss_since": loss_since, "accuracy_since": since["acc"], "verdict": verdict}
