"""How wrong each estimator is at a given sample size and dimension: ground truth from Gaussians.

A layer of D values measured on N probe samples is a setting where an estimator can be far off
(KSG is accurate up to 5+5 dimensions and fails at 25+25; binning saturates at log2 N). This
module draws pairs (X, Y) of D dimensions each whose mutual information is known exactly, and
reports every estimator's value beside it:

* **dense**: every coordinate pair (x_i, y_i) correlated with the same ρ, the total MI set to
  ``target_bits``; **sparse**: two pairs carry it all (the setting where KSG fails);
* each then mixed by random orthogonal maps (products of Householder reflections), which leave
  MI unchanged; the **transformed** variants apply the invertible sinh to every coordinate,
  which also leaves it unchanged.

For jointly Gaussian pairs with independent coordinate pairs, I(X;Y) = −½ Σ_i log2(1 − ρ_i²)
bits. Matrix-based Rényi MI is not a Shannon quantity: its value is shown next to the Shannon
MI so that the gap is visible, not as an error.

The second suite, :func:`calibrate_beyond_normal`, runs estimators on the 40 tasks of the
"Beyond Normal" benchmark (:mod:`~infoscope.beyond_normal`) and counts, as the benchmark's
users do, the tasks where an estimate is within 0.1 nats or 10 % of the truth.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence

import numpy as np
import pandas as pd

from .estimators import Estimator, make_estimator

__all__ = ["CASES", "SUITES", "gaussian_pair", "calibrate", "calibration_records", "calibrate_beyond_normal",
           "within_tolerance", "suite_summary"]

#: The calibration suites of ``infoscope calibrate --suite``.
SUITES = ("gaussian", "beyond-normal")

#: The distributions: (correlation, transformed).
CASES = {"dense": ("dense", False), "sparse": ("sparse", False), "dense-sinh": ("dense", True), "sparse-sinh": ("sparse", True)}


def gaussian_pair(n: int, d: int, correlation: str = "sparse", transform: bool = False, target_bits: float = 2.0,
                  seed: int = 0) -> tuple[np.ndarray, np.ndarray, float]:
    """N samples of a pair (X, Y) of D dimensions each with known mutual information.

    Parameters
    ----------
    n, d : int
    correlation : {"dense", "sparse"}
        Every coordinate pair shares the information, or two pairs carry all of it (one when
        d = 1).
    transform : bool
        Apply sinh to every coordinate (invertible: MI unchanged).
    target_bits : float
        The mutual information, in bits.
    seed : int

    Returns
    -------
    x, y : numpy.ndarray, shape (n, d)
    bits : float
        The true I(X;Y) in bits.

    Examples
    --------
    >>> x, y, bits = gaussian_pair(5000, 1, target_bits=1.0)
    >>> bits, round(float(np.corrcoef(x[:, 0], y[:, 0])[0, 1]), 2)   # ρ = √(1 − 2^−2) ≈ 0.87
    (1.0, 0.87)
    """
    rng = np.random.default_rng(seed)
    k = d if correlation == "dense" else min(2, d)
    rho = math.sqrt(1.0 - 2.0 ** (-2.0 * target_bits / k))
    x = rng.standard_normal((n, d))
    y = rng.standard_normal((n, d))
    y[:, :k] = rho * x[:, :k] + math.sqrt(1.0 - rho**2) * y[:, :k]
    x, y = _rotate(x, rng), _rotate(y, rng)
    if transform:
        x, y = np.sinh(x), np.sinh(y)
    bits = -0.5 * k * math.log2(1.0 - rho**2)
    return x, y, bits


def _rotate(z: np.ndarray, rng: np.random.Generator, reflections: int = 4) -> np.ndarray:
    """``z`` times a random orthogonal matrix, a product of Householder reflections (O(n·d) each)."""
    for _ in range(reflections if z.shape[1] > 1 else 0):
        v = rng.standard_normal(z.shape[1])
        v /= np.linalg.norm(v)
        z = z - 2.0 * np.outer(z @ v, v)
    return z


def calibrate(estimators: Sequence[str | Estimator], n: int, d: int, cases: Sequence[str] = tuple(CASES),
              target_bits: float = 2.0, seed: int = 0) -> pd.DataFrame:
    """Every estimator on every case at N samples of D + D dimensions.

    Returns
    -------
    DataFrame
        Columns n, d, case, estimator, true_bits, value_bits, error_bits (value − truth, NaN for
        matrix Rényi, which is not a Shannon estimate), shannon.

    Examples
    --------
    >>> t = calibrate(["ksg"], n=2000, d=1, cases=["sparse"], target_bits=1.0)
    >>> bool(abs(t.error_bits.iloc[0]) < 0.1)
    True
    """
    rows = []
    ests = [make_estimator(e) if isinstance(e, str) else e for e in estimators]
    for case in cases:
        if case not in CASES:
            raise ValueError(f"unknown calibration case {case!r}; choose from {', '.join(CASES)}")
        correlation, transform = CASES[case]
        x, y, bits = gaussian_pair(n, d, correlation, transform, target_bits, seed)
        for est in ests:
            value = float(est.mutual_information(x, y, discrete_y=False))
            shannon = est.tags.shannon
            rows.append({"n": n, "d": d, "case": case, "estimator": est.name, "true_bits": bits, "value_bits": value,
                         "error_bits": value - bits if shannon else float("nan"), "shannon": shannon})
    return pd.DataFrame(rows)


def calibration_records(estimators: Sequence[Estimator], settings: Sequence[tuple[int, int]], seed: int = 0) -> list[dict]:
    """:func:`calibrate` at each (N, D) setting, as plain records to store with a run."""
    frames = [calibrate(estimators, n, d, seed=seed) for n, d in dict.fromkeys(settings)]
    return pd.concat(frames).to_dict("records") if frames else []


def within_tolerance(value_nats: float, true_nats: float, absolute: float = 0.1, relative: float = 0.1) -> bool:
    """Whether an estimate is within ``absolute`` nats or ``relative`` of the truth (the
    benchmark's criterion: 0.1 nats or 10 %).

    Examples
    --------
    >>> within_tolerance(1.55, 1.62), within_tolerance(0.25, 0.41)
    (True, False)
    """
    return abs(value_nats - true_nats) <= max(absolute, relative * abs(true_nats))


def calibrate_beyond_normal(estimators: Sequence[str | Estimator], n: int = 2000, seed: int = 0,
                            tasks: Sequence[str] | None = None,
                            on_task: Callable[[int, int, str], None] | None = None) -> pd.DataFrame:
    """Every estimator on every task of the Beyond Normal benchmark at ``n`` samples.

    Parameters
    ----------
    estimators : sequence of str or Estimator
    n : int
        Samples per task (the benchmark's figures use 5,000; 2,000 here by default).
    seed : int
        Seed of every task's samples (the same samples for every estimator).
    tasks : sequence of str, optional
        Task names (:func:`~infoscope.beyond_normal.task_names`); default all 40.
    on_task : callable, optional
        Called as ``on_task(done, total, name)`` before each task (progress).

    Returns
    -------
    DataFrame
        One row per (task, estimator): task, dim_x, dim_y, estimator (its name and the
        parameters it was given), true_nats, value_nats, error_nats, within (0.1 nats or
        10 %), seconds.

    Examples
    --------
    >>> t = calibrate_beyond_normal(["gaussian"], n=2000, tasks=["Normal 5 × 5 (2-pair)"])
    >>> bool(t.within.iloc[0]), round(float(t.true_nats.iloc[0]), 3)
    (True, 1.022)
    """
    from . import beyond_normal

    ests = [make_estimator(e) if isinstance(e, str) else e for e in estimators]
    labels = [estimator_label(e) for e in ests]
    chosen = list(beyond_normal.TASKS) if tasks is None else [beyond_normal.task(name) for name in tasks]
    rows = []
    for i, task in enumerate(chosen):
        if on_task is not None:
            on_task(i, len(chosen), task.name)
        x, y = beyond_normal.sample(task, n, seed)
        for est, label in zip(ests, labels):
            start = time.perf_counter()
            value = float(est.mutual_information(x, y, discrete_y=False)) * math.log(2.0)
            rows.append({"task": task.name, "dim_x": task.dim_x, "dim_y": task.dim_y, "estimator": label,
                         "true_nats": task.mi_nats, "value_nats": value, "error_nats": value - task.mi_nats,
                         "within": within_tolerance(value, task.mi_nats), "seconds": time.perf_counter() - start})
    if on_task is not None:
        on_task(len(chosen), len(chosen), "done")
    return pd.DataFrame(rows)


def estimator_label(est: Estimator) -> str:
    """An estimator's name with the parameters that differ from its defaults, e.g.
    ``gaussian(copula=True)``."""
    defaults = type(est)().get_params()
    changed = {k: v for k, v in est.get_params().items() if v != defaults.get(k)}
    return est.name + (f"({', '.join(f'{k}={v!r}' for k, v in changed.items())})" if changed else "")


def suite_summary(table: pd.DataFrame, reference: str = "ksg") -> pd.DataFrame:
    """Per estimator of a :func:`calibrate_beyond_normal` table: tasks within tolerance, median
    absolute error (nats), seconds per task, and that time as a multiple of ``reference``'s
    (where it was run)."""
    summary = table.groupby("estimator", sort=False).agg(
        within=("within", "sum"), tasks=("within", "size"), median_abs_error_nats=("error_nats", lambda e: e.abs().median()),
        seconds_per_task=("seconds", "mean"))
    ref = summary.seconds_per_task.get(reference)
    summary["time_vs_" + reference] = summary.seconds_per_task / ref if ref else float("nan")
    return summary.reset_index()
