"""Eigenvalues of symmetric matrices by the solver that is fastest where the matrices live.

Every matrix-based entropy needs the spectrum of a Gram matrix, and nothing else costs as
much, so the choice of solver is the estimator's speed:

- ``"eigh"``: LAPACK's ``?syevd`` (on a CPU, NumPy's OpenBLAS for a batch, see below, else
  ``torch.linalg.eigvalsh``; cuSOLVER on a GPU: batched Jacobi for small matrices, one matrix
  at a time otherwise). SciPy's and NumPy's LAPACK left to their own threads slowed PyTorch's
  down (0.80 s → 1.07 s for four layers at N = 1000); held to one thread per call, one call
  per core, they are the fastest CPU solver measured;
- ``"bisection"`` (:mod:`.tridiagonal`): batched Householder reduction and Sturm bisection,
  which keeps a GPU busy with thousands of small matrices at once;
- ``"auto"``: bisection on a GPU for batches of at least :data:`AUTO_BISECTION_MIN`
  matrices, else ``"eigh"``.

On a CPU a batch of ``"eigh"`` matrices of float32/float64 goes to NumPy's ``eigvalsh``
(LAPACK ``?syevd`` of NumPy's OpenBLAS) in parts shared among one single-threaded call per
core (:func:`_pooled_eigvalsh`; the calls release the GIL): LAPACK's own threads gain little
on a matrix of a few hundred rows, and a core per matrix does. Measured on 2 cores (AMD EPYC),
106 Grams of 400 × 400: 0.80 s as one batched ``torch.linalg.eigvalsh`` call (MKL), 0.55 s
as PyTorch calls pooled, 0.39 s as NumPy calls pooled; 8 of 1000 × 1000: 0.46 s pooled with
PyTorch, 0.29 s with NumPy. The pool holds BLAS to one thread while it runs (two threaded
OpenBLAS calls at once took 0.92 s for the 106 Grams) and PyTorch's threads are left alone.
The eigenvalues are LAPACK's either way (equal to 1e-15).
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from functools import cache

import numpy as np
import torch
from threadpoolctl import ThreadpoolController

from .tridiagonal import eigenvalues_by_bisection

__all__ = ["symmetric_eigenvalues", "AUTO_BISECTION_MIN", "SOLVERS"]

#: Matrices from this size on are shared among single-threaded calls on a CPU (smaller ones cost
#: less than starting the threads).
POOL_MIN_SIZE = 64

#: Matrices per call in the CPU pool, at most (one call per matrix took twice as long, 0.80 s
#: for the 106 Grams above; 4–13 per call all took 0.39 s).
POOL_PART = 4

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
        ``"eigh"``: LAPACK (:func:`_pooled_eigvalsh` for a batch of float matrices of at least
        :data:`POOL_MIN_SIZE` rows on a CPU with several threads and no gradient, else
        ``torch.linalg.eigvalsh``); ``"bisection"``:
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
    if (a.device.type == "cpu" and a.dtype in (torch.float32, torch.float64) and not a.requires_grad
            and count >= 2 and n >= POOL_MIN_SIZE and torch.get_num_threads() > 1):
        return _pooled_eigvalsh(a.reshape(-1, n, n)).reshape(a.shape[:-1])
    return torch.linalg.eigvalsh(a)


@cache
def _blas_libraries() -> ThreadpoolController:
    """The BLAS libraries loaded in this process, found once (finding them reads the process's
    library list: 3 ms a call), as scikit-learn keeps its own controller."""
    return ThreadpoolController().select(user_api="blas")


def _pooled_eigvalsh(a: torch.Tensor) -> torch.Tensor:
    """Eigenvalues of float32/float64 matrices (M, n, n) on a CPU by NumPy's ``eigvalsh``, the
    batch split into equal parts of at most :data:`POOL_PART` matrices shared among as many
    calls at once as PyTorch has threads, each with BLAS held to one thread.

    Raises
    ------
    torch.linalg.LinAlgError
        If LAPACK does not converge (a non-finite matrix), as ``torch.linalg.eigvalsh`` would.
    """
    host = a.detach().numpy()
    workers = min(torch.get_num_threads(), len(host))
    parts = np.array_split(host, workers * -(-len(host) // (workers * POOL_PART)))
    try:
        with _blas_libraries().limit(limits=1), \
                ThreadPoolExecutor(workers, thread_name_prefix="infoscope-eigh") as pool:
            values = np.concatenate(list(pool.map(np.linalg.eigvalsh, parts)))
    except np.linalg.LinAlgError as exc:
        raise torch.linalg.LinAlgError(f"eigenvalues of a {host.shape[-1]}×{host.shape[-1]} matrix did not converge "
                                       f"(a non-finite entry?): {exc}") from exc
    return torch.from_numpy(values)
