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
"""

from __future__ import annotations

import torch

from .tridiagonal import eigenvalues_by_bisection

__all__ = ["symmetric_eigenvalues", "AUTO_BISECTION_MIN", "SOLVERS"]

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
    return torch.linalg.eigvalsh(a)
