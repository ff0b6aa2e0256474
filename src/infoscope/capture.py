"""Capture the activations of named layers of any ``torch.nn.Module``.

One class, :class:`LayerCapture`, owns every forward hook infoscope sets; hooks are always
removed when it exits, even after an error. :func:`probe_activations` pushes a fixed probe
set through a model in batches, in ``eval()`` mode and without gradients, and restores the
model's training mode and the global grad mode afterwards.

Layers are addressed by their names in ``model.named_modules()``. ``"auto"`` picks what a
user would call the layers of an information-plane analysis: every activation module (the
layer's output after its non-linearity) and the final Linear/Conv output; for models that
apply activations functionally (no activation modules) every Linear and Conv module.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import torch
from torch import nn

__all__ = ["ACTIVATION_TYPES", "WEIGHT_TYPES", "auto_layers", "resolve_layers", "LayerCapture", "probe_activations"]

ACTIVATION_TYPES: tuple[type[nn.Module], ...] = (
    nn.ReLU, nn.ReLU6, nn.LeakyReLU, nn.PReLU, nn.ELU, nn.SELU, nn.CELU, nn.GELU, nn.SiLU, nn.Mish,
    nn.Tanh, nn.Sigmoid, nn.Hardtanh, nn.Hardswish, nn.Hardsigmoid, nn.Softplus, nn.Softmax, nn.LogSoftmax,
)
WEIGHT_TYPES: tuple[type[nn.Module], ...] = (nn.Linear, nn.Conv1d, nn.Conv2d, nn.Conv3d)


def auto_layers(model: nn.Module) -> list[str]:
    """Layer names chosen by ``layers="auto"`` (see the module docstring), in forward order.

    Examples
    --------
    >>> m = nn.Sequential(nn.Linear(4, 3), nn.Tanh(), nn.Linear(3, 2))
    >>> auto_layers(m)
    ['1', '2']
    """
    leaves = [(n, m) for n, m in model.named_modules() if n and not any(True for _ in m.children())]
    acts = [n for n, m in leaves if isinstance(m, ACTIVATION_TYPES)]
    weights = [n for n, m in leaves if isinstance(m, WEIGHT_TYPES)]
    if not acts:
        return weights
    chosen = list(acts)
    if weights:
        last = weights[-1]
        order = [n for n, _ in leaves]
        if order.index(last) > order.index(acts[-1]):  # output layer without an activation module
            chosen.append(last)
    return chosen


def resolve_layers(model: nn.Module, layers: str | Sequence[str]) -> list[str]:
    """Check layer names against ``model.named_modules()`` (or expand ``"auto"``).

    Raises
    ------
    ValueError
        For unknown names, listing the valid ones.
    """
    if isinstance(layers, str):
        if layers == "auto":
            names = auto_layers(model)
            if not names:
                raise ValueError("layers='auto' found no Linear, Conv or activation modules; name the layers to record")
            return names
        layers = [layers]
    modules = dict(model.named_modules())
    valid = [n for n in modules if n]
    unknown = [n for n in layers if n not in modules or n == ""]
    if unknown:
        raise ValueError(
            f"unknown layer name(s) {', '.join(repr(u) for u in unknown)}; valid names are: "
            f"{', '.join(valid)} (or 'auto')"
        )
    if not layers:
        raise ValueError("no layers to record; name at least one layer or use 'auto'")
    if len(set(layers)) != len(layers):
        raise ValueError(f"layer names repeat: {list(layers)}")
    return list(layers)


def _first_tensor(output: Any) -> torch.Tensor | None:
    """The tensor a layer produced: the output itself, or the first tensor of a tuple/list/dict."""
    if isinstance(output, torch.Tensor):
        return output
    if isinstance(output, (tuple, list)):
        for item in output:
            found = _first_tensor(item)
            if found is not None:
                return found
    if isinstance(output, dict):
        for item in output.values():
            found = _first_tensor(item)
            if found is not None:
                return found
    return None


class LayerCapture:
    """Context manager holding forward hooks on named layers; collects their outputs.

    Outputs are detached and copied at hook time (so later in-place operations, such as
    ``ReLU(inplace=True)``, cannot change them) and moved to ``store_device``.

    Parameters
    ----------
    model : torch.nn.Module
    layers : sequence of str
        Names from ``model.named_modules()`` (validated).
    store_device : torch.device or str, optional
        Where captured tensors are kept (default: where the layer produced them).

    Examples
    --------
    >>> m = nn.Sequential(nn.Linear(3, 2), nn.ReLU(inplace=True))
    >>> with LayerCapture(m, ["0"]) as cap:
    ...     _ = m(torch.ones(4, 3))
    >>> cap.outputs()["0"].shape
    torch.Size([4, 2])
    """

    def __init__(self, model: nn.Module, layers: Iterable[str], store_device: torch.device | str | None = None):
        self.model = model
        self.layers = resolve_layers(model, list(layers))
        self.store_device = store_device
        self._handles: list[Any] = []
        self._chunks: dict[str, list[torch.Tensor]] = {n: [] for n in self.layers}

    def _hook(self, name: str):
        def hook(module: nn.Module, inputs: Any, output: Any) -> None:
            t = _first_tensor(output)
            if t is None:
                raise TypeError(f"layer {name!r} ({type(module).__name__}) returned no tensor; choose another layer")
            t = t.detach()
            t = t.to(self.store_device, copy=True) if self.store_device is not None else t.clone()
            self._chunks[name].append(t)

        return hook

    def __enter__(self) -> LayerCapture:
        modules = dict(self.model.named_modules())
        try:
            for name in self.layers:
                self._handles.append(modules[name].register_forward_hook(self._hook(name)))
        except BaseException:
            self.remove()
            raise
        return self

    def __exit__(self, *exc: Any) -> None:
        self.remove()

    def remove(self) -> None:
        """Remove every hook this object set (idempotent)."""
        for h in self._handles:
            h.remove()
        self._handles.clear()

    def outputs(self) -> dict[str, torch.Tensor]:
        """Captured outputs per layer, batches concatenated on axis 0."""
        missing = [n for n, c in self._chunks.items() if not c]
        if missing:
            raise RuntimeError(f"layer(s) {missing} were not called during the forward pass")
        return {n: torch.cat(c, dim=0) for n, c in self._chunks.items()}


def probe_activations(
    model: nn.Module,
    x: torch.Tensor,
    layers: str | Sequence[str],
    batch_size: int = 256,
    store_device: torch.device | str | None = "cpu",
) -> dict[str, torch.Tensor]:
    """Activations of ``layers`` for every probe sample, computed in batches.

    Parameters
    ----------
    model : torch.nn.Module
    x : torch.Tensor, shape (N, ...)
        Probe inputs (moved to the model's device batch by batch).
    layers : "auto" or sequence of str
    batch_size : int
        Samples per forward pass (bounds memory).
    store_device : device, default "cpu"
        Where the activations are gathered.

    Returns
    -------
    dict[str, torch.Tensor]
        Layer name → activations of shape (N, ...), in layer order.

    Examples
    --------
    >>> m = nn.Sequential(nn.Linear(3, 2), nn.Tanh())
    >>> acts = probe_activations(m, torch.randn(10, 3), "auto", batch_size=4)
    >>> list(acts), acts["1"].shape
    (['1'], torch.Size([10, 2]))
    """
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    names = resolve_layers(model, layers)
    if len(x) == 0:
        raise ValueError("the probe set is empty; pass at least two probe samples")
    try:
        device = next(model.parameters()).device
    except StopIteration:
        device = x.device
    was_training = model.training
    grad_enabled = torch.is_grad_enabled()
    try:
        model.eval()
        torch.set_grad_enabled(False)
        with LayerCapture(model, names, store_device) as cap:
            for start in range(0, len(x), batch_size):
                model(x[start : start + batch_size].to(device))
        return cap.outputs()
    finally:
        model.train(was_training)
        torch.set_grad_enabled(grad_enabled)
