"""An experiment run rebuilt from its database: the final model, its data and its probes."""

from __future__ import annotations

import dataclasses
from typing import Any

from torch import nn

from ..measurement import Probe
from ..store import Store
from ..weights import stored_checkpoint
from .registry import EXPERIMENTS, Experiment, get_experiment, make_probes

__all__ = ["TrainedRun", "load_trained"]


@dataclasses.dataclass
class TrainedRun:
    """A recorded experiment run rebuilt from its database: final model, data, probes."""

    experiment: Experiment
    model: nn.Module
    data: Any
    probes: list[Probe]
    epoch: int
    activation: str


def load_trained(store: Store, run: str) -> TrainedRun:
    """Rebuild the final model of an experiment run from its stored checkpoint (eval mode).

    Raises
    ------
    ValueError
        If the run was not made by an infoscope experiment or has no checkpoint.
    """
    info = store.run_info(run)
    if info["experiment"] not in EXPERIMENTS:
        raise ValueError(
            f"run {run!r} was not recorded by an infoscope experiment ({info['experiment']!r}); this step needs "
            "the model, which only experiment runs store"
        )
    state = stored_checkpoint(store, run)
    if state is None:
        raise ValueError(f"run {run!r} has no stored weights; re-run it with this version of infoscope")
    exp = get_experiment(info["experiment"])
    cfg, seed = info["config"], int(info["seed"] or 0)
    activation = state.get("activation") or info["config"].get("activation") or exp.activation
    model = exp.model(activation)
    model.load_state_dict(state["model"])
    model.eval()
    data = exp.dataset(0, cfg.get("data"))
    probes = make_probes(data, int(cfg.get("probe_size", exp.probe_size)), seed)
    return TrainedRun(exp, model, data, probes, int(state["epoch"]), activation)
