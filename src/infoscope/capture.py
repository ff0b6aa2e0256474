"""Capture the activations of named layers of any ``torch.nn.Module``.

One class, :class:`ModuleHooks`, owns every forward hook infoscope sets (to capture outputs,
to count calls, to mask units); hooks are always removed when it exits, even after an error.
:class:`LayerCapture` collects the outputs of named layers through it. :func:`probe_activations` pushes a fixed probe
set through a model in batches, in ``eval()`` mode and without gradients, and restores the
model's training mode and the global grad mode afterwards.

Layers are addressed by their names in ``model.named_modules()``. ``"auto"`` picks what a
user would call the layers of an information-plane analysis: every activation module (the
layer's output after its non-linearity: ``torch.nn``'s, Hugging Face's ``GELUActivation`` and
``ACT2FN`` entries, timm's, any module whose class is named for an activation), the output
of every repeated block (a Transformer's layers, a ResNet's residual blocks) where it is not
already the output of a chosen activation, and the final Linear/Conv output; for models that
apply activations functionally (no activation modules) every Linear and Conv module.
``"blocks"`` picks the embeddings, the outputs of a network's blocks (the container children
of its ``nn.Sequential`` and ``nn.ModuleList`` stages: ``encoder.layer.N`` of BERT, ``h.N``
of GPT-2, ``layer1.0`` of a ResNet) and the output layer.

A module called k > 1 times in one forward pass (torchvision's BasicBlock applies one
``self.relu`` twice; a module applied in a loop) is k layers, one per call, named
``"<name>:<call>"`` with the call counted from 0 (``"layer1.0.relu:1"``); :func:`count_calls`
finds how often each module is called.
"""

from __future__ import annotations

import dataclasses
import re
import sys
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import torch
from torch import nn

from ._validation import estimation_dtype
from .inputs import ModelInputs, call, n_rows, take, to_model

__all__ = [
    "ACTIVATION_TYPES", "WEIGHT_TYPES", "is_activation", "auto_layers", "block_layers", "ForwardTrace", "trace_forward", "count_calls",
    "split_call", "resolve_layers", "model_device", "ModuleHooks", "layers_by_call", "LayerCapture", "probe_activations",
]

ACTIVATION_TYPES: tuple[type[nn.Module], ...] = (
    nn.ReLU, nn.ReLU6, nn.LeakyReLU, nn.PReLU, nn.ELU, nn.SELU, nn.CELU, nn.GELU, nn.SiLU, nn.Mish,
    nn.Tanh, nn.Sigmoid, nn.Hardtanh, nn.Hardswish, nn.Hardsigmoid, nn.Softplus, nn.Softmax, nn.LogSoftmax,
)
WEIGHT_TYPES: tuple[type[nn.Module], ...] = (nn.Linear, nn.Conv1d, nn.Conv2d, nn.Conv3d)

#: Class names of activation modules outside ``torch.nn`` (Hugging Face's ``GELUActivation``,
#: ``NewGELUActivation``, ``QuickGELUActivation``…, timm's ``GELUTanh``, ``Swish``, ``HardMish``…).
_ACTIVATION_NAME = re.compile(r"GELU|ReLU|SiLU|Swish|Mish|Tanh|Sigmoid|Softplus|ELU|GLU|Activation$", re.IGNORECASE)


def _is_container(module: nn.Module) -> bool:
    return any(True for _ in module.children())


def is_activation(module: nn.Module) -> bool:
    """Whether a module is an activation function: a ``torch.nn`` activation, a class of
    Hugging Face's ``ACT2CLS`` (when ``transformers`` is loaded), or a module without children
    whose class is named for an activation.

    Examples
    --------
    >>> class NewGELUActivation(nn.Module):
    ...     def forward(self, x): return x
    >>> is_activation(nn.ReLU()), is_activation(NewGELUActivation()), is_activation(nn.Linear(2, 2))
    (True, True, False)
    """
    if isinstance(module, ACTIVATION_TYPES):
        return True
    if _is_container(module):
        return False
    hf = sys.modules.get("transformers.activations")  # only where the model's library is loaded already
    classes = tuple(c for c in getattr(hf, "ACT2CLS", {}).values() if isinstance(c, type))
    if classes and isinstance(module, classes):
        return True
    return bool(_ACTIVATION_NAME.search(type(module).__name__))


def auto_layers(model: nn.Module) -> list[str]:
    """Layer names chosen by ``layers="auto"`` without a traced forward pass: every activation
    module and the final Linear/Conv output after them (the block outputs that ``"auto"`` adds
    need the trace, :func:`resolve_layers`), in registration order.

    Examples
    --------
    >>> m = nn.Sequential(nn.Linear(4, 3), nn.Tanh(), nn.Linear(3, 2))
    >>> auto_layers(m)
    ['1', '2']
    """
    leaves = [(n, m) for n, m in model.named_modules() if n and not _is_container(m)]
    acts = [n for n, m in leaves if is_activation(m)]
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


def _repeated_blocks(model: nn.Module) -> list[str]:
    """The container children of every ``nn.Sequential`` and ``nn.ModuleList`` that are not
    themselves stages of blocks, outermost only, in registration order."""
    names = [n for n, _ in model.named_modules()]
    listing = (nn.Sequential, nn.ModuleList)
    stage = lambda m: isinstance(m, listing) and any(_is_container(c) for c in m.children())  # noqa: E731
    blocks = []
    for name, module in model.named_modules():
        if isinstance(module, listing):
            blocks += [f"{name}.{k}" if name else k for k, child in module.named_children() if _is_container(child) and not stage(child)]
    blocks = sorted(set(blocks), key=names.index)
    return [b for b in blocks if not any(b.startswith(o + ".") for o in blocks)]


def _embeddings(model: nn.Module, before: str) -> str | None:
    """The first module registered before ``before`` whose class is an embedding (BERT's
    ``bert.embeddings``, ViT's ``vit.embeddings``, GPT-2's ``transformer.wte``), outermost."""
    for name, module in model.named_modules():
        if name == before or name.startswith(before + "."):
            return None
        if name and (isinstance(module, nn.Embedding) or "embedding" in type(module).__name__.lower()):
            return name
    return None


def block_layers(model: nn.Module) -> list[str]:
    """Layer names chosen by ``layers="blocks"``: the embeddings, the container children of
    every ``nn.Sequential`` or ``nn.ModuleList`` (a ResNet's residual blocks, a Transformer's
    layers) and the final Linear/Conv output after them, in registration order; ``"auto"``'s
    choice for a model without such stages.

    Examples
    --------
    >>> block = lambda: nn.Sequential(nn.Linear(4, 4), nn.ReLU())
    >>> m = nn.Sequential(nn.Sequential(block(), block()), nn.Linear(4, 2))
    >>> block_layers(m)
    ['0.0', '0.1', '1']
    >>> class Net(nn.Module):
    ...     def __init__(self):
    ...         super().__init__()
    ...         self.embed = nn.Embedding(10, 4)
    ...         self.layers = nn.ModuleList(block() for _ in range(2))
    ...         self.head = nn.Linear(4, 2)
    >>> block_layers(Net())
    ['embed', 'layers.0', 'layers.1', 'head']
    """
    names = [n for n, _ in model.named_modules()]
    blocks = _repeated_blocks(model)
    if not blocks:
        return auto_layers(model)
    embeddings = _embeddings(model, blocks[0])
    weights = [n for n, m in model.named_modules() if isinstance(m, WEIGHT_TYPES)]
    if weights and names.index(weights[-1]) > names.index(blocks[-1]) and not weights[-1].startswith(blocks[-1] + "."):
        blocks.append(weights[-1])
    return ([embeddings] if embeddings else []) + blocks


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


@dataclasses.dataclass
class ForwardTrace:
    """What one forward pass showed about a model's modules.

    Attributes
    ----------
    calls : dict[str, int]
        Module name → how many times it was called, in registration order.
    returned : list of (str, int, tuple)
        (module name, call, output shape without N) in the order the calls returned.
    same : dict[tuple[str, int], tuple[str, int]]
        A call whose output was the very tensor an earlier-returned call gave (a block that
        ends in its activation) → that earlier call.
    """

    calls: dict[str, int]
    returned: list[tuple[str, int, tuple[int, ...]]]
    same: dict[tuple[str, int], tuple[str, int]]

    def layer_name(self, module: str, call: int) -> str:
        """The layer name of one call: ``"name"``, or ``"name:call"`` for a module called several times."""
        return f"{module}:{call}" if self.calls.get(module, 0) > 1 else module

    def before(self, layer: str) -> list[tuple[str, tuple[int, ...]]]:
        """(module name, output shape) of every call that returned before ``layer``'s, latest first."""
        base, call = split_call(layer)
        position = next(i for i, (n, c, _) in enumerate(self.returned) if n == base and c == (call or 0))
        return [(n, shape) for n, _, shape in reversed(self.returned[:position])]


def trace_forward(model: nn.Module, x: torch.Tensor | ModelInputs) -> ForwardTrace:
    """Trace one forward pass of ``x`` (eval mode, no gradients; the model's mode and grad
    state are restored): how often each module is called, in what order calls return, and
    which outputs are the same tensor.

    Examples
    --------
    >>> m = nn.Sequential(nn.Sequential(nn.Linear(2, 2), nn.ReLU()), nn.Linear(2, 1))
    >>> tr = trace_forward(m, torch.zeros(2, 2))
    >>> tr.same
    {('0', 0): ('0.1', 0)}
    """
    calls: dict[str, int] = {}
    returned: list[tuple[str, int, tuple[int, ...]]] = []
    first: dict[int, tuple[str, int]] = {}
    same: dict[tuple[str, int], tuple[str, int]] = {}
    alive: list[torch.Tensor] = []  # keeps every output alive, so no id is reused during the pass

    def see(name: str, call: int, module: nn.Module, output: Any) -> None:
        calls[name] = call + 1
        t = _first_tensor(output)
        returned.append((name, call, tuple(t.shape[1:]) if t is not None and t.ndim else ()))
        if t is not None:
            alive.append(t)
            if id(t) in first:
                same[(name, call)] = first[id(t)]
            else:
                first[id(t)] = (name, call)

    with ModuleHooks(model, [n for n, _ in model.named_modules() if n], see):
        _forward(model, x, lambda: call(model, to_model(model, x)))
    order = [n for n, _ in model.named_modules() if n in calls]
    return ForwardTrace({n: calls[n] for n in order}, returned, same)


def count_calls(model: nn.Module, x: torch.Tensor | ModelInputs) -> dict[str, int]:
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
    return trace_forward(model, x).calls


def _auto_with_blocks(model: nn.Module, trace: ForwardTrace) -> list[str]:
    """``"auto"`` with a trace: activations, outputs of repeated blocks that are not the output
    of a chosen layer, and the output layer; one layer per call, in the order calls return."""
    chosen = set(auto_layers(model)) | set(_repeated_blocks(model))
    picked: list[str] = []
    taken: set[tuple[str, int]] = set()  # the first call that gave each chosen tensor
    for name, c, _ in trace.returned:
        first = trace.same.get((name, c), (name, c))
        if name not in chosen or first in taken:  # the same tensor as a chosen layer (a block ending in its ReLU)
            continue
        taken.add(first)
        picked.append(trace.layer_name(name, c))
    return picked


def resolve_layers(model: nn.Module, layers: str | Sequence[str], calls: dict[str, int] | ForwardTrace | None = None) -> list[str]:
    """Check layer names against ``model.named_modules()`` (or expand ``"auto"``/``"blocks"``).

    Parameters
    ----------
    model : nn.Module
    layers : "auto", "blocks" or sequence of str
        Module names, or ``"<name>:<call>"`` for one call of a module called several times.
    calls : dict or ForwardTrace, optional
        :func:`count_calls` (or :func:`trace_forward`) of the model: with it, "auto" and
        "blocks" give one layer per call of a module called several times, modules never
        called are left out, and a plain name of a module called several times is refused.
        With a trace, "auto" also gives the output of every repeated block, in the order the
        calls return.

    Raises
    ------
    ValueError
        For unknown names (listing the valid ones), calls that do not happen, or a module
        called several times named without its call.
    """
    trace = calls if isinstance(calls, ForwardTrace) else None
    calls = trace.calls if trace is not None else calls
    if isinstance(layers, str):
        if layers in ("auto", "blocks"):
            if layers == "auto" and trace is not None:
                names = _auto_with_blocks(model, trace)
                if not names:
                    raise ValueError("layers='auto' found no Linear, Conv or activation modules; name the layers to record")
                return names
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


def _forward(model: nn.Module, x: torch.Tensor | ModelInputs, run: Any) -> Any:
    """``run()`` with the model in eval mode and gradients off; both restored afterwards."""
    if n_rows(x) == 0:
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
    x: torch.Tensor | ModelInputs,
    layers: str | Sequence[str],
    forward_batch_size: int = 256,
    store_device: torch.device | str | None = "cpu",
) -> dict[str, torch.Tensor]:
    """Activations of ``layers`` for every probe sample, computed in batches.

    Parameters
    ----------
    model : torch.nn.Module
    x : torch.Tensor, shape (N, ...), or ModelInputs
        Probe inputs (moved to the model's device batch by batch), fed as ``model(x)``, or
        ``model(**x)`` for named inputs (:class:`~infoscope.inputs.ModelInputs`).
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
    n = n_rows(x)
    if n == 0:
        raise ValueError("the probe set is empty; pass at least two probe samples")
    trace = trace_forward(model, take(x, slice(0, 2))) if isinstance(layers, str) and layers in ("auto", "blocks") else None
    names = resolve_layers(model, layers, trace)
    device = model_device(model, x.device)

    def run() -> dict[str, torch.Tensor]:
        with LayerCapture(model, names, store_device) as cap:
            for start in range(0, n, forward_batch_size):
                call(model, to_model(model, take(x, slice(start, start + forward_batch_size)), device))
        return cap.outputs()

    return _forward(model, x, run)
