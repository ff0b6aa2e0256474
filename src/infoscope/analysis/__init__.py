"""Reading the numbers: convergence, phases, redundancy, pruning, sanity warnings.

:func:`analyze` turns a recorded run into verdicts with numbers; the pieces are pure
functions on series and tables (:mod:`.convergence`, :mod:`.phases`, :mod:`.redundancy`,
:mod:`.sanity`) and :func:`~.pruning.prune_check` tests the redundancy claim on held-out data.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..store import Store, last_per_epoch, load
from .convergence import DEFAULT_ATOL, DEFAULT_RTOL, DEFAULT_WINDOW, Convergence, converged_since
from .phases import Phases, noise_level, phases
from .pruning import PruneCheck, mask_units, prune_check
from .redundancy import Candidate, prune_candidates, rank_units, redundant_pairs, unit_redundancy
from .sanity import bound_warnings, dpi_warnings, grid_edge_warnings, unit_health_warnings

__all__ = [
    "Analysis", "analyze", "converged_since", "Convergence", "phases", "Phases", "noise_level",
    "rank_units", "unit_redundancy", "redundant_pairs", "prune_candidates", "Candidate",
    "prune_check", "PruneCheck", "mask_units", "WARNING_PREFIX",
]

#: Stored analysis warnings start with this, so a new analysis replaces the old ones.
WARNING_PREFIX = "analysis: "


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
        Per probe, estimator and layer: the :class:`~.phases.Phases` fields and a verdict.
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
    warnings: list[tuple[int | None, str | None, str]]
    notes: list[str]


def _series(g: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    g = last_per_epoch(g)
    return g.epoch.to_numpy(), g.value.to_numpy()


def _band_noise(bands: pd.DataFrame, probe: str, est: str, layer: str, quantity: str) -> float:
    b = bands[(bands.probe == probe) & (bands.estimator == est) & (bands.layer == layer)
              & (bands.quantity == quantity) & (bands.kind == "bootstrap")]
    return float((b.high - b.low).mean()) if not b.empty else 0.0


def analyze(
    store: Store | str | Path,
    run: str,
    window: int = DEFAULT_WINDOW,
    rtol: float = DEFAULT_RTOL,
    atol: float = DEFAULT_ATOL,
    fraction: float = 0.25,
    redundancy_threshold: float = 0.9,
    save: bool = True,
) -> Analysis:
    """Analyse a recorded run; with ``save`` store its warnings with the run.

    Parameters
    ----------
    store : Store or path
    run : str
    window, rtol, atol
        Convergence: a plateau of ``window`` epochs within max(atol, rtol·|plateau|) (MI in
        bits; the loss uses rtol only, the accuracy atol = 0.01).
    fraction : float
        Share of each layer's units proposed for pruning by low I(unit;Y).
    redundancy_threshold : float
        r = I(u_i;u_j)/min(S_i, S_j) at or above which two units count as redundant.
    save : bool
        Replace the run's stored analysis warnings with this analysis's.
    """
    if not isinstance(store, Store) and not Path(store).exists():
        load(store)  # raises "no database at …" instead of creating an empty one
    st = store if isinstance(store, Store) else (Store(store) if save else load(store))
    try:
        return _analyze(st, run, window, rtol, atol, fraction, redundancy_threshold, save)
    finally:
        if not isinstance(store, Store):
            st.close()


def _analyze(st: Store, run: str, window, rtol, atol, fraction, threshold, save) -> Analysis:
    info = st.run_info(run)
    m = st.measurements(run=run)
    if m.empty:
        raise ValueError(f"run {run!r} has no measurements to analyse")
    order = list(st.layers(run).name)
    bands = st.bands(run=run)
    notes: list[str] = []

    conv_rows, phase_rows = [], []
    for (probe, est, layer), g in m.groupby(["probe", "estimator", "layer"]):
        for q in ("I(X;T)", "I(T;Y)"):
            e, v = _series(g[g.quantity == q])
            c = converged_since(e, v, window, rtol, atol)
            conv_rows.append({"probe": probe, "estimator": est, "layer": layer, "quantity": q,
                              "since": c.since, "plateau": c.plateau, "tolerance": c.tolerance})
        e, v = _series(g[g.quantity == "I(X;T)"])
        noise = max(noise_level(v), _band_noise(bands, probe, est, layer, "I(X;T)"))
        p = phases(e, v, noise=noise)
        phase_rows.append({"probe": probe, "estimator": est, "layer": layer, **dataclasses.asdict(p), "verdict": p.verdict})
    pos = {n: i for i, n in enumerate(order)}
    convergence = pd.DataFrame(conv_rows).sort_values(["probe", "estimator", "layer"], key=lambda s: s.map(pos) if s.name == "layer" else s)
    phase_df = pd.DataFrame(phase_rows).sort_values(["probe", "estimator", "layer"], key=lambda s: s.map(pos) if s.name == "layer" else s)

    # network verdict: MI on the train probe against loss and accuracy plateaus
    train = convergence[convergence.probe == "train"] if "train" in set(convergence.probe) else convergence
    mi_since = None if train.since.isna().any() else int(train.since.max())
    metrics = st.metrics(run=run)
    loss_since = acc_since = None
    if not metrics.empty:
        for name, kind in (("train_loss", "loss"), ("train_acc", "acc")):
            g = last_per_epoch(metrics[metrics.name == name])
            if len(g):
                c = converged_since(g.epoch.to_numpy(), g.value.to_numpy(), window, rtol=rtol if kind == "loss" else 0.0,
                                    atol=0.0 if kind == "loss" else 0.01)
                if kind == "loss":
                    loss_since = c.since
                else:
                    acc_since = c.since
    verdict = (f"converged: every layer's MI stays within tolerance from epoch {mi_since}" if mi_since is not None
               else "still changing: at least one layer's MI has not settled")
    if mi_since is not None and loss_since is not None and abs(mi_since - loss_since) > window:
        verdict += f"; the loss settled at epoch {loss_since}, so the two disagree by {abs(mi_since - loss_since)} epochs"
    network = {"mi_since": mi_since, "loss_since": loss_since, "accuracy_since": acc_since, "verdict": verdict}

    comp = phase_df.pivot_table(index=["estimator", "layer"], columns="probe", values="compressed", aggfunc="first").reset_index()
    comp.columns.name = None

    units = st.measurements(run=run, units=True, probe="train")
    ranks = pd.DataFrame()
    pairs: dict[str, list[tuple[int, int, float]]] = {}
    warnings = bound_warnings(m, info["config"].get("probes", {})) + dpi_warnings(m, order) + grid_edge_warnings(m)
    if units.empty:
        notes.append("no per-unit measurements: unit ranking and prune candidates skipped")
    else:
        est = sorted(units.estimator.unique())[0]
        ranks = rank_units(units[units.estimator == est])
    try:
        from ..capture import probe_activations
        from ..experiments.runner import load_trained

        trained = load_trained(st, run)
        acts = probe_activations(trained.model, trained.probes[0].x, order)
        kinds = dict(zip(st.layers(run).name, st.layers(run).kind))
        warnings += unit_health_warnings(acts, kinds)
        for layer in order[:-1]:
            if acts[layer].ndim >= 2 and acts[layer].shape[1] <= 128:
                pairs[layer] = redundant_pairs(unit_redundancy(acts[layer]), threshold)
    except ValueError as exc:
        notes.append(f"redundant pairs and unit health need the trained model: {exc}")
    candidates = prune_candidates(ranks[ranks.layer.isin(order[:-1])], fraction, pairs) if not ranks.empty else []
    if save:
        st.replace_warnings(st.run_id(run), WARNING_PREFIX, warnings)
    return Analysis(run, convergence.reset_index(drop=True), network, phase_df.reset_index(drop=True), comp, ranks,
                    pairs, candidates, warnings, notes)
