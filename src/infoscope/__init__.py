"""infoscope: look inside deep neural networks with information theory.

All information quantities are in bits. See :mod:`infoscope.estimators` for the estimators.
"""

from __future__ import annotations

from .estimators import (
    ESTIMATORS,
    KDE,
    KSG,
    Binning,
    Estimate,
    Estimator,
    MatrixRenyi,
    entropy,
    make_estimator,
    mutual_information,
)

from .recorder import Probe, Recorder
from .store import Store, StoreError, load

__version__ = "0.1.0"

__all__ = [
    "ESTIMATORS",
    "Binning",
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
    "Store",
    "StoreError",
    "load",
    "__version__",
]
