"""Capture the activations of named layers of any ``torch.nn.Module``.

One class, :class:`ModuleHooks`, owns every forward hook infoscope sets (to capture outputs,
to count calls, to mask units); hooks are always removed when it exits, even after an error.
:class:`LayerCapture` collects the outputs of named layers through it. :func:`probe_activations` pushes a fixed probe
set through a model in batches, in ``eval()`` mode and without gradients, and restores the
model's training mode and the global grad mode afterwards.

Layers are addressed by their names in ``model.named_modules()``. ``"auto"`` picks what a
user would call the layers of an information-plane analysis: every activation module (the
layer's output after its non-linearity) and the final Linear/Conv output; for models that
apply activations functionally (no activation modules) every Linear and Conv module.
``"blocks"`` picks the outputs of a network's blocks: the container children of its
``nn.Sequential`` stages (the residual blocks of a ResNet), and the output layer.

A module called k > 1 times in one forward pass (torchvision's BasicBlock applies one
``self.relu`` twice; a module applied in a loop) is k layers, one per call, named
``"<name>:<call>"`` with the call counted from 0 (``"layer1.0.relu:1"``); :func:`count_calls`
finds how often each module is called.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Any

import torch
from torch import nn

from ._validation import estimation_dtype

__all__ = [
    "ACTIVATION_TYPES", "WEIGHT_TYPES", "auto_layers", "block_layers", "count_calls", "split_call", "resolve_layers", "model_device",
    "ModuleHooks", "layers_by_call", "LayerCapture", "probe_activations",
]

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


def block_layers(model: nn.Module) -> list[str]:
    """Layer names chosen by ``layers="blocks"``: the container children of every
    ``nn.Sequential`` (a ResNet's residual blocks, a Transformer's layers) and the final
    Linear/Conv output after them, in forward order; ``"auto"``'s choice for a model without
    such stages.

    Examples
    --------
    >>> block = lambda: nn.Sequential(nn.Linear(4, 4), nn.ReLU())
    >>> m = nn.Sequential(nn.Sequential(block(), block()), nn.Linear(4, 2))
    >>> block_layers(m)
    ['0.0', '0.1', '1']
    """
    names = [n for n, _ in model.named_modules()]
    container = lambda m: any(True for _ in m.children())  # noqa: E731
    stage = lambda m: isinstance(m, nn.Sequential) and any(container(c) for c in m.children())  # noqa: E731
    blocks = []
    for name, module in model.named_modules():
        if isinstance(module, nn.Sequential):
            blocks += [f"{name}.{k}" if name else k for k, child in module.named_children() if container(child) and not stage(child)]
    if not blocks:
        return auto_layers(model)
    blocks = sorted(set(blocks), key=names.index)
    weights = [n for n, m in model.named_modules() if isinstance(m, WEIGHT_TYPES)]
    if weights and names.index(weights[-1]) > names.index(blocks[-1]) and not weights[-1].startswith(blocks[-1] + "."):
        blocks.append(weights[-1])
    return blocks


def split_call(layer: str) -> tuple[str, int | None]:
    """A layer name as (module name, call index or None): ``"a.relu:1"`` → ``("a.relu", 1)``.

    Examples
    --------
    >>> split_call("layer1.0.relu:1"), split_call("fc")
    (('layer1.0.relu', 1), ('fc', None))
    """
    base, sep, call = layer.rpartition(":")
    if sep and call.isdigit():
        return base, int(call)
    return layer, None


def count_calls(model: nn.Module, x: torch.Tensor) -> dict[str, int]:
    """How many times each named module is called in one forward pass of ``x`` (eval mode,
    no gradients; the model's mode and grad state are restored).

    Examples
    --------
    >>> class Twice(nn.Module):
    ...     def __init__(self):
    ...         super().__init__(); self.lin = nn.Linear(2, 2); self.act = nn.ReLU()
    ...     def forward(self, x):
    ...         return self.act(self.lin(self.act(x)))
    >>> count_calls(Twice(), torch.zeros(2, 2))
    {'lin': 1, 'act': 2}
    """
    counts: dict[str, int] = {}

    def count(name: str, call: int, module: nn.Module, output: Any) -> None:
        counts[name] = call + 1

    with ModuleHooks(model, [n for n, _ in model.named_modules() if n], count):
        _forward(model, x, lambda: model(model_input(model, x)))
    order = [n for n, _ in model.named_modules() if n in counts]
    return {n: counts[n] for n in order}


def resolve_layers(model: nn.Module, layers: str | Sequence[str], calls: dict[str, int] | None = None) -> list[str]:
    """Check layer names against ``model.named_modules()`` (or expand ``"auto"``/``"blocks"``).

    Parameters
    ----------
    model : nn.Module
    layers : "auto", "blocks" or sequence of str
        Module names, or ``"<name>:<call>"`` for one call of a module called several times.
    calls : dict, optional
        :func:`count_calls` of the model: with it, "auto" and "blocks" give one layer per call
        of a module called several times, modules never called are left out, and a plain name
        of a module called several times is refused.

    Raises
    ------
    ValueError
        For unknown names (listing the valid ones), calls that do not happen, or a module
        called several times named without its call.
    """
    if isinstance(layers, str):
        if layers in ("auto", "blocks"):
            names = auto_layers(model) if layers == "auto" else block_layers(model)
            if calls is not None:
                names = [f"{n}:{i}" if calls[n] > 1 else n for n in names if calls.get(n, 0) for i in range(calls[n])]
            if not names:
                raise ValueError(f"layers={layers!r} found no Linear, Conv or activation modules; name the layers to record")
            return names
        layers = [layers]
    modules = dict(model.named_modules())
    valid = [n for n in modules if n]
    unknown = [n for n in layers if split_call(n)[0] not in modules or split_call(n)[0] == ""]
    if unknown:
        raise ValueError(
            f"unknown layer name(s) {', '.join(repr(u) for u in unknown)}; valid names are: "
            f"{', '.join(valid)} (or 'auto', 'blocks'; '<name>:<call>' for one call of a module called several times)"
        )
    if not layers:
        raise ValueError("no layers to record; name at least one layer or use 'auto'")
    if len(set(layers)) != len(layers):
        raise ValueError(f"layer names repeat: {list(layers)}")
    if calls is not None:
        for name in layers:
            base, call = split_call(name)
            k = calls.get(base, 0)
            if k == 0:
                raise ValueError(f"layer {name!r} is not called in the model's forward pass; choose another layer")
            if call is None and k > 1:
                raise ValueError(
                    f"module {base!r} is called {k} times per forward pass, so its outputs are {k} layers; "
                    f"name them {', '.join(f'{base}:{i}' for i in range(k))}"
                )
            if call is not None and call >= k:
                raise ValueError(f"layer {name!r}: module {base!r} is called {k} time(s) per forward pass (calls 0 to {k - 1})")
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


class ModuleHooks:
    """Context manager that owns forward hooks on named modules of a model: the one place
    infoscope sets hooks. Every call of a hooked module is counted from 0 in each call of the
    model, and ``on_output(name, call, module, output)`` sees its output; a value it returns
    other than None replaces the output. Every hook is removed on exit, after an error, and if
    setting them fails half-way.

    Parameters
    ----------
    model : torch.nn.Module
    modules : iterable of str
        Module names from ``model.named_modules()``.
    on_output : callable
        ``(module name, call index, module, output) -> None or a replacement output``.
    """

    def __init__(self, model: nn.Module, modules: Iterable[str], on_output: Callable[[str, int, nn.Module, Any], Any]):
        self.model, self.modules, self.on_output = model, list(modules), on_output
        self._handles: list[Any] = []
        self._calls: dict[str, int] = {}

    def _hook(self, name: str):
        def hook(module: nn.Module, inputs: Any, output: Any) -> Any:
            call = self._calls.get(name, 0)
            self._calls[name] = call + 1
            return self.on_output(name, call, module, output)

        return hook

    def _new_pass(self, module: nn.Module, inputs: Any) -> None:
        self._calls.clear()  # every call of the model counts module calls from 0

    def __enter__(self) -> ModuleHooks:
        named = dict(self.model.named_modules())
        try:
            self._handles.append(self.model.register_forward_pre_hook(self._new_pass))
            for name in self.modules:
                self._handles.append(named[name].register_forward_hook(self._hook(name)))
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


def layers_by_call(layers: Iterable[str]) -> dict[str, dict[int, str]]:
    """Module name → call index → layer name, the one meaning of a layer name: ``"<name>:<call>"``
    is that call of a module, a bare name its first (and, once :func:`resolve_layers` has
    checked it, only) call.

    Examples
    --------
    >>> layers_by_call(["fc", "block.relu:1"])
    {'fc': {0: 'fc'}, 'block.relu': {1: 'block.relu:1'}}
    """
    wanted: dict[str, dict[int, str]] = {}
    for layer in layers:
        base, call = split_call(layer)
        wanted.setdefault(base, {})[call or 0] = layer
    return wanted


class LayerCapture:
    """Context manager holding forward hooks on named layers (:class:`ModuleHooks`); collects
    their outputs.

    Outputs are detached and copied at hook time (so later in-place operations, such as
    ``ReLU(inplace=True)``, cannot change them) and moved to ``store_device``. A layer
    ``"<name>:<call>"`` is that call of a module called several times per forward pass
    (:func:`layers_by_call`).

    Parameters
    ----------
    model : torch.nn.Module
    layers : sequence of str
        Names from ``model.named_modules()``, with ``:<call>`` where needed (validated).
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
        self.layers = resolve_layers(model, list(layers))
        self.store_device = store_device
        self._chunks: dict[str, list[torch.Tensor]] = {n: [] for n in self.layers}
        self._wanted = layers_by_call(self.layers)
        self._hooks = ModuleHooks(model, self._wanted, self._keep)

    def _keep(self, base: str, call: int, module: nn.Module, output: Any) -> None:
        name = self._wanted[base].get(call)
        if name is None:
            return
        t = _first_tensor(output)
        if t is None:
            raise TypeError(f"layer {name!r} ({type(module).__name__}) returned no tensor; choose another layer")
        # one copy, on the store device; a bfloat16/float16 layer is kept in float32 (exactly)
        t = t.detach().to(self.store_device or t.device, dtype=estimation_dtype(t.dtype), copy=True)
        self._chunks[name].append(t)

    def __enter__(self) -> LayerCapture:
        self._hooks.__enter__()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.remove()

    def remove(self) -> None:
        """Remove every hook this object set (idempotent)."""
        self._hooks.remove()

    def outputs(self) -> dict[str, torch.Tensor]:
        """Captured outputs per layer, batches concatenated on axis 0."""
        missing = [n for n, c in self._chunks.items() if not c]
        if missing:
            raise RuntimeError(f"layer(s) {missing} were not called during the forward pass")
        return {n: torch.cat(c, dim=0) for n, c in self._chunks.items()}


def model_device(model: nn.Module, default: torch.device | str = "cpu") -> torch.device:
    """Where the model's parameters are; ``default`` for a model without any."""
    param = next(model.parameters(), None)
    return param.device if param is not None else torch.device(default)


def model_input(model: nn.Module, x: torch.Tensor, device: torch.device | None = None) -> torch.Tensor:
    """A probe batch as the model takes it: on its device and, for floating inputs, in its
    parameters' floating type (a float32 probe into a bfloat16 model becomes bfloat16)."""
    param = next(model.parameters(), None)
    device = device if device is not None else model_device(model, x.device)
    if param is not None and torch.is_floating_point(x) and torch.is_floating_point(param) and x.dtype != param.dtype:
        return x.to(device=device, dtype=param.dtype)
    return x.to(device)


def _forward(model: nn.Module, x: torch.Tensor, run: Any) -> Any:
    """``run()`` with the model in eval mode and gradients off; both restored afterwards."""
    if len(x) == 0:
        raise ValueError("the probe set is empty; pass at least two probe samples")
    was_training = model.training
    grad_enabled = torch.is_grad_enabled()
    try:
        model.eval()
        torch.set_grad_enabled(False)
        return run()
    finally:
        model.train(was_training)
        torch.set_grad_enabled(grad_enabled)


def probe_activations(
    model: nn.Module,
    x: torch.Tensor,
    layers: str | Sequence[str],
    forward_batch_size: int = 256,
    store_device: torch.device | str | None = "cpu",
) -> dict[str, torch.Tensor]:
    """Activations of ``layers`` for every probe sample, computed in batches.

    Parameters
    ----------
    model : torch.nn.Module
    x : torch.Tensor, shape (N, ...)
        Probe inputs (moved to the model's device batch by batch).
    layers : "auto", "blocks" or sequence of str
        Layer names (see :func:`resolve_layers`); "auto" and "blocks" give one layer per call
        of a module called several times.
    forward_batch_size : int
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
    >>> acts = probe_activations(m, torch.randn(10, 3), "auto", forward_batch_size=4)
    >>> list(acts), acts["1"].shape
    (['1'], torch.Size([10, 2]))
    """
    if forward_batch_size < 1:
        raise ValueError(f"forward_batch_size must be >= 1, got {forward_batch_size}")
    if len(x) == 0:
        raise ValueError("the probe set is empty; pass at least two probe samples")
    calls = count_calls(model, x[:2]) if isinstance(layers, str) and layers in ("auto", "blocks") else None
    names = resolve_layers(model, layers, calls)
    device = model_device(model, x.device)

    def run() -> dict[str, torch.Tensor]:
        with LayerCapture(model, names, store_device) as cap:
            for start in range(0, len(x), forward_batch_size):
                model(model_input(model, x[start : start + forward_batch_size], device))
        return cap.outputs()

    return _forward(model, x, run)
