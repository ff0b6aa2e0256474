"""Checks of plain option values (numbers, choices), with one kind of message; they import
neither torch nor anything heavy, so that options can be declared and checked (and the
command line can show its help) without loading the numerical stack."""

from __future__ import annotations

import math
from numbers import Integral
from typing import Any

__all__ = ["check_positive", "check_choice", "check_whole", "check_interval"]


def check_positive(value: float, name: str, fix: str = "") -> float:
    """Return ``float(value)`` if it is a finite number > 0, else raise ``ValueError``."""
    try:
        v = float(value)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"{name} must be a number, got {value!r}") from exc
    if not math.isfinite(v) or v <= 0:
        raise ValueError(f"{name} must be a finite number > 0, got {value!r}. {fix}".rstrip())
    return v


def check_choice(value: str, name: str, choices: tuple[str, ...]) -> str:
    """Return ``value`` if it is one of ``choices``, else raise ``ValueError`` listing them."""
    if value not in choices:
        raise ValueError(f"unknown {name} {value!r}; choose one of: {', '.join(choices)}")
    return value


def check_whole(value: Any, name: str, minimum: int, none_ok: bool = False) -> int | None:
    """Return ``value`` as an int if it is a whole number >= ``minimum`` (or None where
    ``none_ok``), else raise ``ValueError`` saying what is allowed.

    Examples
    --------
    >>> check_whole(3, "k", 1)
    3
    >>> check_whole(0, "unit_every", 1)
    Traceback (most recent call last):
    ...
    ValueError: unit_every must be a whole number >= 1, got 0
    """
    if value is None and none_ok:
        return None
    if isinstance(value, bool) or not isinstance(value, (Integral, float)) or int(value) != value or value < minimum:
        raise ValueError(f"{name} must be a whole number >= {minimum}{' or None' if none_ok else ''}, got {value!r}")
    return int(value)


def check_interval(value: Any, name: str, low: float, high: float, closed_high: bool = False) -> float:
    """Return ``float(value)`` if it lies in [low, high) (or [low, high]), else raise ``ValueError``.

    Examples
    --------
    >>> check_interval(1.0, "sigma_smoothing", 0.0, 1.0)
    Traceback (most recent call last):
    ...
    ValueError: sigma_smoothing must be in [0.0, 1.0), got 1.0
    """
    try:
        v = float(value)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"{name} must be a number, got {value!r}") from exc
    if not (low <= v < high or (closed_high and v == high)):
        raise ValueError(f"{name} must be in [{low}, {high}{']' if closed_high else ')'}, got {value!r}")
    return v
