"""Hooks on named layers: always removed, mode restored, tuples and in-place ops handled."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from infoscope.capture import LayerCapture, auto_layers, probe_activations, resolve_layers


def _hooks(model: nn.Module) -> int:
    return sum(len(m._forward_hooks) for m in model.modules())


class TupleLayer(nn.Module):
    def __init__(self):
        super().__init__()
        self.lin = nn.Linear(3, 2)

    def forward(self, x):
        out = self.lin(x)
        return out, out.sum()


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.block = TupleLayer()
        self.act = nn.ReLU(inplace=True)
        self.head = nn.Linear(2, 2)

    def forward(self, x):
        h, _ = self.block(x)
        return self.head(self.act(h))


def test_auto_layers():
    seq = nn.Sequential(nn.Linear(4, 3), nn.Tanh(), nn.Linear(3, 3), nn.Tanh(), nn.Linear(3, 2))
    assert auto_layers(seq) == ["1", "3", "4"]
    no_act = nn.Sequential(nn.Conv2d(1, 2, 3), nn.Flatten(), nn.Linear(8, 2))
    assert auto_layers(no_act) == ["0", "2"]
    ends_in_act = nn.Sequential(nn.Linear(2, 2), nn.Softmax(dim=1))
    assert auto_layers(ends_in_act) == ["1"]


def test_unknown_layer_lists_valid_names():
    with pytest.raises(ValueError, match=r"unknown layer name\(s\) 'fc9'; valid names are: block, block.lin, act, head"):
        resolve_layers(Net(), ["fc9"])


def test_tuple_outputs_and_inplace_activation():
    torch.manual_seed(0)
    net = Net()
    x = torch.randn(10, 3)
    acts = probe_activations(net, x, ["block", "block.lin", "act"], batch_size=3)
    pre = net.block.lin(x).detach()
    # the first tensor of the tuple, captured before the in-place ReLU changed it
    assert torch.allclose(acts["block"], pre)
    assert torch.allclose(acts["block.lin"], pre)
    assert torch.allclose(acts["act"], pre.clamp_min(0))
    assert (acts["block"] < 0).any()


def test_batches_concatenate_in_order():
    net = nn.Sequential(nn.Linear(3, 4), nn.Tanh())
    x = torch.randn(23, 3)
    a = probe_activations(net, x, ["1"], batch_size=5)["1"]
    assert torch.allclose(a, torch.tanh(net[0](x)).detach())


def test_mode_and_grad_state_restored_and_hooks_removed_after_error():
    net = nn.Sequential(nn.Linear(3, 2), nn.BatchNorm1d(2), nn.ReLU())
    net.train()
    assert torch.is_grad_enabled()
    with pytest.raises(RuntimeError):
        probe_activations(net, torch.randn(4, 5), ["2"])  # wrong input width fails inside forward
    assert net.training and torch.is_grad_enabled() and _hooks(net) == 0
    probe_activations(net, torch.randn(4, 3), ["2"])
    assert net.training and torch.is_grad_enabled() and _hooks(net) == 0


def test_eval_mode_used_during_capture():
    seen = []
    net = nn.Sequential(nn.Linear(3, 2), nn.Dropout(0.9))
    net[1].register_forward_pre_hook(lambda m, i: seen.append(m.training))
    probe_activations(net, torch.randn(4, 3), ["1"])
    assert seen == [False]


def test_capture_context_removes_hooks():
    net = nn.Sequential(nn.Linear(3, 2))
    with pytest.raises(ZeroDivisionError):
        with LayerCapture(net, ["0"]):
            assert _hooks(net) == 1
            raise ZeroDivisionError
    assert _hooks(net) == 0


def test_empty_probe():
    with pytest.raises(ValueError, match="probe set is empty"):
        probe_activations(nn.Sequential(nn.Linear(2, 2)), torch.zeros(0, 2), "auto")
