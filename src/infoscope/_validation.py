"""One place that checks what users hand to infoscope.

Every public entry point (estimators, recorder, CLI) validates through these helpers so that
a bad input gives the same clear message everywhere: what is wrong, with which argument, and
what to do about it. Nothing here computes an estimate.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from ._checks import check_choice, check_interval, check_positive, check_whole  # noqa: F401  (one place for them)

ArrayLike = Any  # numpy.ndarray | torch.Tensor | nested sequences


def _describe(name: str, context: str | None) -> str:
    return f"{name} ({context})" if context else name


def to_tensor(x: ArrayLike, name: str = "x", context: str | None = None) -> torch.Tensor:
    """Return ``x`` as a torch tensor without copying where possible.

    Parameters
    ----------
    x : array_like or torch.Tensor
        Samples on axis 0.
    name : str
        Argument name used in error messages.
    context : str, optional
        Extra words for error messages (for example the layer and epoch).

    Returns
    -------
    torch.Tensor
        Same values; torch tensors keep their device.
    """
    if isinstance(x, torch.Tensor):
        return as_estimation_dtype(x.detach())
    try:
        arr = np.asarray(x)
    except Exception as exc:  # pragma: no cover - numpy's own message is kept
        raise TypeError(f"{_describe(name, context)} could not be read as an array: {exc}") from exc
    if arr.dtype == object or arr.dtype.kind in "USV":
        raise TypeError(
            f"{_describe(name, context)} has dtype {arr.dtype}; pass numbers "
            "(a float array of samples or an integer array of class labels)"
        )
    if arr.dtype.kind == "c":
        raise TypeError(f"{_describe(name, context)} is complex; pass real-valued samples")
    if arr.dtype.kind == "u" and arr.dtype.itemsize > 1:
        arr = arr.astype(np.int64)
    if arr.ndim == 0:  # np.ascontiguousarray would promote it to 1-D
        return as_estimation_dtype(torch.as_tensor(arr))
    return as_estimation_dtype(torch.from_numpy(np.ascontiguousarray(arr)))


#: Floating types too coarse to estimate in (mixed-precision training's): their values are read
#: in float32, exactly (every bfloat16 and float16 value is a float32 value).
LOW_PRECISION = (torch.bfloat16, torch.float16)


def estimation_dtype(dtype: torch.dtype) -> torch.dtype:
    """The type values of ``dtype`` are estimated in: float32 for bfloat16 and float16, else itself."""
    return torch.float32 if dtype in LOW_PRECISION else dtype


def as_estimation_dtype(t: torch.Tensor) -> torch.Tensor:
    """``t`` itself, or in float32 where it is bfloat16 or float16 (no value changes).

    Examples
    --------
    >>> as_estimation_dtype(torch.ones(2, dtype=torch.bfloat16)).dtype
    torch.float32
    """
    return t.to(estimation_dtype(t.dtype))


def is_label_vector(t: torch.Tensor) -> bool:
    """True where ``t`` is a 1-D integer (or boolean) tensor: class labels of shape (N,)."""
    return t.ndim == 1 and (t.dtype == torch.bool or not torch.is_floating_point(t))


def is_token_ids(t: torch.Tensor) -> bool:
    """Whether samples are token ids: int32/int64 with at least one axis per sample (uint8
    images and other narrow integers count as numbers; 1-D integers are class labels)."""
    return t.dtype in (torch.int32, torch.int64) and t.ndim >= 2


def check_samples(
    x: ArrayLike, name: str = "x", context: str | None = None, min_samples: int = 2
) -> torch.Tensor:
    """Validate a sample array and return it as a tensor with samples on axis 0.

    Checks the dtype is real and numeric, there are at least ``min_samples`` samples and
    every value is finite.

    Raises
    ------
    TypeError
        For non-numeric or complex input.
    ValueError
        For 0-d input, too few samples, or NaN/inf values.
    """
    t = to_tensor(x, name, context)
    if torch.is_complex(t):
        raise TypeError(f"{_describe(name, context)} is complex; pass real-valued samples")
    if t.ndim == 0:
        raise ValueError(
            f"{_describe(name, context)} is a scalar; pass an array with samples on axis 0, "
            "shape (N,) or (N, ...)"
        )
    n = t.shape[0]
    if n < min_samples:
        raise ValueError(
            f"{_describe(name, context)} has {n} sample(s); at least {min_samples} are needed "
            "to estimate an information quantity (samples are on axis 0)"
        )
    if t[0].numel() == 0:
        raise ValueError(f"{_describe(name, context)} has samples of size 0 (shape {tuple(t.shape)})")
    if not all_finite(t):
        bad = ~torch.isfinite(t)
        if bool(bad.any()):
            n_nan = int(torch.isnan(t).sum())
            n_inf = int(bad.sum()) - n_nan
            rows = torch.nonzero(bad.reshape(n, -1).any(dim=1)).flatten()[:5].tolist()
            raise ValueError(
                f"{_describe(name, context)} contains {n_nan} NaN and {n_inf} infinite value(s) "
                f"(first bad samples: {rows}); remove or fix them before estimating"
            )
    return t


def all_finite(t: torch.Tensor) -> bool:
    """Whether every value of ``t`` is finite (always, for integer and boolean tensors).

    A NaN or an infinity makes the sum NaN or infinite, so a finite sum settles it with one
    reduction and no mask; only a sum that overflows is checked element by element.

    Examples
    --------
    >>> all_finite(torch.tensor([1.0, 2.0])), all_finite(torch.tensor([1.0, float("nan")]))
    (True, False)
    >>> all_finite(torch.tensor([3e38, 3e38]))  # the float32 sum overflows; the values do not
    True
    """
    if not torch.is_floating_point(t):
        return True
    return bool(torch.isfinite(t.sum())) or bool(torch.isfinite(t).all())


def check_same_length(x: torch.Tensor, y: torch.Tensor, names: tuple[str, str] = ("x", "y")) -> None:
    """Raise ``ValueError`` unless ``x`` and ``y`` hold the same number of samples."""
    if x.shape[0] != y.shape[0]:
        raise ValueError(
            f"{names[0]} has {x.shape[0]} samples but {names[1]} has {y.shape[0]}; "
            "both must hold the same samples on axis 0"
        )


def as_labels(y: torch.Tensor, name: str = "y") -> np.ndarray:
    """Return class labels as integer codes ``0..C-1`` (NumPy, shape (N,)).

    Float arrays are accepted only when every value is a whole number.
    """
    if y.ndim != 1:
        raise ValueError(
            f"{name} as class labels must have shape (N,), got {tuple(y.shape)}; "
            "pass one integer label per sample"
        )
    arr = y.detach().cpu().numpy()
    if arr.dtype.kind == "f":
        if not np.all(np.isfinite(arr)) or not np.all(arr == np.round(arr)):
            raise ValueError(
                f"{name} was given as class labels but holds non-integer values; "
                "pass integer labels, or set discrete_y=False to treat it as continuous"
            )
    _, codes = np.unique(arr, return_inverse=True)
    return codes.reshape(-1).astype(np.int64)


def resolve_discrete(y: torch.Tensor, discrete: bool | None, name: str = "y") -> bool:
    """Decide whether ``y`` is treated as class labels.

    ``None`` means automatic: 1-D integer or boolean arrays are labels, anything else is
    continuous. ``True`` requires a 1-D array of whole numbers.
    """
    if discrete is None:
        return is_label_vector(y)
    if discrete:
        as_labels(y, name)  # raises with a clear message if these cannot be labels
    return bool(discrete)


def flatten_samples(t: torch.Tensor) -> torch.Tensor:
    """Shape (N, ...) to (N, D), one row per sample; (N,) becomes (N, 1)."""
    return t.reshape(t.shape[0], -1)
