"""What a measurement hands to the store: plain records, with no storage and no computing here.

:mod:`~infoscope.measurement` and :mod:`~infoscope.uncertainty` produce them,
:mod:`~infoscope.store` writes them (see its tables of the same names).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

__all__ = ["MeasurementRow", "BandRow", "MeasurementWarning"]

#: A warning of a measurement: (layer or None, message).
MeasurementWarning = tuple[str | None, str]


@dataclass(frozen=True)
class MeasurementRow:
    """One value to store (the ``measurements`` table): in bits, with its parameters and time."""

    probe: str
    layer: str
    unit: int | None
    quantity: str
    estimator: str
    params: dict[str, Any]
    value: float
    seconds: float


@dataclass(frozen=True)
class BandRow:
    """An uncertainty band of a layer value (the ``bands`` table), in bits."""

    probe: str
    layer: str
    quantity: str
    estimator: str
    kind: str
    low: float
    high: float
    detail: dict[str, Any]
