"""A probe's model inputs: one tensor fed as ``model(x)``, or several fed as ``model(**x)``.

Hugging Face models take several tensors per sample (``input_ids``, ``attention_mask``,
``token_type_ids`` …). :class:`ModelInputs` holds such a mapping with N rows in every tensor
and is sliced, counted and moved like one tensor; :func:`take`, :func:`n_rows`,
:func:`to_model` and :func:`call` work on either form, so capture and recording code never
asks which it has.

Which tensor stands for X in I(X;T) is :func:`main_input`: ``input_ids``, then
``pixel_values``, ``inputs_embeds``, ``input_values``, else the first tensor. The attention
mask (``attention_mask``) says which token positions are real: :func:`attention_mask`. How
the estimators see X is :func:`input_representation`: its values, token ids (for a kernel on
sequences, never an RBF on id numbers), or the model's embedding of them.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

import numpy as np
import torch
from torch import nn

from ._validation import is_token_ids
from .choices import INPUT_REPRESENTATIONS

__all__ = [
    "ModelInputs", "as_inputs", "n_rows", "take", "to_model", "call", "main_input", "attention_mask", "MAIN_INPUT_KEYS",
    "INPUT_REPRESENTATIONS", "input_representation",
]

#: The keys, in order of preference, of the tensor that stands for X in I(X;T).
MAIN_INPUT_KEYS = ("input_ids", "pixel_values", "inputs_embeds", "input_values")


class ModelInputs(Mapping[str, torch.Tensor]):
    """Named input tensors with one row per sample each, passed as ``model(**inputs)``.

    Parameters
    ----------
    tensors : mapping of str to array_like
        Each of shape (N, ...), the same N.

    Raises
    ------
    ValueError
        For no tensors, a tensor without a sample axis, or lengths that differ (naming each).

    Examples
    --------
    >>> x = ModelInputs({"input_ids": torch.zeros(4, 6, dtype=torch.long), "attention_mask": torch.ones(4, 6)})
    >>> len(x), len(x.rows(slice(0, 2))), sorted(x)
    (4, 2, ['attention_mask', 'input_ids'])
    >>> ModelInputs({"input_ids": torch.zeros(4, 6), "attention_mask": torch.ones(3, 6)})
    Traceback (most recent call last):
    ...
    ValueError: probe inputs differ in length: input_ids has 4 rows, attention_mask has 3 rows; every input needs one row per sample
    """

    def __init__(self, tensors: Mapping[str, Any]):
        if not tensors:
            raise ValueError("probe inputs are an empty mapping; give at least one tensor (e.g. input_ids)")
        data = {}
        for key, value in tensors.items():
            t = value if isinstance(value, torch.Tensor) else torch.as_tensor(np.asarray(value))
            if t.ndim == 0:
                raise ValueError(f"probe input {key!r} is a scalar; every input needs one row per sample (shape (N, ...))")
            data[str(key)] = t
        lengths = {k: t.shape[0] for k, t in data.items()}
        if len(set(lengths.values())) > 1:
            listed = ", ".join(f"{k} has {n} rows" for k, n in lengths.items())
            raise ValueError(f"probe inputs differ in length: {listed}; every input needs one row per sample")
        self._data = data

    def __getitem__(self, key: str) -> torch.Tensor:
        return self._data[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._data)

    def __len__(self) -> int:
        return next(iter(self._data.values())).shape[0]

    def __repr__(self) -> str:
        shapes = ", ".join(f"{k}: {tuple(t.shape)}" for k, t in self._data.items())
        return f"ModelInputs({shapes})"

    def rows(self, index: Any) -> ModelInputs:
        """The same inputs for the samples ``index`` picks (a slice, indices or a mask)."""
        return ModelInputs({k: t[index] for k, t in self._data.items()})

    def to(self, device: torch.device | str) -> ModelInputs:
        """Every tensor on ``device``."""
        return ModelInputs({k: t.to(device) for k, t in self._data.items()})

    @property
    def device(self) -> torch.device:
        """Where the main input is (:func:`main_input`)."""
        return main_input(self).device


def as_inputs(x: Any) -> torch.Tensor | ModelInputs:
    """A tensor as it is, a mapping as :class:`ModelInputs` (anything else: ``torch.as_tensor``)."""
    if isinstance(x, (torch.Tensor, ModelInputs)):
        return x
    if isinstance(x, Mapping):
        return ModelInputs(x)
    return torch.as_tensor(np.asarray(x))


def n_rows(x: torch.Tensor | ModelInputs) -> int:
    """Number of samples."""
    return len(x)


def take(x: torch.Tensor | ModelInputs, index: Any) -> torch.Tensor | ModelInputs:
    """The samples ``index`` picks, in the same form."""
    return x.rows(index) if isinstance(x, ModelInputs) else x[index]


def _cast(t: torch.Tensor, device: torch.device, dtype: torch.dtype | None) -> torch.Tensor:
    if dtype is not None and torch.is_floating_point(t) and t.dtype != dtype:
        return t.to(device=device, dtype=dtype)
    return t.to(device)


def to_model(model: nn.Module, x: torch.Tensor | ModelInputs, device: torch.device | None = None) -> torch.Tensor | ModelInputs:
    """A probe batch as the model takes it: on its device and, for floating inputs, in its
    parameters' floating type (a float32 probe into a bfloat16 model becomes bfloat16);
    integer inputs (token ids, masks) keep their type."""
    param = next(model.parameters(), None)
    dtype = param.dtype if param is not None and torch.is_floating_point(param) else None
    if device is None:
        device = param.device if param is not None else (x.device if isinstance(x, torch.Tensor) else main_input(x).device)
    if isinstance(x, ModelInputs):
        return ModelInputs({k: _cast(t, device, dtype) for k, t in x.items()})
    return _cast(x, device, dtype)


def call(model: nn.Module, x: torch.Tensor | ModelInputs) -> Any:
    """``model(**x)`` for named inputs, ``model(x)`` for one tensor."""
    return model(**x) if isinstance(x, ModelInputs) else model(x)


def main_input(x: torch.Tensor | ModelInputs) -> torch.Tensor:
    """The tensor that stands for X in I(X;T): ``x`` itself, or the first of
    :data:`MAIN_INPUT_KEYS` present (else the first tensor)."""
    if isinstance(x, torch.Tensor):
        return x
    for key in MAIN_INPUT_KEYS:
        if key in x:
            return x[key]
    return x[next(iter(x))]


def attention_mask(x: torch.Tensor | ModelInputs) -> torch.Tensor | None:
    """The probe's attention mask as bool (N, L), True at real tokens; None without one.

    Raises
    ------
    ValueError
        For a mask that is not (N, L), or a sample whose mask is all zero (no token to measure).
    """
    if not isinstance(x, ModelInputs) or "attention_mask" not in x:
        return None
    mask = x["attention_mask"]
    if mask.ndim != 2:
        raise ValueError(f"attention_mask has shape {tuple(mask.shape)}; expected (N, L), one row of 0/1 per sample")
    mask = mask != 0
    empty = torch.nonzero(~mask.any(dim=1)).flatten().tolist()
    if empty:
        raise ValueError(f"attention_mask is all zero for probe sample(s) {empty[:10]}{' …' if len(empty) > 10 else ''}: "
                         f"such a sample has no token to measure; drop it from the probe")
    return mask


def input_representation(
    x: torch.Tensor | ModelInputs, how: str = "auto", embedded: torch.Tensor | None = None
) -> tuple[torch.Tensor, str]:
    """X as the estimators see it, and what that is.

    Parameters
    ----------
    x : torch.Tensor or ModelInputs
        The probe's inputs.
    how : {"auto", "values", "tokens", "embedding"}
        See :data:`INPUT_REPRESENTATIONS`.
    embedded : torch.Tensor, shape (N, L, D), optional
        The embedding output, for ``"embedding"``.

    Returns
    -------
    (torch.Tensor, str)
        Token ids (N, L*) with every sample's real tokens first and −1 after them, or values
        (N, ...) (a sequence of embeddings: (N, L*, D), padding zeroed); and ``"tokens"``,
        ``"values"`` or ``"embedding"``.

    Raises
    ------
    ValueError
        For values asked of token ids, tokens asked of other inputs, negative ids, or
        ``"embedding"`` without the embedding output.

    Examples
    --------
    >>> ids = torch.tensor([[5, 6, 0], [7, 0, 0]])
    >>> rep, kind = input_representation(ModelInputs({"input_ids": ids, "attention_mask": ids != 0}))
    >>> rep.tolist(), kind
    ([[5, 6], [7, -1]], 'tokens')
    """
    from .layouts import compact_tokens

    main, mask = main_input(x), attention_mask(x)
    tokens = is_token_ids(main)
    kind = ("tokens" if tokens else "values") if how == "auto" else how
    if kind == "embedding":
        if embedded is None:
            raise ValueError("input_representation='embedding' needs the model's embedding output; the model has no input embedding")
        main, tokens = embedded, False
    if kind == "values" and tokens:
        raise ValueError(
            f"the probe's X is token ids ({main.dtype}): an RBF kernel on ids measures distances between id numbers, which "
            f"mean nothing; use input_representation='tokens' (a Hamming kernel on tokens, the default for ids) or "
            f"'embedding' (the model's embedding of them)"
        )
    if kind == "tokens" and not tokens:
        raise ValueError(f"input_representation='tokens' needs token ids (int32/int64, shape (N, L)); the probe's X is {main.dtype}")
    if main.ndim < 2 or (mask is not None and main.shape[1] != mask.shape[1]):
        mask = None  # not a sequence of the mask's tokens: every value is real
    if kind == "tokens" and bool((main[mask] if mask is not None else main).lt(0).any()):
        raise ValueError("token ids must be >= 0 (infoscope marks padding with -1)")
    if mask is None:
        return main, kind
    return compact_tokens(main, mask, fill=-1 if kind == "tokens" else 0)[0], kind
