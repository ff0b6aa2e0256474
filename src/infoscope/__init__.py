"""infoscope: look inside deep neural networks with information theory.

All information quantities are in bits. See :mod:`infoscope.estimators` for the estimators.
The names below are loaded when first used, so ``import infoscope`` (and the command line's
``--help``) do not import torch until something needs it.
"""

from __future__ import annotations

import importlib
from typing import Any

from ._version import __version__
from .errors import MemoryBudgetError, StoreError

#: Public name → the module that defines it.
_LAZY = {
    **{name: ".estimators" for name in ("ESTIMATORS", "KDE", "KSG", "Binning", "Discrete", "Estimate", "Estimator", "Gaussian",
                                        "MatrixRenyi", "NeuralMI", "entropy", "make_estimator", "mutual_information")},
    "RecordingOptions": ".options",
    "Probe": ".recorder",
    "Recorder": ".recorder",
    "Store": ".store",
    "load": ".store",
}

__all__ = [
    "ESTIMATORS",
    "Binning",
    "Discrete",
    "Estimate",
    "Estimator",
    "Gaussian",
    "KDE",
    "KSG",
    "MatrixRenyi",
    "NeuralMI",
    "entropy",
    "make_estimator",
    "mutual_information",
    "Probe",
    "Recorder",
    "RecordingOptions",
    "Store",
    "StoreError",
    "load",
    "MemoryBudgetError",
    "__version__",
]


def __getattr__(name: str) -> Any:
    """A public name (:data:`_LAZY`) or a submodule, imported on first use."""
    if name in _LAZY:
        value = getattr(importlib.import_module(_LAZY[name], __name__), name)
        globals()[name] = value
        return value
    try:
        return importlib.import_module(f".{name}", __name__)
    except ModuleNotFoundError as exc:
        if exc.name != f"{__name__}.{name}":  # the submodule exists, and something it imports is missing
            raise
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}") from None


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
