"""The interface every estimator shares, and the result it returns.

An estimator is a small object whose constructor stores (and checks) plain parameters, and
whose methods take arrays and return numbers in bits. ``estimate_*`` methods return an
:class:`Estimate` that also carries every parameter actually used, including any kernel
width or bin edge a rule chose from the data, so a number is never stored without what it
rests on.
"""

from __future__ import annotations

import dataclasses
import math
from abc import ABC, abstractmethod
from collections.abc import Sequence
from typing import Any, ClassVar

import torch

from .._validation import (
    ArrayLike,
    as_labels,
    check_same_length,
    check_samples,
    flatten_samples,
    is_label_vector,
    is_token_ids,
    resolve_discrete,
)
from .chunking import chunk_indices, in_chunks
from .discrete import plugin_entropy, plugin_mutual_information, symbols
from .estimate import H_T, I_TY, I_XT, Estimate
from .tags import EstimatorTags
from .units import unit_view

#: Bits from a bound within which a value counts as saturated (:meth:`Estimator.saturation`).
SATURATION_TOLERANCE = 0.01

#: The bound each information value cannot exceed, as a saturation flag names it.
BOUND_NAMES = {I_XT: "H(X)", I_TY: "H(Y)"}


@dataclasses.dataclass
class ProbeContext:
    """A probe set prepared once and shared by every layer and unit measured on it.

    Attributes
    ----------
    x : torch.Tensor, shape (N, ...)
        The network inputs, as the estimators see X: values, or token ids (int32/int64, shape
        (N, L), −1 at padded positions; :attr:`tokens`).
    y : torch.Tensor, shape (N,), int64, or float64 (N,) / (N, K)
        Class labels as codes 0..C−1, or a continuous target (regression; :attr:`continuous_y`).
    x_ids : torch.Tensor, shape (N,), int64
        One symbol per distinct input (equal inputs share a symbol): X as a discrete variable.
    cache : dict
        Per-estimator precomputations (for example the input and label Grams).
    """

    x: torch.Tensor
    y: torch.Tensor
    x_ids: torch.Tensor
    cache: dict[Any, Any] = dataclasses.field(default_factory=dict)

    @classmethod
    def build(cls, x: ArrayLike, y: ArrayLike, continuous_y: bool = False) -> ProbeContext:
        """Validate a probe (inputs, and integer labels or, with ``continuous_y``, a continuous
        target of shape (N,) or (N, K)) and prepare it.

        Examples
        --------
        >>> import numpy as np
        >>> ctx = ProbeContext.build(np.array([[0.0], [1.0], [0.0]]), np.array([0, 1, 0]))
        >>> ctx.x_ids.tolist()
        [0, 1, 0]
        """
        tx = check_samples(x, "probe inputs")
        ty = check_samples(y, "probe labels")
        check_same_length(tx, ty, ("probe inputs", "probe labels"))
        if not continuous_y and torch.is_floating_point(ty) and not bool((ty == ty.round()).all()):
            raise ValueError("probe labels hold non-integer values, and class labels are whole numbers; for a continuous "
                             "target (regression) record with target='continuous'")
        if continuous_y:
            if ty.ndim > 2:
                raise ValueError(f"a continuous target must have shape (N,) or (N, K), got {tuple(ty.shape)}")
            target = ty.to(torch.float64)
        else:
            target = torch.from_numpy(as_labels(ty, "probe labels")).to(tx.device)
        ids = torch.from_numpy(symbols(flatten_samples(tx).cpu().numpy())).to(tx.device)
        return cls(x=tx, y=target, x_ids=ids)

    @property
    def continuous_y(self) -> bool:
        """Whether Y is a continuous target (regression) rather than class labels: I(T;Y) then
        uses Y's values (an RBF kernel on Y for matrix Rényi, KSG's neighbours), and has no
        H(Y) bound; estimators that need classes refuse it (``tags.continuous_targets``)."""
        return torch.is_floating_point(self.y)

    @property
    def tokens(self) -> bool:
        """Whether X is token ids (:func:`~infoscope._validation.is_token_ids`): estimators that
        use X's values put a kernel for sequences on them (the Hamming kernel of matrix Rényi)
        or refuse them."""
        return is_token_ids(self.x)

    def to(self, device: torch.device | str) -> ProbeContext:
        """The same probe with its tensors on ``device`` (and an empty cache)."""
        return ProbeContext(x=self.x.to(device), y=self.y.to(device), x_ids=self.x_ids.to(device))

    def chunks(self, chunk_size: int) -> list[ProbeContext]:
        """Sub-probes of consecutive chunks (:func:`~.chunking.chunk_indices`), built once and cached,
        so that whatever an estimator caches on a chunk (its input and label Grams) is computed once."""
        key = ("chunks", int(chunk_size))
        if key not in self.cache:
            self.cache[key] = [ProbeContext(x=self.x[idx], y=self.y[idx], x_ids=self.x_ids[idx])
                               for idx in chunk_indices(self.x.shape[0], chunk_size) or []]
        return self.cache[key]


@dataclasses.dataclass
class Estimator(ABC):
    """Base class: an information estimator with plain constructor parameters.

    The public methods validate their input, read 1-D integer arrays as class labels
    (override with ``discrete_y``), handle the case of labels on both sides, split the
    samples into chunks when the estimator has a ``chunk_size`` (see :mod:`.chunking`), and
    return :class:`Estimate` objects in bits. Subclasses implement the maths only:
    :meth:`_entropy` and :meth:`_mutual_information`. Samples are on axis 0 and may have any
    trailing shape.
    """

    #: Name used by the functional API and stored with every result.
    name: ClassVar[str] = ""
    #: How the recorder feeds the network input X when measuring I(X;T): ``"values"`` (the
    #: input's own values through a kernel) or ``"identity"`` (each distinct input is one
    #: symbol, the setting of deterministic networks in Shwartz-Ziv & Tishby and Saxe et al.).
    input_mode: ClassVar[str] = "identity"
    #: Class labels are discrete symbols: plug-in entropies for labels, and plug-in MI when both
    #: sides are labels. False for estimators that put a kernel on the labels (matrix Rényi).
    labels_as_symbols: ClassVar[bool] = True
    #: Samples per chunk (None: the whole sample at once); estimators with a ``chunk_size``
    #: parameter override it per instance.
    chunk_size: ClassVar[int | None] = None
    #: What this estimator family is (:class:`~.tags.EstimatorTags`): the facts generic code asks.
    tags: ClassVar[EstimatorTags] = EstimatorTags()

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

    def estimate_entropy(self, x: ArrayLike) -> Estimate:
        """Entropy of ``x`` in bits, with every parameter used.

        Parameters
        ----------
        x : array_like, shape (N, ...) or integer labels (N,)

        Returns
        -------
        Estimate
        """
        t = check_samples(x, "x")
        est = self._chunked(t.shape[0], lambda idx: {"H": self._entropy_estimate(t if idx is None else t[idx])})["H"]
        return self._flagged(H_T, est, None)

    def estimate_mutual_information(
        self, x: ArrayLike, y: ArrayLike, discrete_y: bool | None = None
    ) -> Estimate:
        """Mutual information I(x; y) in bits, with every parameter used.

        Parameters
        ----------
        x : array_like, shape (N, ...)
            Samples (a layer's activations), or integer labels (N,).
        y : array_like, shape (N, ...) or (N,)
            Second variable; 1-D integers are class labels.
        discrete_y : bool, optional
            Force (True) or forbid (False) reading ``y`` as labels.

        Returns
        -------
        Estimate
        """
        tx, ty, y_labels = self._pair(x, y, discrete_y)
        est = self._chunked(
            tx.shape[0], lambda idx: {"I": self._mi_estimate(*((tx, ty) if idx is None else (tx[idx], ty[idx])), y_labels)}
        )["I"]
        bound = self.estimate_entropy(ty).value if y_labels else None  # I(X;Y) ≤ H(Y) for labels
        return self._flagged(I_TY, est, bound)

    def _flagged(self, quantity: str, est: Estimate, bound: float | None) -> Estimate:
        """``est`` with the flags a recorded value gets (:meth:`value_flags`): at log2 n for a
        bounded estimator, at or past ``bound`` (an entropy the value cannot exceed), below 0."""
        flags = self.saturation({quantity: est}, bounds={quantity: bound})
        if quantity != H_T and self.tags.bounded and flags[quantity] is None and _at_log2_n(est):
            flags[quantity] = "log2 n"  # an MI at log2 n: every sample resolved on its own
        return Estimate(est.value, est.method, {**est.params, **_flag_params(est.value, flags[quantity], bound)})

    def layer_information(self, t: ArrayLike, ctx: ProbeContext) -> dict[str, Estimate]:
        """H(T), I(X;T) and I(T;Y) of one layer (or unit) on a prepared probe, in bits.

        With ``input_mode == "identity"`` the input X is the discrete variable "which probe
        sample" (:attr:`ProbeContext.x_ids`): for a deterministic network and distinct inputs
        I(X;T) then equals H(T). With ``"values"`` the input's own values are used.

        Parameters
        ----------
        t : array_like, shape (N, ...)
            Activations for the N probe samples.
        ctx : ProbeContext

        Returns
        -------
        dict
            ``{"H(T)": Estimate, "I(X;T)": Estimate, "I(T;Y)": Estimate}``
        """
        tt = check_samples(t, "layer activations")
        check_same_length(tt, ctx.x, ("layer activations", "probe inputs"))
        self.check_inputs(ctx)
        return self._chunked_layer_information(tt, ctx)

    def check_inputs(self, ctx: ProbeContext) -> None:
        """Refuse a probe this estimator cannot measure: token ids for an estimator that
        measures distances between input values and has no kernel for sequences (KSG); a
        continuous target for one whose I(T;Y) needs classes (binning, KDE, discrete).

        Raises
        ------
        ValueError
            Saying what to use instead.
        """
        if ctx.continuous_y and not self.tags.continuous_targets:
            raise ValueError(
                f"{self.name}'s I(T;Y) needs class labels, and this probe's y is a continuous target; measure it with "
                f"renyi (an RBF kernel on y) or ksg, or bin y into classes first"
            )
        if ctx.tokens and self.input_mode == "values" and not self.tags.token_inputs:
            raise ValueError(
                f"{self.name} measures I(X;T) from distances between the inputs' values, and X is token ids, whose "
                f"distances mean nothing; measure I(X;T) of token inputs with renyi (a Hamming kernel on tokens), "
                f"binning, kde or discrete (X as which probe sample), or give X as embeddings "
                f"(input_representation='embedding')"
            )

    def layers_information(
        self, layers: Sequence[ArrayLike], ctx: ProbeContext, memory_budget: int | None = None
    ) -> list[dict[str, Estimate]]:
        """:meth:`layer_information` of several layers measured on the same probe, in bits.

        Parameters
        ----------
        layers : sequence of array_like, each shape (N, ...)
            Activations of each layer for the N probe samples.
        ctx : ProbeContext
        memory_budget : int, optional
            Bytes a batched computation may hold at once (used by estimators that batch layers).

        Returns
        -------
        list of dict
            Per layer, as :meth:`layer_information`. This default measures layer by layer.
        """
        return [self.layer_information(t, ctx) for t in layers]

    def _chunked_layer_information(self, tt: torch.Tensor, ctx: ProbeContext) -> dict[str, Estimate]:
        """:meth:`layer_information` of validated activations: per chunk, averaged."""
        chunks = chunk_indices(tt.shape[0], self.chunk_size)
        if chunks is None:
            return self._layer_information(tt, ctx)
        subs = iter(ctx.chunks(self.chunk_size))
        return in_chunks(chunks, lambda idx: self._layer_information(tt[idx], next(subs)))

    def units_information(
        self, t: ArrayLike, ctx: ProbeContext, units: Sequence[int], pooling: str = "map", memory_budget: int | None = None
    ) -> list[dict[str, Estimate]]:
        """H(T), I(X;T) and I(T;Y) of each chosen unit of a layer, in bits.

        Parameters
        ----------
        t : array_like, shape (N, U) or (N, C, ...)
            The layer's activations.
        ctx : ProbeContext
        units : sequence of int
            Units (columns, or channels on axis 1) to measure.
        pooling : {"map", "mean", "max"}
            How a conv channel is presented (:func:`~.units.unit_view`).
        memory_budget : int, optional
            Bytes a batched computation may hold at once (used by estimators that batch units).

        Returns
        -------
        list of dict
            Per unit, as :meth:`layer_information`. This default measures unit by unit.
        """
        tt = t if isinstance(t, torch.Tensor) else check_samples(t, "layer activations")
        self.check_inputs(ctx)
        return [self.layer_information(unit_view(tt, j, pooling), ctx) for j in units]

    # -- facts that depend on parameters -------------------------------------------------
    def memory_bytes(self, n: int, values: int, input_values: int = 0, with_probe: bool = True) -> int:
        """Peak bytes to estimate the values of one sample set of ``n`` samples with ``values``
        values each (a layer, or a unit), from the estimator's :attr:`tags`; chunks
        (``chunk_size``) hold their own n×n matrices. The memory budget's figure, and what a
        batched computation charges per sample set when it groups them.

        Parameters
        ----------
        n : int
            Samples (every noise draw counted).
        values : int
            Values per sample of the sample set (D of the flattened activations).
        input_values : int
            Values per sample of the network input.
        with_probe : bool
            Include the probe's shared precomputation (the first sample set of a probe pays it).

        Examples
        --------
        >>> from infoscope.estimators import Binning
        >>> Binning().memory_bytes(1000, 100)  # no n×n matrices: six float64 copies of the values
        4800000
        """
        t = self.tags
        chunk = min(self.chunk_size or n, n)
        squares = max(1, n // chunk) * chunk * chunk
        matrices = t.square_matrices + (t.probe_matrices if with_probe else 0)
        return 8 * (matrices * squares + t.sample_copies * n * values + t.input_copies * n * input_values)

    @classmethod
    def resolution_value(cls, params: dict[str, Any]) -> float | None:
        """The resolution a stored value rests on (see :attr:`EstimatorTags.resolution`), from
        its parameters, in the units of the activations; None where the estimator has none."""
        return None

    def scale_invariant(self) -> bool:
        """Whether this estimator's values stay the same when a layer is multiplied by a
        constant (T → s·T, an invertible map that changes nothing the layer knows). False here:
        estimators with a fixed resolution in the layer's units (a kernel width, a noise
        variance, a bin range) say True only where they adapt it to the data."""
        return False

    def scale_check(self) -> Estimator:
        """The estimator that measures a layer brought to unit variance
        (:func:`~.scale.to_unit_variance`) to check whether a fall survives normalising the
        layer's scale: this one, unless a fixed setting would refuse the rescaled values."""
        return self

    def width_rule(self) -> str | None:
        """The rule that chooses this estimator's resolution from the data each time (a σ rule),
        which :class:`~infoscope.uncertainty.SigmaSmoother` can smooth across records; None for a
        fixed resolution."""
        return None

    def with_width(self, width: float) -> Estimator:
        """The same estimator with its resolution fixed at ``width`` (see :meth:`width_rule`)."""
        raise TypeError(f"{type(self).__name__} has no data-chosen width to fix")

    def bounds(self, ctx: ProbeContext) -> dict[str, float | None]:
        """Upper bounds in bits of I(X;T) and I(T;Y) on this probe, as this estimator measures them.

        I(X;T) ≤ H(X) where X enters as symbols (``input_mode == "identity"``: log2 N for N
        distinct inputs) and I(T;Y) ≤ H(Y) (plug-in over the class labels); None where no bound
        is known (a continuous X). Estimators that measure entropies differently (matrix Rényi)
        give their own. Cached on the probe.

        Examples
        --------
        >>> import numpy as np
        >>> from infoscope.estimators import Binning
        >>> ctx = ProbeContext.build(np.arange(8.0)[:, None], np.array([0, 1] * 4))
        >>> Binning().bounds(ctx)
        {'I(X;T)': 3.0, 'I(T;Y)': 1.0}
        """
        key = ("bounds", self.input_mode)
        if key not in ctx.cache:
            identity = self.input_mode == "identity"
            ctx.cache[key] = {I_XT: plugin_entropy(ctx.x_ids.cpu().numpy()) if identity else None,
                              I_TY: None if ctx.continuous_y else plugin_entropy(ctx.y.cpu().numpy())}
        return ctx.cache[key]

    @classmethod
    def saturation(cls, results: dict[str, Estimate], tol: float = SATURATION_TOLERANCE,
                   bounds: dict[str, float | None] | None = None) -> dict[str, str | None]:
        """Which values of one layer (or unit) sit at, or beyond, a bound where they can no longer change.

        By the estimator's :attr:`EstimatorTags.saturation` rule. ``"bounds"``: T itself is
        judged, H(T) within ``tol`` of log2 n (n the samples of one estimate, a chunk's when
        chunked) means every sample is resolved on its own — a Gram close to the identity, one
        bin per sample — and H(T) within ``tol`` of 0 means none is (a Gram close to
        all-ones, a single bin); all three values of T carry that flag. ``"zero"``: each value
        at 0 is flagged. With ``bounds`` (:meth:`bounds`), an I(X;T) or I(T;Y) at or above its
        own bound is flagged ``"H(X)"`` or ``"H(Y)"`` instead, whatever the rule, and one not
        flagged otherwise and below −``tol`` is flagged ``"below 0"``.

        Returns
        -------
        dict
            Quantity → ``"log2 n"``, ``"zero"``, ``"H(X)"``, ``"H(Y)"``, ``"below 0"`` or None.

        Examples
        --------
        >>> from infoscope.estimators import MatrixRenyi
        >>> r = {"H(T)": Estimate(6.6435, "renyi", {"n_samples": 100}), "I(T;Y)": Estimate(1.0, "renyi", {"n_samples": 100})}
        >>> MatrixRenyi.saturation(r)
        {'H(T)': 'log2 n', 'I(T;Y)': 'log2 n'}
        >>> MatrixRenyi.saturation({"I(T;Y)": Estimate(3.43, "ksg", {})}, bounds={"I(T;Y)": 3.32})
        {'I(T;Y)': 'H(Y)'}
        """
        rule = cls.tags.saturation
        if rule == "zero":
            flags = {q: ("zero" if abs(r.value) <= tol else None) for q, r in results.items()}
        else:
            h = results.get(H_T)
            flag = None
            if h is not None and rule == "bounds":
                if _at_log2_n(h, tol):
                    flag = "log2 n"
                elif h.value <= tol:
                    flag = "zero"
            flags = {q: flag for q in results}
        for q, r in results.items():
            bound = (bounds or {}).get(q) if q in BOUND_NAMES else None
            if bound is not None and r.value >= bound - tol:
                flags[q] = BOUND_NAMES[q]  # the bound of this value itself: the more telling flag
            elif q in BOUND_NAMES and flags[q] is None and r.value < -tol:
                flags[q] = "below 0"
        return flags

    def value_flags(self, results: dict[str, Estimate], ctx: ProbeContext | None = None,
                    tol: float = SATURATION_TOLERANCE) -> dict[str, dict[str, Any]]:
        """The flags stored with each value: ``saturated`` (see :meth:`saturation`) and, for a
        value beyond its bound by more than ``tol``, ``past_bound``: how far, in bits (positive
        above an upper bound, negative below 0). Nothing is clipped."""
        bounds = self.bounds(ctx) if ctx is not None else {}
        flags = self.saturation(results, tol, bounds)
        return {q: _flag_params(r.value, flags[q], bounds.get(q), tol) for q, r in results.items()}

    def variants(self, scales: Sequence[float] = (0.5, 2.0)) -> list[Estimator]:
        """Copies with the setting the estimate is most sensitive to scaled by each factor.

        Binning: the number of bins; KDE: the noise variance; KSG: k; matrix Rényi: σ.
        Used for sensitivity bands.
        """
        return []

    # -- what subclasses implement -----------------------------------------------------
    @abstractmethod
    def _entropy(self, t: torch.Tensor) -> tuple[float, dict[str, Any]]:
        """Entropy in bits of validated samples ``t`` (N, ...), and the data-chosen parameters."""

    @abstractmethod
    def _mutual_information(
        self, tx: torch.Tensor, ty: torch.Tensor, x_labels: bool, y_labels: bool
    ) -> tuple[float, dict[str, Any]]:
        """I(tx; ty) in bits of a validated pair (either side may hold labels, not both unless
        ``labels_as_symbols`` is False), and the data-chosen parameters."""

    def _layer_information(self, t: torch.Tensor, ctx: ProbeContext) -> dict[str, Estimate]:
        """:meth:`layer_information` on one chunk (or the whole probe), of activations validated
        by the public method and a probe validated when it was prepared: nothing is checked again."""
        identity = self.input_mode == "identity"
        return {
            H_T: self._entropy_estimate(t),
            I_XT: self._mi_estimate(t, ctx.x_ids if identity else ctx.x, y_labels=identity),
            I_TY: self._mi_estimate(t, ctx.y, y_labels=not ctx.continuous_y),
        }

    # -- the shared machinery ------------------------------------------------------------
    def _entropy_estimate(self, t: torch.Tensor) -> Estimate:
        if self.labels_as_symbols and is_label_vector(t):
            value, chosen = plugin_entropy(as_labels(t)), {}
        else:
            value, chosen = self._entropy(t)
        return self._result(value, **chosen, n_samples=t.shape[0])

    def _mi_estimate(self, tx: torch.Tensor, ty: torch.Tensor, y_labels: bool) -> Estimate:
        x_labels = is_label_vector(tx)
        if self.labels_as_symbols and x_labels and y_labels:
            value, chosen = plugin_mutual_information(as_labels(tx, "x"), as_labels(ty)), {}
        else:
            value, chosen = self._mutual_information(tx, ty, x_labels, y_labels)
        return self._result(value, **chosen, y_discrete=y_labels, n_samples=tx.shape[0])

    def _chunked(self, n: int, fn: Any) -> dict[str, Estimate]:
        """``fn(idx)`` per chunk of ``chunk_size`` samples, averaged (``fn(None)`` unchunked)."""
        return in_chunks(chunk_indices(n, self.chunk_size), fn)

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


def _at_log2_n(est: Estimate, tol: float = SATURATION_TOLERANCE) -> bool:
    """Whether a value is within ``tol`` of log2 n, n the samples of one estimate (a chunk's
    when chunked): every sample resolved on its own."""
    n = est.params.get("n_samples", 0) / max(1, est.params.get("n_chunks", 1))
    return n > 1 and est.value >= math.log2(n) - tol


def _flag_params(value: float, flag: str | None, bound: float | None, tol: float = SATURATION_TOLERANCE) -> dict[str, Any]:
    """The stored flags of one value: ``saturated``, and ``bound_bits`` (the bound it sits at)
    and ``past_bound`` (bits beyond it: above an upper bound, or below 0) where they apply."""
    out: dict[str, Any] = {"saturated": flag}
    if flag in BOUND_NAMES.values() and bound is not None:
        out["bound_bits"] = bound
        if value > bound + tol:
            out["past_bound"] = value - bound
    elif flag == "below 0":
        out["past_bound"] = value
    return out
