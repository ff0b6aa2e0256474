"""The CPU eigensolver pool: LAPACK's eigenvalues, with PyTorch's and BLAS's thread counts left as they were."""

from __future__ import annotations

import pytest
import torch
from threadpoolctl import threadpool_info

from infoscope.estimators.eigensolvers import POOL_PART, _pooled_eigvalsh, symmetric_eigenvalues


def _grams(m: int, n: int, seed: int = 0, dtype: torch.dtype = torch.float64) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    z = torch.randn(m, n, 7, dtype=torch.float64, generator=g)
    return (z @ z.transpose(-2, -1) / n).to(dtype)


def _blas_threads() -> list[int]:
    return [lib["num_threads"] for lib in threadpool_info() if lib["user_api"] == "blas"]


@pytest.mark.parametrize("threads", [1, 2, 3])
@pytest.mark.parametrize("m", [2, 5, 2 * POOL_PART + 1])
def test_pooled_eigenvalues_equal_one_call_and_keep_the_thread_counts(threads, m):
    a = _grams(m, 70)
    before, blas = torch.get_num_threads(), _blas_threads()
    torch.set_num_threads(threads)
    try:
        ours = symmetric_eigenvalues(a.view(m, 1, 70, 70))  # extra batch dimensions keep their shape
        assert torch.get_num_threads() == threads
    finally:
        torch.set_num_threads(before)
    assert _blas_threads() == blas
    assert ours.shape == (m, 1, 70) and ours.dtype == torch.float64
    assert torch.allclose(ours[:, 0], torch.linalg.eigvalsh(a), rtol=0, atol=1e-12)


def test_float32_matrices_keep_their_dtype():
    a = _grams(6, 80, dtype=torch.float32)
    ours = _pooled_eigvalsh(a)
    assert ours.dtype == torch.float32
    assert torch.allclose(ours, torch.linalg.eigvalsh(a), rtol=0, atol=1e-5)


def test_a_non_finite_matrix_raises_torchs_error_and_restores_the_thread_counts():
    before, blas = torch.get_num_threads(), _blas_threads()
    torch.set_num_threads(2)
    try:
        with pytest.raises(torch.linalg.LinAlgError, match="did not converge"):
            _pooled_eigvalsh(torch.full((4, 3, 3), float("nan"), dtype=torch.float64))
        assert torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(before)
    assert _blas_threads() == blas


def test_matrices_that_need_a_gradient_keep_it():
    a = _grams(3, 70).requires_grad_(True)
    before = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        values = symmetric_eigenvalues(a)
    finally:
        torch.set_num_threads(before)
    values.sum().backward()  # d tr(A) / dA = I
    assert torch.allclose(a.grad, torch.eye(70, dtype=torch.float64).expand(3, 70, 70), atol=1e-10)
