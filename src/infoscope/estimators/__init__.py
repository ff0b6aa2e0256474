"""Information estimators, in bits, each as a pure function and as an estimator object.

``entropy(x, method=...)`` and ``mutual_information(x, y, method=...)`` build the named
estimator from keyword parameters and apply it; the classes (:class:`MatrixRenyi`,
:class:`Binning`, :class:`KDE`, :class:`KSG`) hold those parameters so a configured estimator
can be handed around and recorded.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from .._validation import ArrayLike
from .base import Estimator
from .estimate import H_T, I_TY, I_XT, QUANTITIES, Estimate
from .binning import Binning, Discrete
from .kde import KDE
from .ksg import KSG
from .renyi import MatrixRenyi

__all__ = [
    "ESTIMATORS",
    "Estimate",
    "H_T",
    "I_XT",
    "I_TY",
    "QUANTITIES",
    "Estimator",
    "MatrixRenyi",
    "Binning",
    "Discrete",
    "KDE",
    "KSG",
    "make_estimator",
    "entropy",
    "mutual_information",
]

#: Estimator classes by method name.
ESTIMATORS: dict[str, type[Estimator]] = {cls.name: cls for cls in (MatrixRenyi, Binning, KDE, KSG)}


def make_estimator(method: str = "renyi", **params: Any) -> Estimator:
    """Build an estimator by name.

    Parameters
    ----------
    method : {"renyi", "binning", "kde", "ksg"}
    **params
        Constructor parameters of that estimator.

    Returns
    -------
    Estimator

    Examples
    --------
    >>> make_estimator("binning", n_bins=10)
    Binning(n_bins=10, value_range=None)
    """
    try:
        cls = ESTIMATORS[method]
    except (KeyError, TypeError):
        raise ValueError(f"unknown method {method!r}; choose one of: {', '.join(ESTIMATORS)}") from None
    try:
        return cls(**params)
    except TypeError:
        allowed = [f.name for f in dataclasses.fields(cls)]
        unknown = sorted(set(params) - set(allowed))
        if unknown:
            raise TypeError(
                f"method {method!r} has no parameter(s) {', '.join(unknown)}; its parameters are: "
                f"{', '.join(allowed)}"
            ) from None
        raise


def entropy(x: ArrayLike, method: str = "renyi", **params: Any) -> float:
    """Entropy of samples ``x`` in bits.

    Parameters
    ----------
    x : array_like or torch.Tensor, shape (N, ...) or integer labels (N,)
        Samples on axis 0; a conv activation (N, C, H, W) is one sample per row.
    method : {"renyi", "binning", "kde", "ksg"}, default "renyi"
    **params
        Parameters of the estimator (see its class).

    Returns
    -------
    float
        Bits. Matrix Rényi, binning and KDE (above its noise floor) lie in [0, log2 N]; KSG
        gives a differential entropy.

    Examples
    --------
    >>> import numpy as np
    >>> entropy(np.array([0, 1, 2, 3]), method="binning")
    2.0
    """
    return make_estimator(method, **params).entropy(x)


def mutual_information(
    x: ArrayLike, y: ArrayLike, method: str = "renyi", discrete_y: bool | None = None, **params: Any
) -> float:
    """Mutual information I(x; y) in bits.

    Parameters
    ----------
    x : array_like or torch.Tensor, shape (N, ...)
    y : array_like or torch.Tensor, shape (N, ...), or integer class labels (N,)
    method : {"renyi", "binning", "kde", "ksg"}, default "renyi"
    discrete_y : bool, optional
        None reads 1-D integer ``y`` as labels; True requires labels; False treats ``y`` as
        continuous values.
    **params
        Parameters of the estimator (see its class).

    Returns
    -------
    float
        Bits.

    Examples
    --------
    >>> import numpy as np
    >>> y = np.array([0, 0, 1, 1])
    >>> mutual_information(np.array([[0.0], [0.1], [0.9], [1.0]]), y, method="binning", n_bins=2)
    1.0
    """
    return make_estimator(method, **params).mutual_information(x, y, discrete_y=discrete_y)
