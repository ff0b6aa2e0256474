"""What a trained experiment model shows beyond its stored numbers, and the analysis of a run with it.

The pure analysis (:mod:`infoscope.analysis`) reads stored tables only. Here a model is pushed
through its train probe: :func:`unit_health_warnings` finds dead and saturated units and
:func:`unit_redundancy` scores every pair of units of a layer, together
:class:`~infoscope.analysis.ModelFindings` (:func:`findings_of`). The runner stores them when a
run ends; :func:`analyze_run` rebuilds an experiment run's final model
(:func:`~.trained.load_trained`), joins its findings with the analysis and, if asked, stores
both with the run, so that the report and ``infoscope serve`` render stored data only.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch

from ..analysis import WARNING_PREFIX, Analysis, ModelFindings, analyze, redundant_pairs
from ..capture import probe_activations
from ..inputs import ModelInputs, attention_mask
from ..layouts import LayerLayout
from ..estimators.bandwidth import silverman_sigma
from ..estimators.kernels import normalize_gram, rbf_gram, squared_distances
from ..estimators.matrix_entropy import matrix_entropy, matrix_joint_entropy
from ..labels import layer_labels
from ..store import Store, opened
from .trained import load_trained

__all__ = ["unit_redundancy", "unit_health_warnings", "findings_of", "model_findings", "stored_layouts", "analyze_run"]

#: Layers with more units than this are not scored pair by pair (the pairs grow as U²).
MAX_PAIRWISE_UNITS = 128


def unit_redundancy(acts: torch.Tensor) -> np.ndarray:
    """Pairwise redundancy of the units of one layer, r_ij = I(u_i; u_j) / min(I(u_i; u_i), I(u_j; u_j)).

    Each unit (a neuron, or a conv channel's spatial mean), standardised, gets an RBF Gram
    with a Silverman σ; entropies are matrix-based with α = 2 (no eigensolver, so all pairs are
    cheap). The normaliser is what a perfect copy would score under the same kernel (with an
    RBF kernel I(u;u) < S(u)), so r is 1 for units that are affine copies of each other and
    near 0 for unrelated units. Constant units (S = 0) get r = NaN.

    Parameters
    ----------
    acts : torch.Tensor, shape (N, U) or (N, U, ...)

    Returns
    -------
    numpy.ndarray, shape (U, U)

    Examples
    --------
    >>> g = torch.Generator().manual_seed(0)
    >>> a = torch.randn(200, 1, generator=g)
    >>> acts = torch.cat([a, 2 * a + 1, torch.randn(200, 1, generator=g)], dim=1)
    >>> r = unit_redundancy(acts)
    >>> bool(r[0, 1] > 0.99), bool(r[0, 2] < 0.5)
    (True, True)
    """
    n, u = acts.shape[0], acts.shape[1]
    grams, ents = [], []
    for j in range(u):
        # a conv channel is summarised by its spatial mean: whole H×W maps are so high-dimensional
        # that every Gram approaches the identity and all pairs would look alike
        flat = acts[:, j].reshape(n, -1).to(torch.float64).mean(dim=1, keepdim=True)
        # standardise so that a unit and an affine copy of it get the same Gram
        std = flat.std(dim=0, keepdim=True)
        flat = (flat - flat.mean(dim=0, keepdim=True)) / torch.where(std > 0, std, torch.ones_like(std))
        k = rbf_gram(squared_distances(flat), silverman_sigma(flat))
        grams.append(k)
        ents.append(matrix_entropy(normalize_gram(k), 2.0))
    # what a perfect copy scores: with an RBF kernel I(u; u) = 2 S(u) − S(u, u) < S(u)
    self_info = [2 * ents[j] - matrix_joint_entropy(grams[j], grams[j], alpha=2.0) for j in range(u)]
    r = np.full((u, u), np.nan)
    for i in range(u):
        for j in range(i, u):
            m = min(self_info[i], self_info[j])
            if min(ents[i], ents[j]) <= 1e-9 or m <= 1e-9:
                continue
            mi = ents[i] + ents[j] - matrix_joint_entropy(grams[i], grams[j], alpha=2.0)
            r[i, j] = r[j, i] = mi / m
    return r


def unit_health_warnings(acts: dict[str, torch.Tensor], kinds: dict[str, str], saturation: float = 0.99,
                         share: float = 0.5, labels: dict[str, str] | None = None) -> list[tuple[int | None, str, str]]:
    """Dead ReLU units (zero on every probe sample) and saturated tanh/sigmoid units
    (beyond ``saturation`` of their range on more than ``share`` of the samples).

    Parameters
    ----------
    acts : dict
        Layer → activations (N, U, ...) of the final model on the probe.
    kinds : dict
        Layer → module class name (``"ReLU"``, ``"Tanh"``, …).
    labels : dict, optional
        Layer → how messages name it (default: its name).
    """
    labels = labels or {}
    out = []
    for layer, t in acts.items():
        if t.ndim < 2:
            continue
        flat = t.reshape(t.shape[0], t.shape[1], -1)
        kind = kinds.get(layer, "")
        if kind in ("ReLU", "ReLU6", "LeakyReLU"):
            dead = [int(u) for u in torch.nonzero((flat <= 0).all(dim=2).all(dim=0)).flatten()]
            if dead:
                out.append((None, layer, f"{len(dead)} of {t.shape[1]} units of layer {labels.get(layer, layer)} are dead (zero on every probe sample): {dead[:20]}"))
        elif kind in ("Tanh", "Sigmoid", "Hardtanh"):
            lo, hi = (-1.0, 1.0) if kind != "Sigmoid" else (0.0, 1.0)
            mid, half = (hi + lo) / 2, (hi - lo) / 2
            frac = ((flat - mid).abs() >= saturation * half).float().mean(dim=(0, 2))
            sat = [int(u) for u in torch.nonzero(frac > share).flatten()]
            if sat:
                out.append((None, layer, f"{len(sat)} of {t.shape[1]} units of layer {labels.get(layer, layer)} are saturated "
                                         f"(|a| ≥ {saturation} of range on > {int(share * 100)}% of samples): {sat[:20]}"))
    return out


def findings_of(model: torch.nn.Module, x: torch.Tensor | ModelInputs, layers: pd.DataFrame, threshold: float = 0.9,
                layouts: dict[str, LayerLayout] | None = None) -> ModelFindings:
    """Unit health and redundant unit pairs (r ≥ ``threshold``) of ``model`` on probe inputs
    ``x``; hidden layers only, up to :data:`MAX_PAIRWISE_UNITS` units each.

    Parameters
    ----------
    model : torch.nn.Module
    x : torch.Tensor, shape (N, ...), or ModelInputs
        The run's train probe inputs.
    layers : DataFrame
        The run's layers (``Store.layers``), in forward order.
    threshold : float
    layouts : dict of str to LayerLayout, optional
        The run's layer layouts (the recorder's, or :func:`stored_layouts`): a sequence's units
        are its features, its padding left out, as in the recorded values.
    """
    order = list(layers.name)
    acts = probe_activations(model, x, order)
    mask = attention_mask(x)
    acts = {k: (layouts[k].view(t, mask) if layouts and k in layouts else t) for k, t in acts.items()}
    warnings = unit_health_warnings(acts, dict(zip(layers.name, layers.kind)), labels=layer_labels(layers))
    pairs = {layer: redundant_pairs(unit_redundancy(acts[layer]), threshold) for layer in order[:-1]
             if acts[layer].ndim >= 2 and acts[layer].shape[1] <= MAX_PAIRWISE_UNITS}
    return ModelFindings(warnings, pairs)


def model_findings(store: Store, run: str, threshold: float = 0.9) -> tuple[ModelFindings, int | None]:
    """:func:`findings_of` the final model of an experiment run, rebuilt from the store, on its
    train probe, and the epoch of that model.

    A run whose model cannot be rebuilt (not an experiment run, or no stored weights) gives
    findings that say why (``unavailable``) and no epoch.
    """
    try:
        trained = load_trained(store, run)
    except ValueError as exc:
        return ModelFindings(unavailable=str(exc)), None
    layouts = stored_layouts(store.run_info(run).get("config", {}))
    return findings_of(trained.model, trained.probes[0].x, store.layers(run), threshold, layouts), trained.epoch


def stored_layouts(config: dict[str, Any]) -> dict[str, LayerLayout]:
    """The layer layouts a run's config stored (empty for runs recorded before layouts were)."""
    return {name: LayerLayout(v["layout"], v.get("reason", "stored"), v.get("token_pooling"), v.get("heads"))
            for name, v in (config.get("layouts") or {}).items()}


def analyze_run(
    store: Store | str | Path, run: str, *, redundancy_threshold: float = 0.9, save: bool = True, **options
) -> Analysis:
    """:func:`~infoscope.analysis.analyze` with the trained model's findings; with ``save`` the
    findings are stored with the run (the report and ``serve`` show them) and the run's stored
    analysis warnings are replaced by this analysis's.

    Parameters
    ----------
    store : Store or path
        An existing database.
    run : str
    redundancy_threshold : float
        r = I(u_i;u_j)/min(S_i, S_j) at or above which two units count as redundant.
    save : bool
    **options
        ``window``, ``rtol``, ``atol``, ``fraction`` of :func:`~infoscope.analysis.analyze`.
    """
    with opened(store, writable=save) as st:
        findings, epoch = model_findings(st, run, redundancy_threshold)
        result = analyze(st, run, findings=findings, **options)
        if save:
            writer = st.writer(run)
            if findings.unavailable is None:
                writer.write_findings(findings.to_dict(), epoch)
            writer.replace_warnings(WARNING_PREFIX, result.warnings)
    return result
