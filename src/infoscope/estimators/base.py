"""The interface every estimator shares, and the result it returns.

An estimator is a small object whose constructor stores (and checks) plain parameters, and
whose methods take arrays and return numbers in bits. ``estimate_*`` methods return an
:class:`Estimate` that also carries every parameter actually used, including any kernel
width or bin edge a rule chose from the data, so a number is never stored without what it
rests on.
"""

from __future__ import annotations

import dataclasses
from abc import ABC, abstractmethod
from typing import Any, ClassVar

from .._validation import (
    ArrayLike,
    check_same_length,
    check_samples,
    resolve_discrete,
)


@dataclasses.dataclass(frozen=True)
class Estimate:
    """An information estimate in bits with the parameters it was computed with.

    Attributes
    ----------
    value : float
        The estimate, in bits.
    method : str
        Estimator name (``"renyi"``, ``"binning"``, ``"kde"`` or ``"ksg"``).
    params : dict
        Every parameter used, data-chosen ones (for example ``sigma_x``) included.
    """

    value: float
    method: str
    params: dict[str, Any]

    def to_dict(self) -> dict[str, Any]:
        """Plain dictionary (JSON-serialisable) of value, method and parameters."""
        return {"value": self.value, "method": self.method, "params": dict(self.params)}


@dataclasses.dataclass
class Estimator(ABC):
    """Base class: an information estimator with plain constructor parameters.

    Subclasses implement :meth:`estimate_entropy` and :meth:`estimate_mutual_information`.
    Samples are on axis 0 and may have any trailing shape; a 1-D integer array is read as
    class labels (override with ``discrete_y``).
    """

    #: Name used by the functional API and stored with every result.
    name: ClassVar[str] = ""
    #: How the recorder feeds the network input X when measuring I(X;T): ``"values"`` (the
    #: input's own values through a kernel) or ``"identity"`` (each distinct input is one
    #: symbol, the setting of deterministic networks in Shwartz-Ziv & Tishby and Saxe et al.).
    input_mode: ClassVar[str] = "identity"

    def get_params(self) -> dict[str, Any]:
        """Constructor parameters as a dictionary."""
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}

    # -- the two operations ------------------------------------------------------------
    def entropy(self, x: ArrayLike) -> float:
        """Entropy of ``x`` in bits (see :meth:`estimate_entropy`)."""
        return self.estimate_entropy(x).value

    def mutual_information(self, x: ArrayLike, y: ArrayLike, discrete_y: bool | None = None) -> float:
        """Mutual information I(x; y) in bits (see :meth:`estimate_mutual_information`)."""
        return self.estimate_mutual_information(x, y, discrete_y=discrete_y).value

    @abstractmethod
    def estimate_entropy(self, x: ArrayLike) -> Estimate:
        """Entropy of ``x``, shape (N, ...), as an :class:`Estimate` in bits."""

    @abstractmethod
    def estimate_mutual_information(
        self, x: ArrayLike, y: ArrayLike, discrete_y: bool | None = None
    ) -> Estimate:
        """I(x; y) as an :class:`Estimate` in bits; ``y`` is (N, ...) or labels (N,)."""

    # -- helpers for subclasses --------------------------------------------------------
    def _result(self, value: float, **chosen: Any) -> Estimate:
        params = self.get_params()
        params.update(chosen)
        return Estimate(value=float(value), method=self.name, params=params)

    @staticmethod
    def _pair(x: ArrayLike, y: ArrayLike, discrete_y: bool | None):
        """Validate a pair of sample arrays; return tensors and whether ``y`` is labels."""
        tx = check_samples(x, "x")
        ty = check_samples(y, "y")
        check_same_length(tx, ty)
        return tx, ty, resolve_discrete(ty, discrete_y, "y")
