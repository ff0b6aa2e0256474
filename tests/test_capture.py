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
    acts = probe_activations(net, x, ["block", "block.lin", "act"], forward_batch_size=3)
    pre = net.block.lin(x).detach()
    # the first tensor of the tuple, captured before the in-place ReLU changed it
    assert torch.allclose(acts["block"], pre)
    assert torch.allclose(acts["block.lin"], pre)
    assert torch.allclose(acts["act"], pre.clamp_min(0))
    assert (acts["block"] < 0).any()


def test_batches_concatenate_in_order():
    net = nn.Sequential(nn.Linear(3, 4), nn.Tanh())
    x = torch.randn(23, 3)
    a = probe_activations(net, x, ["1"], forward_batch_size=5)["1"]
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


# --- modules called several times per forward pass ------------------------------------------

def _resnet():
    from infoscope.experiments.models import resnet18

    torch.manual_seed(0)
    return resnet18(width=4).eval()


def test_reused_relu_is_one_layer_per_call_with_the_tensors_of_each_call():
    from infoscope import Recorder

    model = _resnet()
    x, y = torch.randn(30, 3, 32, 32), torch.randint(0, 10, (30,))
    acts = probe_activations(model, x, "auto", forward_batch_size=7)
    assert "layer1.0.relu:0" in acts and "layer1.0.relu:1" in acts and "layer1.0.relu" not in acts
    assert len(acts) == 18 and all(a.shape[0] == 30 for a in acts.values())
    with torch.no_grad():  # the same tensors by hand
        stem = model.relu(model.bn1(model.conv1(x)))
        block = model.layer1[0]
        first = block.relu(block.bn1(block.conv1(stem)))
        second = block.relu(block.bn2(block.conv2(first)) + stem)
    assert torch.allclose(acts["relu"], stem) and torch.allclose(acts["layer1.0.relu:0"], first)
    assert torch.allclose(acts["layer1.0.relu:1"], second)
    with Recorder(model, (x, y), estimators=["binning"], units=False, store=None) as rec:
        rows, warnings, _ = rec.measure()
    assert not warnings
    recorded = {r.layer for r in rows}
    assert recorded == set(acts) and "layer4.1.relu:1" in recorded


def test_a_module_called_in_a_loop_and_plain_names_refused():
    class Loop(nn.Module):
        def __init__(self):
            super().__init__()
            self.step = nn.Linear(4, 4)
            self.act = nn.Tanh()

        def forward(self, x):
            for _ in range(3):
                x = self.act(self.step(x))
            return x

    torch.manual_seed(0)
    net, x = Loop(), torch.randn(12, 4)
    acts = probe_activations(net, x, "auto", forward_batch_size=5)
    assert list(acts) == ["act:0", "act:1", "act:2"]
    h = x
    with torch.no_grad():
        for i in range(3):
            h = torch.tanh(net.step(h))
            assert torch.allclose(acts[f"act:{i}"], h)
    assert torch.allclose(probe_activations(net, x, ["step:2"])["step:2"], net.step(torch.tanh(net.step(torch.tanh(net.step(x))))).detach())
    from infoscope.capture import count_calls

    calls = count_calls(net, x[:2])
    with pytest.raises(ValueError, match=r"module 'act' is called 3 times per forward pass.*name them act:0, act:1, act:2"):
        resolve_layers(net, ["act"], calls)
    with pytest.raises(ValueError, match=r"called 3 time\(s\) per forward pass \(calls 0 to 2\)"):
        resolve_layers(net, ["act:3"], calls)


def test_blocks_of_a_resnet():
    from infoscope.capture import block_layers

    assert block_layers(_resnet()) == [f"layer{s}.{b}" for s in range(1, 5) for b in (0, 1)] + ["fc"]
    seq = nn.Sequential(nn.Linear(4, 3), nn.Tanh(), nn.Linear(3, 2))
    assert block_layers(seq) == auto_layers(seq)  # no stages: the activation layers


def test_a_layer_without_one_row_per_sample_is_refused():
    from infoscope import Recorder

    class TimeMajor(nn.Module):
        def __init__(self):
            super().__init__()
            self.cell = nn.Linear(3, 3)
            self.head = nn.Linear(3, 2)

        def forward(self, x):  # x: (N, T=4, 3), the cell sees (N*T, 3)
            h = self.cell(x.reshape(-1, 3)).reshape(x.shape[0], 4, 3)
            return self.head(h.mean(1))

    x, y = torch.randn(20, 4, 3), torch.randint(0, 2, (20,))
    with pytest.raises(ValueError, match=r"layer 'cell' gives 8 rows for 2 probe samples.*choose another layer"):
        Recorder(TimeMajor(), (x, y), layers=["cell", "head"], store=None)


def test_one_hook_helper_one_meaning_of_a_layer_name_and_hooks_always_removed():
    from infoscope.capture import ModuleHooks, count_calls
    from infoscope.experiments.pruning import mask_units

    class Twice(nn.Module):
        def __init__(self):
            super().__init__()
            self.lin = nn.Linear(3, 3)
            self.act = nn.ReLU()

        def forward(self, x):
            return self.act(self.lin(self.act(x)))

    torch.manual_seed(0)
    net, x = Twice(), torch.randn(6, 3).abs() + 0.1
    assert count_calls(net, x) == {"lin": 1, "act": 2}
    with torch.no_grad():
        first = net.act(net.lin(x.index_fill(1, torch.tensor([0]), 0.0)))  # call 0 of act masked, then lin, act
        with mask_units(net, {"act:0": [0]}):
            assert torch.allclose(net(x), first)
        with mask_units(net, {"act": [0]}):  # a bare name is the first call, as in capture
            assert torch.allclose(net(x), first)
        acts = probe_activations(net, x, ["act:0"])
        assert torch.equal(acts["act:0"], x.relu())
    assert not net._forward_hooks and not net.act._forward_hooks and not net._forward_pre_hooks
    with pytest.raises(ValueError, match="unknown layer name"):
        mask_units(net, {"nope": [0]})

    hooks = ModuleHooks(net, ["act", "missing"], lambda *a: None)
    with pytest.raises(KeyError):
        hooks.__enter__()
    assert not net.act._forward_hooks and not net._forward_pre_hooks  # the hooks set before the failure are gone
