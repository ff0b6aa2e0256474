"""Matrix-based Rényi values of every unit of a layer, or of every layer of a record, at once,
on the tensors' own device.

Per unit, :meth:`MatrixRenyi.layer_information` builds one Gram and takes two or three
spectra. Here all units (and all chunks of the probe, when ``batch_size`` is set) are one
computation (:func:`units_information`), and so are the whole layers of one record, each with
its own distances (:func:`layers_information`): M = sets × chunks distance matrices (M, n, n),
every σ rule applied to all M at once (the alignment search over its whole grid), Hadamard
products with the chunk's input and label Grams broadcast over the sets, and batched
eigenvalue calls; class-block joint entropies go to the eigensolver as one padded stack of
small blocks. The work is split into groups that fit ``memory_budget``.

The numbers are the per-unit path's (tested to 1e-9 bits in float64): the same centring,
product precision, σ rules, round-off threshold and chunk averaging.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import torch

from ..errors import MemoryBudgetError
from .bandwidth import choose_sigmas
from .base import H_T, I_TY, I_XT, Estimate, ProbeContext
from .chunking import chunk_indices
from .discrete import ROUND_OFF
from .eigensolvers import symmetric_eigenvalues
from .kernels import batched_squared_distances
from .units import unit_stack

if TYPE_CHECKING:
    from .renyi import MatrixRenyi, ProbeGrams

__all__ = ["units_information", "layers_information", "matrix_entropies", "class_joint_entropies", "unit_bytes"]

#: Class blocks up to this size always use the framework's eigensolver (batched Jacobi on a GPU).
_SMALL_BLOCK = 32

#: Bytes of one group of units on a CPU.
_CPU_GROUP_BYTES = 2**26

#: N×N float64 matrices alive at once per unit and chunk (distances, Gram, normalised Gram,
#: Hadamard product, the eigensolver's copy and workspace, alignment scores).
_LIVE_MATRICES = 8


def unit_bytes(n_samples: int, values_per_unit: int, chunk: int | None) -> int:
    """Peak bytes to estimate one unit: its chunks' n×n matrices and its float64 values."""
    n = min(chunk or n_samples, n_samples)
    chunks = max(1, n_samples // n)
    return 8 * (_LIVE_MATRICES * chunks * n * n + 2 * n_samples * values_per_unit)


def _spectrum_entropies(lam: torch.Tensor, keep: torch.Tensor, alpha: float) -> torch.Tensor:
    """S_α in bits of each row of kept eigenvalues ``lam`` (M, K), normalised to sum to one."""
    lam = torch.where(keep, lam, torch.zeros_like(lam))
    lam = lam / lam.sum(dim=-1, keepdim=True)
    if alpha == 1.0:
        safe = torch.where(lam > 0, lam, torch.ones_like(lam))
        h = -(lam * torch.log2(safe)).sum(dim=-1)
    else:
        h = torch.log2((lam**alpha).sum(dim=-1)) / (1.0 - alpha)
    return _zero_if_round_off(h)


def _power_entropies(power_sum: torch.Tensor, alpha: float) -> torch.Tensor:
    return _zero_if_round_off(torch.log2(power_sum) / (1.0 - alpha))


def _zero_if_round_off(h: torch.Tensor) -> torch.Tensor:
    """:func:`~.discrete.zero_if_round_off` of every entropy in ``h``."""
    return torch.where((h > -ROUND_OFF) & (h <= 0.0), torch.zeros_like(h), h)


def _integer_power_sum(a: torch.Tensor, alpha: int) -> torch.Tensor:
    return (a * a).sum(dim=(-2, -1)) if alpha == 2 else torch.linalg.matrix_power(a, alpha).diagonal(dim1=-2, dim2=-1).sum(-1)


def matrix_entropies(a: torch.Tensor, alpha: float, solver: str = "eigh") -> torch.Tensor:
    """Matrix-based Rényi entropies in bits of M unit-trace matrices (M, n, n) → (M,).

    Eigenvalues below n · eps · λ_max of their matrix count as zeros; integer α ≥ 2 uses
    tr(A^α) without an eigensolver, as :func:`~infoscope.estimators.renyi.matrix_entropy`.
    ``solver`` is ``"eigh"``, ``"bisection"`` (:mod:`.tridiagonal`) or ``"auto"`` (bisection for
    at least 256 matrices on a GPU).
    """
    if float(alpha).is_integer() and alpha >= 2:
        return _power_entropies(_integer_power_sum(a, int(alpha)), alpha)
    lam = symmetric_eigenvalues((a + a.transpose(-2, -1)) / 2, solver)
    tol = a.shape[-1] * torch.finfo(torch.float64).eps * lam.abs().amax(dim=-1, keepdim=True)
    return _spectrum_entropies(lam, lam > tol, alpha)


def _class_blocks(codes: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Positions of each class's samples in every chunk, padded to one shape.

    ``codes`` (C, n) → index (C, B, m), validity (C, B, m) and block sizes (C, B) (0 for padding).
    """
    chunks, n = codes.shape
    found = [torch.unique(c, return_counts=True)[1] for c in codes]
    b_max, m_max = max(len(f) for f in found), int(max(int(f.max()) for f in found))
    index = torch.zeros(chunks, b_max, m_max, dtype=torch.long, device=codes.device)
    valid = torch.zeros(chunks, b_max, m_max, dtype=torch.bool, device=codes.device)
    sizes = torch.zeros(chunks, b_max, dtype=torch.long, device=codes.device)
    slot = torch.arange(m_max, device=codes.device)
    for c, counts in enumerate(found):
        order = torch.argsort(codes[c], stable=True)
        starts = torch.cumsum(counts, 0) - counts
        ok = slot[None, :] < counts[:, None]
        rows = order[(starts[:, None] + slot[None, :]).clamp(max=n - 1)]
        index[c, : len(counts)] = torch.where(ok, rows, torch.zeros_like(rows))
        valid[c, : len(counts)] = ok
        sizes[c, : len(counts)] = counts
    return index, valid, sizes


def class_joint_entropies(k: torch.Tensor, codes: torch.Tensor, alpha: float, solver: str = "eigh") -> torch.Tensor:
    """Joint entropies S_α(K, Y) in bits of Grams with the class-equality Gram of their chunk's labels.

    Parameters
    ----------
    k : torch.Tensor, shape (G, C, n, n)
        Grams of G units on each of C chunks.
    codes : torch.Tensor, shape (C, n)
        Each chunk's class labels.

    Returns
    -------
    torch.Tensor, shape (G, C)
        As :func:`~infoscope.estimators.renyi.class_joint_entropy` of each: the spectra of the
        class blocks, solved as one padded stack of small matrices.
    """
    index, valid, sizes = _class_blocks(codes)
    chunk = torch.arange(codes.shape[0], device=k.device)[:, None, None, None]
    blocks = k[:, chunk, index[:, :, :, None], index[:, :, None, :]]  # (G, C, B, m, m)
    blocks = blocks * (valid[:, :, :, None] & valid[:, :, None, :]).to(k.dtype)
    total = torch.diagonal(k, dim1=-2, dim2=-1).sum(-1)  # (G, C)
    if float(alpha).is_integer() and alpha >= 2:
        sums = _integer_power_sum(blocks / total[:, :, None, None, None], int(alpha)).sum(dim=-1)
        return _power_entropies(sums, alpha)
    # blocks of up to 32 go to the framework's batched Jacobi solver, the fastest for them everywhere
    lam = symmetric_eigenvalues((blocks + blocks.transpose(-2, -1)) / 2, solver if blocks.shape[-1] > _SMALL_BLOCK else "eigh")
    tol = sizes[None, :, :, None].to(lam.dtype) * torch.finfo(torch.float64).eps * lam.abs().amax(dim=-1, keepdim=True)
    return _spectrum_entropies(lam.flatten(-2), (lam > tol).flatten(-2), alpha)


def units_information(
    est: MatrixRenyi, t: torch.Tensor, probe: ProbeContext, units: list[int], pooling: str, memory_budget: int
) -> list[dict[str, Estimate]]:
    """H(T), I(X;T), I(T;Y) of each chosen unit of layer activations ``t``, in bits.

    Parameters
    ----------
    est : MatrixRenyi
        With the RBF (tensor) kernel and exact eigenvalues.
    t : torch.Tensor, shape (N, U) or (N, C, ...)
    probe : ProbeContext
    units : list of int
    pooling : {"map", "mean", "max"}
    memory_budget : int
        Bytes the computation may hold at once; units are processed in groups that fit.

    Returns
    -------
    list of dict
        Per unit, ``{"H(T)": Estimate, "I(X;T)": Estimate, "I(T;Y)": Estimate}``.

    Raises
    ------
    MemoryBudgetError
        If not even one unit fits.
    """
    n = t.shape[0]
    width = unit_stack(t[:1], [units[0]], pooling).shape[-1] if units else 1
    need = unit_bytes(n, width, est.batch_size)
    if units and need > memory_budget:
        raise MemoryBudgetError(
            f"one unit needs about {need / 2**20:.1f} MiB ({n} samples of {width} values, chunks of "
            f"{est.batch_size or n}) but the memory budget is {memory_budget / 2**20:.1f} MiB; use batch_size=100, "
            "unit_pooling='mean', a smaller probe, or a larger budget"
        )
    # on a CPU, groups larger than its caches only cost memory: LAPACK solves one matrix at a time
    group = max(1, _group_budget(memory_budget, t.device) // need)
    out: list[dict[str, Estimate]] = []
    for start in range(0, len(units), group):
        stack = unit_stack(t, units[start : start + group], pooling)  # (G, N, d)
        g, d = stack.shape[0], stack.shape[-1]
        out += _estimates(est, probe, g, t.device, lambda rows: (batched_squared_distances(stack[:, rows].flatten(0, 1)), d))
    return out


def layers_information(
    est: MatrixRenyi, layers: list[torch.Tensor], probe: ProbeContext, memory_budget: int
) -> list[dict[str, Estimate] | None]:
    """H(T), I(X;T), I(T;Y) of several whole layers at once, in bits.

    Each layer is flattened to (N, D_l) and gets its own distances; from there the layers
    are one computation (σ rules, Grams, spectra, one transfer to the host), so a record of
    many layers costs a few large batched calls instead of a few small calls per layer.

    Parameters
    ----------
    est : MatrixRenyi
    layers : list of torch.Tensor, each shape (N, ...)
        Activations of the same N probe samples, on one device.
    probe : ProbeContext
    memory_budget : int
        Bytes the computation may hold at once; layers are processed in groups that fit.

    Returns
    -------
    list
        Per layer, ``{"H(T)": Estimate, "I(X;T)": Estimate, "I(T;Y)": Estimate}`` equal to
        :meth:`~infoscope.estimators.renyi.MatrixRenyi.layer_information`, or None for a layer
        that does not fit the budget on its own (to be measured by itself).
    """
    n = layers[0].shape[0]
    flats = [t.reshape(n, -1) for t in layers]
    budget = _group_budget(memory_budget, layers[0].device)
    matrices = unit_bytes(n, 0, est.batch_size)  # one layer's n×n matrices, without its values
    out: list[dict[str, Estimate] | None] = [None] * len(flats)
    group: list[int] = []
    widest = 0  # bytes of the group's largest layer values (one layer's are held at a time)

    def flush() -> None:
        chosen = [flats[i] for i in group]
        dims = torch.tensor([f.shape[1] for f in chosen], dtype=torch.float64, device=chosen[0].device)
        for i, res in zip(group, _estimates(est, probe, len(chosen), chosen[0].device, lambda rows: (
                torch.cat([batched_squared_distances(f[rows]) for f in chosen]), dims.repeat_interleave(rows.shape[0])))):
            out[i] = res
        group.clear()

    for i, f in enumerate(flats):
        values = unit_bytes(n, f.shape[1], est.batch_size) - matrices
        if matrices + values > memory_budget:
            continue  # too big for the batched path: measured by itself
        if group and matrices * (len(group) + 1) + max(widest, values) > budget:
            flush()
            widest = 0
        group.append(i)
        widest = max(widest, values)
    if group:
        flush()
    return out


def _group_budget(memory_budget: int, device: torch.device) -> int:
    """Bytes one group may hold: on a CPU no more than a cache-sized share, as LAPACK solves one
    matrix at a time and larger groups only cost memory."""
    return min(memory_budget, _CPU_GROUP_BYTES) if device.type == "cpu" else memory_budget


def _estimates(
    est: MatrixRenyi, probe: ProbeContext, g: int, device: torch.device,
    distances: Callable[[torch.Tensor], tuple[torch.Tensor, int | torch.Tensor]],
) -> list[dict[str, Estimate]]:
    """Estimates of G sample sets of the probe's N samples, given ``distances(rows)``: for row
    indices (C, n) of C chunks, the squared distances (G·C, n, n) ordered (set, chunk) and the
    values per sample of each (an int, or a tensor (G·C,))."""
    n = probe.x.shape[0]
    idx = chunk_indices(n, est.batch_size)
    contexts = probe.chunks(est.batch_size) if idx is not None else [probe]
    idx = idx if idx is not None else [torch.arange(n)]
    grams = [est.probe_grams(ctx, device) for ctx in contexts]
    by_size: dict[int, list[int]] = {}
    for c, i in enumerate(idx):
        by_size.setdefault(len(i), []).append(c)
    parts: list[dict[str, Any]] = [{} for _ in idx]
    for members in by_size.values():  # chunks of one size: one computation
        rows = torch.stack([idx[c] for c in members]).to(device)
        sqd, d = distances(rows)
        values = _chunk_values(est, sqd, d, g, [grams[c] for c in members])
        for j, c in enumerate(members):
            parts[c] = {k: v[:, j] if isinstance(v, torch.Tensor) else (v[j] if isinstance(v, list) else v)
                        for k, v in values.items()}
    return _as_estimates(est, parts, g, len(idx) > 1)


def _chunk_values(est: MatrixRenyi, sqd: torch.Tensor, d: int | torch.Tensor, g: int, pgs: list[ProbeGrams]) -> dict[str, Any]:
    """Entropies and widths of G sample sets on C chunks of one size, from their squared
    distances ``sqd`` (G·C, n, n) ordered (set, chunk) and values per sample ``d`` (an int or
    one per matrix): tensors (G, C) and per-chunk lists."""
    c, n, device = len(pgs), sqd.shape[-1], sqd.device
    labels = torch.stack([pg.label_gram.to(device) for pg in pgs])  # (C, n, n)
    spec = est.sigma_x
    if isinstance(spec, str):
        target = labels.expand(g, c, n, n).reshape(g * c, n, n) if spec == "alignment" else None
        sigma, edge = choose_sigmas(spec, d, sqd, target, est.knn_k, est.n_grid)
    else:
        sigma, edge = torch.full((g * c,), float(spec), dtype=torch.float64, device=device), None
    sigma = sigma * est.sigma_scale
    kt = torch.exp(sqd / (-2.0 * sigma[:, None, None] ** 2))
    del sqd
    diag = torch.sqrt(torch.diagonal(kt, dim1=1, dim2=2))
    inputs = torch.stack([pg.input_gram.to(device) for pg in pgs])  # (C, n, n)
    kxt = (kt.view(g, c, n, n) * inputs[None]).view(g * c, n, n)
    # S(T) and S(X, T) in one eigenvalue call
    both = torch.cat((kt / (diag[:, :, None] * diag[:, None, :]) / n,
                      kxt / torch.diagonal(kxt, dim1=1, dim2=2).sum(-1)[:, None, None]))
    del kxt
    s_t, s_xt = matrix_entropies(both, est.alpha, est.unit_solver).split(g * c)
    del both
    if all(pg.class_codes is not None for pg in pgs):
        codes = torch.stack([pg.class_codes.to(device) for pg in pgs])
        s_ty = class_joint_entropies(kt.view(g, c, n, n), codes, est.alpha, est.unit_solver)
    else:
        kty = (kt.view(g, c, n, n) * labels[None]).view(g * c, n, n)
        s_ty = matrix_entropies(kty / torch.diagonal(kty, dim1=1, dim2=2).sum(-1)[:, None, None], est.alpha, est.unit_solver)
    shape = (g, c)
    return {"s_t": s_t.view(shape), "s_xt": s_xt.view(shape), "s_ty": s_ty.reshape(shape), "sigma": sigma.view(shape),
            "edge": None if edge is None else edge.view(shape), "n": [n] * c,
            "s_x": [pg.input_entropy for pg in pgs], "s_y": [pg.label_entropy for pg in pgs],
            "sigma_input": [pg.input_sigma for pg in pgs], "sigma_y": [pg.label_sigma for pg in pgs]}


def _as_estimates(est: MatrixRenyi, parts: list[dict[str, Any]], g: int, chunked: bool) -> list[dict[str, Estimate]]:
    """Per-unit Estimates from per-chunk tensors, averaged over chunks as
    :func:`~infoscope.estimators.chunking.average_estimates` does (one transfer to the host)."""
    vals = {q: torch.stack([p[k] for p in parts], dim=1) for q, k in ((H_T, "s_t"), ("xt", "s_xt"), ("ty", "s_ty"))}
    s_x = torch.tensor([p["s_x"] for p in parts], dtype=torch.float64, device=vals[H_T].device)
    s_y = torch.tensor([p["s_y"] for p in parts], dtype=torch.float64, device=vals[H_T].device)
    per_chunk = {H_T: vals[H_T], I_XT: s_x[None] + vals[H_T] - vals["xt"], I_TY: vals[H_T] + s_y[None] - vals["ty"]}
    sigma = torch.stack([p["sigma"] for p in parts], dim=1)
    edges = None if parts[0]["edge"] is None else torch.stack([p["edge"] for p in parts], dim=1).any(dim=1)
    host = {q: v.cpu().tolist() for q, v in per_chunk.items()}
    sig = sigma.cpu().tolist()
    edge_list = edges.cpu().tolist() if edges is not None else None
    base = est.get_params()
    sizes = [p["n"] for p in parts]
    shared_input = _shared(p["sigma_input"] for p in parts)
    shared_label = _shared(p["sigma_y"] for p in parts)
    out = []
    for u in range(g):
        chosen: dict[str, Any] = {"sigma_x": _shared(sig[u])}
        if edge_list is not None:
            chosen["sigma_x_at_grid_edge"] = bool(edge_list[u])
        extra = {H_T: {}, I_XT: {"sigma_input": shared_input}, I_TY: {"sigma_y": shared_label}}
        row = {}
        for q in (H_T, I_XT, I_TY):
            v = host[q][u]
            params = {**base, **chosen, **extra[q], "n_samples": sum(sizes)}
            if chunked:
                mean = sum(v) / len(v)
                params.update(n_batches=len(v), batch_std=math.sqrt(sum((x - mean) ** 2 for x in v) / max(1, len(v) - 1)))
            else:
                mean = v[0]
            row[q] = Estimate(value=float(mean), method=est.name, params=params)
        out.append(row)
    return out


def _shared(values) -> Any:
    """One value if all are equal, else their mean (as chunk averaging does)."""
    values = list(values)
    if all(v == values[0] for v in values):
        return values[0]
    return float(sum(values) / len(values))
