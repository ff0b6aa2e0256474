"""Neural variational MI estimators, :class:`NeuralMI`: a critic trained to tighten a lower bound.

The samples are split once (seeded): the critic (:mod:`.critics`) is trained on one part by
Adam on batches of ``batch_size`` pairs, its bound (:mod:`.variational_bounds`: InfoNCE, NWJ,
MINE or SMILE) is evaluated on the held-out part every ``eval_every`` steps, training stops
when ``patience`` evaluations in a row did not improve it, and the estimate is the best
held-out value, with the critic that gave it. Taking the best of several held-out values
biases the estimate up by about the held-out standard error (a few hundredths of a nat at a
held-out part of 1,000 samples); the value at every evaluation is returned
(``Estimate.params["curve"]``).

What each bound can reach is said in :mod:`.variational_bounds`: InfoNCE never exceeds
log B (B = ``batch_size``, the held-out part is scored in batches of the same size), and a
value within 5 % of it is flagged ``"InfoNCE ceiling"``; NWJ and MINE have no ceiling but a variance that
grows like e^I; SMILE's clip τ bounds the density ratios it resolves.

Variables are standardised per coordinate (or, with ``copula=True``, each coordinate replaced
by the normal quantile of its rank, which leaves MI unchanged and tames heavy tails). Class
labels enter as one-hot codes. Entropies are not estimated: a variational bound measures MI.

Warm starts: :meth:`NeuralMI.fit` takes the critic state of an earlier fit of the same
shapes (the previous record of the same layer, which changes little between records) and
returns the new one; the recorder keeps them per probe, layer and quantity.
"""

from __future__ import annotations

import copy
import dataclasses
import math
from collections.abc import Sequence
from typing import Any, ClassVar

import numpy as np
import torch

from .._validation import (
    as_labels,
    check_choice,
    check_interval,
    check_positive,
    check_whole,
    flatten_samples,
)
from .base import SATURATION_TOLERANCE, Estimate, Estimator, ProbeContext
from .critics import CRITICS, canonical_covariance, make_critic
from .discrete import plugin_entropy
from .estimate import I_TY, I_XT
from .gaussian import copula_normal
from .tags import EstimatorTags
from .variational_bounds import (
    BOUNDS,
    bound_value,
    ceiling_nats,
    donsker_varadhan,
    infonce,
    jensen_shannon,
    nwj,
)

__all__ = ["NeuralMI", "CriticState", "CEILING_FLAG"]

_LN2 = math.log(2.0)
#: The flag of a value at the InfoNCE ceiling log2 B.
CEILING_FLAG = "InfoNCE ceiling"


@dataclasses.dataclass
class CriticState:
    """A trained critic to warm-start the next fit from: its weights and the shapes it takes."""

    weights: dict[str, torch.Tensor]
    dims: tuple[int, int]
    settings: tuple


@dataclasses.dataclass
class NeuralMI(Estimator):
    """Mutual information in bits from a trained critic's variational lower bound.

    Parameters
    ----------
    bound : {"infonce", "nwj", "mine", "smile"}, default "infonce"
        The bound trained and reported (:mod:`.variational_bounds`).
    clip : float, default 5.0
        SMILE's clip τ (nats).
    critic : {"joint", "separable"}, default "joint"
        An MLP on the pair, or a dot product of two embeddings (:mod:`.critics`).
    hidden : sequence of int, default (32, 32)
        Hidden widths of the critic's MLPs.
    embedding : int, default 32
        Embedding width of a separable critic.
    gaussian_start : bool, default True
        Add the Gaussian critic of the training samples' covariance (its cross-covariance kept
        along the canonical pairs that stand out of sampling noise,
        :func:`~.critics.canonical_covariance`) to the network, which starts at zero
        (:mod:`.critics`): tight from the first step on (copula-)normal data.
    batch_size : int, default 128
        Pairs per step (and per held-out score matrix).
    learning_rate : float, default 2e-3
    max_steps : int, default 4000
    eval_every : int, default 100
        Steps between held-out evaluations.
    patience : int, default 8
        Evaluations without improvement before training stops.
    min_improvement : float, default 0.01
        Bits by which a held-out value must exceed the one that last reset the patience to
        count as an improvement (the best value is kept either way): a warm-started critic,
        already near its optimum, then stops after ``patience`` evaluations instead of
        creeping on by thousandths of a bit.
    test_fraction : float, default 0.3
        Share of the samples held out for stopping and for the estimate.
    copula : bool, default True
        Replace each coordinate by the normal quantile of its rank (else standardise it).
    ema : float, default 0.01
        Rate of MINE's moving average of the partition term.
    device : str, default "auto"
        Where the critic trains: the samples' device if it is a GPU, else a GPU if there is one,
        else the CPU; or a torch device name.
    random_state : int, default 0
        Seed of the split, the initial weights and the batches.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> x = rng.standard_normal((1000, 1)); y = 0.9 * x + math.sqrt(0.19) * rng.standard_normal((1000, 1))
    >>> est = NeuralMI(max_steps=800).estimate_mutual_information(x, y)
    >>> bool(abs(est.value - (-0.5 * math.log2(0.19))) < 0.25), est.params["bound"]
    (True, 'infonce')
    """

    name: ClassVar[str] = "neural"
    input_mode: ClassVar[str] = "values"
    labels_as_symbols: ClassVar[bool] = True
    tags: ClassVar[EstimatorTags] = EstimatorTags(
        bounded=False, saturation="none", sample_copies=3, input_copies=2, resolution=None,
        resolution_short="trained critic", unit_pooling="mean", token_inputs=False, continuous_targets=True,
        per_unit=False, entropy=False,
    )

    bound: str = "infonce"
    clip: float = 5.0
    critic: str = "joint"
    hidden: Sequence[int] = (32, 32)
    embedding: int = 32
    gaussian_start: bool = True
    batch_size: int = 128
    learning_rate: float = 2e-3
    max_steps: int = 4000
    eval_every: int = 100
    patience: int = 8
    min_improvement: float = 0.01
    test_fraction: float = 0.3
    copula: bool = True
    ema: float = 0.01
    device: str = "auto"
    random_state: int = 0

    def __post_init__(self) -> None:
        check_choice(self.bound, "bound", BOUNDS)
        check_choice(self.critic, "critic", CRITICS)
        self.clip = check_positive(self.clip, "clip")
        self.hidden = tuple(check_whole(h, "hidden width", 1) for h in self.hidden)
        if not self.hidden:
            raise ValueError("hidden must name at least one hidden width, e.g. (64, 64)")
        for name in ("embedding", "batch_size", "max_steps", "eval_every", "patience"):
            setattr(self, name, check_whole(getattr(self, name), name, 2 if name == "batch_size" else 1))
        self.learning_rate = check_positive(self.learning_rate, "learning_rate")
        self.min_improvement = check_interval(self.min_improvement, "min_improvement", 0.0, 1.0, closed_high=True)
        self.test_fraction = check_interval(self.test_fraction, "test_fraction", 0.05, 0.95, closed_high=True)
        self.ema = check_interval(self.ema, "ema", 1e-6, 1.0, closed_high=True)

    # -- what it can say ---------------------------------------------------------------------
    def scale_invariant(self) -> bool:
        """True: variables are standardised (or ranked) first."""
        return True

    @classmethod
    def saturation(cls, results, tol=SATURATION_TOLERANCE, bounds=None):
        """As :meth:`Estimator.saturation`, and an InfoNCE value within 5 % of its ceiling log2 B
        is flagged ``"InfoNCE ceiling"``: the bound approaches its ceiling only slowly as the
        true MI grows past it, so such a value cannot tell how much more there is."""
        flags = super().saturation(results, tol, bounds)
        for q, r in results.items():
            ceiling = r.params.get("ceiling_bits")
            if flags.get(q) is None and ceiling is not None and r.value >= ceiling - max(tol, 0.05 * ceiling):
                flags[q] = CEILING_FLAG
        return flags

    def _entropy(self, t):
        if t.ndim == 1 and bool((t == t.round()).all()):  # class labels given as whole floats: the H(Y) bound
            return plugin_entropy(as_labels(t)), {}
        raise ValueError("the neural estimator's variational bounds measure mutual information, not entropy; "
                         "estimate H(T) with renyi, binning, kde, ksg or gaussian")

    # -- the maths -----------------------------------------------------------------------------
    def _prepared(self, t: torch.Tensor, labels: bool) -> np.ndarray:
        """Samples as float32 (N, D): one-hot codes for labels, else ranked or standardised columns."""
        if labels:
            codes = np.unique(t.cpu().numpy(), return_inverse=True)[1]
            return np.eye(codes.max() + 1, dtype=np.float32)[codes]
        arr = flatten_samples(t).cpu().numpy().astype(np.float64)
        if self.copula:
            arr = copula_normal(arr)
        else:
            sd = arr.std(axis=0)
            arr = (arr - arr.mean(axis=0)) / np.where(sd > 0, sd, 1.0)
        return arr.astype(np.float32)

    def _device(self, *tensors: torch.Tensor) -> torch.device:
        if self.device != "auto":
            return torch.device(self.device)
        for t in tensors:
            if t.device.type != "cpu":
                return t.device
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")

    def _settings(self) -> tuple:
        return (self.critic, tuple(self.hidden), self.embedding, self.gaussian_start)

    def fit(self, tx: torch.Tensor, ty: torch.Tensor, x_labels: bool = False, y_labels: bool = False,
            warm: CriticState | None = None) -> tuple[Estimate, CriticState | None]:
        """Train a critic on (tx, ty) and return the held-out bound as an :class:`Estimate` in
        bits, with the trained critic to warm-start a later fit from.

        Parameters
        ----------
        tx, ty : torch.Tensor, shape (N, ...)
            Validated samples (either may be integer class labels, shape (N,)).
        x_labels, y_labels : bool
            Whether each side holds class labels.
        warm : CriticState, optional
            A critic from an earlier fit; used where its shapes and settings match.

        Returns
        -------
        Estimate, CriticState
            The estimate (parameters: ``bound``, ``ceiling_bits``, ``curve`` [[step, held-out
            bits], …], ``steps``, ``warm_started``, ``warm_rejected`` (a warm critic that scores
            the held-out samples below the fresh start is not used), ``n_train``, ``n_heldout``)
            and the critic
            (None where a side is constant: nothing to learn, the value is 0).
        """
        n = tx.shape[0]
        if n < 4:
            raise ValueError(f"the neural estimator needs at least 4 samples (to train and to hold out), got N={n}")
        x = self._prepared(tx, x_labels)
        y = self._prepared(ty, y_labels)
        if not x.std(axis=0).any() or not y.std(axis=0).any():
            return self._result(0.0, bound=self.bound, ceiling_bits=None, curve=[], steps=0, warm_started=False, warm_rejected=False,
                                n_train=0, n_heldout=0, constant=True), None
        device = self._device(tx, ty)
        g = torch.Generator().manual_seed(self.random_state)
        order = torch.randperm(n, generator=g)
        n_test = min(n - 2, max(2, round(n * self.test_fraction)))
        test, train = order[:n_test], order[n_test:]
        xs, ys = torch.from_numpy(x).to(device), torch.from_numpy(y).to(device)
        dims = (x.shape[1], y.shape[1])
        cov = None
        if self.gaussian_start:
            cov = canonical_covariance(torch.from_numpy(x[train.numpy()]), torch.from_numpy(y[train.numpy()]))
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(self.random_state)
            critic = make_critic(self.critic, *dims, self.hidden, self.embedding, cov).to(device)
        batch = min(self.batch_size, len(train))
        # held-out score matrices of batch_size pairs or a little more (InfoNCE's ceiling: log of the smallest)
        edges = np.linspace(0, n_test, max(1, n_test // self.batch_size) + 1).round().astype(int).tolist()
        opt = torch.optim.Adam(critic.parameters(), lr=self.learning_rate)
        avg = torch.ones((), device=device)  # MINE's moving average of E_q[e^f]
        best = self._held_out(critic, xs[test], ys[test], edges)
        started_warm = rejected = False
        if warm is not None and warm.dims == dims and warm.settings == self._settings():
            # the previous record's critic, unless it scores these samples below the fresh start
            fresh = copy.deepcopy(critic.state_dict())
            critic.load_state_dict(warm.weights)
            value = self._held_out(critic, xs[test], ys[test], edges)
            started_warm = value >= best
            rejected = not started_warm
            if started_warm:
                best = value
            else:
                critic.load_state_dict(fresh)
        best_weights, curve, bad, step = copy.deepcopy(critic.state_dict()), [[0, best / _LN2]], 0, 0
        mark = best  # the value that last reset the patience
        for step in range(1, self.max_steps + 1):
            idx = train[torch.randperm(len(train), generator=g)[:batch]].to(device)
            scores = critic(xs[idx], ys[idx])
            objective, avg = self._objective(scores, avg)
            opt.zero_grad()
            (-objective).backward()
            opt.step()
            if step % self.eval_every == 0:
                value = self._held_out(critic, xs[test], ys[test], edges)
                curve.append([step, value / _LN2])
                if value > best:
                    best, best_weights = value, copy.deepcopy(critic.state_dict())
                if value > mark + self.min_improvement * _LN2:
                    mark, bad = value, 0
                else:
                    bad += 1
                    if bad >= self.patience:
                        break
        ceiling = ceiling_nats(self.bound, int(np.diff(edges).min()))
        est = self._result(best / _LN2, bound=self.bound, ceiling_bits=None if ceiling is None else ceiling / _LN2,
                           curve=[[s, round(v, 5)] for s, v in curve], steps=step, warm_started=started_warm, warm_rejected=rejected,
                           n_train=len(train), n_heldout=n_test, device=device.type)
        state = CriticState({k: v.detach().clone() for k, v in best_weights.items()}, dims, self._settings())
        return est, state

    def _objective(self, scores: torch.Tensor, avg: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The quantity to maximise on one batch, and MINE's updated moving average."""
        if self.bound == "infonce":
            return infonce(scores)[1], avg
        if self.bound == "nwj":
            return nwj(scores)[1], avg
        if self.bound == "smile":
            return jensen_shannon(scores), avg
        # MINE: the gradient of log E_q[e^f] with E_q[e^f] replaced by its moving average
        b = scores.shape[0]
        off = scores.masked_select(~torch.eye(b, dtype=torch.bool, device=scores.device))
        partition = torch.exp(torch.logsumexp(off, 0) - math.log(off.numel()))
        avg = (1 - self.ema) * avg + self.ema * partition.detach()
        return scores.diagonal().mean() - partition / avg, avg

    @torch.no_grad()
    def _held_out(self, critic, x: torch.Tensor, y: torch.Tensor, edges: list[int]) -> float:
        """The bound on the held-out samples, in nats: the size-weighted mean over the score
        matrices of consecutive held-out pairs between ``edges``."""
        total = 0.0
        for a, b in zip(edges[:-1], edges[1:]):
            scores = critic(x[a:b], y[a:b])
            value = donsker_varadhan(scores) if self.bound == "mine" else bound_value(self.bound, scores, self.clip)
            total += float(value) * (b - a)
        return total / edges[-1]

    def _mutual_information(self, tx, ty, x_labels: bool, y_labels: bool) -> tuple[float, dict[str, Any]]:
        est, _ = self.fit(tx, ty, x_labels, y_labels)
        return est.value, {k: v for k, v in est.params.items() if k not in self.get_params()}

    def _layer_information(self, t: torch.Tensor, ctx: ProbeContext) -> dict[str, Estimate]:
        """I(X;T) and I(T;Y) of one layer (no H(T): a variational bound measures MI)."""
        return self.warm_layer_information(t, ctx, {})[0]

    def warm_layer_information(self, t: torch.Tensor, ctx: ProbeContext,
                               warm: dict[str, CriticState]) -> tuple[dict[str, Estimate], dict[str, CriticState]]:
        """:meth:`layer_information`'s I(X;T) and I(T;Y), each critic warm-started from
        ``warm[quantity]`` where given, and the trained critics by quantity."""
        out, states = {}, {}
        labels = not ctx.continuous_y
        for quantity, other, other_labels in ((I_XT, ctx.x, False), (I_TY, ctx.y, labels)):
            est, state = self.fit(t, other, False, other_labels, warm.get(quantity))
            out[quantity] = self._result(est.value, **{k: v for k, v in est.params.items() if k not in self.get_params()},
                                         y_discrete=other_labels, n_samples=t.shape[0])
            if state is not None:
                states[quantity] = state
        return out, states

    def variants(self, scales=(0.5, 2.0)) -> list[Estimator]:
        """Copies with the critic's hidden widths scaled by each factor."""
        return [dataclasses.replace(self, hidden=tuple(max(1, int(round(h * f))) for h in self.hidden)) for f in scales]

