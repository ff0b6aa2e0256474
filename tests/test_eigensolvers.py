"""The CPU eigensolver pool: LAPACK's eigenvalues, with PyTorch's thread count left as it was."""

from __future__ import annotations

import pytest
import torch

from infoscope.estimators.eigensolvers import _pooled_eigvalsh, symmetric_eigenvalues


def _grams(m: int, n: int, seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    z = torch.randn(m, n, 7, dtype=torch.float64, generator=g)
    return z @ z.transpose(-2, -1) / n


@pytest.mark.parametrize("threads", [1, 2, 3])
def test_pooled_eigenvalues_equal_one_call_and_keep_the_thread_count(threads):
    a = _grams(5, 70)
    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        ours = symmetric_eigenvalues(a.view(5, 1, 70, 70))  # extra batch dimensions keep their shape
        assert torch.get_num_threads() == threads
    finally:
        torch.set_num_threads(before)
    assert ours.shape == (5, 1, 70)
    assert torch.allclose(ours[:, 0], torch.linalg.eigvalsh(a), rtol=0, atol=1e-12)


def test_the_thread_count_is_restored_when_a_call_fails():
    before = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        with pytest.raises(RuntimeError):
            _pooled_eigvalsh(torch.full((4, 3, 3), float("nan"), dtype=torch.float64))
        assert torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(before)
