"""How layers are named where people read them: pictures, the report, command-line tables and
analysis messages. ``conv2 · ReLU · 16×14×14`` is the layer's name, module kind and output
shape (without N), from the ``layers`` table of a run."""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

__all__ = ["layer_label", "with_labels", "layer_labels"]


def layer_label(name: str, kind: str | None, shape: Sequence[int]) -> str:
    """How a layer is shown: name, module kind and output shape (without N).

    Examples
    --------
    >>> layer_label("conv2", "ReLU", [16, 14, 14])
    'conv2 · ReLU · 16×14×14'
    """
    dims = "×".join(str(int(d)) for d in shape) if len(shape) else "1"
    return " · ".join([name] + ([kind] if kind else []) + [dims])


def with_labels(layers: pd.DataFrame) -> pd.DataFrame:
    """A run's layers (``Store.layers``) with a ``label`` column (:func:`layer_label`)."""
    return layers.assign(label=[layer_label(n, k, sh) for n, k, sh in zip(layers.name, layers.kind, layers["shape"])])


def layer_labels(layers: pd.DataFrame) -> dict[str, str]:
    """Layer name → readable label (:func:`layer_label`) for a run's layers (``Store.layers``).

    Examples
    --------
    >>> layer_labels(pd.DataFrame({"name": ["fc"], "kind": ["Linear"], "shape": [[10]]}))
    {'fc': 'fc · Linear · 10'}
    """
    return dict(zip(layers.name, with_labels(layers).label))
