"""Eigenvalues of symmetric matrices by the solver that is fastest where the matrices live.

Every matrix-based entropy needs the spectrum of a Gram matrix, and nothing else costs as
much, so the choice of solver is the estimator's speed:

- ``"eigh"``: ``torch.linalg.eigvalsh`` (LAPACK on a CPU, cuSOLVER on a GPU: batched Jacobi
  for small matrices, one matrix at a time otherwise). SciPy's LAPACK was tried on the CPU:
  alone it was 1.55× faster on a 1000×1000 Gram (OpenBLAS against MKL), but its thread pool
  and PyTorch's slowed each other down in a measurement (0.80 s → 1.07 s for four layers at
  N = 1000), and held to one thread it gained 8 %: not worth a second thread pool;
- ``"bisection"`` (:mod:`.tridiagonal`): batched Householder reduction and Sturm bisection,
  which keeps a GPU busy with thousands of small matrices at once;
- ``"auto"``: bisection on a GPU for batches of at least :data:`AUTO_BISECTION_MIN`
  matrices, else ``"eigh"``.

On a CPU a batch of ``"eigh"`` matrices is shared among one single-threaded LAPACK call per
core (:func:`_pooled_eigvalsh`): LAPACK's own threads gain little on a matrix of a few hundred
rows, and a core per matrix does. Measured on 2 cores, 64 Grams of 400 × 400: 0.85 s as one
batched call, 0.46 s pooled; 8 of 1000 × 1000: 0.95 s and 0.68 s; 1000 class blocks of
40 × 40: 0.062 s and 0.038 s. The eigenvalues are LAPACK's either way (equal to 1e-14).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import torch

from .tridiagonal import eigenvalues_by_bisection

__all__ = ["symmetric_eigenvalues", "AUTO_BISECTION_MIN", "SOLVERS"]

#: Matrices from this size on are shared among single-threaded calls on a CPU (smaller ones cost
#: less than starting the threads).
POOL_MIN_SIZE = 64

#: The solvers :func:`symmetric_eigenvalues` knows.
SOLVERS = ("auto", "eigh", "bisection")

#: Matrices from which "auto" bisects on a GPU: below it the reduction's ~n small steps per
#: call are launch-bound (a record of VGG16's 16 layers layer by layer: 0.58 s bisecting,
#: 0.32 s with eigh; all 16 layers in one call, 320 matrices: 0.063 s bisecting, 0.235 s with eigh, on an H100).
AUTO_BISECTION_MIN = 256


def symmetric_eigenvalues(a: torch.Tensor, solver: str = "eigh") -> torch.Tensor:
    """Eigenvalues, in ascending order, of symmetric matrices (their lower triangles).

    Parameters
    ----------
    a : torch.Tensor, shape (..., n, n)
    solver : {"eigh", "bisection", "auto"}
        ``"eigh"``: ``torch.linalg.eigvalsh``; ``"bisection"``:
        :func:`~.tridiagonal.eigenvalues_by_bisection`; ``"auto"``: bisection for at least
        :data:`AUTO_BISECTION_MIN` matrices on a GPU, else ``"eigh"``.

    Returns
    -------
    torch.Tensor, shape (..., n)
        On ``a``'s device, in its dtype.

    Examples
    --------
    >>> a = torch.tensor([[2.0, 1.0], [1.0, 2.0]], dtype=torch.float64)
    >>> symmetric_eigenvalues(a).tolist()
    [1.0, 3.0]
    """
    n = a.shape[-1]
    count = a.numel() // max(1, n * n)
    if solver == "bisection" or (solver == "auto" and a.is_cuda and count >= AUTO_BISECTION_MIN):
        return eigenvalues_by_bisection(a.reshape(-1, n, n)).reshape(a.shape[:-1])
    if a.device.type == "cpu" and count >= 2 and n >= POOL_MIN_SIZE and torch.get_num_threads() > 1:
        return _pooled_eigvalsh(a.reshape(-1, n, n)).reshape(a.shape[:-1])
    return torch.linalg.eigvalsh(a)


@contextlib.contextmanager
def _one_thread_per_call() -> Iterator[None]:
    """PyTorch's (and so LAPACK's) threads set to one while the block runs, then restored."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)


def _pooled_eigvalsh(a: torch.Tensor) -> torch.Tensor:
    """``torch.linalg.eigvalsh`` of matrices (M, n, n) on a CPU, the batch split among as many
    single-threaded calls at once as PyTorch has threads (the calls release the GIL)."""
    workers = min(torch.get_num_threads(), a.shape[0])
    parts = a.tensor_split(workers)
    with _one_thread_per_call(), ThreadPoolExecutor(workers, thread_name_prefix="infoscope-eigh") as pool:
        return torch.cat(list(pool.map(torch.linalg.eigvalsh, parts)))
