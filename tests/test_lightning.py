"""The Lightning callback: records into the store and logs through the trainer's loggers."""

from __future__ import annotations

import pandas as pd
import pytest
import torch
from torch import nn

import infoscope

lightning = pytest.importorskip("lightning", reason="Lightning is part of the test extra")
from lightning.pytorch import LightningModule, Trainer  # noqa: E402
from lightning.pytorch.loggers import CSVLogger  # noqa: E402

from infoscope.integrations.lightning import InfoscopeCallback  # noqa: E402


class Tiny(LightningModule):
    def __init__(self):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(6, 8), nn.Tanh(), nn.Linear(8, 2))

    def forward(self, x):
        return self.net(x)

    def training_step(self, batch, batch_idx):
        x, y = batch
        loss = nn.functional.cross_entropy(self(x), y)
        self.log("train_loss", loss, on_epoch=True, on_step=False)
        return loss

    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=0.1)


def test_callback_records_two_epochs_and_logs(tmp_path):
    torch.manual_seed(0)
    x = torch.randn(128, 6)
    y = (x[:, 0] > 0).long()
    loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(x, y), batch_size=32)
    callback = InfoscopeCallback(probes=(x[:64], y[:64]), estimators=["binning", "renyi"], store=tmp_path / "r.db", run="pl")
    trainer = Trainer(max_epochs=2, callbacks=[callback], logger=CSVLogger(tmp_path / "logs"), accelerator="cpu", devices=1,
                      enable_checkpointing=False, enable_progress_bar=False, enable_model_summary=False)
    trainer.fit(Tiny(), loader)
    with infoscope.load(tmp_path / "r.db") as st:
        assert sorted(st.records("pl").epoch) == [0, 1, 2]
        m = st.measurements(run="pl")
        assert set(m.layer) == {"net.1", "net.2"} and set(m.estimator) == {"binning", "renyi"}
        assert not st.measurements(run="pl", units=True).empty
        assert "train_loss" in set(st.metrics("pl").name)
        assert st.run_info("pl")["status"] == "finished"
    logged = pd.read_csv(next((tmp_path / "logs").rglob("metrics.csv")))
    col = "infoscope/train/net.1/I(T;Y)/binning"
    assert col in logged.columns and logged[col].notna().sum() == 3
    last = m[(m.layer == "net.1") & (m.quantity == "I(T;Y)") & (m.estimator == "binning") & (m.epoch == 2)].value.iloc[0]
    assert logged[col].dropna().iloc[-1] == pytest.approx(last)


def test_bad_cadence():
    with pytest.raises(ValueError, match="every must be"):
        InfoscopeCallback(probes=(torch.zeros(4, 2), torch.zeros(4, dtype=torch.long)), every=0)
