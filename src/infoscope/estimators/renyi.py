"""The matrix-based Rényi α-entropy estimator (Giraldo, Rao & Príncipe 2015), :class:`MatrixRenyi`.

Kernels (built in :mod:`.grams`): ``"rbf"`` is the tensor kernel of Wickstrøm et al. (an RBF
on the flattened sample, one σ per layer); ``"multivariate"`` is Yu et al.'s per-channel
product, which equals the tensor kernel when all channels share one σ and saturates towards
log2 N as the number of channels grows.

The entropies of Gram matrices are :mod:`.matrix_entropy`'s; the values of many sample sets at
once (units, layers, chunks) are :mod:`.renyi_batched`'s. This module holds the estimator: its
parameters, the single-layer path and the probe's shared Grams (:class:`ProbeGrams`).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from typing import Any, ClassVar

import numpy as np
import torch

from .._validation import as_labels, check_choice, check_interval, check_positive, check_same_length, check_samples, check_whole
from .base import H_T, I_TY, I_XT, Estimate, Estimator, ProbeContext
from .discrete import zero_if_round_off
from .eigensolvers import SOLVERS
from .grams import DEFAULT_LABEL_SIGMA, KERNELS, SigmaSpec, check_sigma_spec, is_rule, sample_gram
from .kernels import hadamard_normalize, normalize_gram, token_gram
from .lanczos import slq_entropy
from .matrix_entropy import check_alpha, class_joint_entropy, matrix_entropy, spectrum_entropy
from .renyi_batched import ProbeGrams, layers_information, units_information
from .tags import EstimatorTags

__all__ = ["MatrixRenyi", "ProbeGrams"]


@dataclasses.dataclass
class MatrixRenyi(Estimator):
    """Matrix-based Rényi α-entropy estimator with RBF / tensor / multivariate kernels.

    Parameters
    ----------
    alpha : float, default 1.01
        Order α > 0 (1: von Neumann; 2: Frobenius, no eigensolver).
    sigma_x : float, str or sequence of float, default "silverman"
        Kernel width for ``x``: a number, a rule (``"silverman"``, ``"knn"``,
        ``"alignment"``), or with ``kernel="multivariate"`` one number per channel.
    sigma_y : float, str, sequence or None, default None
        Kernel width for ``y``. None: 0.1 for class labels (RBF on one-hot codes), otherwise
        the rule of ``sigma_x`` (``"silverman"`` if ``sigma_x`` is a number or ``"alignment"``).
    kernel : {"rbf", "multivariate"}, default "rbf"
        ``"rbf"`` is the tensor kernel on the whole flattened sample. ``"multivariate"`` is a
        product of per-channel Grams over axis 1 (Yu et al. 2019).
    sigma_scale : float, default 1.0
        Factor applied to every σ of ``x`` after it is fixed or chosen by a rule (used by
        sensitivity sweeps: the same rule at half or twice the width).
    sigma_input : float or str, default "silverman"
        Kernel width of the network input X in :meth:`layer_information` (the layer itself
        uses ``sigma_x``, chosen with the labels as target when it is ``"alignment"``).
    knn_k : int, default 10
        Neighbour rank of the ``"knn"`` rule.
    approx : {None, "slq"}, default None
        None: exact eigenvalues. ``"slq"``: deflated stochastic Lanczos quadrature
        (:func:`~infoscope.estimators.lanczos.slq_entropy`) for large N, with
        ``approx_probes`` random vectors, ``approx_steps`` Lanczos steps, the top
        ``approx_deflate`` eigen-directions handled deterministically, and ``random_state``.
        Measured at N = 10,000 (defaults 10 probes × 20 steps, k = 16): about 12× faster than
        exact and within 0.01 bits (``python -m benchmarks --full``). Class-block joint
        entropies stay exact.
    n_grid : int, default 50
        Grid size of the ``"alignment"`` rule.
    chunk_size : int, optional
        Estimate on consecutive chunks of this many samples and average, as Wickstrøm et al.
        do on minibatches of 100 (see :mod:`.chunking`). The cost falls from O(N³) to
        O(N·B²); each value is then a B-sample estimate (at most log2 B bits) averaged over
        N/B chunks, recorded with ``n_chunks`` and ``chunk_std``. None: the whole sample.
    unit_solver : {"auto", "eigh", "bisection"}, default "auto"
        How the batched per-unit path (:meth:`units_information`) gets its spectra: the
        framework's eigensolver, or Householder tridiagonalisation and Sturm bisection as
        batched tensor operations (:mod:`.tridiagonal`), which keeps a GPU busy with thousands
        of small matrices at once. Within 1e-9 bits of each other (bound in that module).
        "auto": bisection for large batches of spectra on a GPU (the units of a layer), the
        eigensolver on a CPU, where it is faster, and for few matrices (a layer's chunks), where
        the reduction's many small steps cost more than they save. Under "auto" each unit's
        S(T) and S(T,Y) also come from a pivoted Cholesky factor of its Gram, within
        ``unit_tolerance`` bits (:mod:`.low_rank_entropy`); "eigh" and "bisection" take every
        spectrum exactly.
    unit_tolerance : float, default 0.01
        Bits: the largest error a per-unit value may have under ``unit_solver="auto"``. Each
        per-unit value stores its ``spectrum`` ("low-rank" or "exact") and
        ``error_bound_bits``, a rigorous bound of its distance from the exact value. A unit
        whose Gram needs a rank above N/4 for it, α < 1, and integer α ≥ 2 get exact spectra.
        0: exact everywhere.

    Notes
    -----
    With a Gram whose Hadamard square is a multiple of itself (class labels, the identity,
    all ones) I(X;X) = S(X) exactly. With an RBF kernel the joint Gram of (X, X) is the RBF at
    σ/√2, so I(X;X) = 2 S(X) − S(X, X) ≤ S(X), equal only in the limits σ → 0 and σ → ∞.

    For α near 1 the mutual information is non-negative; for α far from 1 (say 2 or 0.5) a
    matrix-based Rényi MI can come out slightly negative on small or degenerate samples
    (tenths of a bit were seen at N ≈ 10): it is not a Shannon quantity.

    ``sigma_x`` and ``sigma_y`` in results are the σ actually used (a list per channel for the
    multivariate kernel). A fixed σ only means something for a given input scale: for inputs
    in [0, 1] such as MNIST pixels, Wickstrøm et al. fix σ = 8 in their convention, i.e.
    8/√2 ≈ 5.66 in ours.

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> y = rng.integers(0, 4, 400)
    >>> x = y[:, None] + 0.1 * rng.normal(size=(400, 2))
    >>> est = MatrixRenyi(sigma_x="alignment")
    >>> round(est.mutual_information(x, y), 2)   # close to H(Y) = 2 bits
    2.0
    """

    name: ClassVar[str] = "renyi"
    input_mode: ClassVar[str] = "values"
    labels_as_symbols: ClassVar[bool] = False  # labels get an RBF kernel on their one-hot codes
    tags: ClassVar[EstimatorTags] = EstimatorTags(
        shannon=False, square_matrices=8, probe_matrices=4, sample_copies=2, input_copies=2,
        resolution="kernel width σ", resolution_short="σ", unit_pooling="map", batches_layers=True, batches_units=True,
        continuous_targets=True,
    )

    alpha: float = 1.01
    sigma_x: SigmaSpec = "silverman"
    sigma_y: SigmaSpec = None
    kernel: str = "rbf"
    sigma_scale: float = 1.0
    sigma_input: SigmaSpec = "silverman"
    knn_k: int = 10
    n_grid: int = 50
    approx: str | None = None
    approx_probes: int = 10
    approx_steps: int = 20
    approx_deflate: int = 16
    random_state: int = 0
    chunk_size: int | None = None
    unit_solver: str = "auto"
    unit_tolerance: float = 0.01

    def __post_init__(self) -> None:
        self.alpha = check_alpha(self.alpha)
        check_choice(self.kernel, "kernel", KERNELS)
        check_sigma_spec(self.sigma_x, "sigma_x")
        if self.sigma_y is not None:
            check_sigma_spec(self.sigma_y, "sigma_y")
        check_sigma_spec(self.sigma_input, "sigma_input")
        self.sigma_scale = check_positive(self.sigma_scale, "sigma_scale")
        if is_rule(self.sigma_input, "alignment"):
            raise ValueError("sigma_input cannot be 'alignment' (the input is not aligned to labels); use a number, 'silverman' or 'knn'")
        self.knn_k = check_whole(self.knn_k, "knn_k", 1)
        self.n_grid = check_whole(self.n_grid, "n_grid", 2)
        self.chunk_size = check_whole(self.chunk_size, "chunk_size", 2, none_ok=True)
        if self.approx is not None:
            check_choice(self.approx, "approx", ("slq",))
        check_choice(self.unit_solver, "unit_solver", SOLVERS)
        self.unit_tolerance = check_interval(self.unit_tolerance, "unit_tolerance", 0.0, 1.0, closed_high=True)
        self.approx_probes = check_whole(self.approx_probes, "approx_probes", 1)
        self.approx_steps = check_whole(self.approx_steps, "approx_steps", 2)
        self.approx_deflate = check_whole(self.approx_deflate, "approx_deflate", 0)

    def _matrix_entropy(self, a: torch.Tensor) -> float:
        """S_α of a unit-trace matrix: exact, or by stochastic Lanczos quadrature."""
        if self.approx == "slq" and not (float(self.alpha).is_integer() and self.alpha >= 2):
            return slq_entropy(a, self.alpha, self.approx_probes, self.approx_steps, self.random_state, self.approx_deflate)
        return matrix_entropy(a, self.alpha)

    def gram(
        self, t: torch.Tensor, sigma: SigmaSpec, target: torch.Tensor | None = None, labels: bool | None = None,
        scale: float = 1.0,
    ) -> tuple[torch.Tensor, Any, Any]:
        """Gram matrix of samples ``t`` under this estimator's kernel, the σ used and whether an
        aligned σ sits on its grid's edge (:func:`~infoscope.estimators.grams.sample_gram`)."""
        return sample_gram(t, sigma, kernel=self.kernel, target=target, labels=labels, scale=scale,
                           knn_k=self.knn_k, n_grid=self.n_grid)

    # -- the estimator interface (validation, labels and chunks are the base class's) -----
    def _entropy(self, t: torch.Tensor) -> tuple[float, dict[str, Any]]:
        """Matrix-based entropy S_α of ``t`` in bits (0 to log2 N), with the σ used."""
        k, s, _ = self.gram(t, self.sigma_x, scale=self.sigma_scale)
        return self._matrix_entropy(normalize_gram(k)), {"sigma_x": s}

    def _mutual_information(self, tx, ty, x_labels: bool, y_labels: bool) -> tuple[float, dict[str, Any]]:
        """Matrix-based Rényi I_α(x; y) in bits, with ``sigma_x`` and ``sigma_y`` as used."""
        sigma_y = self.sigma_y
        if sigma_y is None:
            sigma_y = self.sigma_x if isinstance(self.sigma_x, str) and self.sigma_x != "alignment" else "silverman"
        if is_rule(self.sigma_x, "alignment") and is_rule(sigma_y, "alignment") and not y_labels:
            raise ValueError(
                "sigma_x and sigma_y cannot both be 'alignment': each needs the other's Gram as "
                "target; fix one of them (a number, 'knn' or 'silverman')"
            )
        if is_rule(sigma_y, "alignment") and not y_labels:
            kx, sx, ex = self.gram(tx, self.sigma_x, scale=self.sigma_scale)
            ky, sy, ey = self.gram(ty, sigma_y, target=kx, labels=False)
        else:
            ky, sy, ey = self.gram(ty, sigma_y, labels=y_labels)
            kx, sx, ex = self.gram(tx, self.sigma_x, target=ky, scale=self.sigma_scale)
        if y_labels and _is_class_equality(sy):
            codes = torch.as_tensor(as_labels(ty), device=kx.device)
            value = (self._matrix_entropy(normalize_gram(kx)) + class_joint_entropy(torch.ones_like(kx), codes, self.alpha)
                     - class_joint_entropy(kx, codes, self.alpha))
        else:
            value = (self._matrix_entropy(normalize_gram(kx)) + self._matrix_entropy(normalize_gram(ky))
                     - self._matrix_entropy(hadamard_normalize(kx, ky)))
        value = zero_if_round_off(value)
        edges = {k: v for k, v in (("sigma_x_at_grid_edge", ex), ("sigma_y_at_grid_edge", ey)) if v is not None}
        return value, {"sigma_x": sx, "sigma_y": sy, **edges}

    def _layer_information(self, tt: torch.Tensor, ctx: ProbeContext) -> dict[str, Estimate]:
        """H(T), I(X;T), I(T;Y) of one chunk with the probe's Grams shared across layers.

        The input Gram (σ from ``sigma_input``) and the label Gram (σ from ``sigma_y``, 0.1 by
        default) are built once per probe (:class:`ProbeGrams`); the layer's σ comes from
        ``sigma_x`` with the label Gram as the ``"alignment"`` target, and the same layer Gram
        serves all three values.
        """
        pg = self.probe_grams(ctx, tt.device)
        kt, st, edge = self.gram(tt, self.sigma_x, target=pg.label_gram, labels=False, scale=self.sigma_scale)
        chosen = {"sigma_x": st} if edge is None else {"sigma_x": st, "sigma_x_at_grid_edge": edge}
        s_t = self._matrix_entropy(normalize_gram(kt))
        s_ty = (class_joint_entropy(kt, pg.class_codes, self.alpha) if pg.class_codes is not None
                else self._matrix_entropy(hadamard_normalize(kt, pg.label_gram)))
        s_xt = self._matrix_entropy(hadamard_normalize(pg.input_gram, kt))
        n = tt.shape[0]
        return {
            H_T: self._result(s_t, n_samples=n, **chosen),
            I_XT: self._result(zero_if_round_off(pg.input_entropy + s_t - s_xt), sigma_input=pg.input_sigma, n_samples=n, **chosen),
            I_TY: self._result(zero_if_round_off(s_t + pg.label_entropy - s_ty), sigma_y=pg.label_sigma, n_samples=n, **chosen),
        }

    def _batches(self) -> bool:
        """Whether the batched engine (:mod:`.renyi_batched`) computes these settings: the RBF
        (tensor) kernel, exact eigenvalues and one σ (a number or a rule)."""
        return self.kernel == "rbf" and self.approx is None and isinstance(self.sigma_x, (str, int, float))

    def units_information(
        self, t: torch.Tensor, ctx: ProbeContext, units: list[int], pooling: str = "map", memory_budget: int | None = None
    ) -> list[dict[str, Estimate]]:
        """Per-unit H(T), I(X;T), I(T;Y) of layer activations ``t``, all units in one batched
        computation (:mod:`.renyi_batched`) for the RBF kernel with exact eigenvalues; other
        settings go unit by unit (see :meth:`Estimator.units_information`)."""
        if not self._batches() or not units:
            return super().units_information(t, ctx, units, pooling, memory_budget)
        tt = check_samples(t, "layer activations")
        check_same_length(tt, ctx.x, ("layer activations", "probe inputs"))
        return units_information(self, tt, ctx, list(units), pooling, memory_budget or _DEFAULT_UNIT_MEMORY)

    def layers_information(
        self, layers: Sequence[Any], ctx: ProbeContext, memory_budget: int | None = None
    ) -> list[dict[str, Estimate]]:
        """Whole-layer H(T), I(X;T), I(T;Y) of several layers, all in one batched computation
        (:func:`.renyi_batched.layers_information`) for the RBF kernel with exact eigenvalues;
        other settings, and a layer too big for the budget on its own, go layer by layer."""
        tts = [check_samples(t, "layer activations") for t in layers]
        for tt in tts:
            check_same_length(tt, ctx.x, ("layer activations", "probe inputs"))
        if not self._batches() or len(tts) < 2 or len({tt.device for tt in tts}) > 1:
            return [self._chunked_layer_information(tt, ctx) for tt in tts]
        done = layers_information(self, tts, ctx, memory_budget or _DEFAULT_UNIT_MEMORY)
        return [r if r is not None else self._chunked_layer_information(tt, ctx) for r, tt in zip(done, tts)]

    def _chunked_layer_information(self, tt: torch.Tensor, ctx: ProbeContext) -> dict[str, Estimate]:
        """On chunks, all chunks of the layer are one batched computation when it fits in memory
        (:mod:`.renyi_batched`); otherwise chunk by chunk."""
        n = tt.shape[0]
        if self._batches() and self.chunk_size is not None and n > self.chunk_size:
            done = layers_information(self, [tt], ctx, _DEFAULT_UNIT_MEMORY)[0]
            if done is not None:
                return done
        return super()._chunked_layer_information(tt, ctx)

    def probe_grams(self, ctx: ProbeContext, device: torch.device) -> ProbeGrams:
        """The probe's input and label Grams and entropies under this estimator, cached on the probe."""
        key = ("renyi", repr(self.sigma_input), repr(self.sigma_y), self.kernel, self.knn_k, self.alpha)
        if key not in ctx.cache:
            if ctx.tokens:  # token ids: the normalised Hamming kernel, no width
                kx, sx = token_gram(ctx.x.to(device)), "hamming"
            else:
                kx, sx, _ = self.gram(ctx.x.to(device), self.sigma_input, labels=False)
            codes = ctx.y.to(device)
            if ctx.continuous_y:  # a regression target: an RBF kernel on its values (σ by its rule)
                ky, sy, _ = self.gram(codes, self.sigma_y if self.sigma_y is not None else "silverman", labels=False)
            else:
                ky, sy, _ = self.gram(codes, self.sigma_y if self.sigma_y is not None else DEFAULT_LABEL_SIGMA, labels=True)
            blocks = not ctx.continuous_y and _is_class_equality(sy)
            s_y = class_joint_entropy(torch.ones_like(ky), codes, self.alpha) if blocks else self._matrix_entropy(normalize_gram(ky))
            ctx.cache[key] = ProbeGrams(kx, sx, self._matrix_entropy(normalize_gram(kx)), ky, sy, s_y, codes if blocks else None)
        return ctx.cache[key]

    def bounds(self, ctx: ProbeContext) -> dict[str, float | None]:
        """S(X) and S(Y), the matrix entropies of the probe's input and labels: I(X;T) ≤ S(X) and
        I(T;Y) ≤ S(Y), since a Hadamard product's entropy is at least each factor's. Chunked
        estimates (whose probe Gram is never built whole) get only S(Y), from the class shares."""
        n = ctx.x.shape[0]
        if self.chunk_size is None or n <= self.chunk_size:
            pg = self.probe_grams(ctx, ctx.x.device)
            return {I_XT: pg.input_entropy, I_TY: pg.label_entropy}
        if ctx.continuous_y:
            return {I_XT: None, I_TY: None}
        shares = torch.bincount(ctx.y).double() / n  # the spectrum of the normalised class-equality Gram
        return {I_XT: None, I_TY: spectrum_entropy(shares[shares > 0], self.alpha) if self.sigma_y is None else None}

    def variants(self, scales: Sequence[float] = (0.5, 2.0)) -> list[Estimator]:
        """The same estimator with σ of ``x`` scaled by each factor (sensitivity sweeps)."""
        return [dataclasses.replace(self, sigma_scale=self.sigma_scale * f) for f in scales]

    @classmethod
    def resolution_value(cls, params: dict[str, Any]) -> float | None:
        """The layer's σ (the mean over channels for the multivariate kernel)."""
        s = params.get("sigma_x")
        return float(np.mean(s)) if s is not None else None

    def scale_invariant(self) -> bool:
        """True where σ of the layer comes from a rule on its own distances (Silverman, k-NN,
        alignment): σ scales with the layer. False for a fixed σ."""
        return self.width_rule() is not None

    def width_rule(self) -> str | None:
        """The σ rule of ``x`` (``"silverman"``, ``"knn"``, ``"alignment"``), or None for a fixed σ."""
        return self.sigma_x if isinstance(self.sigma_x, str) else None

    def with_width(self, width: float) -> MatrixRenyi:
        """The same estimator with σ of ``x`` fixed at ``width`` (no further scaling)."""
        return dataclasses.replace(self, sigma_x=float(width), sigma_scale=1.0)


#: Bytes the batched computation may hold when no budget is given.
_DEFAULT_UNIT_MEMORY = 2**30

#: Below this off-class label-kernel value the class-block shortcut is exact to double precision.
_BLOCK_THRESHOLD = 1e-30


def _is_class_equality(label_sigma: float) -> bool:
    """Whether the label Gram at this σ is the class-equality Gram to double precision, so that
    joint entropies with it split into per-class blocks."""
    return math.exp(-1.0 / label_sigma**2) < _BLOCK_THRESHOLD
