"""Two processes with the gloo backend record the same values as one process does."""

from __future__ import annotations

import os
import socket
import time

import numpy as np
import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from torch import nn

import infoscope
from infoscope import Binning, MatrixRenyi, Recorder


def _model() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(20, 16), nn.Tanh(), nn.Linear(16, 8), nn.ReLU(), nn.Linear(8, 3))


def _data():
    g = torch.Generator().manual_seed(1)
    x = torch.randn(240, 20, generator=g)
    y = (x[:, 0] > 0).long() + (x[:, 1] > 0.5).long()
    return x, y, x[:101], y[:101]  # an odd probe size: the shards differ in length


def _estimators():
    return [MatrixRenyi(sigma_x="alignment"), Binning(n_bins=10)]


def _ddp_worker(rank: int, world: int, port: int, db: str, out: str) -> None:
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    dist.init_process_group("gloo", rank=rank, world_size=world)
    try:
        torch.set_num_threads(1)
        model = _model()
        ddp = nn.parallel.DistributedDataParallel(model)
        x, y, xp, yp = _data()
        rec = Recorder(ddp, (xp, yp), estimators=_estimators(), units=True, store=db, run="ddp", seed=0)
        assert rec.distributed and (rec.store is None) == (rank != 0)
        rec.record(epoch=0)
        opt = torch.optim.SGD(ddp.parameters(), lr=0.1)
        mine = torch.arange(len(x))[rank::world]
        for epoch in (1, 2):
            for idx in mine.split(30):
                opt.zero_grad()
                nn.functional.cross_entropy(ddp(x[idx]), y[idx]).backward()
                opt.step()
            rec.record(epoch=epoch, metrics={"epoch": float(epoch)})
        if rank == 0:
            torch.save(model.state_dict(), out)
        rec.close()
    finally:
        dist.destroy_process_group()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.skipif(not dist.is_available(), reason="torch.distributed is not available")
def test_two_gloo_processes_equal_a_single_process(tmp_path):
    db, weights = tmp_path / "ddp.db", tmp_path / "final.pt"
    t0 = time.perf_counter()
    mp.spawn(_ddp_worker, args=(2, _free_port(), str(db), str(weights)), nprocs=2, join=True)
    seconds = time.perf_counter() - t0
    with infoscope.load(db) as st:
        assert st.run_names() == ["ddp"]  # one run: only rank 0 wrote
        ddp = st.measurements(run="ddp", units=None)
        assert sorted(st.records("ddp").epoch) == [0, 1, 2]
    # the same probe and weights, recorded by one process
    _, _, xp, yp = _data()
    model = _model()
    with Recorder(model, (xp, yp), estimators=_estimators(), units=True, store=tmp_path / "one.db", run="one", seed=0) as rec:
        rec.record(epoch=0)
        model.load_state_dict(torch.load(weights))
        rec.record(epoch=2)
    with infoscope.load(tmp_path / "one.db") as st:
        one = st.measurements(run="one", units=None)
    keys = ["epoch", "probe", "layer", "unit", "quantity", "estimator"]
    both = one.merge(ddp, on=keys, suffixes=("_one", "_ddp"))
    assert len(both) == len(one) == len(ddp[ddp.epoch.isin([0, 2])])
    rel = (both.value_one - both.value_ddp).abs() / both.value_one.abs().clip(lower=1e-6)
    assert rel.max() < 1e-6, both.loc[rel.idxmax()]
    renyi = both[both.estimator == "renyi"]
    s1 = renyi.params_one.map(lambda p: p["sigma_x"]).astype(float)
    s2 = renyi.params_ddp.map(lambda p: p["sigma_x"]).astype(float)
    assert np.allclose(s1, s2, rtol=1e-9)  # the same kernel widths were chosen
    print(f"2-process gloo run with recording: {seconds:.1f} s")
