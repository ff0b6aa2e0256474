"""Reproduce published information-plane results: run, analyse, draw, and say whether the claim held.

Each study is data: which experiment runs (with which activation and estimators), how many
epochs in the quick and the paper-sized (``--full``) version, and a check that turns the
analysis into a verdict with numbers. ``reproduce(name)`` writes the database, the figures
and a markdown summary into one folder.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd

from .estimators import I_TY, I_XT, KDE, KSG, Binning, Discrete, Estimator, MatrixRenyi
from .experiments import run_experiment
from .experiments.inspection import analyze_run
from .experiments.pruning import prune_check
from .options import RecordingOptions
from .plots import compare_runs, information_plane, mi_curves, save, unit_maps
from .store import Store

__all__ = ["Study", "StudyRun", "STUDIES", "ReproduceResult", "reproduce"]


def _recording(estimators: list[Estimator], units: bool = False, **options: Any) -> RecordingOptions:
    """What a study records: its estimators, per-unit series (if any) every epoch on the train probe."""
    return RecordingOptions(estimators=estimators, units=units, unit_every=1, unit_probes=["train"], **options)


@dataclasses.dataclass(frozen=True)
class StudyRun:
    """One training of a study: which experiment, how long, and what it records."""

    name: str
    experiment: str
    activation: str
    options: RecordingOptions
    quick_epochs: int
    full_epochs: int
    probe_size: int | None = None
    full_experiment: str | None = None  # the paper's own setting, for --full


@dataclasses.dataclass(frozen=True)
class Study:
    """A published claim and how to test it."""

    name: str
    source: str
    claim: str
    runs: tuple[StudyRun, ...]
    check: Callable[[Store, dict, dict], tuple[bool, str]]


def _phase_table(a, estimator: str) -> pd.DataFrame:
    """Train-probe phases of one estimator from an :class:`~infoscope.analysis.Analysis`."""
    p = a.phases[(a.phases.probe == "train") & (a.phases.estimator == estimator)]
    return p[["layer", "peak_epoch", "peak", "final", "drop", "drop_fraction", "compressed"]]


def _final_ixt(store: Store, run: str, estimator: str) -> list[float]:
    m = store.measurements(run=run, probe="train", estimator=estimator, quantity=I_XT)
    last = m[m.epoch == m.epoch.max()]
    order = list(store.layers(run).name)
    return [float(last[last.layer == layer].value.iloc[-1]) for layer in order if layer in set(last.layer)]


def _check_tishby(store: Store, runs: dict, analyses: dict) -> tuple[bool, str]:
    p = _phase_table(analyses["tanh"], "binning")
    hidden = p.iloc[:-1]  # the output layer is the prediction
    deep = hidden.tail(2)
    ixt = _final_ixt(store, runs["tanh"], "binning")[:-1]
    ordered = all(a >= b - 0.05 for a, b in zip(ixt, ixt[1:]))
    held = bool(deep.compressed.any())
    text = (f"Deeper hidden layers compress: {'yes' if held else 'no'} "
            f"({', '.join(f'layer {r.layer}: drop {r.drop:.2f} bits' for r in deep.itertuples())}). "
            f"I(X;T) keeps the data-processing order across hidden layers at the end: {'yes' if ordered else 'no'} "
            f"({', '.join(f'{v:.2f}' for v in ixt)} bits).")
    return held, text


def _check_saxe(store: Store, runs: dict, analyses: dict) -> tuple[bool, str]:
    relu_bin = _phase_table(analyses["relu"], "binning").iloc[:-1]
    tanh_kde = _phase_table(analyses["tanh"], "kde").iloc[:-1]
    relu_kde = _phase_table(analyses["relu"], "kde").iloc[:-1]
    relu_no_comp = not relu_bin.compressed.any()
    kde_contrast = bool(tanh_kde.compressed.any()) and not relu_kde.compressed.any()
    text = (f"ReLU under binning: {'no compression' if relu_no_comp else 'compression in ' + ', '.join(relu_bin[relu_bin.compressed].layer)}. "
            f"KDE: tanh compresses in {', '.join(tanh_kde[tanh_kde.compressed].layer) or 'no layer'}, "
            f"ReLU in {', '.join(relu_kde[relu_kde.compressed].layer) or 'no layer'}.")
    return relu_no_comp and kde_contrast, text


def _check_fang(store: Store, runs: dict, analyses: dict) -> tuple[bool, str]:
    run = runs["cnn"]
    a = analyses["cnn"]
    pc = prune_check(store, run, fraction=0.25, seeds=5).table.iloc[-1]
    better = pc.acc_mi_low > pc.acc_rand + pc.acc_rand_sd
    text = (f"{a.network['verdict']}; loss plateau: {a.network['loss_since']}. Masking the 25% lowest-I(unit;Y) units of "
            f"every hidden layer: held-out accuracy {pc.acc:.3f} → {pc.acc_mi_low:.3f}, against {pc.acc_rand:.3f} ± "
            f"{pc.acc_rand_sd:.3f} for random units and {pc.acc_mi_high:.3f} for the highest-I units.")
    return bool(better), text


def _check_disagreement(store: Store, runs: dict, analyses: dict) -> tuple[bool, str]:
    run = runs["tanh"]
    a = analyses["tanh"]
    p = a.phases[(a.phases.probe == "train")]
    verdicts = p.pivot_table(index="layer", columns="estimator", values="compressed", aggfunc="first")
    agree = bool((verdicts.nunique(axis=1) == 1).all())
    bands = store.bands(run=run, kind="sensitivity")
    widths = bands[bands.quantity == I_XT].assign(w=lambda d: d.high - d.low).groupby("estimator").w.mean()
    text = (f"Estimators agree on compression for every layer: {'yes' if agree else 'no'}; per layer "
            + "; ".join(f"{layer}: " + ", ".join(f"{e}={'C' if v else '–'}" for e, v in row.items()) for layer, row in verdicts.iterrows())
            + ". Mean width of the sensitivity band of I(X;T) (½× to 2× the setting): "
            + ", ".join(f"{e} {w:.2f} bits" for e, w in widths.items()) + ".")
    return not agree, text


def _check_wickstrom_mlp(store: Store, runs: dict, analyses: dict) -> tuple[bool, str]:
    run = runs["mlp"]
    a = analyses["mlp"]
    p = a.phases[a.phases.estimator == "renyi"]
    hidden = list(store.layers(run).name)[:-1]
    train, test = (p[(p.probe == pr) & p.layer.isin(hidden)] for pr in ("train", "test"))
    met = store.metrics(run=run)
    acc = met[met.name == "test_acc"].sort_values("epoch")
    stop = int(acc.epoch.iloc[int(acc.value.to_numpy().argmax())])
    starts = train[train.compressed].peak_epoch
    both = bool(train.compressed.any())
    clearer = float(train["drop"].clip(lower=0).sum()) >= float(test["drop"].clip(lower=0).sum())
    text = (f"Compression on the training probe in layers {', '.join(train[train.compressed].layer) or 'none'} "
            f"(total drop {train['drop'].clip(lower=0).sum():.2f} bits) and on the held-out probe in "
            f"{', '.join(test[test.compressed].layer) or 'none'} ({test['drop'].clip(lower=0).sum():.2f} bits). "
            f"Best held-out accuracy at epoch {stop} (early stopping); compression starts at epochs "
            f"{', '.join(str(e) for e in starts) or '—'}.")
    before = bool(len(starts)) and stop <= int(starts.min())
    text += (f" Compression clearer on training data: {'yes' if clearer else 'no'}; early stopping before compression: "
             f"{'yes' if before else 'no'}.")
    return both and clearer and before, text


def _check_wickstrom_cnn(store: Store, runs: dict, analyses: dict) -> tuple[bool, str]:
    run = runs["vgg"]
    a = analyses["vgg"]
    p = a.phases[(a.phases.probe == "train") & (a.phases.estimator == "renyi")]
    hidden = p[p.layer.isin(list(store.layers(run).name)[:-1])]
    both = hidden[(hidden.peak_epoch > 0) & hidden.compressed]
    text = (f"Layers with a fitting phase (I(X;T) peaks after epoch 0) followed by compression: "
            f"{', '.join(f'{r.layer} (peak at {r.peak_epoch}, drop {r.drop:.2f} bits)' for r in both.itertuples()) or 'none'}; "
            f"compressing from the start: {', '.join(hidden[(hidden.peak_epoch == 0) & hidden.compressed].layer) or 'none'}.")
    return not both.empty, text


def _check_lorenzen(store: Store, runs: dict, analyses: dict) -> tuple[bool, str]:
    run = runs["quant"]
    m = store.measurements(run=run, probe="train")
    exact = m[m.estimator == "discrete"].set_index(["epoch", "step", "layer", "quantity"]).value
    errors = []
    for est, g in m[m.estimator != "discrete"].groupby("estimator"):
        diff = (g.set_index(["epoch", "step", "layer", "quantity"]).value - exact).dropna()
        per_q = diff.groupby(level="quantity").apply(lambda d: float(d.abs().mean()))
        errors.append(f"{est}: mean |error| I(X;T) {per_q.get(I_XT, float('nan')):.2f}, I(T;Y) {per_q.get(I_TY, float('nan')):.2f} bits")
    p = _phase_table(analyses["quant"], "discrete")
    p = p[p.layer.str.startswith("quant")]  # the quantised hidden layers, whose values are exact
    shapes = analyses["quant"].phases
    shapes = shapes[(shapes.probe == "train") & (shapes.estimator == "discrete") & shapes.layer.str.startswith("quant")]
    held = bool(p.compressed.any())
    text = ("Exact plane (counts of the 8-bit activations over the probe): "
            + ", ".join(f"{r.layer} {r.shape}" + (f" (drop {r.drop:.2f} bits)" if r.compressed else "") for r in shapes.itertuples())
            + ". Estimators against it: " + "; ".join(errors) + ".")
    return held, text


STUDIES: dict[str, Study] = {
    s.name: s
    for s in (
        Study(
            "tishby-tanh", "Shwartz-Ziv & Tishby 2017",
            "with tanh, every layer first fits (I(T;Y) rises), then the deeper layers compress (I(X;T) falls); "
            "layers keep the data-processing order",
            (StudyRun("tanh", "tishby", "tanh", _recording([Binning(30, (-1.0, 1.0))]), 300, 3000),),
            _check_tishby,
        ),
        Study(
            "saxe-relu", "Saxe et al. 2018",
            "with ReLU the same network does not compress under binning; with KDE bounds tanh compresses and ReLU does not",
            (StudyRun("tanh", "tishby", "tanh", _recording([Binning(30, (-1.0, 1.0)), KDE()]), 300, 3000, probe_size=1000),
             StudyRun("relu", "tishby", "relu", _recording([Binning(30), KDE()]), 300, 3000, probe_size=1000)),
            _check_saxe,
        ),
        Study(
            "fang-units", "Fang, Wang & Yamaguchi 2018",
            "per-unit MI over training shows when the network has converged and which units are less effective; "
            "pruning the least informative units should cost less than pruning random ones",
            (StudyRun("cnn", "mnist-cnn", "relu",
                      _recording([MatrixRenyi(sigma_x="silverman", sigma_input=8.0 / 2**0.5)], units=True), 10, 30),),
            _check_fang,
        ),
        Study(
            "wickstrom-mlp", "Wickstrøm et al. 2023",
            "matrix-based Rényi (σ by label alignment, EMA-smoothed) on the 784-1024-20-20-20-10 MLP shows fitting and "
            "compression; compression is clearer on training than on test data; early stopping tends to stop before it",
            (StudyRun("mlp", "mnist-mlp", "relu",
                      _recording([MatrixRenyi(sigma_x="alignment", sigma_input=8.0 / 2**0.5)], sigma_smoothing=0.9), 8, 100),),
            _check_wickstrom_mlp,
        ),
        Study(
            "wickstrom-cnn", "Wickstrøm et al. 2023",
            "with tensor kernels the layers of a deep (VGG-style) CNN show a fitting and a compression phase",
            (StudyRun("vgg", "mnist-vgg", "relu",
                      _recording([MatrixRenyi(sigma_x="alignment", sigma_input=8.0 / 2**0.5)], sigma_smoothing=0.9),
                      6, 50, full_experiment="cifar-vgg16"),),
            _check_wickstrom_cnn,
        ),
        Study(
            "lorenzen-quantized", "Lorenzen, Igel & Nielsen 2022 (ICLR)",
            "in a network whose activations are quantised to 8 bits the information plane is exact, not estimated; with "
            "tanh on the 12-bit task the exact plane of the hidden layers shows compression",
            # no KSG: the quantised activations are discrete, with ties that a kNN estimator is not made for
            (StudyRun("quant", "tishby-quantized", "tanh",
                      _recording([Discrete(), Binning(30, (-1.0, 1.0)), KDE(), MatrixRenyi()],
                                 layers=[f"quant{i}" for i in range(1, 6)]), 30, 1500, probe_size=500),),
            _check_lorenzen,
        ),
        Study(
            "estimator-disagreement", "Geiger 2021 (review); Saxe et al. 2018",
            "the information-plane picture depends on the estimator: measured by all four estimators, one run's "
            "layers get different compression verdicts",
            (StudyRun("tanh", "tishby", "tanh", _recording([Binning(30, (-1.0, 1.0)), KDE(), MatrixRenyi(), KSG()], sensitivity=True),
                      60, 1500, probe_size=400),),
            _check_disagreement,
        ),
    )
}


def _markdown(df: pd.DataFrame) -> str:
    """A GitHub-flavoured markdown table, floats to three decimals."""
    cell = lambda v: f"{v:.3f}" if isinstance(v, float) else str(v)  # noqa: E731
    rows = ["| " + " | ".join(map(str, df.columns)) + " |", "|" + "---|" * len(df.columns)]
    rows += ["| " + " | ".join(cell(v) for v in r) + " |" for r in df.itertuples(index=False)]
    return "\n".join(rows)


@dataclasses.dataclass(frozen=True)
class ReproduceResult:
    """What a reproduction found and wrote.

    Attributes
    ----------
    study : str
    held : bool
        Whether the published claim held here.
    verdict : str
        The check's numbers behind that answer.
    figures : list of str
        File names of the figures, beside the summary.
    summary : Path
        The markdown summary.
    """

    study: str
    held: bool
    verdict: str
    figures: list[str]
    summary: Path


def reproduce(
    name: str, out_dir: str | Path = "reproduce", full: bool = False, seed: int = 0,
    epochs: int | None = None, probe_size: int | None = None, device: str | None = None, data: str | None = None,
) -> ReproduceResult:
    """Run a study and write ``<out_dir>/<name>/``: ``runs.db``, figures and ``summary.md``.

    ``epochs`` and ``probe_size`` override the study's settings (for smoke tests; the summary
    says so); ``device`` is where the networks train and are measured (default: the CPU);
    ``data`` is the CIFAR folder (or "synthetic") for studies whose full version runs on CIFAR.
    """
    if name not in STUDIES:
        raise ValueError(f"unknown study {name!r}; choose one of: {', '.join(STUDIES)}")
    study = STUDIES[name]
    folder = Path(out_dir) / name
    folder.mkdir(parents=True, exist_ok=True)
    db = folder / "runs.db"
    for suffix in ("", "-wal", "-shm"):
        Path(str(db) + suffix).unlink(missing_ok=True)
    t0 = time.perf_counter()
    runs, lines = {}, []
    for r in study.runs:
        n_epochs = epochs if epochs is not None else (r.full_epochs if full else r.quick_epochs)
        experiment = r.full_experiment if full and r.full_experiment else r.experiment
        res = run_experiment(experiment, store=db, run=f"{name}-{r.name}", epochs=n_epochs, activation=r.activation,
                             probe_size=probe_size or r.probe_size, seed=seed, device=device, data=data, options=r.options)
        runs[r.name] = res.run
        lines.append(f"| {res.run} | {experiment} ({r.activation}) | {n_epochs} | {res.metrics['train_acc']:.3f} | "
                     f"{res.metrics['test_acc']:.3f} | {res.seconds:.0f} |")
    with Store(db) as st:
        analyses = {key: analyze_run(st, run) for key, run in runs.items()}  # once per run, warnings stored
        held, verdict = study.check(st, runs, analyses)
        figures = _figures(st, runs, folder)
    tables = []
    for key, run in runs.items():
        phases = analyses[key].phases
        p = phases[phases.probe == "train"][["estimator", "layer", "peak_epoch", "peak", "final", "drop", "compressed"]]
        tables.append(f"**{run}** (train probe; I(X;T) in bits)\n\n" + _markdown(p))
    command = f"infoscope reproduce {name}{' --full' if full else ''} --seed {seed}"
    text = "\n".join([
        f"# {name}: {study.source}", "",
        f"Claim: {study.claim}.", "",
        f"Command: `{command}` ({'paper-sized' if full else 'quick'} version"
        f"{f', epochs overridden to {epochs}' if epochs is not None else ''}"
        f"{f', probe size overridden to {probe_size}' if probe_size is not None else ''}, seed {seed}, "
        f"{'on ' + str(device) + ', ' if device else ''}"
        f"{time.perf_counter() - t0:.0f} s here).", "",
        "| run | experiment | epochs | train acc | test acc | seconds |", "|---|---|---|---|---|---|", *lines, "",
        "\n\n".join(tables), "",
        f"**Verdict: the claim {'held' if held else 'did not hold'} here.** {verdict}", "",
        "Figures: " + ", ".join(f"[{f}]({f})" for f in figures), "",
    ])
    summary = folder / "summary.md"
    summary.write_text(text, encoding="utf-8")
    return ReproduceResult(name, bool(held), verdict, figures, summary)


def _figures(st: Store, runs: dict[str, str], folder: Path) -> list[str]:
    """Draw each run's information plane, curves and (if recorded) unit maps, and a comparison."""
    figures = []
    for key, run in runs.items():
        figures.append(save(information_plane(st, run), folder / f"{key}-plane.png").name)
        figures.append(save(mi_curves(st, run), folder / f"{key}-curves.png").name)
        if not st.measurements(run=run, units=True).empty:
            figures.append(save(unit_maps(st, run), folder / f"{key}-units.png").name)
    if len(runs) > 1:
        figures.append(save(compare_runs(st, list(runs.values())), folder / "compare.png").name)
    return figures
