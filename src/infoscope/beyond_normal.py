"""The 40 tasks of the "Beyond Normal" benchmark (Czyż et al., NeurIPS 2023), with their true MI.

Each task is a distribution of a pair (X, Y) whose mutual information is known in closed form,
generated here from the published definitions (NumPy and SciPy only: no JAX, nothing
downloaded). The families:

* **multivariate normal**: *dense* (every pair of the D_X + D_Y coordinates correlated 0.5) and
  *2-pair* (sparse: (X₁, Y₁) and (X₂, Y₂) correlated 0.8, nothing else), and the bivariate
  normal with ρ = 0.75; I = ½ log(det Σ_XX det Σ_YY / det Σ).
* **Student-t** with the identity dispersion and ν degrees of freedom: uncorrelated, yet
  dependent through the shared scale; I = h_ν(D_X) + h_ν(D_Y) − h_ν(D_X + D_Y), with h_ν(k) the
  differential entropy of a standard k-dimensional Student-t (Arellano-Valle et al. 2013).
* **additive noise**: X ~ U(0, 1), Y = X + U(−ε, ε), I = 1/(4ε) for ε > ½ (ε − log 2ε else).
* **transforms that leave MI unchanged**, applied to the tasks above: the normal CDF, the
  half-cube x·√|x| and asinh on every coordinate; the 1-D *wiggly* maps; the *spiral*
  x ↦ R(‖x‖²/D) x, a rotation in one coordinate plane by an angle that grows with the squared
  norm; the *bimodal* inverse CDFs of two Gaussian mixtures; and the *Swiss roll*, a 1-D
  uniform X embedded in 2-D.

Every task's samples are finally standardised per coordinate (an affine map), as the benchmark
does. MI is in nats here, as in the benchmark; :func:`sample` gives bits as well.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable

import numpy as np
from scipy import stats
from scipy.special import digamma, gammaln, ndtr

__all__ = ["Task", "TASKS", "task", "task_names", "sample", "student_t_mi", "normal_mi"]

Sampler = Callable[[int, np.random.Generator], tuple[np.ndarray, np.ndarray]]
Transform = Callable[[np.ndarray], np.ndarray]


@dataclasses.dataclass(frozen=True)
class Task:
    """One benchmark task: its name, dimensions, true MI (nats) and how to draw it."""

    name: str
    dim_x: int
    dim_y: int
    mi_nats: float
    draw: Sampler

    @property
    def family(self) -> str:
        """The outermost transform or base family (the name up to its first space)."""
        return self.name.split(" ")[0]


# -- base distributions ---------------------------------------------------------------------------
def normal_mi(cov: np.ndarray, dim_x: int) -> float:
    """I(X;Y) in nats of a joint normal with covariance ``cov`` split after ``dim_x`` coordinates.

    Examples
    --------
    >>> round(normal_mi(np.array([[1.0, 0.75], [0.75, 1.0]]), 1), 4)   # −½ log(1 − ρ²)
    0.4133
    """
    logdet = lambda m: np.linalg.slogdet(m)[1]  # noqa: E731
    return 0.5 * float(logdet(cov[:dim_x, :dim_x]) + logdet(cov[dim_x:, dim_x:]) - logdet(cov))


def _student_entropy(k: int, dof: float) -> float:
    """Differential entropy (nats) of a standard k-dimensional Student-t with ``dof`` degrees of freedom."""
    half = 0.5 * (dof + k)
    return float(-gammaln(half) + gammaln(0.5 * dof) + 0.5 * k * math.log(dof * math.pi)
                 + half * (digamma(half) - digamma(0.5 * dof)))


def student_t_mi(dim_x: int, dim_y: int, dof: float) -> float:
    """I(X;Y) in nats of a Student-t with identity dispersion, split after ``dim_x`` coordinates.

    Examples
    --------
    >>> round(student_t_mi(1, 1, 1), 4)   # the bivariate Cauchy
    0.2242
    """
    return _student_entropy(dim_x, dof) + _student_entropy(dim_y, dof) - _student_entropy(dim_x + dim_y, dof)


def _normal(cov: np.ndarray, dim_x: int) -> Sampler:
    chol = np.linalg.cholesky(cov)

    def draw(n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        z = rng.standard_normal((n, cov.shape[0])) @ chol.T
        return z[:, :dim_x], z[:, dim_x:]
    return draw


def _dense(dim_x: int, dim_y: int) -> tuple[np.ndarray, str]:
    d = dim_x + dim_y
    return 0.5 * np.eye(d) + 0.5 * np.ones((d, d)), f"Normal {dim_x} × {dim_y} (dense)"


def _two_pair(dim_x: int, dim_y: int) -> tuple[np.ndarray, str]:
    cov = np.eye(dim_x + dim_y)
    for i in range(2):
        cov[i, dim_x + i] = cov[dim_x + i, i] = 0.8
    return cov, f"Normal {dim_x} × {dim_y} (2-pair)"


def normal_task(kind: str, dim_x: int, dim_y: int) -> Task:
    """A dense or 2-pair multinormal task."""
    cov, name = (_dense if kind == "dense" else _two_pair)(dim_x, dim_y)
    return Task(name, dim_x, dim_y, normal_mi(cov, dim_x), _normal(cov, dim_x))


def bivariate_normal(rho: float = 0.75) -> Task:
    """The bivariate normal with correlation ``rho``."""
    cov = np.array([[1.0, rho], [rho, 1.0]])
    return Task("Normal 1 × 1", 1, 1, normal_mi(cov, 1), _normal(cov, 1))


def student_task(dim_x: int, dim_y: int, dof: int) -> Task:
    """Student-t with identity dispersion."""
    def draw(n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        z = stats.multivariate_t.rvs(loc=np.zeros(dim_x + dim_y), shape=np.eye(dim_x + dim_y), df=dof, size=n,
                                     random_state=rng).reshape(n, dim_x + dim_y)
        return z[:, :dim_x], z[:, dim_x:]
    return Task(f"Student-t {dim_x} × {dim_y} (dof={dof})", dim_x, dim_y, student_t_mi(dim_x, dim_y, dof), draw)


def additive_noise(epsilon: float = 0.75) -> Task:
    """X ~ U(0, 1), Y = X + U(−ε, ε)."""
    def draw(n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        x = rng.uniform(0.0, 1.0, (n, 1))
        return x, x + rng.uniform(-epsilon, epsilon, (n, 1))
    mi = 0.25 / epsilon if epsilon > 0.5 else epsilon - math.log(2 * epsilon)
    return Task(f"Uniform 1 × 1 (additive noise={epsilon})", 1, 1, mi, draw)


# -- transforms (each leaves the MI unchanged) ---------------------------------------------------------
def transformed(task: Task, fx: Transform | None, fy: Transform | None, name: str,
                dim_x: int | None = None) -> Task:
    """``task`` with ``fx`` applied to X and ``fy`` to Y (None: unchanged)."""
    def draw(n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        x, y = task.draw(n, rng)
        return (fx(x) if fx else x), (fy(y) if fy else y)
    return Task(name, dim_x or task.dim_x, task.dim_y, task.mi_nats, draw)


def half_cube(z: np.ndarray) -> np.ndarray:
    """z·√|z| on every coordinate."""
    return z * np.sqrt(np.abs(z))


def wiggly_x(z: np.ndarray) -> np.ndarray:
    """The benchmark's strictly increasing wiggly map of X."""
    return z + 0.4 * np.sin(z) + 0.2 * np.sin(1.7 * z + 1.0) + 0.03 * np.sin(3.3 * z - 2.5)


def wiggly_y(z: np.ndarray) -> np.ndarray:
    """The benchmark's strictly increasing wiggly map of Y."""
    return z - 0.4 * np.sin(0.4 * z) + 0.17 * np.sin(1.3 * z + 3.5) + 0.02 * np.sin(4.3 * z - 2.5)


def spiral(plane: tuple[int, int]) -> Transform:
    """z ↦ R(‖z‖²/D) z: a rotation in coordinate ``plane`` by the angle ‖z‖²/D (D the dimension)."""
    i, j = plane

    def f(z: np.ndarray) -> np.ndarray:
        angle = (z**2).sum(axis=1) / z.shape[1]
        c, s = np.cos(angle), np.sin(angle)
        out = z.copy()
        out[:, i] = c * z[:, i] - s * z[:, j]
        out[:, j] = s * z[:, i] + c * z[:, j]
        return out
    return f


def _inverse_cdf(cdf: Callable[[np.ndarray], np.ndarray], low: float, high: float) -> Transform:
    """The inverse of a continuous increasing ``cdf`` by bisection on [low, high] (to ~1e-12)."""
    def f(u: np.ndarray) -> np.ndarray:
        a, b = np.full(u.shape, low), np.full(u.shape, high)
        for _ in range(60):
            mid = 0.5 * (a + b)
            below = cdf(mid) < u
            a, b = np.where(below, mid, a), np.where(below, b, mid)
        return 0.5 * (a + b)
    return f


def swiss_roll(u: np.ndarray) -> np.ndarray:
    """A uniform (N, 1) on [0, 1] embedded in 2-D as a Swiss roll (N, 2)."""
    t = 1.5 * math.pi * (1.0 + 2.0 * u[:, 0])
    return np.stack([t * np.cos(t), t * np.sin(t)], axis=1) / 21.0


def _tasks() -> tuple[Task, ...]:
    binormal = bivariate_normal(0.75)
    uniform = transformed(binormal, ndtr, ndtr, "Normal CDF @ Normal 1 × 1")
    bimodal = transformed(uniform, _inverse_cdf(lambda v: 0.3 * ndtr(v) + 0.7 * ndtr(v - 5.0), -12.0, 17.0),
                          _inverse_cdf(lambda v: 0.5 * ndtr(v + 1.0) + 0.5 * ndtr(v - 3.0), -13.0, 15.0), "Bimodal 1 × 1")
    pair = {d: normal_task("2-pair", d, d) for d in (3, 5, 25)}
    out = [
        binormal, uniform, additive_noise(0.1), additive_noise(0.75), bimodal,
        transformed(binormal, wiggly_x, wiggly_y, "Wiggly @ Normal 1 × 1"),
        transformed(binormal, half_cube, half_cube, "Half-cube @ Normal 1 × 1"),
        student_task(1, 1, 1),
        transformed(student_task(1, 1, 1), np.arcsinh, np.arcsinh, "Asinh @ Student-t 1 × 1 (dof=1)"),
        transformed(uniform, swiss_roll, None, "Swiss roll 2 × 1", dim_x=2),
    ]
    out += [normal_task("dense", d, d) for d in (2, 3, 5, 25, 50)]
    out += [normal_task("2-pair", d, d) for d in (2, 3, 5, 25)]
    out += [student_task(d, d, dof) for d, dof in ((2, 1), (2, 2), (3, 2), (3, 3), (5, 2), (5, 3))]
    out += [transformed(pair[d], ndtr, ndtr, f"Normal CDF @ {pair[d].name}") for d in (3, 5, 25)]
    out += [transformed(pair[d], half_cube, half_cube, f"Half-cube @ {pair[d].name}") for d in (3, 5, 25)]
    out += [transformed(pair[d], spiral((0, 1)), spiral((1, 2)), f"Spiral @ {pair[d].name}") for d in (3, 5, 25)]
    out += [transformed(pair[d], lambda z: spiral((0, 1))(ndtr(z)), lambda z: spiral((1, 2))(ndtr(z)),
                        f"Spiral @ Normal CDF @ {pair[d].name}") for d in (3, 5, 25)]
    out += [transformed(student_task(d, d, dof), np.arcsinh, np.arcsinh, f"Asinh @ Student-t {d} × {d} (dof={dof})")
            for d, dof in ((2, 1), (3, 2), (5, 2))]
    return tuple(out)


#: The benchmark's 40 tasks, in its order of families.
TASKS: tuple[Task, ...] = _tasks()


def task_names() -> list[str]:
    """The names of the 40 tasks."""
    return [t.name for t in TASKS]


def task(name: str) -> Task:
    """The task of this name.

    Raises
    ------
    ValueError
        For a name that is none of the 40, listing them.
    """
    for t in TASKS:
        if t.name == name:
            return t
    raise ValueError(f"unknown Beyond Normal task {name!r}; the tasks are: {'; '.join(task_names())}")


def sample(task_or_name: Task | str, n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """``n`` samples of a task (by name, or the task), each coordinate standardised.

    Returns
    -------
    x : numpy.ndarray, shape (n, dim_x)
    y : numpy.ndarray, shape (n, dim_y)

    Examples
    --------
    >>> x, y = sample("Normal 2 × 2 (dense)", 1000)
    >>> x.shape, y.shape, round(float(x.std(axis=0)[0]), 6)
    ((1000, 2), (1000, 2), 1.0)
    """
    chosen = task(task_or_name) if isinstance(task_or_name, str) else task_or_name
    if n < 2:
        raise ValueError(f"a task needs at least 2 samples, got n={n}")
    x, y = chosen.draw(n, np.random.default_rng(seed))
    standard = lambda z: (z - z.mean(axis=0)) / z.std(axis=0)  # noqa: E731
    return standard(np.asarray(x, dtype=np.float64)), standard(np.asarray(y, dtype=np.float64))
