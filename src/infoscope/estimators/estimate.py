"""What every estimator returns: an :class:`Estimate` in bits with the parameters it rests on,
and the names of the three quantities measured of a layer or unit."""

from __future__ import annotations

import dataclasses
from typing import Any

__all__ = ["Estimate", "H_T", "I_XT", "I_TY", "QUANTITIES"]

#: The quantities measured of a layer (or unit) T, as stored: its entropy and its information
#: about the input X and the labels Y.
H_T, I_XT, I_TY = "H(T)", "I(X;T)", "I(T;Y)"
QUANTITIES: tuple[str, ...] = (H_T, I_XT, I_TY)


@dataclasses.dataclass(frozen=True)
class Estimate:
    """An information estimate in bits with the parameters it was computed with.

    Attributes
    ----------
    value : float
        The estimate, in bits.
    method : str
        Estimator name (``"renyi"``, ``"binning"``, ``"discrete"``, ``"kde"`` or ``"ksg"``).
    params : dict
        Every parameter used, data-chosen ones (for example ``sigma_x``) included.
    """

    value: float
    method: str
    params: dict[str, Any]

    def to_dict(self) -> dict[str, Any]:
        """Plain dictionary (JSON-serialisable) of value, method and parameters."""
        return {"value": self.value, "method": self.method, "params": dict(self.params)}
