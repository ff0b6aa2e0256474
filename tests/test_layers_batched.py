"""Several whole layers in one batched computation equal the layer-by-layer path; the recorder
measures a record's layers that way and still names a bad layer by itself."""

from __future__ import annotations

import pytest
import torch

from infoscope import MatrixRenyi, Recorder
from infoscope.estimators.base import ProbeContext

QUANTITIES = ("H(T)", "I(X;T)", "I(T;Y)")


def _probe(n: int, device: str = "cpu") -> ProbeContext:
    g = torch.Generator().manual_seed(0)
    x = torch.randn(n, 3, 4, 4, generator=g, dtype=torch.float64)
    y = (x[:, 0, 0, 0] > 0).long() + (x[:, 1, 0, 0] > 0.3).long() + (x[:, 2, 0, 0] > 1).long()
    return ProbeContext.build(x, y).to(device)


def _layers(n: int) -> list[torch.Tensor]:
    """Layers of different shapes, widths and dtypes: a conv map, a wide float32 dense layer
    (float32 distance products), a narrow float64 one with ties at zero, a single neuron."""
    g = torch.Generator().manual_seed(1)
    return [
        torch.relu(torch.randn(n, 4, 3, 3, generator=g, dtype=torch.float64)),
        torch.randn(n, 300, generator=g).float() * 3.0,
        torch.relu(torch.randn(n, 7, generator=g, dtype=torch.float64) - 0.5),
        torch.randn(n, 1, generator=g, dtype=torch.float64),
    ]


def _assert_same(batched, single, tol=1e-9):
    assert len(batched) == len(single)
    for b, r in zip(batched, single):
        for q in QUANTITIES:
            assert b[q].value == pytest.approx(r[q].value, abs=tol, rel=0), q
            assert b[q].params.keys() == r[q].params.keys(), q
            for key, want in r[q].params.items():
                if isinstance(want, float):
                    assert b[q].params[key] == pytest.approx(want, rel=1e-12, abs=tol), key
                else:
                    assert b[q].params[key] == want, key


@pytest.mark.parametrize("sigma_x", ["silverman", "knn", "alignment", 0.9])
@pytest.mark.parametrize("chunk_size", [None, 40])
def test_layers_batched_equal_layer_by_layer(sigma_x, chunk_size):
    est = MatrixRenyi(sigma_x=sigma_x, chunk_size=chunk_size)
    layers = _layers(130)
    single = [est.layer_information(t, _probe(130)) for t in layers]
    _assert_same(est.layers_information(layers, _probe(130)), single)


@pytest.mark.parametrize("alpha, sigma_y", [(1.0, None), (2.0, None), (1.01, 1.5)])
def test_layers_batched_every_alpha_and_label_kernel(alpha, sigma_y):
    est = MatrixRenyi(alpha=alpha, sigma_y=sigma_y, sigma_x="alignment", chunk_size=50)
    layers = _layers(100)
    _assert_same(est.layers_information(layers, _probe(100)), [est.layer_information(t, _probe(100)) for t in layers])


def test_layers_split_by_the_memory_budget_and_a_layer_too_big_alone_goes_by_itself():
    est = MatrixRenyi(sigma_x="alignment", chunk_size=40)
    layers = _layers(120)
    whole = est.layers_information(layers, _probe(120))
    # room for the biggest layer's values and one layer's matrices: one layer per group
    one = max(est.memory_bytes(120, t[0].numel(), with_probe=False) for t in layers)
    _assert_same(est.layers_information(layers, _probe(120), memory_budget=one), whole, tol=1e-12)
    # below the wide layer's own need: it is measured by itself (chunk by chunk), the others batched
    wide = est.memory_bytes(120, 300, with_probe=False)
    assert all(est.memory_bytes(120, t[0].numel(), with_probe=False) < wide for i, t in enumerate(layers) if i != 1)
    _assert_same(est.layers_information(layers, _probe(120), memory_budget=wide - 1), whole, tol=1e-12)


def test_layers_refuse_bad_input_by_name():
    est = MatrixRenyi(chunk_size=40)
    layers = _layers(120)
    with pytest.raises(ValueError, match="layer activations .*120 .*probe inputs .*100|100.*120"):
        est.layers_information(layers, _probe(100))
    bad = layers[2].clone()
    bad[3, 0] = float("nan")
    with pytest.raises(ValueError, match="NaN"):
        est.layers_information([layers[0], bad], _probe(120))


class _Poison(torch.nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * float("nan")


def _model() -> torch.nn.Module:
    torch.manual_seed(0)
    return torch.nn.Sequential(torch.nn.Linear(6, 12), torch.nn.Tanh(), torch.nn.Linear(12, 5), torch.nn.ReLU(), _Poison())


def _direct(model, x, y, est, names):
    acts = {}
    t = x
    for name, module in model.named_children():
        t = module(t)
        acts[name] = t.detach()
    return {name: est.layer_information(acts[name], ProbeContext.build(x, y)) for name in names}


def test_recorder_measures_a_records_layers_in_one_call_and_still_names_a_nan_layer(monkeypatch):
    g = torch.Generator().manual_seed(0)
    x, y = torch.randn(90, 6, generator=g), torch.randint(0, 3, (90,), generator=g)
    est = MatrixRenyi(sigma_x="alignment", chunk_size=30)
    names = ["0", "1", "2", "3", "4"]
    calls = []
    original = MatrixRenyi.layers_information

    def counting(self, layers, probe, memory_budget=None):
        calls.append(len(layers))
        return original(self, layers, probe, memory_budget)

    monkeypatch.setattr(MatrixRenyi, "layers_information", counting)
    model = _model()
    with Recorder(model, (x, y), layers=names, estimators=[est], store=None, units=False) as rec:
        rows, warnings, _ = rec.measure()
    assert calls == [4]  # the four finite layers at once; the NaN layer is left to be reported
    assert [layer for layer, _ in warnings] == ["4"] and "NaN" in warnings[0][1]
    direct = _direct(model, x, y, est, names[:4])
    got = {(r.layer, r.quantity): r for r in rows}
    assert {layer for layer, _ in got} == set(names[:4])
    for layer in names[:4]:
        for q in QUANTITIES:
            assert got[(layer, q)].value == pytest.approx(direct[layer][q].value, abs=1e-9)
            assert got[(layer, q)].seconds > 0


def test_recorder_leaves_estimators_that_do_not_batch_layers_to_the_layer_by_layer_path(monkeypatch):
    from infoscope import KDE
    from infoscope.estimators.base import Estimator

    g = torch.Generator().manual_seed(0)
    x, y = torch.randn(60, 6, generator=g), torch.randint(0, 3, (60,), generator=g)
    calls = []
    original = Estimator.layers_information
    monkeypatch.setattr(Estimator, "layers_information", lambda self, *a, **k: calls.append(self.name) or original(self, *a, **k))
    names = ["0", "1", "2"]
    model = _model()
    with Recorder(model, (x, y), layers=names, estimators=[KDE(), MatrixRenyi(chunk_size=30)], store=None, units=False) as rec:
        rows, warnings, _ = rec.measure()
    assert not warnings and calls == []  # KDE: no prefetch; MatrixRenyi has its own layers_information
    direct = _direct(model, x, y, KDE(), names)
    kde = [r for r in rows if r.estimator == "kde"]
    assert len(kde) == len(names) * len(QUANTITIES)
    for r in kde:
        assert r.value == pytest.approx(direct[r.layer][r.quantity].value, abs=1e-12)


def test_recorder_falls_back_layer_by_layer_when_the_batched_call_fails(monkeypatch):
    g = torch.Generator().manual_seed(0)
    x, y = torch.randn(90, 6, generator=g), torch.randint(0, 3, (90,), generator=g)
    est = MatrixRenyi(chunk_size=30)
    names = ["0", "1", "2", "3"]

    def failing(self, layers, probe, memory_budget=None):
        raise RuntimeError("out of memory")

    monkeypatch.setattr(MatrixRenyi, "layers_information", failing)
    model = _model()
    with Recorder(model, (x, y), layers=names, estimators=[est], store=None, units=False) as rec:
        rows, warnings, _ = rec.measure()
    assert not warnings
    direct = _direct(model, x, y, est, names)
    for r in rows:
        assert r.value == pytest.approx(direct[r.layer][r.quantity].value, abs=1e-12)
    assert len(rows) == 4 * len(QUANTITIES)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device here")
@pytest.mark.parametrize("solver", ["auto", "bisection"])
def test_cuda_layers_batched_equal_the_cpu(solver):
    est = MatrixRenyi(sigma_x="alignment", chunk_size=10, unit_solver=solver)  # 40 layers × 20 chunks: bisection under "auto"
    g = torch.Generator().manual_seed(3)
    layers = [torch.randn(200, 5 + i, generator=g, dtype=torch.float64) ** (1 + i % 2) for i in range(40)]
    cpu = est.layers_information(layers, _probe(200))
    gpu = est.layers_information([t.cuda() for t in layers], _probe(200, device="cuda"))
    for c, d in zip(cpu, gpu):
        for q in QUANTITIES:
            assert d[q].value == pytest.approx(c[q].value, rel=1e-6, abs=1e-9)
