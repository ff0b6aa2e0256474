"""Offline analysis: recompute MI for the saved checkpoints of a training that already happened.

Checkpoints are files in one folder (``*.pt``, ``*.pth``, ``*.ckpt``) whose names carry the
epoch as their last number (``epoch_3.pt``, ``model-007.pt``). Each holds a state dict, or a
dict with it under ``"model"`` or ``"state_dict"``. The model comes from a factory given as
``"module:function"`` (called without arguments); the probe from an experiment's data.
Checkpoints are measured in parallel worker processes and written in epoch order into one run.
"""

from __future__ import annotations

import concurrent.futures as cf
import importlib
import multiprocessing as mp
import re
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import torch
from torch import nn

from .estimators import Estimator
from .measurement import Probe
from .options import RecordingOptions
from .recorder import Recorder
from .weights import load_checkpoint

__all__ = ["find_checkpoints", "load_factory", "analyze_checkpoints"]

_SUFFIXES = (".pt", ".pth", ".ckpt")


def find_checkpoints(directory: str | Path) -> list[tuple[int, Path]]:
    """(epoch, path) of every checkpoint file in ``directory``, by epoch.

    Raises
    ------
    ValueError
        For a missing folder, no checkpoint files, a name without a number, or two files
        with the same epoch.
    """
    folder = Path(directory)
    if not folder.is_dir():
        raise ValueError(f"{folder} is not a folder of checkpoints")
    found: dict[int, Path] = {}
    for path in sorted(folder.iterdir()):
        if path.suffix not in _SUFFIXES:
            continue
        numbers = re.findall(r"\d+", path.stem)
        if not numbers:
            raise ValueError(f"checkpoint {path.name} has no epoch number in its name (e.g. epoch_3.pt)")
        epoch = int(numbers[-1])
        if epoch in found:
            raise ValueError(f"checkpoints {found[epoch].name} and {path.name} both claim epoch {epoch}")
        found[epoch] = path
    if not found:
        raise ValueError(f"no checkpoint files ({', '.join(_SUFFIXES)}) in {folder}")
    return sorted(found.items())


def load_factory(spec: str | Callable[[], nn.Module]) -> Callable[[], nn.Module]:
    """The model factory named ``"module:function"`` (or a callable, returned as is)."""
    if callable(spec):
        return spec
    module_name, _, attr = str(spec).partition(":")
    if not module_name or not attr:
        raise ValueError(f"--model must look like 'package.module:function', got {spec!r}")
    try:
        factory = getattr(importlib.import_module(module_name), attr)
    except (ImportError, AttributeError) as exc:
        raise ValueError(f"cannot load the model factory {spec!r}: {exc}") from None
    if not callable(factory):
        raise ValueError(f"{spec!r} is not callable")
    return factory


def _state_dict(path: Path) -> dict[str, Any]:
    obj = load_checkpoint(path, f"checkpoint file {path}")
    if isinstance(obj, dict) and "model" in obj and isinstance(obj["model"], dict):
        obj = obj["model"]
    elif isinstance(obj, dict) and "state_dict" in obj and isinstance(obj["state_dict"], dict):
        obj = obj["state_dict"]
    if not isinstance(obj, dict):
        raise ValueError(f"checkpoint {path.name} holds no state dict")
    return obj


def _load(factory_spec, path: Path) -> nn.Module:
    """The factory's model with the weights of one checkpoint."""
    model = load_factory(factory_spec)()
    try:
        model.load_state_dict(_state_dict(path))
    except RuntimeError as exc:
        raise ValueError(f"checkpoint {path.name} does not fit the model: {str(exc).splitlines()[0]}") from None
    return model


def _measure_one(factory_spec, path: Path, epoch: int, probes: list[Probe], options: RecordingOptions, seed: int):
    """Worker: build the model, load one checkpoint, measure it (no store)."""
    torch.set_num_threads(1)
    rec = Recorder(_load(factory_spec, path), probes, options, store=None, seed=seed)
    return epoch, rec.measure(epoch, epoch)


def analyze_checkpoints(
    directory: str | Path,
    model: str | Callable[[], nn.Module],
    experiment: str,
    store: str | Path = "runs.db",
    run: str | None = None,
    estimators: Sequence[str | Estimator] | None = None,
    probe_size: int | None = None,
    layers: str | Sequence[str] = "auto",
    units: bool = True,
    workers: int = 2,
    seed: int = 0,
) -> tuple[str, int]:
    """Measure every checkpoint of ``directory`` into one run of ``store``.

    Parameters
    ----------
    directory : path
        Folder of checkpoint files (see the module notes).
    model : "module:function" or callable
        Builds the network the checkpoints belong to. With ``workers > 1`` it must be an
        importable "module:function" (worker processes import it).
    experiment : str
        Whose data supplies the train and held-out probes (and default estimators).
    store, run : path, str
    estimators, probe_size, layers, units, seed
        As for :func:`~infoscope.experiments.run_experiment`.
    workers : int
        Worker processes (1: measure in this process).

    Returns
    -------
    (run name, number of checkpoints measured)
    """
    from .experiments.registry import get_experiment, make_probes

    exp = get_experiment(experiment)
    checkpoints = find_checkpoints(directory)
    size = exp.probe_size if probe_size is None else int(probe_size)
    probes = make_probes(exp.dataset(0), size, seed)
    options = RecordingOptions(layers=layers, estimators=estimators or exp.estimators(exp.activation), units=units)
    run = run or f"{Path(directory).name}-checkpoints"
    # the writer creates the run and registers the layers of the first checkpoint's model
    writer = Recorder(_load(model, checkpoints[0][1]), probes, options, store=store, run=run, experiment=experiment,
                      config={"checkpoints": str(Path(directory).resolve()), "model": str(model), "probe_size": size}, seed=seed)
    try:
        jobs = [(model, path, epoch, probes, options, seed) for epoch, path in checkpoints]
        if workers > 1 and isinstance(model, str):
            with cf.ProcessPoolExecutor(max_workers=workers, mp_context=mp.get_context("spawn")) as pool:
                results = list(pool.map(_measure_one, *zip(*jobs)))
        else:
            results = [_measure_one(*job) for job in jobs]
        for epoch, measured in sorted(results, key=lambda r: r[0]):
            writer.write(epoch, epoch, measured)
        writer.close("finished")
    except BaseException:
        writer.close("failed")
        raise
    return run, len(checkpoints)
