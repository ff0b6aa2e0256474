"""Fitting and compression phases of a layer from its I(X;T) series."""

from __future__ import annotations

import dataclasses

import numpy as np
from scipy.ndimage import median_filter

__all__ = ["noise_level", "Phases", "phases", "Fitting", "fitting", "rescaled_fall", "RESCALED_WORDS", "MIN_NOISE", "SHAPES"]

#: What a series can do, as :attr:`Phases.shape` names it.
SHAPES = ("flat", "rise then fall", "rise only", "fall only", "fall then rise", "saturated")

#: The smallest change in bits that counts as real, whatever the series' jitter.
MIN_NOISE = 0.05


def noise_level(values: np.ndarray, floor: float = MIN_NOISE) -> float:
    """A change a series can show by estimation noise alone, in its own units.

    Three robust standard deviations of the epoch-to-epoch differences
    (1.4826 · MAD / √2 per value), at least ``floor``.

    Examples
    --------
    >>> noise_level(np.zeros(10))
    0.05
    """
    values = np.asarray(values, dtype=float)
    if len(values) < 3:
        return floor
    d = np.diff(values)
    sigma = 1.4826 * np.median(np.abs(d - np.median(d))) / np.sqrt(2.0)
    return float(max(floor, 3.0 * sigma))


@dataclasses.dataclass(frozen=True)
class Phases:
    """Fitting/compression verdict for one series (bits).

    Attributes
    ----------
    peak_epoch : int
        End of the fitting phase: the epoch of the (median-smoothed) maximum of I(X;T).
    peak, final : float
        The highest raw value within the smoothing window around the peak, and the last value
        (which the running median keeps as it is), so ``peak >= final`` always.
    drop : float
        peak − final, in bits (never negative).
    drop_fraction : float
        drop / peak.
    compression_epochs : int
        Epochs from the peak to the end, when compressing (0 otherwise).
    compressed : bool
        Whether the series fits and then compresses: the shape is "rise then fall", that is a
        rise to a peak after the first record and a fall from it beyond ``noise`` on the raw
        values and the smoothed series alike. A series whose peak is its first record is never
        compressed; this one field decides the tables, the verdicts, the report and the studies.
    noise : float
        The change that noise alone could explain.
    shape : str
        What the series does, beyond noise (one of :data:`SHAPES`): only "rise then fall" is a
        fitting phase followed by compression; a series whose peak is its first record has no
        fitting phase ("fall only", or "fall then rise" when it recovers).
    maximum, maximum_epoch : float, int
        The raw maximum of the series and its epoch (a single high record can lie above
        ``peak``).
    trough_epoch : int
        Epoch of the (smoothed) minimum.
    """

    peak_epoch: int
    peak: float
    final: float
    drop: float
    drop_fraction: float
    compression_epochs: int
    compressed: bool
    noise: float
    shape: str = "flat"
    trough_epoch: int = 0
    maximum: float = 0.0
    maximum_epoch: int = 0

    @property
    def verdict(self) -> str:
        if self.shape == "rise then fall":
            return (f"fitting until epoch {self.peak_epoch}, then compression of {self.drop:.3f} bits "
                    f"({100 * self.drop_fraction:.0f}%) over {self.compression_epochs} epochs")
        if self.shape == "fall only":
            return f"no fitting phase: falls {self.drop:.3f} bits from the first record (not compression after fitting)"
        if self.shape == "fall then rise":
            return f"falls until epoch {self.trough_epoch}, then rises again: no fitting-then-compression"
        if self.shape == "rise only":
            return (f"fitting (rises to {self.peak:.3f} bits), no compression beyond noise {self.noise:.3f} bits "
                    f"(last record {self.drop:.3f} bits below the peak)")
        if self.shape == "saturated":
            return "saturated: the estimate sits at its bound (log2 n, H(Y) or 0) in most records, so no phase can be read"
        return f"flat within noise ({self.noise:.3f} bits): no phases"


def phases(epochs: np.ndarray, ixt: np.ndarray, noise: float | None = None, smooth: int = 3,
           saturated: np.ndarray | None = None) -> Phases:
    """Find the end of fitting (peak of I(X;T)) and the amount and duration of compression.

    Parameters
    ----------
    epochs, ixt : array_like, shape (E,)
        Epochs and I(X;T) in bits.
    noise : float, optional
        Smallest drop that counts (default: :func:`noise_level` of the series).
    smooth : int
        Width of the running median applied before locating the peak.
    saturated : array_like of bool, shape (E,), optional
        Which values sit at their estimator's bound; a series saturated in at least half of
        its records gets the shape "saturated" and no compression.

    Returns
    -------
    Phases

    Examples
    --------
    >>> e = np.arange(40)
    >>> v = np.where(e < 10, e * 0.5, 5 - (e - 10) * 0.05)   # rise to 5 bits at 10, fall 1.45
    >>> p = phases(e, v)
    >>> p.peak_epoch, round(p.drop, 2), p.compressed
    (10, 1.45, True)
    """
    epochs, ixt, sm, noise = _series(epochs, ixt, noise, smooth, "phases", "I(X;T)")
    k = int(np.argmax(sm))
    j = int(np.argmin(sm))
    at_bound = saturated is not None and len(saturated) and float(np.mean(np.asarray(saturated, dtype=bool))) >= 0.5
    # a fall counts when it shows on the raw values and on the smoothed series alike
    falls = bool(ixt[k] - ixt[-1] > noise and sm[k] - sm[-1] > noise)
    shape = "saturated" if at_bound else _shape(sm, k, j, noise, falls)
    compressed = shape == "rise then fall"  # the one decision: a fitting phase, then a fall beyond noise
    h = max(smooth, 1) // 2
    peak, final = float(ixt[max(0, k - h): k + h + 1].max()), float(ixt[-1])  # peak >= sm[k] >= sm[-1] = final
    m = int(np.argmax(ixt))
    return Phases(
        peak_epoch=int(epochs[k]), peak=peak, final=final, drop=peak - final,
        drop_fraction=(peak - final) / peak if peak > 0 else 0.0,
        compression_epochs=int(epochs[-1] - epochs[k]) if compressed else 0,
        compressed=compressed, noise=noise, shape=shape, trough_epoch=int(epochs[j]),
        maximum=float(ixt[m]), maximum_epoch=int(epochs[m]),
    )


def _series(epochs, values, noise: float | None, smooth: int, caller: str, quantity: str
            ) -> tuple[np.ndarray, np.ndarray, np.ndarray, float]:
    """One series checked and prepared: epochs, values (bits), their running median of width
    ``smooth``, and the noise (given, or :func:`noise_level` of the values)."""
    epochs, values = np.asarray(epochs), np.asarray(values, dtype=float)
    if len(values) == 0 or len(values) != len(epochs):
        raise ValueError(f"{caller} needs one {quantity} value per epoch (at least one)")
    sm = median_filter(values, size=min(smooth, len(values)), mode="nearest") if smooth > 1 else values
    return epochs, values, sm, noise_level(values) if noise is None else float(noise)


def _shape(sm: np.ndarray, k: int, j: int, noise: float, fall: bool) -> str:
    """Name what a smoothed series does beyond ``noise``: its rise to the peak (k), its fall from
    the peak to the end (``fall``, decided by :func:`phases`), and a recovery from its trough (j)."""
    if sm.max() - sm.min() <= noise:
        return "flat"
    rise = sm[k] - sm[: k + 1].min() > noise and sm[k] - sm[0] > noise
    dips_first = sm[0] - sm[j] > noise and j < k  # falls to a trough before the peak
    recovers = sm[-1] - sm[j] > noise and j < len(sm) - 1
    if rise and fall:
        return "rise then fall"
    if dips_first and recovers:
        return "fall then rise"
    if rise:
        return "rise only"
    return "fall then rise" if recovers else "fall only"


@dataclasses.dataclass(frozen=True)
class Fitting:
    """Whether a layer's I(T;Y) rises (fits), as far as its records can tell (bits).

    Attributes
    ----------
    status : {"fits", "no rise", "not testable"}
        "fits": the smoothed series rises above its first record by more than ``noise``, and
        ends above its chance level where that was recorded; "not testable": the first
        record already sits at its bound (typically H(Y): a rise cannot show), or no record is
        above chance; "no rise" otherwise.
    rise : float
        Smoothed maximum − first record.
    noise : float
    reason : str
        The evidence, in words.
    """

    status: str
    rise: float
    noise: float
    reason: str


def fitting(epochs: np.ndarray, ity: np.ndarray, noise: float | None = None, smooth: int = 3,
            saturated: np.ndarray | None = None, above_chance: np.ndarray | None = None) -> Fitting:
    """Does I(T;Y) rise beyond noise, and can its records show it?

    Parameters
    ----------
    epochs, ity : array_like, shape (E,)
        Epochs and I(T;Y) in bits.
    noise : float, optional
        Smallest rise that counts (default: :func:`noise_level` of the series).
    saturated : array_like of bool, shape (E,), optional
        Which values sit at a bound (H(Y), log2 n).
    above_chance : array_like of bool or None, shape (E,), optional
        Which values beat their label-permutation chance level (None where not recorded).

    Examples
    --------
    >>> e = np.arange(20)
    >>> fitting(e, np.minimum(0.2 * e, 2.0)).status
    'fits'
    >>> fitting(e, np.full(20, 3.32), saturated=np.ones(20, bool)).status
    'not testable'
    """
    epochs, ity, sm, noise = _series(epochs, ity, noise, smooth, "fitting", "I(T;Y)")
    rise = float(sm.max() - ity[0])
    if saturated is not None and len(saturated) and bool(np.asarray(saturated, dtype=bool)[0]):
        return Fitting("not testable", rise, noise, f"I(T;Y) sits at its bound from the first record ({ity[0]:.3f} bits): a rise cannot show")
    chance = None if above_chance is None else [c for c in above_chance if c is not None]
    if chance and not any(chance):
        return Fitting("not testable", rise, noise, "I(T;Y) is never above its chance level: a rise cannot be told from chance")
    if len(ity) < 2:
        return Fitting("not testable", rise, noise, "one record: nothing to compare")
    if rise > noise and (not chance or bool(chance[-1])):
        return Fitting("fits", rise, noise, f"I(T;Y) rises {rise:.3f} bits from the first record (noise {noise:.3f})")
    return Fitting("no rise", rise, noise, f"I(T;Y) rises {rise:.3f} bits, within noise {noise:.3f}")


#: What each answer of :func:`rescaled_fall` means, in words.
RESCALED_WORDS = {"survives": "the fall survives normalising the layer's scale",
                  "does not survive": "a change of scale: at unit variance the layer does not fall",
                  "not checked": "not checked at unit variance (record with scale_check)",
                  "scale-free estimator": "the estimator does not depend on the layer's scale"}


def rescaled_fall(p: Phases, epochs: np.ndarray, at_unit_variance: np.ndarray | None) -> str:
    """Whether a compression survives normalising the layer's scale.

    Parameters
    ----------
    p : Phases
        The verdict on the stored values.
    epochs : array_like, shape (E,)
    at_unit_variance : array_like, shape (E,), or None
        The same estimator on the layer brought to unit variance per dimension (stored with
        ``scale_check``); None (or all NaN) for an estimator whose values do not depend on
        the scale.

    Returns
    -------
    str
        "" when the series does not compress; "scale-free estimator" when no check is
        needed; "survives" when the rescaled values fall by more than ``p.noise`` from the
        peak epoch to the end; "does not survive" (the fall was a change of scale) otherwise;
        "not checked" when a compressing scale-dependent series has no rescaled values.

    Examples
    --------
    >>> e = np.arange(20)
    >>> p = phases(e, np.where(e < 10, e * 0.5, 5 - (e - 10) * 0.1))
    >>> rescaled_fall(p, e, np.full(20, 3.0)), rescaled_fall(p, e, None)
    ('does not survive', 'scale-free estimator')
    """
    if not p.compressed:
        return ""
    if at_unit_variance is None:
        return "scale-free estimator"
    v = np.asarray(at_unit_variance, dtype=float)
    if np.isnan(v).all():
        return "not checked"
    k = int(np.flatnonzero(np.asarray(epochs) == p.peak_epoch)[0])
    return "survives" if v[k] - v[-1] > p.noise else "does not survive"
