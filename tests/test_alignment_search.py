"""The bounded alignment search picks the σ a full evaluation of the grid picks, on every set.

The reference scores every grid value over all N² pairs (what the search did before it bounded
the scores from binned distances); the search must return the same grid point, bit for bit.
"""

from __future__ import annotations

import pytest
import torch

from infoscope.estimators.bandwidth import _alignment_bounds, _Pairs, alignment_sigmas, sigma_grids
from infoscope.estimators.kernels import batched_squared_distances, label_gram, rbf_gram


def _full_scores(sqd: torch.Tensor, target: torch.Tensor, n_grid: int = 50) -> torch.Tensor:
    """The alignment at every grid σ, each over all N² pairs: (M, n_grid)."""
    grids = sigma_grids(sqd, n_grid)
    t = target.expand_as(sqd)
    kernels = [torch.exp(sqd / (-2 * grids[:, g, None, None] ** 2)) for g in range(n_grid)]
    return torch.stack([(k * t).sum((-2, -1)) / (torch.linalg.matrix_norm(k) * torch.linalg.matrix_norm(t)) for k in kernels], dim=1)


def _full_grid(sqd: torch.Tensor, target: torch.Tensor, n_grid: int = 50) -> torch.Tensor:
    return sigma_grids(sqd, n_grid).gather(1, _full_scores(sqd, target, n_grid).argmax(1, keepdim=True))[:, 0]


def _sets(n: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Unit-like sample sets of every kind: Gaussian, ReLU (half the samples tied at 0), two
    separated clusters (a two-peaked alignment curve), heavy tails, 3-D samples."""
    g = torch.Generator().manual_seed(seed)
    y = torch.randint(0, 4, (n,), generator=g)
    z = torch.randn(6, n, 3, dtype=torch.float64, generator=g)
    sets = [z[0, :, :1] + 0.5 * y[:, None], torch.relu(z[1, :, :1] + 0.3 * y[:, None]),
            torch.where(y[:, None] < 2, z[2, :, :1] * 0.05, 10.0 + z[2, :, :1] * 3.0),
            z[3, :, :1] ** 3 + y[:, None], z[4] + y[:, None].double(), torch.round(z[5, :, :1] * 2 + y[:, None])]
    return torch.stack([batched_squared_distances(s[None])[0] for s in sets]), y


@pytest.mark.parametrize("seed", range(6))
def test_the_search_returns_the_full_grids_argmax(seed):
    sqd, y = _sets(150, seed)
    labels = label_gram(y).to(torch.float64)
    sigma, at_edge = alignment_sigmas(sqd, labels)
    assert torch.equal(sigma, _full_grid(sqd, labels))
    grid = sigma_grids(sqd, 50)
    assert torch.equal(at_edge, (sigma == grid[:, 0]) | (sigma == grid[:, -1]))


def test_the_bounds_hold_every_exact_score_and_are_tight():
    sqd, y = _sets(120, 7)
    target = label_gram(y).to(torch.float64)
    grids = sigma_grids(sqd, 50)
    pairs = _Pairs(sqd, target)
    low, high = _alignment_bounds(pairs.summaries()[2], pairs, grids)
    exact = pairs.exact_alignments(grids, torch.ones_like(grids, dtype=torch.bool)).view_as(grids)
    assert torch.allclose(exact, _full_scores(sqd, target), rtol=1e-12, atol=0)
    assert bool((low <= exact * (1 + 1e-12)).all()) and bool((exact <= high * (1 + 1e-12)).all())
    assert float(((high - low) / exact).max()) < 1e-3  # tight enough to leave a few candidates of 50


def test_a_kernel_target_and_a_target_per_set():
    sqd, y = _sets(100, 3)
    g = torch.Generator().manual_seed(1)
    other = rbf_gram(batched_squared_distances(torch.randn(1, 100, 2, dtype=torch.float64, generator=g))[0], 1.0)
    per_set = torch.stack([other, label_gram(y).double()] * 3)
    assert torch.equal(alignment_sigmas(sqd, other)[0], _full_grid(sqd, other))
    assert torch.equal(alignment_sigmas(sqd, per_set)[0], _full_grid(sqd, per_set))


def test_a_target_with_negative_entries_is_scored_on_the_whole_grid():
    sqd, y = _sets(80, 4)
    signed = label_gram(y).double() * 2 - 1
    assert torch.equal(alignment_sigmas(sqd, signed)[0], _full_grid(sqd, signed))


def test_distances_with_a_non_zero_diagonal_are_refused():
    sqd, y = _sets(30, 6)
    sqd[1, 3, 3] = 0.5
    with pytest.raises(ValueError, match="0 on the diagonal"):
        alignment_sigmas(sqd, label_gram(y).double())


def test_constant_sets_get_sigma_one_and_no_edge():
    sqd, y = _sets(60, 5)
    sqd[2] = 0.0
    sigma, at_edge = alignment_sigmas(sqd, label_gram(y).double())
    assert float(sigma[2]) == 1.0 and not bool(at_edge[2])
    keep = torch.tensor([0, 1, 3, 4, 5])
    assert torch.equal(sigma[keep], _full_grid(sqd[keep], label_gram(y).double()))
