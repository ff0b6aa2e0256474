"""Critic networks for the variational MI bounds (:mod:`.variational_bounds`).

A critic scores pairs: :meth:`Critic.forward` maps a batch (x: B×D_X, y: B×D_Y) to the B×B
matrix of scores f(x_i, y_j) that every bound reads.

* ``"joint"``: one MLP on the concatenated pair [x; y]. Its first layer splits as
  W_x x + W_y y, so the B² pairs cost one product per side and a broadcast sum, and the rest
  of the network runs on B² hidden vectors. Any critic function can be learned.
* ``"separable"``: f(x, y) = g(x)·h(y), two MLPs and one B×B product: far cheaper for large
  batches, weaker for strongly non-linear pairings.

Either can start from the **Gaussian critic** (``gaussian_start``): the log density ratio
log p(x, y) / p(x)p(y) of the normal with the training samples' covariance, a quadratic form
−½ [xᵀAx + 2xᵀBy + yᵀCy] + c, added to the network's output, its A, B, C and c trainable,
and the network's last layer started at zero. The critic then starts where the optimal critic
of normal data is (the bound is tight there from the first step) and the network learns only
what is not Gaussian. Any critic gives a valid lower bound, so this changes the speed and the
bias, not what the bound means.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import nn

__all__ = ["CRITICS", "Critic", "GaussianTerm", "make_critic", "canonical_covariance"]

#: The critic architectures.
CRITICS = ("joint", "separable")


def _mlp(sizes: Sequence[int], last_activation: bool = False) -> nn.Sequential:
    layers: list[nn.Module] = []
    for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:])):
        layers.append(nn.Linear(a, b))
        if i < len(sizes) - 2 or last_activation:
            layers.append(nn.ReLU())
    return nn.Sequential(*layers)


class Critic(nn.Module):
    """A pair-scoring network: ``forward(x, y)`` gives the (B, B) scores f(x_i, y_j)."""

    def forward(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:  # pragma: no cover - abstract
        raise NotImplementedError


def canonical_covariance(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """The joint covariance of samples (x: N×D_X, y: N×D_Y) with its cross block kept only along
    the canonical pairs whose correlation stands out of sampling noise.

    Independent variables give sample canonical correlations up to about
    √(D_X/N) + √(D_Y/N); a cross-covariance estimated in full carries that noise into every
    entry (a Gaussian critic built from it loses about D_X·D_Y / 2N nats on held-out data).
    Only the canonical pairs with ρ above that level are kept.

    Examples
    --------
    >>> g = torch.Generator().manual_seed(0)
    >>> x = torch.randn(2000, 10, generator=g, dtype=torch.float64); y = torch.randn(2000, 10, generator=g, dtype=torch.float64)
    >>> y[:, 0] = 0.8 * x[:, 0] + 0.6 * y[:, 0]
    >>> cov = canonical_covariance(x, y)
    >>> round(float(cov[0, 10]), 1), float(cov[1:10, 11:].abs().max()) < 0.02   # the pair kept, the noise gone
    (0.8, True)
    """
    x, y = x.double() - x.double().mean(0), y.double() - y.double().mean(0)
    n, dx, dy = x.shape[0], x.shape[1], y.shape[1]
    sxx, syy, sxy = x.T @ x / (n - 1), y.T @ y / (n - 1), x.T @ y / (n - 1)
    ex, vx = torch.linalg.eigh(sxx)
    ey, vy = torch.linalg.eigh(syy)
    root = lambda e, v, p: (v * e.clamp_min(1e-12) ** p) @ v.T  # noqa: E731
    u, rho, vt = torch.linalg.svd(root(ex, vx, -0.5) @ sxy @ root(ey, vy, -0.5), full_matrices=False)
    keep = rho > math.sqrt(dx / n) + math.sqrt(dy / n)
    cross = root(ex, vx, 0.5) @ (u[:, keep] * rho[keep]) @ vt[keep] @ root(ey, vy, 0.5)
    return torch.cat([torch.cat([sxx, cross], 1), torch.cat([cross.T, syy], 1)], 0)


class GaussianTerm(nn.Module):
    """The log density ratio of a normal pair, −½ [xᵀAx + 2xᵀBy + yᵀCy] + c for every (x_i, y_j),
    with A, B, C, c from a covariance (trainable afterwards)."""

    def __init__(self, cov: torch.Tensor, dx: int, ridge: float = 1e-3):
        super().__init__()
        cov = cov.double() + ridge * torch.eye(cov.shape[0], dtype=torch.float64)
        precision = torch.linalg.inv(cov)
        marginal = torch.block_diag(torch.linalg.inv(cov[:dx, :dx]), torch.linalg.inv(cov[dx:, dx:]))
        q = precision - marginal
        const = 0.5 * (torch.logdet(cov[:dx, :dx]) + torch.logdet(cov[dx:, dx:]) - torch.logdet(cov))
        self.a = nn.Parameter(q[:dx, :dx].float())
        self.b = nn.Parameter(q[:dx, dx:].float())
        self.c = nn.Parameter(q[dx:, dx:].float())
        self.const = nn.Parameter(const.float().reshape(()))

    def forward(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        qx = ((x @ self.a) * x).sum(1)[:, None]
        qy = ((y @ self.c) * y).sum(1)[None, :]
        return self.const - 0.5 * (qx + 2.0 * (x @ self.b) @ y.T + qy)


class WithGaussian(Critic):
    """A critic plus a :class:`GaussianTerm`, the critic's last layer started at zero."""

    def __init__(self, critic: Critic, gaussian: GaussianTerm):
        super().__init__()
        self.critic, self.gaussian = critic, gaussian
        last = [m for m in critic.modules() if isinstance(m, nn.Linear)][-1]
        nn.init.zeros_(last.weight)
        if last.bias is not None:
            nn.init.zeros_(last.bias)

    def forward(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return self.critic(x, y) + self.gaussian(x, y)


class JointCritic(Critic):
    """An MLP on [x; y], evaluated on every (x_i, y_j) pair of a batch."""

    def __init__(self, dx: int, dy: int, hidden: Sequence[int]):
        super().__init__()
        self.first_x = nn.Linear(dx, hidden[0])
        self.first_y = nn.Linear(dy, hidden[0], bias=False)
        self.rest = nn.Sequential(nn.ReLU(), _mlp([*hidden, 1]))

    def forward(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        h = self.first_x(x)[:, None, :] + self.first_y(y)[None, :, :]  # (B, B, H): pair (i, j)
        return self.rest(h).squeeze(-1)


class SeparableCritic(Critic):
    """f(x, y) = g(x)·h(y) with an MLP embedding of each side."""

    def __init__(self, dx: int, dy: int, hidden: Sequence[int], embedding: int):
        super().__init__()
        self.g = _mlp([dx, *hidden, embedding])
        self.h = _mlp([dy, *hidden, embedding])

    def forward(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return self.g(x) @ self.h(y).T


def make_critic(kind: str, dx: int, dy: int, hidden: Sequence[int], embedding: int = 32,
                gaussian_cov: torch.Tensor | None = None) -> Critic:
    """A critic of ``kind`` (:data:`CRITICS`) for inputs of D_X and D_Y values, started from the
    Gaussian critic of covariance ``gaussian_cov`` ((D_X + D_Y)², of the training samples) if given.

    Examples
    --------
    >>> c = make_critic("joint", 3, 2, (16, 8))
    >>> tuple(c(torch.zeros(5, 3), torch.zeros(5, 2)).shape)
    (5, 5)
    >>> g = make_critic("joint", 1, 1, (8,), gaussian_cov=torch.tensor([[1.0, 0.6], [0.6, 1.0]]))
    >>> round(float(g(torch.zeros(1, 1), torch.zeros(1, 1))), 3)   # log p(0,0)/p(0)p(0) = −½ log(1 − ρ²)
    0.223
    """
    if kind == "joint":
        critic: Critic = JointCritic(dx, dy, hidden)
    elif kind == "separable":
        critic = SeparableCritic(dx, dy, hidden, embedding)
    else:
        raise ValueError(f"unknown critic {kind!r}; choose one of: {', '.join(CRITICS)}")
    return critic if gaussian_cov is None else WithGaussian(critic, GaussianTerm(gaussian_cov, dx))
