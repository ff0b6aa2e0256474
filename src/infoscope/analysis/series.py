"""Series out of stored tables: one value per epoch, and the values of a run's last epoch."""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

from ..estimators import QUANTITIES
from ..marks import value_mark

__all__ = ["last_per_epoch", "final_values"]


def last_per_epoch(df: pd.DataFrame, by: Sequence[str] = ()) -> pd.DataFrame:
    """One row per (``by``…, epoch): the last step's, for series recorded several times an epoch.

    Examples
    --------
    >>> df = pd.DataFrame({"epoch": [0, 1, 1], "step": [0, 5, 9], "value": [1.0, 2.0, 3.0]})
    >>> last_per_epoch(df).value.tolist()
    [1.0, 3.0]
    """
    return df.sort_values(["epoch", "step"]).groupby([*by, "epoch"], as_index=False).last()


def final_values(m: pd.DataFrame, order: Sequence[str]) -> pd.DataFrame:
    """Whole-layer values at the last recorded epoch (its last step), one row per probe, layer
    and estimator, layers in forward ``order``.

    Parameters
    ----------
    m : DataFrame
        Whole-layer measurements of one run (``Store.measurements``).
    order : sequence of str
        The run's layer names in forward order.

    Returns
    -------
    DataFrame
        Columns epoch, probe, layer, estimator, one column per quantity (bits) and, beside each,
        ``"<quantity> mark"`` (:func:`~infoscope.marks.value_mark`: "" or e.g. "at log2 n");
        empty when nothing has been recorded.
    """
    if m.empty:
        return pd.DataFrame()
    last = last_per_epoch(m[m.epoch == m.epoch.max()], ["probe", "layer", "estimator", "quantity"])
    index = ["epoch", "probe", "layer", "estimator"]
    table = last.pivot_table(index=index, columns="quantity", values="value").reset_index()
    table.columns.name = None
    marks = last.assign(mark=last.params.map(value_mark)).pivot(index=index, columns="quantity", values="mark")
    marks = marks.rename(columns=lambda q: f"{q} mark").reset_index()
    marks.columns.name = None
    table = table.merge(marks, on=index)
    pos = {n: i for i, n in enumerate(order)}
    table = table.sort_values(["probe", "layer", "estimator"], key=lambda s: s.map(pos) if s.name == "layer" else s)
    present = [q for q in QUANTITIES if q in table.columns]
    return table[index + present + [f"{q} mark" for q in present]].fillna({f"{q} mark": "" for q in present})
