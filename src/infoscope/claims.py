"""A published claim tested part by part: each part held, did not hold, or could not be tested.

A study's claim ("every layer first fits, then the deeper layers compress") is several
statements. Each is a :class:`Part` with its own evidence; a part whose numbers sit at a bound
or within chance is ``not testable``, never ``held``. A claim holds on a seed only when every
part held there (:func:`seed_status`), and a reproduction holds only when it held on at least
:data:`MIN_SEEDS` seeds of the paper-sized (``--full``) runs (:func:`verdict`): a quick run
says it is quick.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

__all__ = ["HELD", "FAILED", "UNTESTABLE", "STATUSES", "MIN_SEEDS", "Part", "Verdict", "seed_status", "verdict"]

HELD, FAILED, UNTESTABLE = "held", "did not hold", "not testable"
#: What a part (or a claim on one seed) can be.
STATUSES = (HELD, FAILED, UNTESTABLE)
#: Seeds of the paper-sized runs on which a claim must hold to be called held.
MIN_SEEDS = 3


@dataclasses.dataclass(frozen=True)
class Part:
    """One named statement of a claim and what the numbers said about it.

    Attributes
    ----------
    name : str
        The statement, e.g. "every hidden layer first fits (I(T;Y) rises)".
    status : {"held", "did not hold", "not testable"}
    evidence : str
        The numbers behind the status.
    """

    name: str
    status: str
    evidence: str

    def __post_init__(self) -> None:
        if self.status not in STATUSES:
            raise ValueError(f"a part's status is one of {STATUSES}, got {self.status!r}")


def combine(statuses: Sequence[str]) -> str:
    """One status from several that must all hold: any failure fails, else any untestable
    leaves it untestable, else held.

    Examples
    --------
    >>> combine(["held", "not testable"]), combine(["not testable", "did not hold"]), combine(["held"])
    ('not testable', 'did not hold', 'held')
    """
    if not statuses:
        return UNTESTABLE
    if FAILED in statuses:
        return FAILED
    return UNTESTABLE if UNTESTABLE in statuses else HELD


def seed_status(parts: Sequence[Part]) -> str:
    """The claim on one seed: held only when every part held."""
    return combine([p.status for p in parts])


@dataclasses.dataclass(frozen=True)
class Verdict:
    """A claim over the seeds it was run on.

    Attributes
    ----------
    status : str
        "held" (every part on at least :data:`MIN_SEEDS` seeds of the paper-sized runs),
        "held in a quick run" / "held on k seeds" (every part held, but on too little to call
        it reproduced), "did not hold" (a part failed on some seed) or "not testable".
    seeds : list of int
    per_seed : list of str
        The claim's status on each seed.
    held_seeds : int
        How many seeds it held on.
    full : bool
        Whether the runs were paper-sized.
    """

    status: str
    seeds: list[int]
    per_seed: list[str]
    held_seeds: int
    full: bool

    @property
    def held(self) -> bool:
        return self.status == HELD

    @property
    def text(self) -> str:
        """The verdict in one sentence, with how many seeds held."""
        runs = "paper-sized (--full)" if self.full else "quick (not paper-sized: run with --full for a verdict)"
        return (f"the claim {self.status} — {self.held_seeds} of {len(self.seeds)} seed(s) held "
                f"({', '.join(f'seed {s}: {st}' for s, st in zip(self.seeds, self.per_seed))}); {runs} runs")


def verdict(per_seed: dict[int, Sequence[Part]], full: bool, min_seeds: int = MIN_SEEDS) -> Verdict:
    """The claim over seeds: every part must hold on every seed, and on at least ``min_seeds``
    seeds of paper-sized runs, to be called held.

    Examples
    --------
    >>> ok = [Part("fits", HELD, "")]
    >>> verdict({0: ok, 1: ok, 2: ok}, full=True).status
    'held'
    >>> verdict({0: ok}, full=False).status
    'held in a quick run'
    >>> verdict({0: ok, 1: [Part("fits", UNTESTABLE, "at H(Y)")]}, full=True).status
    'not testable'
    """
    seeds = sorted(per_seed)
    statuses = [seed_status(per_seed[s]) for s in seeds]
    held = sum(st == HELD for st in statuses)
    status = combine(statuses)
    if status == HELD and not full:
        status = "held in a quick run"
    elif status == HELD and len(seeds) < min_seeds:
        status = f"held on {len(seeds)} seed(s), fewer than {min_seeds}"
    return Verdict(status, seeds, statuses, held, full)
