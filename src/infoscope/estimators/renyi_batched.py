"""Matrix-Rényi H(T), I(X;T) and I(T;Y) of many sample sets of one probe at once: the units of
a layer, the whole layers of a record, the chunks of a probe; on the tensors' own device.

The single-layer path (:meth:`~.renyi.MatrixRenyi.layer_information`) builds one Gram per
sample set and takes two or three spectra. Here every sample set and every chunk is one
computation: M = sets × chunks distance matrices (M, n, n), every σ rule applied to all M at
once (the alignment search over its whole grid), Hadamard products with the chunk's input and
label Grams broadcast over the sets, and batched eigenvalue calls
(:func:`~.matrix_entropy.matrix_entropies`); class-block joint entropies go to the
eigensolver as one padded stack of small blocks (:func:`~.matrix_entropy.class_joint_entropies`).
The work is split into groups that fit a memory budget, each set costing what the estimator's
tags say (:meth:`~.base.Estimator.memory_bytes`).

The numbers are the single-layer path's (tested to 1e-9 bits in float64): the same centring,
product precision, σ rules, round-off threshold and chunk averaging (:mod:`.chunking`), with
one exception that each value states. Under ``unit_solver="auto"`` the units' S(T) and (with
class labels) S(T,Y) come from a pivoted Cholesky factor of their Gram
(:mod:`.low_rank_entropy`), so that every value is within ``unit_tolerance`` bits of the exact
spectra's. Each per-unit value then stores its ``spectrum`` ("low-rank" or "exact") and
``error_bound_bits``, the rigorous bound of its distance from the exact value (0 where every
spectrum was exact). S(X,T) stays exact: the Hadamard product with the input's Gram has no low
rank, and its N × N spectra are the floor of the per-unit cost.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any, Protocol

import torch

from ..errors import MemoryBudgetError
from .bandwidth import choose_sigmas
from .base import ProbeContext
from .chunking import chunk_indices, chunk_summary, merged_param
from .discrete import zero_if_round_off
from .estimate import H_T, I_TY, I_XT, Estimate
from .kernels import batched_squared_distances, normalize_gram, unit_trace
from .low_rank_entropy import LowRankEntropies
from .matrix_entropy import class_blocks, class_joint_entropies, matrix_entropies
from .units import unit_stack

__all__ = ["ProbeGrams", "RenyiSettings", "units_information", "layers_information", "CPU_GROUP_BYTES"]

#: Bytes of one group of sample sets on a CPU: enough matrices for every core's LAPACK call
#: (:func:`~.eigensolvers.symmetric_eigenvalues`) and few per-group steps; larger groups only
#: cost memory.
CPU_GROUP_BYTES = 2**27


@dataclasses.dataclass(frozen=True)
class ProbeGrams:
    """The Grams a probe shares with every layer and unit measured on it, and their entropies.

    Attributes
    ----------
    input_gram : torch.Tensor, shape (N, N)
        Gram of the network input X.
    input_sigma : float or list of float
        The σ it was built with.
    input_entropy : float
        S_α(X) in bits.
    label_gram : torch.Tensor, shape (N, N)
        Gram of the one-hot labels Y.
    label_sigma : float
    label_entropy : float
        S_α(Y) in bits.
    class_codes : torch.Tensor, shape (N,), or None
        The label codes when the label Gram is the class-equality Gram (joint entropies with
        it are then computed per class block); None otherwise.
    """

    input_gram: torch.Tensor
    input_sigma: Any
    input_entropy: float
    label_gram: torch.Tensor
    label_sigma: float
    label_entropy: float
    class_codes: torch.Tensor | None


class RenyiSettings(Protocol):
    """What this engine reads of a :class:`~.renyi.MatrixRenyi` (with the RBF kernel and exact
    eigenvalues)."""

    name: str
    alpha: float
    sigma_x: Any
    sigma_scale: float
    knn_k: int
    n_grid: int
    unit_solver: str
    unit_tolerance: float
    chunk_size: int | None

    def get_params(self) -> dict[str, Any]: ...

    def probe_grams(self, ctx: ProbeContext, device: torch.device) -> ProbeGrams: ...

    def memory_bytes(self, n: int, values: int, input_values: int = 0, with_probe: bool = True) -> int: ...


def units_information(
    est: RenyiSettings, t: torch.Tensor, ctx: ProbeContext, units: list[int], pooling: str, memory_budget: int
) -> list[dict[str, Estimate]]:
    """H(T), I(X;T), I(T;Y) of each chosen unit of layer activations ``t``, in bits.

    Parameters
    ----------
    est : MatrixRenyi
        With the RBF (tensor) kernel and exact eigenvalues.
    t : torch.Tensor, shape (N, U) or (N, C, ...)
    ctx : ProbeContext
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
    need = est.memory_bytes(n, width, with_probe=False)
    if units and need > memory_budget:
        raise MemoryBudgetError(
            f"one unit needs about {need / 2**20:.1f} MiB ({n} samples of {width} values, chunks of "
            f"{est.chunk_size or n}) but the memory budget is {memory_budget / 2**20:.1f} MiB; use chunk_size=100, "
            "unit_pooling='mean', a smaller probe, or a larger budget"
        )
    group = max(1, _group_budget(memory_budget, t.device) // need)
    out: list[dict[str, Estimate]] = []
    for start in range(0, len(units), group):
        stack = unit_stack(t, units[start : start + group], pooling)  # (G, N, d)
        g, d = stack.shape[0], stack.shape[-1]
        out += _estimates(est, ctx, g, t.device, lambda rows: (batched_squared_distances(stack[:, rows].flatten(0, 1)), d),
                          units=True)
    return out


def layers_information(
    est: RenyiSettings, layers: list[torch.Tensor], ctx: ProbeContext, memory_budget: int
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
    ctx : ProbeContext
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
    matrices = est.memory_bytes(n, 0, with_probe=False)  # one layer's n×n matrices, without its values
    out: list[dict[str, Estimate] | None] = [None] * len(flats)
    group: list[int] = []
    widest = 0  # bytes of the group's largest layer values (one layer's are held at a time)

    def flush() -> None:
        chosen = [flats[i] for i in group]
        dims = torch.tensor([f.shape[1] for f in chosen], dtype=torch.float64, device=chosen[0].device)
        for i, res in zip(group, _estimates(est, ctx, len(chosen), chosen[0].device, lambda rows: (
                torch.cat([batched_squared_distances(f[rows]) for f in chosen]), dims.repeat_interleave(rows.shape[0])))):
            out[i] = res
        group.clear()

    for i, f in enumerate(flats):
        values = est.memory_bytes(n, f.shape[1], with_probe=False) - matrices
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
    """Bytes one group may hold: on a CPU no more than :data:`CPU_GROUP_BYTES`."""
    return min(memory_budget, CPU_GROUP_BYTES) if device.type == "cpu" else memory_budget


def _estimates(
    est: RenyiSettings, ctx: ProbeContext, g: int, device: torch.device,
    distances: Callable[[torch.Tensor], tuple[torch.Tensor, int | torch.Tensor]], units: bool = False,
) -> list[dict[str, Estimate]]:
    """Estimates of G sample sets of the probe's N samples, given ``distances(rows)``: for row
    indices (C, n) of C chunks, the squared distances (G·C, n, n) ordered (set, chunk) and the
    values per sample of each (an int, or a tensor (G·C,)). ``units``: the sets are units (their
    S(T) may be low-rank, and each value states its spectrum and error bound)."""
    n = ctx.x.shape[0]
    idx = chunk_indices(n, est.chunk_size)
    contexts = ctx.chunks(est.chunk_size) if idx is not None else [ctx]
    idx = idx if idx is not None else [torch.arange(n)]
    grams = [est.probe_grams(chunk, device) for chunk in contexts]
    by_size: dict[int, list[int]] = {}
    for c, i in enumerate(idx):
        by_size.setdefault(len(i), []).append(c)
    parts: list[dict[str, Any]] = [{} for _ in idx]
    for members in by_size.values():  # chunks of one size: one computation
        rows = torch.stack([idx[c] for c in members]).to(device)
        sqd, d = distances(rows)
        values = _chunk_values(est, sqd, d, g, [grams[c] for c in members], units)
        for j, c in enumerate(members):
            parts[c] = {k: v[:, j] if isinstance(v, torch.Tensor) else (v[j] if isinstance(v, list) else v)
                        for k, v in values.items()}
    return _as_estimates(est, parts, g, len(idx) > 1, units)


def _low_rank_units(est: RenyiSettings) -> bool:
    """Whether units' S(T) may come from a pivoted Cholesky factor (:mod:`.low_rank_entropy`):
    under ``unit_solver="auto"`` with a tolerance, for α ≥ 1 (α < 1 has no bound of that kind)
    and not an integer α ≥ 2 (whose power sums need no spectrum at all)."""
    integer = float(est.alpha).is_integer() and est.alpha >= 2
    return est.unit_solver == "auto" and est.unit_tolerance > 0 and est.alpha >= 1.0 and not integer


def _exact_joint_entropies(est: RenyiSettings, kt: torch.Tensor, labels: torch.Tensor, codes: torch.Tensor | None, g: int) -> torch.Tensor:
    """S(T, Y) in bits (G·C,) of Grams kt (G·C, n, n) on C chunks with their label Grams, exactly:
    by class blocks where the label Gram is the class-equality one (``codes`` (C, n))."""
    c, n = labels.shape[0], kt.shape[-1]
    if codes is not None:
        return class_joint_entropies(kt.view(g, c, n, n), codes, est.alpha, est.unit_solver).reshape(g * c)
    kty = (kt.view(g, c, n, n) * labels[None]).view(g * c, n, n)
    return matrix_entropies(unit_trace(kty), est.alpha, est.unit_solver)


def _low_rank_unit_entropies(
    est: RenyiSettings, kt: torch.Tensor, labels: torch.Tensor, codes: torch.Tensor | None, g: int
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """S(T) and S(T, Y) in bits of unit Grams kt (G·C, n, n) from pivoted Cholesky factors
    (:class:`~.low_rank_entropy.LowRankEntropies`), each within half the tolerance, so that
    I(T;Y) = S(T) + S(Y) − S(T,Y) is within it; their error bounds; which sets were factorised.
    A Gram whose factor does not meet the tolerance by rank n/4 gets exact spectra (bounds 0)."""
    n = kt.shape[-1]
    lr = LowRankEntropies(kt, est.alpha, est.unit_tolerance / 2, max(1, n // 4))
    s_t, e_t = lr.entropies()
    if codes is not None:
        index, valid, _ = class_blocks(codes)
        s_ty, e_ty = lr.class_joint_entropies(index, valid)
    else:  # a label Gram with no class blocks: S(T, Y) exactly
        s_ty, e_ty = _exact_joint_entropies(est, kt, labels, None, g), torch.zeros_like(s_t)
    done = lr.done & torch.isfinite(s_t) & torch.isfinite(s_ty)
    if not bool(done.all()):
        exact_t = matrix_entropies(normalize_gram(kt[~done]), est.alpha, est.unit_solver)
        s_t, s_ty = s_t.clone(), torch.where(done, s_ty, _exact_joint_entropies(est, kt, labels, codes, g))
        s_t[~done] = exact_t
        e_t, e_ty = torch.where(done, e_t, 0.0), torch.where(done, e_ty, 0.0)
    return s_t, s_ty, e_t, e_ty, done


def _chunk_values(
    est: RenyiSettings, sqd: torch.Tensor, d: int | torch.Tensor, g: int, pgs: list[ProbeGrams], units: bool = False
) -> dict[str, Any]:
    """Entropies and widths of G sample sets on C chunks of one size, from their squared
    distances ``sqd`` (G·C, n, n) ordered (set, chunk) and values per sample ``d`` (an int or
    one per matrix): tensors (G, C) and per-chunk lists. ``units``: S(T) of the sets may be
    low-rank (:func:`_low_rank_units`)."""
    c, n, device = len(pgs), sqd.shape[-1], sqd.device
    labels = torch.stack([pg.label_gram.to(device) for pg in pgs])  # (C, n, n)
    spec = est.sigma_x
    if isinstance(spec, str):
        target = (labels[0] if c == 1 else labels) if spec == "alignment" else None  # set (u, chunk j) takes labels[j]
        sigma, edge = choose_sigmas(spec, d, sqd, target, est.knn_k, est.n_grid)
    else:
        sigma, edge = torch.full((g * c,), float(spec), dtype=torch.float64, device=device), None
    sigma = sigma * est.sigma_scale
    kt = torch.exp_(sqd.div_(-2.0 * sigma[:, None, None] ** 2))  # in place: the distances are done with
    del sqd
    inputs = torch.stack([pg.input_gram.to(device) for pg in pgs])  # (C, n, n)
    kxt = (kt.view(g, c, n, n) * inputs[None]).view(g * c, n, n)
    codes = torch.stack([pg.class_codes.to(device) for pg in pgs]) if all(pg.class_codes is not None for pg in pgs) else None
    if units and _low_rank_units(est):
        s_t, s_ty, e_t, e_ty, low_rank = _low_rank_unit_entropies(est, kt, labels, codes, g)
        s_xt = matrix_entropies(kxt, est.alpha, est.unit_solver)  # a non-integer α: the trace need not be one
        del kxt
    else:  # S(T) and S(X, T) in one eigenvalue call
        both = torch.cat((normalize_gram(kt), unit_trace(kxt)))
        del kxt
        s_t, s_xt = matrix_entropies(both, est.alpha, est.unit_solver).split(g * c)
        del both
        s_ty = _exact_joint_entropies(est, kt, labels, codes, g)
        e_t, e_ty, low_rank = torch.zeros_like(s_t), torch.zeros_like(s_t), torch.zeros_like(s_t, dtype=torch.bool)
    shape = (g, c)
    return {"s_t": s_t.view(shape), "s_xt": s_xt.view(shape), "s_ty": s_ty.reshape(shape), "sigma": sigma.view(shape),
            "e_t": e_t.view(shape), "e_ty": e_ty.view(shape), "low_rank": low_rank.view(shape),
            "edge": None if edge is None else edge.view(shape), "n": [n] * c,
            "s_x": [pg.input_entropy for pg in pgs], "s_y": [pg.label_entropy for pg in pgs],
            "sigma_input": [pg.input_sigma for pg in pgs], "sigma_y": [pg.label_sigma for pg in pgs]}


def _spectrum_params(errors: list[float], low_rank: list[bool]) -> dict[str, Any]:
    """What a unit's value states of its spectra: ``spectrum`` (how S(T) and S(T,Y) were taken)
    and ``error_bound_bits`` (the mean of the chunks' bounds, as the value is the mean of theirs)."""
    used = sum(low_rank)
    path = ("exact" if not used else "low-rank" if used == len(low_rank)
            else f"low-rank in {used} of {len(low_rank)} chunks")
    return {"spectrum": path, "error_bound_bits": float(sum(errors) / len(errors))}


def _as_estimates(
    est: RenyiSettings, parts: list[dict[str, Any]], g: int, chunked: bool, units: bool = False
) -> list[dict[str, Estimate]]:
    """Per-set Estimates from per-chunk tensors, averaged over chunks as
    :func:`~.chunking.average_estimates` does (one transfer to the host); ``units``: each value
    also states its S(T)'s spectrum and error bound (:func:`_spectrum_params`)."""
    vals = {q: torch.stack([p[k] for p in parts], dim=1) for q, k in ((H_T, "s_t"), ("xt", "s_xt"), ("ty", "s_ty"))}
    s_x = torch.tensor([p["s_x"] for p in parts], dtype=torch.float64, device=vals[H_T].device)
    s_y = torch.tensor([p["s_y"] for p in parts], dtype=torch.float64, device=vals[H_T].device)
    per_chunk = {H_T: vals[H_T], I_XT: zero_if_round_off(s_x[None] + vals[H_T] - vals["xt"]),
                 I_TY: zero_if_round_off(vals[H_T] + s_y[None] - vals["ty"])}
    sigma = torch.stack([p["sigma"] for p in parts], dim=1)
    edges = None if parts[0]["edge"] is None else torch.stack([p["edge"] for p in parts], dim=1).any(dim=1)
    host = {q: v.cpu().tolist() for q, v in per_chunk.items()}
    e_t, e_ty = (torch.stack([p[k] for p in parts], dim=1) for k in ("e_t", "e_ty"))
    s_t_errors = e_t.cpu().tolist()
    errors = {H_T: s_t_errors, I_XT: s_t_errors, I_TY: (e_t + e_ty).cpu().tolist()}  # S(X), S(Y), S(X,T) exact
    low_rank = torch.stack([p["low_rank"] for p in parts], dim=1).cpu().tolist()
    sig = sigma.cpu().tolist()
    edge_list = edges.cpu().tolist() if edges is not None else None
    base = est.get_params()
    sizes = [p["n"] for p in parts]
    shared_input = merged_param([p["sigma_input"] for p in parts])
    shared_label = merged_param([p["sigma_y"] for p in parts])
    out = []
    for u in range(g):
        chosen: dict[str, Any] = {"sigma_x": merged_param(sig[u])}
        if edge_list is not None:
            chosen["sigma_x_at_grid_edge"] = bool(edge_list[u])
        extra = {H_T: {}, I_XT: {"sigma_input": shared_input}, I_TY: {"sigma_y": shared_label}}
        row = {}
        for q in (H_T, I_XT, I_TY):
            v = host[q][u]
            params = {**base, **chosen, **extra[q], "n_samples": sum(sizes)}
            if units:
                params.update(_spectrum_params(errors[q][u], low_rank[u]))
            if chunked:
                mean, summary = chunk_summary(v, sizes)
                params.update(summary)
            else:
                mean = v[0]
            row[q] = Estimate(value=float(mean), method=est.name, params=params)
        out.append(row)
    return out
