"""Variational lower bounds on mutual information from a critic's scores, in nats.

Every bound reads a square score matrix ``scores`` (B×B): entry (i, j) is the critic's score
f(x_i, y_j), so the diagonal holds the B pairs drawn together (samples of p(x, y)) and the
off-diagonal entries pairs from the product of the marginals p(x)p(y). What each can reach
(Poole et al. 2019; Song & Ermon 2020):

* ``infonce`` (van den Oord et al. 2018): E[f(x_i, y_i) − log (1/B) Σ_j e^{f(x_i, y_j)}].
  Low variance, but never above **log B**: an MI larger than log of the batch cannot be seen.
* ``nwj`` (Nguyen, Wainwright & Jordan 2010): E_p[f] − E_q[e^{f − 1}]. Unbiased on a batch,
  no ceiling, variance growing like e^{I}.
* ``mine`` (Belghazi et al. 2018): the Donsker–Varadhan bound E_p[f] − log E_q[e^f], trained
  with the moving-average correction of its biased gradient. Tighter than NWJ for the same
  critic, biased on a batch, variance growing like e^{I}.
* ``smile`` (Song & Ermon 2020): the Donsker–Varadhan value with e^f clipped to
  [e^−τ, e^τ] in the partition term, the critic trained on the Jensen–Shannon bound. The clip
  trades variance for bias: the value cannot exceed the true MI by more than the clip allows,
  nor resolve density ratios beyond e^τ.

Each function returns ``(value, objective)``: the bound's value (nats) and the quantity
whose gradient trains the critic (to be maximised).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

__all__ = ["BOUNDS", "infonce", "nwj", "donsker_varadhan", "smile", "jensen_shannon", "bound_value", "ceiling_nats"]

#: The bounds, by name.
BOUNDS = ("infonce", "nwj", "mine", "smile")


def _off_diagonal(scores: torch.Tensor) -> torch.Tensor:
    b = scores.shape[0]
    return scores.masked_select(~torch.eye(b, dtype=torch.bool, device=scores.device))


def _log_mean_exp(values: torch.Tensor) -> torch.Tensor:
    return torch.logsumexp(values, dim=0) - math.log(values.numel())


def infonce(scores: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """InfoNCE: mean over rows of the diagonal score less the row's log-mean-exp (≤ log B).

    Examples
    --------
    >>> v, _ = infonce(torch.eye(4) * 50.0)   # a perfect critic reaches the ceiling log 4
    >>> round(float(v), 4), round(math.log(4), 4)
    (1.3863, 1.3863)
    """
    b = scores.shape[0]
    value = (scores.diagonal() - torch.logsumexp(scores, dim=1)).mean() + math.log(b)
    return value, value


def nwj(scores: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """NWJ: E_p[f] − E_q[e^{f−1}] over the off-diagonal pairs (exp computed in log space)."""
    value = scores.diagonal().mean() - torch.exp(_log_mean_exp(_off_diagonal(scores)) - 1.0)
    return value, value


def donsker_varadhan(scores: torch.Tensor) -> torch.Tensor:
    """The Donsker–Varadhan bound E_p[f] − log E_q[e^f] (the value MINE reports)."""
    return scores.diagonal().mean() - _log_mean_exp(_off_diagonal(scores))


def jensen_shannon(scores: torch.Tensor) -> torch.Tensor:
    """The f-GAN Jensen–Shannon objective E_p[−softplus(−f)] − E_q[softplus(f)] (trains SMILE's critic)."""
    return -F.softplus(-scores.diagonal()).mean() - F.softplus(_off_diagonal(scores)).mean()


def smile(scores: torch.Tensor, clip: float) -> tuple[torch.Tensor, torch.Tensor]:
    """SMILE: the Donsker–Varadhan value with the partition term's scores clipped to [−τ, τ];
    the objective is the Jensen–Shannon one."""
    value = scores.diagonal().mean() - _log_mean_exp(_off_diagonal(scores).clamp(-clip, clip))
    return value, jensen_shannon(scores)


def bound_value(bound: str, scores: torch.Tensor, clip: float = 5.0) -> torch.Tensor:
    """The value (nats) of ``bound`` on one score matrix (no gradient needed).

    Examples
    --------
    >>> s = torch.zeros(8, 8)   # a critic that tells nothing apart: 0, but NWJ's best constant is f = 1
    >>> [round(float(bound_value(b, s)), 4) for b in BOUNDS], round(float(bound_value("nwj", s + 1.0)), 4)
    ([0.0, -0.3679, 0.0, 0.0], 0.0)
    """
    if bound == "infonce":
        return infonce(scores)[0]
    if bound == "nwj":
        return nwj(scores)[0]
    if bound == "mine":
        return donsker_varadhan(scores)
    return smile(scores, clip)[0]


def ceiling_nats(bound: str, batch: int) -> float | None:
    """The largest value ``bound`` can give from score matrices of ``batch`` rows: log B for
    InfoNCE, none for the others.

    Examples
    --------
    >>> round(ceiling_nats("infonce", 256), 3), ceiling_nats("nwj", 256)
    (5.545, None)
    """
    return math.log(batch) if bound == "infonce" else None
