"""Is MI-ranked pruning better than random? Mask units of a trained experiment model and compare."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import numpy as np
import pandas as pd
import torch
from torch import nn

from ..analysis.redundancy import rank_units
from ..capture import ModuleHooks, layers_by_call, resolve_layers
from ..estimators import I_TY
from ..store import Store
from .runner import evaluate as loss_and_accuracy
from .trained import load_trained

__all__ = ["mask_units", "prune_check", "PruneCheck"]


class mask_units:
    """Context manager zeroing chosen units (neurons or conv channels) of named layers' outputs,
    through capture's hooks (:class:`~infoscope.capture.ModuleHooks`): a layer name means what
    it means there (``"<name>:<call>"`` one call of a module called several times, a bare name
    its first call), and the hooks are always removed.

    Parameters
    ----------
    model : nn.Module
    masks : dict
        Layer name → unit indices to zero (axis 1 of the layer's output).

    Examples
    --------
    >>> m = nn.Sequential(nn.Linear(2, 3))
    >>> with mask_units(m, {"0": [1]}):
    ...     out = m(torch.ones(1, 2))
    >>> float(out[0, 1].detach())
    0.0
    """

    def __init__(self, model: nn.Module, masks: dict[str, Sequence[int]]):
        if masks:
            resolve_layers(model, list(masks))  # unknown names refused, listing the valid ones
        self.units = {layer: torch.as_tensor(list(units), dtype=torch.long) for layer, units in masks.items()}
        self._layers = layers_by_call(masks)
        self._hooks = ModuleHooks(model, self._layers, self._mask)

    def _mask(self, base: str, call: int, module: nn.Module, out: torch.Tensor) -> torch.Tensor | None:
        layer = self._layers[base].get(call)
        return None if layer is None else out.index_fill(1, self.units[layer].to(out.device), 0.0)

    def __enter__(self) -> mask_units:
        self._hooks.__enter__()
        return self

    def __exit__(self, *exc) -> None:
        self._hooks.remove()


@dataclasses.dataclass
class PruneCheck:
    """Held-out accuracy after masking units, MI-ranked against random.

    ``table`` has one row per hidden layer and one (``"all"``) for all of them at once:
    n_units, n_masked, ``acc`` (before masking), ``acc_mi_low`` (after masking the
    lowest-I(unit;Y) units), ``acc_mi_high`` (the highest), ``acc_rand`` and ``acc_rand_sd``
    (random masks: mean and standard deviation over seeds).
    """

    run: str
    fraction: float
    seeds: int
    baseline: float
    table: pd.DataFrame


def prune_check(
    store: Store, run: str, fraction: float = 0.25, seeds: int = 5, estimator: str | None = None, probe: str = "train"
) -> PruneCheck:
    """Mask the ``fraction`` least label-informative units of each hidden layer of a trained
    experiment run and compare held-out accuracy with masking as many random units.

    Parameters
    ----------
    store : Store
    run : str
        An experiment run with per-unit measurements and stored weights.
    fraction : float
        Share of each layer's units masked (at least one).
    seeds : int
        Random masks drawn per layer.
    estimator : str, optional
        Which recorded estimator ranks the units (default: the first).
    probe : str
        Probe whose final I(unit;Y) ranks the units.
    """
    if not 0 < fraction < 1:
        raise ValueError(f"fraction must be between 0 and 1, got {fraction}")
    if seeds < 1:
        raise ValueError(f"seeds must be >= 1, got {seeds}")
    units = store.measurements(run=run, units=True, probe=probe, estimator=estimator)
    if units.empty:
        raise ValueError(f"run {run!r} has no per-unit measurements to rank units by; record with units")
    estimator = estimator or sorted(units.estimator.unique())[0]
    ranks = rank_units(units[units.estimator == estimator])
    trained = load_trained(store, run)
    order = list(store.layers(run).name)
    hidden = [l for l in order[:-1] if l in set(ranks.layer)]  # the output layer is the prediction itself
    if not hidden:
        raise ValueError(f"run {run!r} has no hidden layer with per-unit measurements")
    x, y = torch.from_numpy(trained.data.x_test), torch.from_numpy(trained.data.y_test)
    model = trained.model
    rng = np.random.default_rng(0)
    rows = []
    plans = {}
    for layer in hidden:
        g = ranks[ranks.layer == layer].sort_values(I_TY)
        k = max(1, int(round(fraction * len(g))))
        plans[layer] = (len(g), k, [int(u) for u in g.unit.head(k)], [int(u) for u in g.unit.tail(k)])

    def evaluate(masks: dict[str, list[int]]) -> float:
        with mask_units(model, masks):
            return loss_and_accuracy(model, trained.experiment, x, y)[1]

    base = evaluate({})

    for layer, (n, k, low, high) in plans.items():
        rand = [evaluate({layer: list(rng.choice(n, size=k, replace=False))}) for _ in range(seeds)]
        rows.append({"layer": layer, "n_units": n, "n_masked": k, "acc": base, "acc_mi_low": evaluate({layer: low}),
                     "acc_mi_high": evaluate({layer: high}), "acc_rand": float(np.mean(rand)),
                     "acc_rand_sd": float(np.std(rand, ddof=1)) if seeds > 1 else 0.0})
    rand_all = [evaluate({l: list(rng.choice(n, size=k, replace=False)) for l, (n, k, _, _) in plans.items()}) for _ in range(seeds)]
    rows.append({"layer": "all", "n_units": sum(p[0] for p in plans.values()), "n_masked": sum(p[1] for p in plans.values()),
                 "acc": base, "acc_mi_low": evaluate({l: p[2] for l, p in plans.items()}),
                 "acc_mi_high": evaluate({l: p[3] for l, p in plans.items()}),
                 "acc_rand": float(np.mean(rand_all)), "acc_rand_sd": float(np.std(rand_all, ddof=1)) if seeds > 1 else 0.0})
    return PruneCheck(run, fraction, seeds, base, pd.DataFrame(rows))
