"""Transformers: layer choice on Hugging Face models built from their configs (nothing is
downloaded), dict probes with attention masks, sequence units and attention heads, padding
left out of every value, token ids never under an RBF kernel, and the Trainer callback."""

from __future__ import annotations

import math
import sys

import numpy as np
import pytest
import torch
from torch import nn

from infoscope import Recorder
from infoscope.capture import resolve_layers, trace_forward
from infoscope.estimators import MatrixRenyi, make_estimator
from infoscope.estimators.base import ProbeContext
from infoscope.estimators.kernels import token_gram
from infoscope.inputs import ModelInputs, input_representation
from infoscope.layouts import LayerLayout, compact_tokens, infer_layout
from infoscope.store import load

transformers = pytest.importorskip("transformers")
transformers.logging.set_verbosity_error()

HIDDEN, HEADS, BLOCKS, VOCAB = 16, 4, 2, 30


def _bert():
    torch.manual_seed(0)
    cfg = transformers.BertConfig(vocab_size=VOCAB, hidden_size=HIDDEN, num_hidden_layers=BLOCKS, num_attention_heads=HEADS,
                                  intermediate_size=32, max_position_embeddings=32)
    return transformers.BertForSequenceClassification(cfg)


def _gpt2():
    torch.manual_seed(0)
    cfg = transformers.GPT2Config(vocab_size=VOCAB, n_embd=HIDDEN, n_layer=BLOCKS, n_head=HEADS, n_positions=32,
                                  pad_token_id=0, bos_token_id=1, eos_token_id=1)
    return transformers.GPT2ForSequenceClassification(cfg)


def _distilbert():
    torch.manual_seed(0)
    cfg = transformers.DistilBertConfig(vocab_size=VOCAB, dim=HIDDEN, n_layers=BLOCKS, n_heads=HEADS, hidden_dim=32,
                                        max_position_embeddings=32)
    return transformers.DistilBertForSequenceClassification(cfg)


def _vit():
    torch.manual_seed(0)
    cfg = transformers.ViTConfig(image_size=28, patch_size=7, num_channels=1, hidden_size=HIDDEN, num_hidden_layers=BLOCKS,
                                 num_attention_heads=HEADS, intermediate_size=32, num_labels=10)
    return transformers.ViTForImageClassification(cfg)


def _tokens(n: int = 40, length: int = 10, seed: int = 0, pad_to: int | None = None, pad_value: int | None = 0):
    """Token probes of lengths 3..length, right-padded to ``pad_to``; the padded positions hold
    ``pad_value`` (None: random ids, which must not matter)."""
    g = torch.Generator().manual_seed(seed)
    ids = torch.randint(2, VOCAB, (n, length), generator=g)
    lengths = torch.randint(3, length + 1, (n,), generator=g)
    width = pad_to or length
    full = torch.randint(2, VOCAB, (n, width), generator=torch.Generator().manual_seed(seed + 99))
    if pad_value is not None:
        full[:] = pad_value
    full[:, :length] = torch.where(torch.arange(length)[None] < lengths[:, None], ids, full[:, :length])
    mask = (torch.arange(width)[None] < lengths[:, None]).long()
    y = (ids[:, 0] > VOCAB // 2).long()
    return {"input_ids": full, "attention_mask": mask}, y


#: (embeddings, the ModuleList of blocks, the output head) of each family
BLOCK_NAMES = {
    "bert": ("bert.embeddings", "bert.encoder.layer", "classifier"),
    "gpt2": ("transformer.wte", "transformer.h", "score"),
    "distilbert": ("distilbert.embeddings", "distilbert.transformer.layer", "classifier"),
    "vit": ("vit.embeddings", None, "classifier"),  # vit.encoder.layer (transformers 4) or vit.layers (5)
}
BUILD = {"bert": _bert, "gpt2": _gpt2, "distilbert": _distilbert, "vit": _vit}


def _expected_blocks(family, model):
    embeddings, listing, head = BLOCK_NAMES[family]
    if listing is None:
        listing = next(n for n, m in model.named_modules() if isinstance(m, nn.ModuleList))
    return [embeddings] + [f"{listing}.{i}" for i in range(BLOCKS)] + [head]


@pytest.mark.parametrize("family", sorted(BUILD))
def test_every_block_is_recorded_with_hidden_size_units(family, tmp_path):
    model = BUILD[family]()
    if family == "vit":
        probe = (torch.rand(24, 1, 28, 28), torch.arange(24) % 10)
    else:
        probe = _tokens(24)
    db = tmp_path / "r.db"
    with Recorder(model, probe, layers="blocks", estimators=["renyi"], units=False, store=db, run="r") as rec:
        rec.record(0)
    expected = _expected_blocks(family, model)
    assert rec.layers == expected
    with load(db) as store:
        layers = store.layers("r").set_index("name")
        values = store.measurements(run="r")
    blocks = expected[1:-1]
    assert all(int(layers.loc[n, "n_units"]) == HIDDEN for n in blocks)  # the hidden size, not the token count
    assert all(rec.layouts[n].layout == "sequence" for n in blocks)
    assert set(values["layer"]) == set(rec.layers)
    assert np.isfinite(values["value"]).all()
    # auto: each block's output and each block's activation (GELU of the MLP), and the head
    auto = resolve_layers(model, "auto", trace_forward(model, Recorder_probe_x(probe)))
    assert all(b in auto for b in blocks)
    assert sum(any(n.startswith(b + ".") for b in blocks) for n in auto) == BLOCKS  # one GELU inside each block


def Recorder_probe_x(probe):  # noqa: N802 - the probe's x, two samples, as the recorder traces it
    x = probe[0]
    return ModelInputs(x).rows(slice(0, 2)) if isinstance(x, dict) else x[:2]


def test_own_modulelist_model_blocks_and_auto():
    class Block(nn.Module):
        def __init__(self):
            super().__init__()
            self.lin, self.norm = nn.Linear(8, 8), nn.LayerNorm(8)

        def forward(self, x):
            return self.norm(x + torch.relu(self.lin(x)))

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.embed = nn.Embedding(20, 8)
            self.blocks = nn.ModuleList(Block() for _ in range(3))
            self.head = nn.Linear(8, 2)

        def forward(self, ids):
            h = self.embed(ids)
            for b in self.blocks:
                h = b(h)
            return self.head(h.mean(dim=1))

    net, ids = Net(), torch.randint(0, 20, (30, 5))
    tr = trace_forward(net, ids[:2])
    assert resolve_layers(net, "blocks", tr.calls) == ["embed", "blocks.0", "blocks.1", "blocks.2", "head"]
    # no activation modules: every Linear, and each block's output, in the order they return
    assert resolve_layers(net, "auto", tr) == ["blocks.0.lin", "blocks.0", "blocks.1.lin", "blocks.1", "blocks.2.lin", "blocks.2",
                                               "head"]
    with Recorder(net, (ids, torch.arange(30) % 2), layers="blocks", store=None, estimators=["binning"]) as rec:
        out = rec.record(0)
    assert {rec.layouts[n].layout for n in rec.layers} == {"sequence", "vector"}
    assert rec.layouts["embed"].reason == "Embedding"
    assert len(out) == 5 * 3


def test_a_block_that_ends_in_its_activation_is_not_recorded_twice():
    block = lambda: nn.Sequential(nn.Linear(4, 4), nn.ReLU(inplace=True))  # noqa: E731
    m = nn.Sequential(nn.Sequential(block(), block()), nn.Linear(4, 2))
    assert resolve_layers(m, "auto", trace_forward(m, torch.zeros(2, 4))) == ["0.0.1", "0.1.1", "1"]


def test_activations_found_by_what_they_are():
    model = _bert()
    acts = [n for n in resolve_layers(model, "auto", trace_forward(model, ModelInputs(_tokens(2)[0])))
            if n.endswith("intermediate_act_fn")]
    assert len(acts) == BLOCKS  # HF's GELUActivation, not a torch.nn type


@pytest.mark.parametrize("pooling", ["all", "mean", "first"])
def test_padding_changes_no_value(pooling):
    model = _bert()
    short, y = _tokens(40, 10, pad_to=10, pad_value=0)
    long, _ = _tokens(40, 10, pad_to=17, pad_value=None)  # more padding, holding random ids
    assert torch.equal(short["attention_mask"].sum(1), long["attention_mask"].sum(1))
    ests = ["renyi", "binning", "kde"]
    values = []
    for x in (short, long):
        with Recorder(model, (x, y), estimators=ests, store=None, token_pooling=pooling, unit_every=1,
                      layers=["bert.embeddings", "bert.encoder.layer.0", "bert.encoder.layer.1"]) as rec:
            m = rec.measure(0, units=True)
        values.append({(r.layer, r.unit, r.quantity, r.estimator): r.value for r in m.rows})
    assert values[0].keys() == values[1].keys()
    assert len([k for k in values[0] if k[1] is not None]) == 3 * HIDDEN * 3 * len(ests)
    worst = max(abs(values[0][k] - values[1][k]) for k in values[0])
    assert worst < 1e-5, worst


def test_gpt2_dict_probe_with_padding_records_every_block():
    x, y = _tokens(30, 8, pad_to=12)
    with Recorder(_gpt2(), (x, y), layers="blocks", estimators=["renyi", "binning"], store=None, units=True) as rec:
        m = rec.measure(0)
    units = {(r.layer, r.unit) for r in m.rows if r.unit is not None}
    assert {u for layer, u in units if layer == "transformer.h.1"} == set(range(HIDDEN))
    xt = [r for r in m.rows if r.quantity == "I(X;T)" and r.estimator == "renyi" and r.unit is None]
    assert all(r.params["sigma_input"] == "hamming" and r.params["x_representation"] == "tokens" for r in xt)
    assert all(r.params["token_pooling"] == "all" for r in xt if r.layer.startswith("transformer.h"))


def test_attention_heads_as_units():
    x, y = _tokens(30)
    layer = "bert.encoder.layer.0.attention.self"  # concatenates its heads (no output projection)
    with Recorder(_bert(), (x, y), layers=[layer], heads={layer: HEADS}, estimators=["renyi"], store=None,
                  token_pooling="mean") as rec:
        m = rec.measure(0, units=True)
    assert sorted({r.unit for r in m.rows if r.unit is not None}) == list(range(HEADS))
    assert rec.layouts[layer].units((10, HIDDEN)) == HEADS
    with pytest.raises(ValueError, match="do not split into heads=3"):
        Recorder(_bert(), (x, y), layers=[layer], heads={layer: 3}, store=None)


def test_token_ids_are_never_under_an_rbf_kernel():
    x, y = _tokens(30)
    ids = x["input_ids"]
    with pytest.raises(ValueError, match="RBF kernel on token ids"):
        MatrixRenyi().mutual_information(ids, torch.randn(30, 3))
    with pytest.raises(ValueError, match="ids measures distances between id numbers"):
        Recorder(_bert(), (x, y), input_representation="values", store=None)
    with pytest.raises(ValueError, match="ksg measures I\\(X;T\\) from distances"):
        Recorder(_bert(), (x, y), estimators=["ksg"], store=None)
    # the embedding output as X is real-valued: KSG can measure it, and it is stored
    with Recorder(_bert(), (x, y), estimators=["ksg"], input_representation="embedding", store=None, units=False,
                  layers=["bert.encoder.layer.1"]) as rec:
        m = rec.measure(0)
    assert rec.x_representations == {"train": "embedding"}
    assert [r.params["x_representation"] for r in m.rows if r.quantity == "I(X;T)"] == ["embedding"]


def test_token_gram_is_the_cosine_of_one_hot_codes_and_ignores_padding():
    rng = np.random.default_rng(0)
    ids = torch.as_tensor(rng.integers(0, 5, (12, 6)))
    lengths = torch.as_tensor(rng.integers(1, 7, 12))
    real = torch.arange(6)[None] < lengths[:, None]
    padded = torch.where(real, ids, torch.full_like(ids, -1))
    onehot = torch.zeros(12, 6, 5, dtype=torch.float64)
    onehot[real] = torch.nn.functional.one_hot(ids[real], 5).double()
    flat = onehot.reshape(12, -1)
    cosine = flat @ flat.T / (flat.norm(dim=1)[:, None] * flat.norm(dim=1)[None])
    k = token_gram(padded)
    assert torch.allclose(k, cosine)
    assert torch.allclose(k.diagonal(), torch.ones(12, dtype=torch.float64))
    assert float(torch.linalg.eigvalsh(k).min()) > -1e-12
    wider = torch.cat([padded, torch.full((12, 4), -1)], dim=1)
    assert torch.equal(token_gram(wider), k)


def test_hamming_renyi_identities_on_tokens():
    """I(X;T) for T an injective code of the token sequence equals S(X); for T independent of
    X it is near 0 (the Hamming Gram as X's kernel)."""
    rng = np.random.default_rng(1)
    ids = torch.as_tensor(rng.integers(0, 4, (60, 5)))
    ctx = ProbeContext.build(ids, torch.as_tensor(rng.integers(0, 2, 60)))
    assert ctx.tokens
    est = MatrixRenyi(sigma_x=0.05)
    code = torch.nn.functional.one_hot(ids, 4).reshape(60, -1).double() * 10  # distinct sequences far apart
    res = est.layer_information(code, ctx)
    s_x = est.probe_grams(ctx, ids.device).input_entropy
    assert res["I(X;T)"].value == pytest.approx(min(s_x, res["H(T)"].value), abs=0.05)
    noise = torch.as_tensor(rng.normal(size=(60, 3)))
    assert make_estimator("renyi").layer_information(noise, ctx)["I(X;T)"].value < res["I(X;T)"].value


def test_bad_dict_inputs_are_refused_with_names():
    x, y = _tokens(20)
    with pytest.raises(ValueError, match="input_ids has 20 rows, attention_mask has 19 rows"):
        Recorder(_bert(), ({"input_ids": x["input_ids"], "attention_mask": x["attention_mask"][:19]}, y), store=None)
    mask = x["attention_mask"].clone()
    mask[3] = 0
    with pytest.raises(ValueError, match=r"all zero for probe sample\(s\) \[3\]"):
        Recorder(_bert(), ({"input_ids": x["input_ids"], "attention_mask": mask}, y), store=None)
    with pytest.raises(ValueError, match="has 20 samples but its labels has 5"):
        Recorder(_bert(), (x, y[:5]), store=None)


def test_layouts_are_read_from_modules_or_declared_never_guessed():
    assert infer_layout("c", nn.Conv1d(3, 4, 3), (4, 9)).layout == "channels"
    assert infer_layout("a", nn.ReLU(), (4, 9), before=[(nn.BatchNorm1d(4), (4, 9))]).layout == "channels"
    with pytest.raises(ValueError, match="unit_axis=\\{'odd': -1\\}"):
        infer_layout("odd", nn.Identity(), (4, 9))
    assert infer_layout("odd", nn.Identity(), (4, 9), unit_axis=-1).reason == "declared"

    class Odd(nn.Module):
        def forward(self, x):
            return x.reshape(x.shape[0], 3, 4)

    model = nn.Sequential(nn.Linear(12, 12), Odd(), nn.Identity())
    x, y = torch.randn(20, 12), torch.arange(20) % 2
    with pytest.raises(ValueError, match="declare it"):
        Recorder(model, (x, y), layers=["1"], store=None)
    with Recorder(model, (x, y), layers=["1"], unit_axis={"1": -1}, store=None, estimators=["binning"]) as rec:
        m = rec.measure(0, units=True)
    assert sorted({r.unit for r in m.rows if r.unit is not None}) == [0, 1, 2, 3]


def test_sequence_view_leaves_padding_out():
    t = torch.randn(3, 5, 4)
    mask = torch.tensor([[1, 1, 1, 0, 0], [1, 0, 0, 0, 0], [0, 1, 1, 1, 1]]).bool()  # the last one left-padded
    mean = LayerLayout("sequence", "declared", "mean").view(t, mask)
    assert torch.allclose(mean[0], t[0, :3].mean(0)) and torch.allclose(mean[2], t[2, 1:].mean(0))
    first = LayerLayout("sequence", "declared", "first").view(t, mask)
    assert torch.equal(first[2], t[2, 1])
    full = LayerLayout("sequence", "declared", "all").view(t, mask)
    assert full.shape == (3, 4, 4) and torch.equal(full[1, :, 1:], torch.zeros(4, 3))
    ids, real = compact_tokens(torch.arange(15).reshape(3, 5), mask)
    assert ids[2].tolist() == [11, 12, 13, 14] and real.sum().item() == 3 + 1 + 4


def test_input_representation_tokens_trimmed():
    x, _ = _tokens(10, 6, pad_to=9)
    rep, kind = input_representation(ModelInputs(x))
    assert kind == "tokens" and rep.shape[1] == int(x["attention_mask"].sum(1).max())
    assert bool(((rep == -1) == (torch.arange(rep.shape[1])[None] >= x["attention_mask"].sum(1)[:, None])).all())


def test_trainer_callback_two_epochs(tmp_path):
    pytest.importorskip("accelerate")
    from infoscope.integrations.transformers import InfoscopeCallback

    x, y = _tokens(64, 8)

    class Data(torch.utils.data.Dataset):
        def __len__(self):
            return len(y)

        def __getitem__(self, i):
            return {"input_ids": x["input_ids"][i], "attention_mask": x["attention_mask"][i], "labels": y[i]}

    args = transformers.TrainingArguments(output_dir=str(tmp_path / "out"), num_train_epochs=2, per_device_train_batch_size=16,
                                          report_to=[], use_cpu=True, save_strategy="no", logging_steps=1,
                                          disable_tqdm=True, learning_rate=1e-3)
    model = _bert()
    trainer = transformers.Trainer(model=model, args=args, train_dataset=Data())
    db = tmp_path / "r.db"
    callback = InfoscopeCallback(({k: v[:32] for k, v in x.items()}, y[:32]), store=db, run="hf", trainer=trainer,
                                 layers="blocks", estimators=["renyi"], units=False)
    trainer.add_callback(callback)
    trainer.train()
    with load(db) as store:
        values = store.measurements(run="hf")
        status = store.runs().set_index("name").loc["hf", "status"]
    assert sorted(set(values["epoch"])) == [0, 1, 2]
    assert status == "finished"
    logged = [k for entry in trainer.state.log_history for k in entry if k.startswith("infoscope/")]
    assert "infoscope/train/bert.encoder.layer.1/I(T;Y)/renyi" in logged
    assert math.isfinite(float(values["value"].max()))


class _TokenData(torch.utils.data.Dataset):
    def __init__(self, x, y):
        self.x, self.y = x, y

    def __len__(self):
        return len(self.y)

    def __getitem__(self, i):
        return {"input_ids": self.x["input_ids"][i], "attention_mask": self.x["attention_mask"][i], "labels": self.y[i]}


def _trainer_worker(rank: int, world: int, port: int, out: str) -> None:
    """One rank of a 2-process Trainer launch (as torchrun sets it up: its environment variables)."""
    import os

    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port), RANK=str(rank), LOCAL_RANK=str(rank),
                      WORLD_SIZE=str(world), LOCAL_WORLD_SIZE=str(world))
    torch.set_num_threads(1)
    transformers.logging.set_verbosity_error()
    from infoscope.integrations.transformers import InfoscopeCallback

    x, y = _tokens(64, 8)
    args = transformers.TrainingArguments(output_dir=f"{out}/out", num_train_epochs=2, per_device_train_batch_size=16,
                                          report_to=[], use_cpu=True, save_strategy="no", disable_tqdm=True, ddp_backend="gloo")
    trainer = transformers.Trainer(model=_bert(), args=args, train_dataset=_TokenData(x, y))
    assert torch.distributed.is_initialized() and torch.distributed.get_world_size() == world
    callback = InfoscopeCallback(({k: v[:33] for k, v in x.items()}, y[:33]), store=f"{out}/r.db", run="ddp", trainer=trainer,
                                 layers="blocks", estimators=["renyi"], units=True)
    trainer.add_callback(callback)
    try:
        trainer.train()
        torch.distributed.barrier()  # on success only: a rank that failed must not wait for the other
    finally:  # an undestroyed gloo group can abort a rank at interpreter exit ("terminate called ...")
        torch.distributed.destroy_process_group()


def test_trainer_callback_under_a_distributed_launch(tmp_path):
    pytest.importorskip("accelerate")
    import socket

    import torch.multiprocessing as mp

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    mp.spawn(_trainer_worker, args=(2, port, str(tmp_path)), nprocs=2, join=True)
    with load(tmp_path / "r.db") as store:
        assert store.run_names() == ["ddp"]  # rank 0 alone wrote
        values = store.measurements(run="ddp", units=None)
        assert store.runs().set_index("name").loc["ddp", "status"] == "finished"
    assert sorted(set(values["epoch"])) == [0, 1, 2]
    whole = values[values.unit.isna()]
    layers = _expected_blocks("bert", _bert())
    assert set(whole["layer"]) == set(layers) and len(whole) == 3 * len(layers) * 3  # 3 records × layers × 3 quantities
    units = values[values.unit.notna()]
    # units dealt out to both ranks and gathered: every unit of every layer, every record
    assert len(units) == 3 * (HIDDEN * (len(layers) - 1) + 2) * 3


@pytest.mark.parametrize("name, units", [("seq-bert", 32), ("mnist-vit", 64)])
def test_transformer_experiments_record_their_blocks(name, units, tmp_path):
    from infoscope.experiments import run_experiment

    db = tmp_path / "r.db"
    res = run_experiment(name, store=db, epochs=1, probe_size=60)
    with load(db) as store:
        layers = store.layers(res.run).set_index("name")
        config = store.run_info(res.run)["config"]
        values = store.measurements(run=res.run, units=None)
    blocks = [n for n, v in config["layouts"].items() if v["layout"] == "sequence"]
    assert len(blocks) >= 3 and all(int(layers.loc[n, "n_units"]) == units for n in blocks)
    assert config["probes"]["train"]["x_representation"] == ("tokens" if name == "seq-bert" else "values")
    assert config["probes"]["train"]["padded"] == (name == "seq-bert")
    assert sorted(set(values.epoch)) == [0, 1] and values.value.notna().all()
    assert set(values[values.unit.notna()].unit) == set(range(units)) | set(range(values[values.layer == "classifier"].unit.max() + 1))


def test_transformer_experiments_say_how_to_install_transformers(monkeypatch, tmp_path, capsys):
    from infoscope.cli import main

    monkeypatch.setitem(sys.modules, "transformers", None)  # as if it were not installed
    assert main(["run", "seq-bert", "--epochs", "0", "--out", str(tmp_path / "r.db")]) == 2
    err = capsys.readouterr().err
    assert "pip install 'infoscope[transformers]'" in err and "Traceback" not in err
