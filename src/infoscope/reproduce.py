"""Reproduce published information-plane results: run, analyse, draw, and say whether the claim held.

Each study is data: which experiment runs (with which activation and estimators), how many
epochs in the quick and the paper-sized (``--full``) version, and a check that splits the
claim into named parts (:class:`~infoscope.claims.Part`), each held, did not hold or not
testable with its evidence. ``reproduce(name)`` runs each seed, writes the database, the
figures and a markdown summary into one folder, and gives the verdict over the seeds
(:func:`~infoscope.claims.verdict`).
"""

from __future__ import annotations

import dataclasses
import math
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd

from .analysis.phases import MIN_NOISE, RESCALED_WORDS
from .claims import FAILED, HELD, MIN_SEEDS, UNTESTABLE, Part, Verdict, combine, seed_status, verdict
from .estimators import I_TY, I_XT, KDE, KSG, Binning, Discrete, Estimator, MatrixRenyi
from .experiments import run_experiment
from .experiments.inspection import analyze_run
from .experiments.pruning import prune_check
from .marks import is_marked
from .options import RecordingOptions
from .plots import compare_runs, information_plane, mi_curves, save, unit_maps
from .store import Store

__all__ = ["Study", "StudyRun", "STUDIES", "ReproduceResult", "reproduce"]


#: Label permutations and bootstrap subsamples of every study's bands: a phase needs a change
#: beyond both (:func:`~infoscope.analysis.phases.fitting`, :func:`~infoscope.analysis.phases.phases`).
STUDY_CHANCE, STUDY_BOOTSTRAP = 10, 5
#: Records with bands per run, about (``band_every`` follows the run's epochs): each such record
#: costs 1 + chance + bootstrap estimates of every layer.
STUDY_BAND_RECORDS = 5


def _recording(estimators: list[Estimator], units: bool = False, **options: Any) -> RecordingOptions:
    """What a study records: its estimators, chance and bootstrap bands, per-unit series (if
    any) every epoch on the train probe."""
    bands = {"chance": STUDY_CHANCE, "bootstrap": STUDY_BOOTSTRAP, **options}
    return RecordingOptions(estimators=estimators, units=units, unit_every=1, unit_probes=["train"], **bands)


#: One probe for every study of the 12-bit network (tishby-tanh, saxe-relu,
#: estimator-disagreement), so that their numbers can be compared: Saxe et al.'s size.
TISHBY_PROBE = 1000


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
    whole_probe: bool = False  # also the probe "all": every sample of the data set


@dataclasses.dataclass(frozen=True)
class Study:
    """A published claim and how to test it."""

    name: str
    source: str
    claim: str
    runs: tuple[StudyRun, ...]
    check: Callable[[Store, dict, dict], list[Part]]


def _phase_table(a, estimator: str, probe: str = "train") -> pd.DataFrame:
    """One probe's phases of one estimator from an :class:`~infoscope.analysis.Analysis`."""
    return a.phases[(a.phases.probe == probe) & (a.phases.estimator == estimator)]


def _hidden(p: pd.DataFrame, store: Store, run: str) -> pd.DataFrame:
    """The rows of ``p`` for hidden layers (every recorded layer but the output)."""
    return p[p.layer.isin(list(store.layers(run).name)[:-1])]


def _compresses(rows: pd.DataFrame, what: str, every: bool = True) -> Part:
    """"``rows``' layers compress": each (``every``) or one of them fits, then falls beyond
    noise, and the fall survives normalising the layer's scale; a saturated series is not
    testable."""
    ok = rows[rows.compressed & (rows.rescaled != "does not survive")]
    scale_only = rows[rows.compressed & (rows.rescaled == "does not survive")]
    saturated = rows[rows["shape"] == "saturated"]
    evidence = "; ".join(
        f"{r.layer}: {r.shape}" + (f", drop {r.drop:.2f} bits after epoch {r.peak_epoch}" if r.compressed else "")
        + (f" ({RESCALED_WORDS[r.rescaled]})" if r.rescaled else "") for r in rows.itertuples())
    if every:
        status = HELD if len(ok) == len(rows) and len(rows) else (UNTESTABLE if len(saturated) else FAILED)
    else:
        status = HELD if len(ok) else (UNTESTABLE if len(saturated) == len(rows) else FAILED)
    if status == FAILED and len(scale_only):
        evidence += "; a fall that is only a change of scale does not count"
    return Part(what, status, evidence or "no layers")


def _no_compression(rows: pd.DataFrame, what: str) -> Part:
    """"``rows``' layers do not compress": no layer compresses (a saturated series is not testable)."""
    comp = rows[rows.compressed & (rows.rescaled != "does not survive")]
    testable = rows[rows["shape"] != "saturated"]
    evidence = "; ".join(f"{r.layer}: {r.shape}" + (f" (drop {r.drop:.2f} bits)" if r.compressed else "") for r in rows.itertuples())
    status = FAILED if len(comp) else (HELD if len(testable) == len(rows) and len(rows) else UNTESTABLE)
    return Part(what, status, evidence or "no layers")


def _fits(rows: pd.DataFrame, what: str) -> Part:
    """"Every layer of ``rows`` first fits": I(T;Y) rises beyond noise and chance in each."""
    statuses = [{"fits": HELD, "no rise": FAILED}.get(r.fits, UNTESTABLE) for r in rows.itertuples()]
    evidence = "; ".join(f"{r.layer}: {r.fit_evidence}" for r in rows.itertuples())
    return Part(what, combine(statuses), evidence or "no layers")


def _final(store: Store, run: str, estimator: str, quantity: str = I_XT, probe: str = "train") -> pd.DataFrame:
    """The last epoch's values of each layer in forward order: value and params."""
    m = store.measurements(run=run, probe=probe, estimator=estimator, quantity=quantity)
    last = m[m.epoch == m.epoch.max()].groupby("layer").last()
    return last.reindex([n for n in store.layers(run).name if n in last.index])


def _check_tishby(store: Store, runs: dict, analyses: dict) -> list[Part]:
    p = _hidden(_phase_table(analyses["tanh"], "binning"), store, runs["tanh"])  # the output layer is the prediction
    final = _final(store, runs["tanh"], "binning").iloc[:-1]
    values, marked = final.value.to_numpy(), final.params.map(is_marked).to_numpy()
    pairs = list(zip(values, values[1:], marked, marked[1:]))
    order_status = (UNTESTABLE if any(ma and mb for *_, ma, mb in pairs) else
                    HELD if all(a >= b - MIN_NOISE for a, b, *_ in pairs) else FAILED)
    order = Part("I(X;T) keeps the data-processing order across hidden layers at the end", order_status,
                 ", ".join(f"{layer} {v:.2f}" + (" [at a bound]" if mk else "") for layer, v, mk in zip(final.index, values, marked))
                 + " bits" + (" (layers at their bound cannot be ordered)" if order_status == UNTESTABLE else ""))
    return [_fits(p, "every hidden layer first fits (I(T;Y) rises beyond noise and chance)"),
            _compresses(p.tail(2), "the two deepest hidden layers compress (fit, then I(X;T) falls beyond noise)"),
            order]


def _check_saxe(store: Store, runs: dict, analyses: dict) -> list[Part]:
    relu_bin = _hidden(_phase_table(analyses["relu"], "binning"), store, runs["relu"])
    tanh_kde = _hidden(_phase_table(analyses["tanh"], "kde"), store, runs["tanh"])
    relu_kde = _hidden(_phase_table(analyses["relu"], "kde"), store, runs["relu"])
    return [_no_compression(relu_bin, "with ReLU, binning shows no compression in any hidden layer"),
            _compresses(tanh_kde, "with tanh, the KDE bound shows compression in a hidden layer", every=False),
            _no_compression(relu_kde, "with ReLU, the KDE bound shows no compression")]


def _check_fang(store: Store, runs: dict, analyses: dict) -> list[Part]:
    a = analyses["cnn"]
    pc = prune_check(store, runs["cnn"], fraction=0.25, seeds=5).table.iloc[-1]
    settled = Part("per-unit and layer MI settle: the network's MI converges", HELD if a.network["mi_since"] is not None else FAILED,
                   f"{a.network['verdict']}; loss plateau: {a.network['loss_since']}")
    gap = pc.acc_mi_low - pc.acc_rand
    prune = Part("masking the 25% lowest-I(unit;Y) units costs less accuracy than masking random ones",
                 HELD if gap > pc.acc_rand_sd else (FAILED if gap < -pc.acc_rand_sd else UNTESTABLE),
                 f"held-out accuracy {pc.acc:.3f} → {pc.acc_mi_low:.3f} (lowest-I units masked), against {pc.acc_rand:.3f} ± "
                 f"{pc.acc_rand_sd:.3f} (random units) and {pc.acc_mi_high:.3f} (highest-I units)"
                 + ("; within one s.d. of random masks: cannot be told apart" if abs(gap) <= pc.acc_rand_sd else ""))
    return [settled, prune]


def _check_disagreement(store: Store, runs: dict, analyses: dict) -> list[Part]:
    p = _hidden(analyses["tanh"].phases[analyses["tanh"].phases.probe == "train"], store, runs["tanh"])
    testable = p[p["shape"] != "saturated"]
    # compression as every other part counts it: a fall that is only a change of scale is none
    testable = testable.assign(compresses=testable.compressed & (testable.rescaled != "does not survive"))
    verdicts = testable.pivot_table(index="layer", columns="estimator", values="compresses", aggfunc="first")
    compared = verdicts[verdicts.notna().sum(axis=1) >= 2]
    differ = compared[compared.nunique(axis=1) > 1]
    bands = store.bands(run=runs["tanh"], kind="sensitivity")
    widths = bands[bands.quantity == I_XT].assign(w=lambda d: d.high - d.low).groupby("estimator").w.mean()
    evidence = ("; ".join(f"{layer}: " + ", ".join(f"{e}={'C' if v else '–'}" for e, v in row.dropna().items())
                          for layer, row in compared.iterrows()) or "no layer with two testable estimators")
    evidence += (". Saturated series left out; a fall that does not survive normalising the layer's scale is not compression"
                 + (f" ({', '.join(f'{r.estimator} {r.layer}' for r in testable[testable.compressed & ~testable.compresses].itertuples())})"
                    if (testable.compressed & ~testable.compresses).any() else "") + ". Mean width of the sensitivity band of I(X;T) (½× to 2× the setting): "
                 + ", ".join(f"{e} {w:.2f} bits" for e, w in widths.items()))
    status = HELD if len(differ) else (UNTESTABLE if compared.empty else FAILED)
    return [Part("the estimators give different compression verdicts for at least one layer", status, evidence)]


def _check_wickstrom_mlp(store: Store, runs: dict, analyses: dict) -> list[Part]:
    run, a = runs["mlp"], analyses["mlp"]
    train, test = (_hidden(_phase_table(a, "renyi", pr), store, run) for pr in ("train", "test"))
    met = store.metrics(run=run)
    acc = met[met.name == "test_acc"].sort_values("epoch")
    stop = int(acc.epoch.iloc[int(acc.value.to_numpy().argmax())])
    fit_comp = _compresses(train, "matrix Rényi shows fitting, then compression, on the training probe", every=False)
    drops = [float(d[d.compressed]["drop"].sum()) for d in (train, test)]
    clearer = Part("compression is clearer on training than on held-out data",
                   UNTESTABLE if fit_comp.status != HELD else (HELD if drops[0] >= drops[1] else FAILED),
                   f"total drop of compressing layers {drops[0]:.2f} bits (train) against {drops[1]:.2f} bits (held-out)")
    starts = train[train.compressed].peak_epoch
    before = Part("early stopping (best held-out accuracy) comes before compression starts",
                  UNTESTABLE if starts.empty else (HELD if stop <= int(starts.min()) else FAILED),
                  f"best held-out accuracy at epoch {stop}; compression starts at epochs {', '.join(map(str, starts)) or '—'}")
    return [fit_comp, clearer, before]


def _check_wickstrom_cnn(store: Store, runs: dict, analyses: dict) -> list[Part]:
    p = _hidden(_phase_table(analyses["vgg"], "renyi"), store, runs["vgg"])
    return [_compresses(p, "tensor-kernel Rényi shows, in a layer, a fitting phase followed by compression", every=False)]


def _check_lorenzen(store: Store, runs: dict, analyses: dict) -> list[Part]:
    run = runs["quant"]
    m = store.measurements(run=run, probe="train")
    exact = m[m.estimator == "discrete"].set_index(["epoch", "step", "layer", "quantity"]).value
    errors = []
    for est, g in m[m.estimator != "discrete"].groupby("estimator"):
        diff = (g.set_index(["epoch", "step", "layer", "quantity"]).value - exact).dropna()
        per_q = diff.groupby(level="quantity").apply(lambda d: float(d.abs().mean()))
        errors.append(f"{est}: mean |error| I(X;T) {per_q.get(I_XT, float('nan')):.2f}, I(T;Y) {per_q.get(I_TY, float('nan')):.2f} bits")
    whole = _phase_table(analyses["quant"], "discrete", "all")
    whole = whole[whole.layer.str.startswith("quant")]
    n = int(store.measurements(run=run, probe="all", estimator="discrete").params.iloc[0]["n_samples"])
    part = _compresses(whole, f"the exact plane (counts over all {n} inputs) of a hidden layer shows compression", every=False)
    evidence = (f"{part.evidence}. Estimators against the exact values on the train probe: {'; '.join(errors)} (binning can "
                "only merge the exact patterns, so it is the closest by construction, not by merit)")
    return [dataclasses.replace(part, evidence=evidence)]


STUDIES: dict[str, Study] = {
    s.name: s
    for s in (
        Study(
            "tishby-tanh", "Shwartz-Ziv & Tishby 2017",
            "with tanh, every layer first fits (I(T;Y) rises), then the deeper layers compress (I(X;T) falls); "
            "layers keep the data-processing order",
            (StudyRun("tanh", "tishby", "tanh", _recording([Binning(30, (-1.0, 1.0))]), 300, 3000, probe_size=TISHBY_PROBE),),
            _check_tishby,
        ),
        Study(
            "saxe-relu", "Saxe et al. 2018",
            "with ReLU the same network does not compress under binning; with KDE bounds tanh compresses and ReLU does not",
            (StudyRun("tanh", "tishby", "tanh", _recording([Binning(30, (-1.0, 1.0)), KDE()]), 300, 3000, probe_size=TISHBY_PROBE),
             StudyRun("relu", "tishby", "relu", _recording([Binning(30), KDE()]), 300, 3000, probe_size=TISHBY_PROBE)),
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
            # no KSG: the quantised activations are discrete, with ties that a kNN estimator is not made for. The
            # exact plane counts over all 4,096 inputs (the probe "all"), as Lorenzen et al. do; the estimators are
            # compared with the exact counts on the 500-sample train probe, where they can afford it
            (StudyRun("quant", "tishby-quantized", "tanh",
                      _recording([Discrete(), Binning(30, (-1.0, 1.0)), KDE(), MatrixRenyi()],
                                 layers=[f"quant{i}" for i in range(1, 6)], probe_estimators={"all": ["discrete"]}),
                      30, 1500, probe_size=500, whole_probe=True),),
            _check_lorenzen,
        ),
        Study(
            "estimator-disagreement", "Geiger 2021 (review); Saxe et al. 2018",
            "the information-plane picture depends on the estimator: measured by all four estimators, one run's "
            "layers get different compression verdicts",
            (StudyRun("tanh", "tishby", "tanh", _recording([Binning(30, (-1.0, 1.0)), KDE(), MatrixRenyi(chunk_size=500), KSG()],
                                                          sensitivity=True), 60, 1500, probe_size=TISHBY_PROBE),),
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
    verdict : Verdict
        The claim over the seeds run (:func:`~infoscope.claims.verdict`): "held" only when
        every part held on at least three seeds of the paper-sized runs.
    parts : dict
        Seed → the claim's parts (:class:`~infoscope.claims.Part`) on that seed.
    figures : list of str
        File names of the figures (first seed), beside the summary.
    summary : Path
        The markdown summary.
    """

    study: str
    verdict: Verdict
    parts: dict[int, list[Part]]
    figures: list[str]
    summary: Path

    @property
    def held(self) -> bool:
        """Whether the published claim held here (every part, on enough paper-sized seeds)."""
        return self.verdict.held


def _parts_table(parts: list[Part]) -> str:
    rows = ["| part of the claim | status | evidence |", "|---|---|---|"]
    rows += [f"| {p.name} | **{p.status}** | {p.evidence} |" for p in parts]
    return "\n".join(rows)


def reproduce(
    name: str, out_dir: str | Path = "reproduce", full: bool = False, seed: int = 0, seeds: int | None = None,
    epochs: int | None = None, probe_size: int | None = None, device: str | None = None, data: str | None = None,
    on_progress: Callable[[str], None] | None = None,
) -> ReproduceResult:
    """Run a study and write ``<out_dir>/<name>/``: ``runs.db``, figures and ``summary.md``.

    Each run is repeated on ``seeds`` seeds (``seed``, ``seed + 1``, …; default 1 quick, 3
    with ``full``), its claim tested part by part on each (:mod:`~infoscope.claims`).
    ``epochs`` and ``probe_size`` override the study's settings (for smoke tests; the summary
    says so); ``device`` is where the networks train and are measured (default: the CPU);
    ``data`` is the CIFAR folder (or "synthetic") for studies whose full version runs on CIFAR.
    ``on_progress`` is told, in one line each time, which run and epoch is under way and how
    far its record has got (the command line shows it; nothing is printed here).
    """
    if name not in STUDIES:
        raise ValueError(f"unknown study {name!r}; choose one of: {', '.join(STUDIES)}")
    n_seeds = (MIN_SEEDS if full else 1) if seeds is None else int(seeds)
    if n_seeds < 1:
        raise ValueError(f"seeds must be at least 1, got {seeds}")
    study = STUDIES[name]
    folder = Path(out_dir) / name
    folder.mkdir(parents=True, exist_ok=True)
    db = folder / "runs.db"
    for suffix in ("", "-wal", "-shm"):
        Path(str(db) + suffix).unlink(missing_ok=True)
    t0 = time.perf_counter()
    seed_list = [seed + i for i in range(n_seeds)]
    runs: dict[int, dict[str, str]] = {}
    lines = []
    tell = on_progress or (lambda line: None)
    total_runs = len(seed_list) * len(study.runs)
    for s in seed_list:
        runs[s] = {}
        for r in study.runs:
            n_epochs = epochs if epochs is not None else (r.full_epochs if full else r.quick_epochs)
            experiment = r.full_experiment if full and r.full_experiment else r.experiment
            run_name = f"{name}-{r.name}-s{s}"
            where = f"run {len(lines) + 1}/{total_runs} {run_name}"
            options = dataclasses.replace(r.options, band_every=max(1, math.ceil(n_epochs / STUDY_BAND_RECORDS)),
                                          progress=lambda done, steps, what, where=where: tell(
                                              f"{where}: recording, {done}/{steps} layers ({what})"))
            tell(f"{where}: epoch 0/{n_epochs}")
            res = run_experiment(experiment, store=db, run=run_name, epochs=n_epochs, activation=r.activation,
                                 probe_size=probe_size or r.probe_size, seed=s, device=device, data=data, options=options,
                                 whole_probe=r.whole_probe,
                                 on_epoch=lambda e, n, m, where=where: tell(f"{where}: epoch {e}/{n}, test acc {m['test_acc']:.3f}"))
            runs[s][r.name] = res.run
            lines.append(f"| {res.run} | {experiment} ({r.activation}) | {n_epochs} | {res.metrics['train_acc']:.3f} | "
                         f"{res.metrics['test_acc']:.3f} | {res.seconds:.0f} |")
    parts: dict[int, list[Part]] = {}
    tables = []
    tell(f"analysing {total_runs} run(s) and drawing the figures")
    with Store(db) as st:
        for s in seed_list:
            analyses = {key: analyze_run(st, run) for key, run in runs[s].items()}  # once per run, warnings stored
            parts[s] = study.check(st, runs[s], analyses)
            if s == seed_list[0]:
                for key, run in runs[s].items():
                    ph = analyses[key].phases
                    cols = ["estimator", "layer", "shape", "peak_epoch", "peak", "final", "drop", "compressed", "rescaled", "fits"]
                    tables.append(f"**{run}** (train probe; I(X;T) in bits; `fits`: I(T;Y) rises beyond noise and chance)\n\n"
                                  + _markdown(ph[ph.probe == "train"][cols]))
        figures = _figures(st, runs[seed_list[0]], folder)
    result = verdict(parts, full)
    command = f"infoscope reproduce {name}{' --full' if full else ''} --seed {seed}" + (f" --seeds {n_seeds}" if seeds is not None else "")
    text = "\n".join([
        f"# {name}: {study.source}", "",
        f"Claim: {study.claim}.", "",
        f"Command: `{command}` ({'paper-sized' if full else 'quick'} version"
        f"{f', epochs overridden to {epochs}' if epochs is not None else ''}"
        f"{f', probe size overridden to {probe_size}' if probe_size is not None else ''}, seeds "
        f"{', '.join(map(str, seed_list))}, {'on ' + str(device) + ', ' if device else ''}"
        f"{time.perf_counter() - t0:.0f} s here).", "",
        "| run | experiment | epochs | train acc | test acc | seconds |", "|---|---|---|---|---|---|", *lines, "",
        "\n\n".join(tables), "",
        *[f"Seed {s}: the claim **{seed_status(parts[s])}**.\n\n{_parts_table(parts[s])}\n" for s in seed_list],
        f"**Verdict: {result.text}.**", "",
        "Figures (seed " + str(seed_list[0]) + "): " + ", ".join(f"[{f}]({f})" for f in figures), "",
    ])
    summary = folder / "summary.md"
    summary.write_text(text, encoding="utf-8")
    return ReproduceResult(name, result, parts, figures, summary)


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
