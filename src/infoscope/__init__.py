"""infoscope: look inside deep neural networks with information theory.

All information quantities are in bits. See :mod:`infoscope.estimators` for the estimators.
"""

from __future__ import annotations

from ._version import __version__
from .errors import MemoryBudgetError, StoreError
from .estimators import (
    ESTIMATORS,
    KDE,
    KSG,
    Binning,
    Discrete,
    Estimate,
    Estimator,
    MatrixRenyi,
    entropy,
    make_estimator,
    mutual_information,
)
from .options import RecordingOptions
from .recorder import Probe, Recorder
from .store import Store, load

__all__ = [
    "ESTIMATORS",
    "Binning",
    "Discrete",
    "Estimate",
    "Estimator",
    "KDE",
    "KSG",
    "MatrixRenyi",
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
