"""Information estimators, in bits, each as a pure function and as an estimator object.

``entropy(x, method=...)`` and ``mutual_information(x, y, method=...)`` build the named
estimator from keyword parameters and apply it; the classes (:class:`MatrixRenyi`,
:class:`Binning`, :class:`Discrete`, :class:`KDE`, :class:`KSG`, the Gaussian baseline
:class:`Gaussian` and the neural variational bounds :class:`NeuralMI`) hold those parameters so a
configured estimator can be handed around and recorded, and each class carries its facts
(:class:`~.tags.EstimatorTags`), which :func:`estimator_tags` finds for a stored name.
"""

from __future__ import annotations

import dataclasses
import functools
import importlib
from typing import TYPE_CHECKING, Any

from .estimate import H_T, I_TY, I_XT, QUANTITIES, Estimate
from .tags import UNKNOWN, EstimatorTags

if TYPE_CHECKING:
    from .._validation import ArrayLike
    from .base import Estimator

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
    "Gaussian",
    "NeuralMI",
    "EstimatorTags",
    "estimator_tags",
    "resolution_value",
    "make_estimator",
    "entropy",
    "mutual_information",
    "METHODS",
]

#: The estimators' method names, in the order they are listed (known without importing them).
METHODS = ("renyi", "binning", "discrete", "kde", "ksg", "gaussian", "neural")

#: Where each estimator class lives: imported when first asked for (``import infoscope``, and
#: the command line's ``--help``, need no torch).
_CLASSES = {"Estimator": ".base", "MatrixRenyi": ".renyi", "Binning": ".binning", "Discrete": ".binning", "KDE": ".kde",
            "KSG": ".ksg", "Gaussian": ".gaussian", "NeuralMI": ".neural"}


@functools.cache
def _estimators() -> dict[str, type[Estimator]]:
    """Estimator classes by method name."""
    from .binning import Binning, Discrete
    from .gaussian import Gaussian
    from .kde import KDE
    from .ksg import KSG
    from .neural import NeuralMI
    from .renyi import MatrixRenyi

    classes = {cls.name: cls for cls in (MatrixRenyi, Binning, Discrete, KDE, KSG, Gaussian, NeuralMI)}
    assert tuple(classes) == METHODS, (tuple(classes), METHODS)
    return classes


def __getattr__(name: str) -> Any:
    """The estimator classes and :data:`ESTIMATORS` (estimator classes by method name), loaded on first use."""
    if name in _CLASSES:
        return getattr(importlib.import_module(_CLASSES[name], __name__), name)
    if name == "ESTIMATORS":
        return _estimators()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def estimator_tags(method: str) -> EstimatorTags:
    """The :class:`~.tags.EstimatorTags` of a stored estimator name (:data:`~.tags.UNKNOWN` for a
    name this infoscope does not know: nothing is assumed about it).

    Examples
    --------
    >>> estimator_tags("ksg").bounded, estimator_tags("binning").bounded
    (False, True)
    """
    cls = _estimators().get(method)
    return cls.tags if cls is not None else UNKNOWN


def resolution_value(method: str, params: dict[str, Any]) -> float | None:
    """The resolution (σ, bin width, noise s.d.) a value stored by ``method`` with ``params``
    rests on (:meth:`Estimator.resolution_value`); None if it has none or ``method`` is unknown.

    Examples
    --------
    >>> resolution_value("binning", {"value_range_x": [-1.0, 1.0], "n_bins": 20})
    0.1
    """
    cls = _estimators().get(method)
    return cls.resolution_value(params) if cls is not None else None


def make_estimator(method: str = "renyi", **params: Any) -> Estimator:
    """Build an estimator by name.

    Parameters
    ----------
    method : {"renyi", "binning", "discrete", "kde", "ksg", "gaussian", "neural"}
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
        cls = _estimators()[method]
    except (KeyError, TypeError):
        raise ValueError(f"unknown method {method!r}; choose one of: {', '.join(METHODS)}") from None
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
    method : {"renyi", "binning", "discrete", "kde", "ksg", "gaussian", "neural"}, default "renyi"
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
    method : {"renyi", "binning", "discrete", "kde", "ksg", "gaussian", "neural"}, default "renyi"
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
