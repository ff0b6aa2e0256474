"""Recording from every process of a ``torch.distributed`` job: sharding, splitting, gathering.

Every rank pushes its contiguous shard of the probe through its replica
(:meth:`Processes.shard`); the shards are gathered back in probe order so that each value is
estimated on the whole probe, equal to a single-process recording of the same weights
(:meth:`Processes.gather_activations`). The layer/unit/estimator work is then split
round-robin, in the same order on every rank (:class:`TaskSplit`), and the results gathered
to every rank (:meth:`Processes.gather_results`); rank 0 alone writes. A single process is
the case ``world == 1``: nothing is sharded, split or gathered.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np
import torch

__all__ = ["Processes", "TaskSplit"]


@dataclasses.dataclass(frozen=True)
class Processes:
    """This process's place in the job: its rank and the number of processes."""

    rank: int = 0
    world: int = 1

    @classmethod
    def detect(cls, distributed: bool | None = None) -> Processes:
        """The current process group (``distributed=None``: whenever one with more than one
        process is initialised; True requires one; False records from this process alone)."""
        ready = torch.distributed.is_available() and torch.distributed.is_initialized()
        if distributed is None:
            distributed = ready and torch.distributed.get_world_size() > 1
        if distributed and not ready:
            raise ValueError("distributed=True needs an initialised torch.distributed process group (init_process_group)")
        if not distributed:
            return cls()
        return cls(torch.distributed.get_rank(), torch.distributed.get_world_size())

    @property
    def distributed(self) -> bool:
        """Whether more than this process takes part."""
        return self.world > 1

    @property
    def lead(self) -> bool:
        """Whether this process writes (rank 0)."""
        return self.rank == 0

    def shard(self, n: int) -> torch.Tensor:
        """Indices of this rank's contiguous share of ``n`` probe samples."""
        return torch.from_numpy(np.array_split(np.arange(n), self.world)[self.rank])

    def gather_activations(self, local: dict[str, torch.Tensor], n: int, templates: dict[str, torch.Tensor]
                           ) -> dict[str, torch.Tensor]:
        """Every rank's activations of its shard of ``n`` samples, concatenated in rank (probe)
        order, with the process group's tensor collective (shards are padded to one length).

        ``templates`` gives each layer's shape, dtype and device (an empty shard's stand-in).
        """
        if not self.distributed:
            return local
        sizes = [len(s) for s in np.array_split(np.arange(n), self.world)]
        out = {}
        for layer, template in templates.items():
            mine = local.get(layer, template)
            padded = template.new_zeros((sizes[0], *template.shape[1:]))
            padded[: len(mine)] = mine
            parts = [torch.empty_like(padded) for _ in range(self.world)]
            torch.distributed.all_gather(parts, padded.contiguous())
            out[layer] = torch.cat([p[:size] for p, size in zip(parts, sizes)])
        return out

    def gather_results(self, *parts: list) -> tuple[list, ...]:
        """Each list of results from every rank, joined (the lists of this rank when alone)."""
        if not self.distributed:
            return parts
        gathered: list[Any] = [None] * self.world
        torch.distributed.all_gather_object(gathered, parts)
        return tuple([item for g in gathered for item in g[i]] for i in range(len(parts)))

    def barrier(self) -> None:
        """Wait until every rank arrives (rank 0 has committed before anyone goes on)."""
        if self.distributed:
            torch.distributed.barrier()


class TaskSplit:
    """Round-robin assignment of numbered tasks to ranks, in the same order on every rank.

    Examples
    --------
    >>> split = TaskSplit(Processes(rank=1, world=2))
    >>> [split.mine() for _ in range(4)], split.task
    ([False, True, False, True], 3)
    """

    def __init__(self, processes: Processes):
        self.processes = processes
        self.task = -1

    def mine(self) -> bool:
        """Take the next task number; whether this rank does it."""
        self.task += 1
        return self.task % self.processes.world == self.processes.rank
