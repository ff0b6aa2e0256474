"""What a layer's axes mean, and the view of it that the estimators measure.

A layer's activations are one of three layouts:

- ``"vector"``: (N, D), D units (neurons);
- ``"channels"``: (N, C, ...) maps of conv layers, C units (kernels), each a map;
- ``"sequence"``: (N, L, D) (or (N, ..., D)) token sequences of a Transformer, D units (the
  features of its hidden size) on the last axis, each the L-vector of that feature over the
  tokens; or, with ``heads=H``, H units (attention heads), each its D/H features over the tokens.

The layout is never guessed silently: :func:`infer_layout` reads it from the module that
produced the layer (a Conv or BatchNorm gives maps; a Linear, LayerNorm, Embedding or
attention gives sequences; an element-wise module such as an activation takes the layout of
the module whose output it transforms, seen in a traced forward pass) or from what the user
declares (``unit_axis``), and refuses a layer it cannot tell. :class:`LayerLayout` keeps what
was decided and why, and :meth:`LayerLayout.view` turns a captured layer into the tensor the
estimators see, (N, units, ...): a sequence's padded tokens (``attention_mask == 0``) are
left out of every value, pooled or not, by moving the real tokens of every sample to the
front and cutting the positions that only padding fills, so that neither the amount of padding
nor what the padded positions hold can change a value.

``token_pooling`` says how the tokens of a sequence enter:

- ``"all"``: every real token (the tensor kernel over (L, D), padding zeroed);
- ``"mean"``: the mean over the real tokens;
- ``"first"``: the first real token (BERT's [CLS], ViT's class token).
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Sequence
from typing import Any

import torch
from torch import nn

from .choices import TOKEN_POOLINGS

__all__ = ["LAYOUTS", "TOKEN_POOLINGS", "LayerLayout", "infer_layout", "compact_tokens"]

LAYOUTS = ("vector", "channels", "sequence")

#: Modules whose output has its units (channels) on axis 1.
_CHANNEL_TYPES: tuple[type[nn.Module], ...] = (
    nn.modules.conv._ConvNd, nn.modules.batchnorm._BatchNorm, nn.modules.instancenorm._InstanceNorm,
    nn.modules.pooling._MaxPoolNd, nn.modules.pooling._AvgPoolNd, nn.modules.pooling._AdaptiveAvgPoolNd,
    nn.modules.pooling._AdaptiveMaxPoolNd, nn.GroupNorm, nn.LocalResponseNorm,
)
#: Modules that act on the last axis, so that their output has its units there.
_LAST_AXIS_TYPES: tuple[type[nn.Module], ...] = (
    nn.Linear, nn.Bilinear, nn.LayerNorm, nn.Embedding, nn.MultiheadAttention, nn.TransformerEncoderLayer,
    nn.TransformerDecoderLayer, nn.TransformerEncoder, nn.TransformerDecoder,
) + ((nn.RMSNorm,) if hasattr(nn, "RMSNorm") else ())
#: Class names of sequence modules from other libraries (Hugging Face, timm): attention,
#: embeddings, Transformer blocks, Hugging Face's Conv1D (a Linear on the last axis), RMS norms.
_SEQUENCE_NAMES = re.compile(r"Attention|Embedding|Transformer|Conv1D$|RMSNorm|LayerNorm", re.IGNORECASE)


@dataclasses.dataclass(frozen=True)
class LayerLayout:
    """A layer's layout, how its tokens are pooled, and why it was chosen.

    Attributes
    ----------
    layout : {"vector", "channels", "sequence"}
    reason : str
        Where the layout came from (the module it was read from, or ``"declared"``).
    token_pooling : {"all", "mean", "first"} or None
        For sequences: how tokens enter (None for the other layouts).
    heads : int or None
        For sequences: the number of attention heads, which are then the units.
    """

    layout: str
    reason: str
    token_pooling: str | None = None
    heads: int | None = None

    def units(self, shape: Sequence[int]) -> int:
        """Number of units of a layer of ``shape`` (without N)."""
        if not shape:
            return 1
        if self.layout == "sequence":
            return self.heads or shape[-1]
        return shape[0]

    def params(self) -> dict[str, Any]:
        """What is stored with every value of the layer (sequences only: their units and pooling)."""
        if self.layout != "sequence":
            return {}
        return {"layout": "sequence", "token_pooling": self.token_pooling, "unit_axis": -1,
                **({"heads": self.heads} if self.heads else {})}

    def view(self, t: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        """The layer as the estimators measure it: (N, units, ...).

        Parameters
        ----------
        t : torch.Tensor, shape (N, ...)
            The captured layer.
        mask : torch.Tensor of bool, shape (N, L), optional
            True at real tokens (sequences only).

        Returns
        -------
        torch.Tensor
            Vectors and maps as they are. A sequence (N, L, D) becomes (N, D, L*) for
            ``"all"`` (L* the most real tokens of any sample, padding zeroed), (N, D) for
            ``"mean"`` and ``"first"``; with H heads, (N, H, L*, D/H) or (N, H, D/H).

        Examples
        --------
        >>> t = torch.arange(12.0).reshape(2, 3, 2)            # 2 samples, 3 tokens, 2 features
        >>> mask = torch.tensor([[True, True, False], [True, False, False]])
        >>> LayerLayout("sequence", "declared", "mean").view(t, mask).tolist()
        [[1.0, 2.0], [6.0, 7.0]]
        >>> LayerLayout("sequence", "declared", "all").view(t, mask).shape
        torch.Size([2, 2, 2])
        """
        if self.layout != "sequence" or t.ndim < 3:
            return t
        seq = t.reshape(t.shape[0], -1, t.shape[-1])  # (N, L, D): positions of any grid flattened
        if mask is not None and mask.shape[1] != seq.shape[1]:
            if bool(mask.all()):
                mask = None
            else:
                raise ValueError(f"the layer has {seq.shape[1]} token positions but the attention mask has {mask.shape[1]}, "
                                 f"so its padding cannot be left out; record layers of the input's length, or pass "
                                 f"token_pooling for another layer")
        seq, real = compact_tokens(seq, mask, fill=0)
        if self.heads:  # (infer_layout has checked that D splits into the heads)
            seq = seq.reshape(seq.shape[0], seq.shape[1], self.heads, seq.shape[-1] // self.heads)  # (N, L, H, d)
        if self.token_pooling == "first":
            return seq[:, 0]
        if self.token_pooling == "mean":
            return seq.sum(dim=1) / real.sum(dim=1).to(seq.dtype).reshape((-1,) + (1,) * (seq.ndim - 2))
        return seq.movedim(1, -1) if not self.heads else seq.movedim(1, 2)  # (N, D, L*) or (N, H, L*, d)


def compact_tokens(seq: torch.Tensor, mask: torch.Tensor | None, fill: float | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Every sample's real tokens moved to the front, in order, and the positions only padding
    fills cut off.

    Parameters
    ----------
    seq : torch.Tensor, shape (N, L, ...)
    mask : torch.Tensor of bool, shape (N, L), or None (every token real)
    fill : number, optional
        What the padded positions left behind real tokens hold (None: whatever the padding held).

    Returns
    -------
    (torch.Tensor, torch.Tensor)
        The tokens (N, L*, ...) and the mask of real ones (N, L*), L* the most real tokens of
        any sample.

    Examples
    --------
    >>> ids = torch.tensor([[0, 0, 5, 6], [7, 0, 0, 0]])       # left- and right-padded
    >>> out, real = compact_tokens(ids, ids != 0, fill=-1)
    >>> out.tolist(), real.tolist()
    ([[5, 6], [7, -1]], [[True, True], [True, False]])
    """
    if mask is None:
        return seq, torch.ones(seq.shape[:2], dtype=torch.bool, device=seq.device)
    mask = mask.to(seq.device)
    order = torch.sort((~mask).to(torch.int8), dim=1, stable=True).indices  # real tokens first, in order
    length = int(mask.sum(dim=1).max())
    order = order[:, :length]
    index = order.reshape(order.shape + (1,) * (seq.ndim - 2)).expand((-1, -1) + tuple(seq.shape[2:]))
    out, real = torch.gather(seq, 1, index), torch.gather(mask, 1, order)
    if fill is not None:
        out = out.masked_fill(~real.reshape(real.shape + (1,) * (seq.ndim - 2)), fill)
    return out, real


def _has_children(module: nn.Module) -> bool:
    return any(True for _ in module.children())


def _module_layout(module: nn.Module) -> str | None:
    """The layout a module's own type decides, or None (element-wise or unknown modules)."""
    if isinstance(module, _CHANNEL_TYPES):
        return "channels"
    if isinstance(module, _LAST_AXIS_TYPES) or _SEQUENCE_NAMES.search(type(module).__name__):
        return "sequence"
    if _has_children(module):
        if any(isinstance(m, nn.MultiheadAttention) or "attention" in type(m).__name__.lower() for m in module.modules()):
            return "sequence"
    return None


def infer_layout(
    layer: str,
    module: nn.Module,
    shape: Sequence[int],
    before: Sequence[tuple[nn.Module, tuple[int, ...]]] = (),
    unit_axis: int | None = None,
    token_pooling: str = "all",
    heads: int | None = None,
) -> LayerLayout:
    """The layout of a layer of ``shape`` (without N) produced by ``module``.

    Parameters
    ----------
    layer : str
        Its name (for messages).
    module : nn.Module
    shape : sequence of int
    before : sequence of (module, output shape without N)
        The modules that returned before it in a forward pass, latest first (element-wise
        modules take the layout of the last one whose output had the same shape).
    unit_axis : {1, -1}, optional
        Declared by the user: units on axis 1 (channels) or on the last axis (sequence).
    token_pooling : {"all", "mean", "first"}
    heads : int, optional
        Attention heads as the units of this (sequence) layer.

    Raises
    ------
    ValueError
        For a layer with more than two axes whose layout neither its module nor a declaration
        tells (a three-axis (N, a, b) layer: a sequence or a Conv1d map), and for heads on a layer that is not a sequence.

    Examples
    --------
    >>> infer_layout("fc", nn.Linear(4, 4), (7, 4)).layout
    'sequence'
    >>> infer_layout("conv", nn.Conv1d(2, 4, 3), (4, 7)).layout
    'channels'
    >>> infer_layout("act", nn.GELU(), (7, 4), before=[(nn.Linear(4, 4), (7, 4))]).reason
    'GELU after Linear'
    """
    shape = tuple(shape)
    if heads is not None and (len(shape) < 2 or unit_axis == 1):
        raise ValueError(f"heads={heads} for layer {layer!r} of shape (N, {', '.join(map(str, shape))}): heads split a "
                         f"sequence (N, L, D) into its attention heads")
    if unit_axis is not None:
        if unit_axis not in (1, -1):
            raise ValueError(f"unit_axis for layer {layer!r} must be 1 (channels) or -1 (the last axis), got {unit_axis!r}")
        layout = "vector" if len(shape) <= 1 else ("channels" if unit_axis == 1 else "sequence")
        return _made(layout, "declared", token_pooling, heads, shape, layer)
    if len(shape) <= 1:
        return LayerLayout("vector", "one axis")
    own = _module_layout(module)
    if own is not None:
        return _made(own, type(module).__name__, token_pooling, heads, shape, layer)
    for earlier, earlier_shape in before:
        found = _module_layout(earlier) if tuple(earlier_shape) == shape and not _has_children(earlier) else None
        if found is not None:
            return _made(found, f"{type(module).__name__} after {type(earlier).__name__}", token_pooling, heads, shape, layer)
    if len(shape) >= 3 and heads is None:  # (N, C, H, W) and deeper: maps, as conv layers give them
        return LayerLayout("channels", f"maps (N, C, {', '.join('...' for _ in shape[1:])})")
    raise ValueError(
        f"layer {layer!r} ({type(module).__name__}) gives activations of shape (N, {', '.join(map(str, shape))}), and its "
        f"module does not tell whether its units are on axis 1 (conv channels) or on the last axis (the features of a "
        f"sequence); declare it: unit_axis={{{layer!r}: 1}} or unit_axis={{{layer!r}: -1}} (or unit_axis=1 / -1 for every layer)"
    )


def _made(layout: str, reason: str, token_pooling: str, heads: int | None, shape: tuple[int, ...], layer: str) -> LayerLayout:
    if layout != "sequence":
        return LayerLayout(layout, reason)
    if heads is not None and shape[-1] % heads:
        raise ValueError(f"layer {layer!r} has {shape[-1]} features, which do not split into heads={heads} heads")
    return LayerLayout("sequence", reason, token_pooling, heads)
