"""Checkpoints in and out as plain data: tensors, numbers, strings and containers of them.

A checkpoint is read with PyTorch's weights-only unpickler (``torch.load(weights_only=True)``),
which builds tensors and plain containers and refuses everything else, so that opening a
database or a checkpoint file never runs code that the file names (a pickle's ``__reduce__``
can name any function). What infoscope stores itself is checked to be plain data before it is
written, so that it can always be read back this way.
"""

from __future__ import annotations

import io
import pickle
from pathlib import Path
from typing import Any

import torch

__all__ = ["UnsafeCheckpointError", "dump_checkpoint", "load_checkpoint", "stored_checkpoint"]

#: Types a checkpoint may hold (besides containers of them).
_PLAIN = (torch.Tensor, int, float, bool, str, bytes, type(None), torch.Size, torch.dtype, torch.device)


class UnsafeCheckpointError(ValueError):
    """A checkpoint holds more than tensors, numbers, strings and plain containers."""


def _check_plain(obj: Any, where: str) -> None:
    stack = [(obj, "checkpoint")]
    while stack:
        item, path = stack.pop()
        if isinstance(item, _PLAIN):
            continue
        if isinstance(item, dict):  # OrderedDict (a state_dict) included
            for k, v in item.items():
                stack += [(k, f"{path} key {k!r}"), (v, f"{path}[{k!r}]")]
        elif isinstance(item, (list, tuple)):
            stack += [(v, f"{path}[{i}]") for i, v in enumerate(item)]
        else:
            raise UnsafeCheckpointError(
                f"{where}: {path} is a {type(item).__name__}; a checkpoint may hold only tensors, numbers, strings and "
                "lists, tuples or dicts of them (store state_dict()s, not modules or objects)"
            )


def dump_checkpoint(obj: Any, where: str = "checkpoint") -> bytes:
    """``torch.save`` bytes of ``obj`` after checking that it is plain data.

    Raises
    ------
    UnsafeCheckpointError
        Naming the first part that is not tensors, numbers, strings or plain containers.

    Examples
    --------
    >>> len(dump_checkpoint({"w": torch.zeros(2), "epoch": 3})) > 0
    True
    >>> dump_checkpoint({"model": torch.nn.Linear(2, 2)})
    Traceback (most recent call last):
    ...
    infoscope.weights.UnsafeCheckpointError: checkpoint: checkpoint['model'] is a Linear; a checkpoint may hold only tensors, numbers, strings and lists, tuples or dicts of them (store state_dict()s, not modules or objects)
    """
    _check_plain(obj, where)
    buf = io.BytesIO()
    torch.save(obj, buf)
    return buf.getvalue()


def load_checkpoint(data: bytes | str | Path, where: str, map_location: Any = "cpu") -> Any:
    """A checkpoint read with the weights-only unpickler: no code it names runs.

    Parameters
    ----------
    data : bytes or path
        The checkpoint's bytes (from a database) or its file.
    where : str
        What the checkpoint is, for messages (the database and run, or the file).
    map_location : device

    Raises
    ------
    UnsafeCheckpointError
        If it holds anything but tensors, numbers, strings and plain containers (such a file
        could run code when loaded), naming ``where`` and what was refused.
    ValueError
        If it is not a checkpoint at all.
    """
    source = io.BytesIO(data) if isinstance(data, (bytes, bytearray)) else data
    try:
        return torch.load(source, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as exc:
        detail = next((line.strip() for line in str(exc).splitlines() if "GLOBAL" in line or "Unsupported" in line), "")
        raise UnsafeCheckpointError(
            f"{where} holds more than tensors, numbers and plain containers, so it is not loaded (loading it could "
            f"run code it names){': ' + detail if detail else ''}"
        ) from None
    except (RuntimeError, EOFError, OSError, ValueError) as exc:
        raise ValueError(f"{where} is not a readable checkpoint ({str(exc).splitlines()[0] if str(exc) else type(exc).__name__})") from None


def stored_checkpoint(store: Any, run: str, map_location: Any = "cpu", name: str = "last") -> Any | None:
    """The checkpoint ``name`` stored with ``run`` in ``store`` (a :class:`~infoscope.store.Store`),
    read as :func:`load_checkpoint` reads it and named in its messages; None if there is none."""
    found = store.checkpoint(run, name)
    if found is None:
        return None
    return load_checkpoint(found[1], f"checkpoint {name!r} of run {run!r} in {store.path}", map_location)
