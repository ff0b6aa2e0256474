"""Export recorded series to TensorBoard event files (``pip install 'infoscope[tensorboard]'``)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from ..analysis.series import last_per_epoch
from ..store import Store, opened

__all__ = ["export_tensorboard"]


def export_tensorboard(store: Store | str | Path, out_dir: str | Path, runs: Sequence[str] | None = None) -> list[Path]:
    """Write one TensorBoard log folder per run under ``out_dir``.

    Whole-layer values become scalars ``<probe>/<layer>/<quantity>/<estimator>`` (bits) and
    the user's metrics ``metrics/<name>``, with the epoch as TensorBoard's step.

    Returns
    -------
    list of Path
        The folders written (``tensorboard --logdir out_dir`` shows them).
    """
    try:
        from torch.utils.tensorboard import SummaryWriter
    except ImportError:
        raise ValueError("TensorBoard export needs tensorboard: pip install 'infoscope[tensorboard]'") from None
    written = []
    with opened(store) as st:
        for run in runs or st.run_names():
            folder = Path(out_dir) / run
            writer = SummaryWriter(log_dir=str(folder))
            try:
                m = last_per_epoch(st.measurements(run=run), ["probe", "layer", "quantity", "estimator"])
                for r in m.itertuples():
                    writer.add_scalar(f"{r.probe}/{r.layer}/{r.quantity}/{r.estimator}", r.value, global_step=int(r.epoch))
                for r in last_per_epoch(st.metrics(run=run), ["name"]).itertuples():
                    writer.add_scalar(f"metrics/{r.name}", r.value, global_step=int(r.epoch))
            finally:
                writer.close()
            written.append(folder)
    return written
