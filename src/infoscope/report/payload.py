"""What the interactive views draw: one run's stored values as a compact, JSON-ready dict.

The same dict feeds the self-contained report (embedded in the page) and ``infoscope serve``
(fetched while the run writes). Everything is read from the store; nothing is computed here
that the store does not hold, except the x position of records made within an epoch.

Layout of :func:`run_payload` (all information values in bits, ``null`` where absent):

``records``
    One entry per completed record call, in time order: ``epoch``, ``step`` and ``x`` (the
    position on an epoch axis: the last record of epoch *e* sits at *e*, earlier ones of the
    same epoch between *e*−1 and *e* in proportion to their step).
``series``
    Whole-layer values, one entry per (probe, estimator, layer, quantity), with per-record
    lists ``r`` (index into ``records``), ``v`` (value), ``res`` (σ, bin width or noise
    s.d. the value rests on), ``sat`` (the mark of a value at or past a bound, :func:`~infoscope.marks.value_mark`, else null),
    ``chance`` (false where I(T;Y) is indistinguishable from label permutations),
    ``lo``/``hi`` (bootstrap band) and ``clo``/``chi`` (chance band).
``units``
    Per-unit values, one entry per (probe, estimator, layer, quantity): ``r`` (record
    indices) and ``v`` (a list per record of one value per unit), ``sat`` ([record, unit]
    pairs of saturated values).
``metrics``
    ``{name: {"r": [...], "v": [...]}}`` (loss, accuracy, …).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd

from ..estimators import ESTIMATORS, resolution_value
from ..labels import layer_labels
from ..marks import is_marked, value_mark
from ..store import Store

__all__ = ["run_payload", "resolution_names"]


def resolution_names() -> dict[str, str]:
    """What the resolution of each estimator's values is called in the views (its
    ``tags.resolution_short``), for the estimators that have one."""
    return {name: cls.tags.resolution_short for name, cls in ESTIMATORS.items() if cls.tags.resolution_short}


_DIGITS = 4  # decimals kept (bits): far below any estimator's error, and it keeps the page small


def _num(v: Any, significant: bool = False) -> float | None:
    """A finite number rounded to ``_DIGITS`` decimals (or significant digits), else None."""
    try:
        f = float(v)
    except (TypeError, ValueError):
        return None
    if not math.isfinite(f):
        return None
    return float(f"{f:.{_DIGITS}g}") if significant else round(f, _DIGITS)


def record_positions(records: pd.DataFrame) -> list[float]:
    """x positions (in epochs) of record calls sorted by (epoch, step).

    The last record of epoch *e* is at *e*; earlier ones of that epoch lie between *e*−1 and
    *e* in proportion to their step counted from the previous epoch's last step.

    Examples
    --------
    >>> record_positions(pd.DataFrame({"epoch": [0, 1, 1, 1, 2], "step": [0, 10, 20, 40, 80]}))
    [0.0, 0.25, 0.5, 1.0, 2.0]
    """
    ends = records.groupby("epoch").step.max().to_dict()
    out = []
    for e, s in zip(records.epoch, records.step):
        end, start = ends[e], ends.get(e - 1)
        if s == end or start is None or end <= start:
            out.append(float(e))
        else:
            out.append(float(e - 1 + (s - start) / (end - start)))
    return out


def _bands(st: Store, run: str, kind: str) -> pd.DataFrame:
    b = st.bands(run=run, kind=kind)
    return b.drop_duplicates(["epoch", "step", "probe", "layer", "quantity", "estimator"], keep="last")


def run_payload(st: Store, run: str) -> dict[str, Any]:
    """One run's values for the interactive views (see the module docstring for the layout).

    Parameters
    ----------
    st : Store
    run : str

    Returns
    -------
    dict
        JSON-ready: lists, numbers, strings, None.
    """
    info = st.run_info(run)
    layers = st.layers(run)
    labels = layer_labels(layers)
    records = st.records(run)
    m = st.measurements(run=run, units=None)
    # only values of completed record calls (a record and its values are one transaction)
    index = {(int(e), int(s)): i for i, (e, s) in enumerate(zip(records.epoch, records.step))}
    m["r"] = [index.get((int(e), int(s)), -1) for e, s in zip(m.epoch, m.step)]
    m = m[m.r >= 0]
    payload: dict[str, Any] = {
        "name": run,
        "experiment": info["experiment"],
        "status": info["status"],
        "dataset": info["config"].get("dataset"),
        "layers": [{"name": n, "label": labels[n], "units": int(u)} for n, u in zip(layers.name, layers.n_units)],
        "records": [{"epoch": int(e), "step": int(s), "x": x}
                    for e, s, x in zip(records.epoch, records.step, record_positions(records))],
        "resolution": resolution_names(),
        "series": _layer_series(st, run, m[m.unit.isna()]),
        "units": _unit_series(m[m.unit.notna()]),
        "metrics": _metrics(st, run, index),
    }
    payload["estimators"] = sorted({s["estimator"] for s in payload["series"]} | {u["estimator"] for u in payload["units"]})
    payload["probes"] = sorted({s["probe"] for s in payload["series"]} | {u["probe"] for u in payload["units"]})
    return payload


def _layer_series(st: Store, run: str, m: pd.DataFrame) -> list[dict[str, Any]]:
    keys = ["epoch", "step", "probe", "layer", "quantity", "estimator"]
    boot = _bands(st, run, "bootstrap").set_index(keys)
    chance = _bands(st, run, "chance").set_index(keys)
    out = []
    for (probe, est, layer, quantity), g in m.groupby(["probe", "estimator", "layer", "quantity"], sort=False):
        g = g.sort_values("r").drop_duplicates("r", keep="last")
        at = pd.MultiIndex.from_arrays([g.epoch, g.step, g.probe, g.layer, g.quantity, g.estimator], names=keys)
        b = boot.reindex(at)
        c = chance.reindex(at)
        out.append({
            "probe": probe, "estimator": est, "layer": layer, "quantity": quantity,
            "r": g.r.astype(int).tolist(),
            "v": [_num(v) for v in g.value],
            "res": [_num(resolution_value(est, p), significant=True) for p in g.params],  # σ can be 0.001
            "sat": [value_mark({**p, "above_chance": None}) or None for p in g.params],
            "chance": [p.get("above_chance") for p in g.params],
            "lo": [_num(v) for v in b.low], "hi": [_num(v) for v in b.high],
            "clo": [_num(v) for v in c.low], "chi": [_num(v) for v in c.high],
        })
    return out


def _unit_series(m: pd.DataFrame) -> list[dict[str, Any]]:
    out = []
    for (probe, est, layer, quantity), g in m.groupby(["probe", "estimator", "layer", "quantity"], sort=False):
        g = g.sort_values(["r", "unit"]).drop_duplicates(["r", "unit"], keep="last")
        n = int(g.unit.max()) + 1
        rs = sorted(g.r.unique())
        grid = np.full((len(rs), n), np.nan)
        row = {r: i for i, r in enumerate(rs)}
        ri = g.r.map(row).to_numpy()
        ui = g.unit.to_numpy(dtype=int)
        grid[ri, ui] = g.value.to_numpy(dtype=float)
        sat = [[int(a), int(b)] for a, b, p in zip(ri, ui, g.params) if is_marked(p)]
        out.append({"probe": probe, "estimator": est, "layer": layer, "quantity": quantity, "r": [int(r) for r in rs],
                    "v": [[_num(v) for v in line] for line in grid.tolist()], "sat": sat})
    return out


def _metrics(st: Store, run: str, index: dict[tuple[int, int], int]) -> dict[str, dict[str, list]]:
    met = st.metrics(run=run)
    last_of_epoch: dict[int, int] = {}
    for (e, _), i in index.items():
        last_of_epoch[e] = max(i, last_of_epoch.get(e, i))
    out: dict[str, dict[str, list]] = {}
    for name, g in met.groupby("name", sort=True):
        # a metric logged at a step without a record belongs to its epoch's last record
        pairs = []
        for e, s, v in zip(g.epoch, g.step, g.value):
            r = index.get((int(e), int(s)), last_of_epoch.get(int(e)))
            if r is not None:
                pairs.append((r, _num(v)))
        pairs.sort()
        out[name] = {"r": [p[0] for p in pairs], "v": [p[1] for p in pairs]}
    return out
