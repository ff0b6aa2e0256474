"""Binning estimator (Shwartz-Ziv & Tishby 2017).

Every activation value is put into one of ``n_bins`` equal-width bins over a range (the
layer's own range by default; ``(-1, 1)`` for tanh layers as in the paper); each sample's
vector of bin indices is one symbol, and entropies are plug-in Shannon entropies of those
symbols. For a deterministic network whose inputs are all distinct, I(X;T) = H(T).
I(T;Y) with class labels is H(T) − Σ_y p(y) H(T | Y=y). Known flaw: results depend on the bin
count and on the activation function (Saxe et al. 2018).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any, ClassVar

import numpy as np
import torch

from .._validation import as_labels, check_samples, check_whole, flatten_samples
from .base import H_T, I_TY, I_XT, Estimate, Estimator, ProbeContext
from .discrete import plugin_entropy, plugin_mutual_information, row_entropies, symbols, zero_if_round_off
from .tags import EstimatorTags
from .units import unit_columns

__all__ = ["Binning", "Discrete", "bin_codes", "column_bin_codes"]


def bin_codes(
    x: np.ndarray, n_bins: int = 30, value_range: tuple[float, float] | None = None
) -> tuple[np.ndarray, tuple[float, float]]:
    """Equal-width bin index of every value.

    Parameters
    ----------
    x : numpy.ndarray, shape (N, D)
        Values to bin (one sample per row).
    n_bins : int
        Number of bins.
    value_range : (float, float), optional
        Lower and upper edge. Default: the minimum and maximum of ``x``. Values outside the
        given range are an error (never clipped silently).

    Returns
    -------
    codes : numpy.ndarray, shape (N, D), int64
        Bin indices 0..n_bins−1 (the upper edge belongs to the last bin).
    value_range : (float, float)
        The range used.

    Examples
    --------
    >>> codes, rng = bin_codes(np.array([[-1.0], [0.0], [1.0]]), n_bins=2, value_range=(-1, 1))
    >>> codes.ravel().tolist(), rng
    ([0, 1, 1], (-1.0, 1.0))
    """
    if value_range is None:
        lo, hi = float(np.min(x)), float(np.max(x))
    else:
        lo, hi = float(value_range[0]), float(value_range[1])
        if not hi > lo:
            raise ValueError(f"value_range must be (low, high) with low < high, got {value_range!r}")
        xmin, xmax = float(np.min(x)), float(np.max(x))
        if xmin < lo or xmax > hi:
            raise ValueError(
                f"values span [{xmin:.6g}, {xmax:.6g}], outside value_range ({lo:.6g}, {hi:.6g}); "
                "widen value_range or leave it as None to use the data's range"
            )
    if hi == lo:
        return np.zeros(x.shape, dtype=np.int64), (lo, hi)
    edges = np.linspace(lo, hi, n_bins + 1)
    codes = np.digitize(x, edges[1:-1], right=False).astype(np.int64)
    return codes, (lo, hi)


def column_bin_codes(x: np.ndarray, n_bins: int = 30) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """:func:`bin_codes` of every column of ``x`` over that column's own range, at once.

    Parameters
    ----------
    x : numpy.ndarray, shape (N, U)
    n_bins : int

    Returns
    -------
    codes : numpy.ndarray, shape (U, N), int64
        ``codes[u] == bin_codes(x[:, u:u+1], n_bins)[0].ravel()`` (the same edges, so the
        same bins to the last bit).
    low, high : numpy.ndarray, shape (U,)
        Each column's range.

    Examples
    --------
    >>> codes, lo, hi = column_bin_codes(np.array([[-1.0, 5.0], [0.0, 5.0], [1.0, 5.0]]), n_bins=2)
    >>> codes.tolist(), lo.tolist(), hi.tolist()
    ([[0, 1, 1], [0, 0, 0]], [-1.0, 5.0], [1.0, 5.0])
    """
    lo, hi = x.min(axis=0), x.max(axis=0)
    inner = np.linspace(lo, hi, n_bins + 1, axis=1)[:, 1:-1]  # (U, n_bins - 1), as np.linspace per column
    codes = np.zeros((x.shape[1], x.shape[0]), dtype=np.int64)
    for start in range(0, x.shape[1], 64):  # 64 columns at a time bound the (64, N, n_bins) comparison
        sl = slice(start, start + 64)
        codes[sl] = (inner[sl, None, :] <= x.T[sl, :, None]).sum(axis=2)
    codes[lo == hi] = 0  # a constant column is one bin
    return codes, lo, hi


@dataclasses.dataclass
class Binning(Estimator):
    """Binning (histogram) estimator of entropy and mutual information, in bits.

    Parameters
    ----------
    n_bins : int, default 30
        Equal-width bins per value.
    value_range : (float, float) or None, default None
        Range to bin over; None uses each array's own minimum and maximum. Use ``(-1, 1)``
        for tanh layers. Values outside a given range raise ``ValueError``.

    Examples
    --------
    >>> import numpy as np
    >>> t = np.array([[0.0, 1.0], [1.0, 0.0], [0.0, 0.0], [1.0, 1.0]])
    >>> Binning(n_bins=2).entropy(t)
    2.0
    >>> Binning(n_bins=2).mutual_information(t, np.array([0, 1, 2, 3]))
    2.0
    """

    name: ClassVar[str] = "binning"
    input_mode: ClassVar[str] = "identity"
    tags: ClassVar[EstimatorTags] = EstimatorTags(
        sample_copies=6, resolution="bin width", resolution_short="bin width", unit_pooling="mean", batches_units=True,
    )

    n_bins: int = 30
    value_range: tuple[float, float] | None = None

    def scale_invariant(self) -> bool:
        """True with bins over each array's own range (scaling T scales the edges with it);
        False with a fixed ``value_range``."""
        return self.value_range is None

    def scale_check(self) -> Binning:
        """The same bins over the rescaled layer's own range (a fixed range would refuse it)."""
        return dataclasses.replace(self, value_range=None)

    def __post_init__(self) -> None:
        self.n_bins = check_whole(self.n_bins, "n_bins", 1)
        if self.value_range is not None:
            lo, hi = (float(v) for v in self.value_range)
            if not (np.isfinite(lo) and np.isfinite(hi) and hi > lo):
                raise ValueError(f"value_range must be finite (low, high) with low < high, got {self.value_range!r}")
            self.value_range = (lo, hi)

    def _symbols(self, t, labels: bool) -> tuple[np.ndarray, tuple[float, float] | None]:
        if labels:
            return as_labels(t), None
        arr = flatten_samples(t).cpu().numpy().astype(np.float64, copy=False)
        codes, used = bin_codes(arr, self.n_bins, self.value_range)
        return symbols(codes), used

    @classmethod
    def resolution_value(cls, params: dict[str, Any]) -> float | None:
        """The bin width: the range binned over divided by the number of bins."""
        rng = params.get("value_range_x")
        return (rng[1] - rng[0]) / params["n_bins"] if rng else None

    def variants(self, scales=(0.5, 2.0)) -> list[Estimator]:
        """Copies with ``n_bins`` scaled by each factor (at least 2 bins)."""
        return [dataclasses.replace(self, n_bins=max(2, int(round(self.n_bins * f)))) for f in scales]

    def units_information(
        self, t: torch.Tensor, ctx: ProbeContext, units: Sequence[int], pooling: str = "map", memory_budget: int | None = None
    ) -> list[dict[str, Estimate]]:
        """H(T), I(X;T) and I(T;Y) of each chosen unit, in bits: all units binned and counted in
        one computation when each unit is one value per sample (a neuron, or a pooled map) and
        binned over its own range; otherwise unit by unit. Equal to
        :meth:`~infoscope.estimators.base.Estimator.units_information` (up to float rounding in
        the sums of p·log p).
        """
        tt = t if isinstance(t, torch.Tensor) else check_samples(t, "layer activations")
        cols = unit_columns(tt, list(units), pooling)
        if not self.tags.batches_units or self.value_range is not None or cols is None:
            return super().units_information(t, ctx, units, pooling, memory_budget)
        x = cols.cpu().numpy().astype(np.float64, copy=False)  # (N, U)
        codes, lo, hi = column_bin_codes(x, self.n_bins)
        n = x.shape[0]
        y = as_labels(ctx.y)
        ids = ctx.x_ids.cpu().numpy().astype(np.int64)
        h_t = row_entropies(codes)
        i_ty = h_t + plugin_entropy(y) - row_entropies(codes * (int(y.max()) + 1) + y)
        i_xt = h_t + plugin_entropy(ids) - row_entropies(codes * (int(ids.max()) + 1) + ids)
        out = []
        for u in range(len(units)):
            rng = (float(lo[u]), float(hi[u]))
            mi = {"value_range_x": rng, "value_range_y": None, "y_discrete": True, "n_samples": n}
            out.append({H_T: self._result(h_t[u], value_range_x=rng, n_samples=n),
                        I_XT: self._result(zero_if_round_off(i_xt[u]), **mi), I_TY: self._result(zero_if_round_off(i_ty[u]), **mi)})
        return out

    def _entropy(self, t: torch.Tensor) -> tuple[float, dict[str, Any]]:
        """Plug-in entropy of the binned patterns of ``t``, in bits (0 to log2 N), with
        ``value_range_x`` the range binned over."""
        sym, rng = self._symbols(t, False)
        return plugin_entropy(sym), {"value_range_x": rng}

    def _mutual_information(self, tx, ty, x_labels: bool, y_labels: bool) -> tuple[float, dict[str, Any]]:
        """I(x; y) from binned patterns, in bits; labels are used as they are. With
        ``value_range_x`` and ``value_range_y`` (None for labels)."""
        sx, rx = self._symbols(tx, x_labels)
        sy, ry = self._symbols(ty, y_labels)
        return plugin_mutual_information(sx, sy), {"value_range_x": rx, "value_range_y": ry}


@dataclasses.dataclass
class Discrete(Binning):
    """Plug-in entropies of the values themselves, in bits: every distinct pattern one symbol.

    Exact for activations that are discrete already (quantised networks, Lorenzen et al.
    2022): over the samples of a probe their entropies and mutual informations are counts, not
    estimates. On continuous values every distinct sample is its own symbol (H = log2 N).
    ``n_bins`` and ``value_range`` are not used.

    Examples
    --------
    >>> import numpy as np
    >>> t = np.repeat(np.array([[-1.0, 0.5], [0.5, 0.5], [1.0, -1.0], [0.0, 0.0]]), 25, axis=0)
    >>> Discrete().entropy(t), Discrete().mutual_information(t, np.repeat([0, 0, 1, 1], 25))
    (2.0, 1.0)
    """

    name: ClassVar[str] = "discrete"
    tags: ClassVar[EstimatorTags] = EstimatorTags(continuous=False, sample_copies=6, unit_pooling="mean")

    @classmethod
    def resolution_value(cls, params: dict[str, Any]) -> float | None:
        """None: every distinct pattern is its own symbol."""
        return None

    def _symbols(self, t, labels: bool) -> tuple[np.ndarray, tuple[float, float] | None]:
        if labels:
            return as_labels(t), None
        return symbols(flatten_samples(t).cpu().numpy().astype(np.float64, copy=False)), None

    def variants(self, scales=(0.5, 2.0)) -> list[Estimator]:
        return []

    def scale_invariant(self) -> bool:
        """True: equal patterns stay equal under any invertible map."""
        return True
