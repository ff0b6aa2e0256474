"""Fitting and compression phases of a layer from its I(X;T) series."""

from __future__ import annotations

import dataclasses

import numpy as np
from scipy.ndimage import median_filter

__all__ = ["noise_level", "Phases", "phases", "MIN_NOISE", "SHAPES"]

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
        I(X;T) at the peak (located on the running median) and at the last epoch.
    drop : float
        peak − final, in bits.
    drop_fraction : float
        drop / peak.
    compression_epochs : int
        Epochs from the peak to the end, when compressing (0 otherwise).
    compressed : bool
        Whether I(X;T) falls from its peak to its end by more than ``noise`` on the raw values
        and on the smoothed series alike (the same test decides :attr:`shape`).
    noise : float
        The change that noise alone could explain.
    shape : str
        What the series does, beyond noise (one of :data:`SHAPES`): only "rise then fall" is a
        fitting phase followed by compression; a series whose peak is its first record has no
        fitting phase ("fall only", or "fall then rise" when it recovers).
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
            return "saturated: the estimate sits at its bound (log2 n or 0) in most records, so no phase can be read"
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
    epochs = np.asarray(epochs)
    ixt = np.asarray(ixt, dtype=float)
    if len(ixt) == 0 or len(ixt) != len(epochs):
        raise ValueError("phases needs one I(X;T) value per epoch (at least one)")
    sm = median_filter(ixt, size=min(smooth, len(ixt)), mode="nearest") if smooth > 1 else ixt
    k = int(np.argmax(sm))
    noise = noise_level(ixt) if noise is None else float(noise)
    peak, final = float(ixt[k]), float(ixt[-1])  # located on the smoothed series, read on the raw one
    drop = peak - final
    # a fall counts when it shows on the raw values and on the smoothed series alike; the shape
    # uses the same test, so the verdict and the shape never disagree
    falls = bool(drop > noise and sm[k] - sm[-1] > noise)
    j = int(np.argmin(sm))
    at_bound = saturated is not None and len(saturated) and float(np.mean(np.asarray(saturated, dtype=bool))) >= 0.5
    compressed = falls and not at_bound
    return Phases(
        peak_epoch=int(epochs[k]), peak=peak, final=final, drop=drop,
        drop_fraction=drop / peak if peak > 0 else 0.0,
        compression_epochs=int(epochs[-1] - epochs[k]) if compressed else 0,
        compressed=bool(compressed), noise=noise, shape="saturated" if at_bound else _shape(sm, k, j, noise, falls),
        trough_epoch=int(epochs[j]),
    )


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
