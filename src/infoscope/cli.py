"""The ``infoscope`` command line (Typer, with Rich tables and progress bars).

User errors (bad files, bad parameters, bad data) end with a one-line message and exit code 2;
``--debug`` shows the full traceback instead.
"""

from __future__ import annotations

import inspect
import json
import signal
import sys
import time
from pathlib import Path
from typing import Annotated, Any

import numpy as np
import typer
from rich.console import Console
from rich.table import Table

from .errors import StoreError
from .estimators import ESTIMATORS, H_T, I_TY, I_XT, make_estimator

app = typer.Typer(
    name="infoscope",
    help="Look inside deep neural networks with information theory (all values in bits).",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)

#: Exceptions that are the user's to fix: shown as one line, never as a traceback.
USER_ERRORS: tuple[type[BaseException], ...] = (ValueError, TypeError, OSError, KeyError, StoreError)


@app.callback()
def _root(
    debug: Annotated[bool, typer.Option("--debug", help="Show full tracebacks for errors.")] = False,
) -> None:
    """infoscope: mutual information of layers and units, in bits."""


def _console() -> Console:
    return Console(highlight=False)


def load_array(path: Path, name: str) -> np.ndarray:
    """Read a ``.npy`` file (no pickles), with an error that names the file."""
    if not path.exists():
        raise FileNotFoundError(f"{name}: no such file {path}")
    with open(path, "rb") as fh:
        if fh.read(6) != b"\x93NUMPY":
            raise ValueError(f"{name}: {path} is not a NumPy .npy file (save arrays with numpy.save)")
    try:
        return np.load(path, allow_pickle=False)
    except ValueError as exc:
        raise ValueError(f"{name}: {path} is not a NumPy .npy file of numbers ({exc})") from None


def parse_sigma(value: str | None) -> float | str | None:
    """A σ option: a number, or a rule name passed through as a string."""
    if value is None:
        return None
    try:
        return float(value)
    except ValueError:
        return value


def default_device() -> str:
    """``cuda`` where a GPU is available, else ``cpu``."""
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


DataOpt = Annotated[str | None, typer.Option(help="CIFAR folder for the CIFAR experiments, or 'synthetic' (default: $INFOSCOPE_DATA, else synthetic).")]

DeviceOpt = Annotated[str | None, typer.Option(help="Where to train and measure: cpu, cuda, cuda:1 … (default: cuda if available, else cpu).")]

JsonOpt = Annotated[bool, typer.Option("--json", help="Print the estimate and every parameter used as JSON.")]

#: Options of ``infoscope mi`` and ``infoscope entropy``: name → (annotation, default).
ESTIMATOR_OPTIONS: dict[str, tuple[Any, Any]] = {
    "method": (Annotated[str, typer.Option("--method", "-m", help=f"Estimator: {', '.join(ESTIMATORS)}.")], "renyi"),
    "alpha": (Annotated[float | None, typer.Option(help="Rényi order α (renyi).")], None),
    "sigma_x": (Annotated[str | None, typer.Option("--sigma-x", help="Kernel width for X, or a rule: silverman, knn, alignment (renyi).")], None),
    "sigma_y": (Annotated[str | None, typer.Option("--sigma-y", help="Kernel width for Y, or a rule (renyi).")], None),
    "kernel": (Annotated[str | None, typer.Option(help="rbf (tensor kernel) or multivariate (renyi).")], None),
    "approx": (Annotated[str | None, typer.Option(help="slq: randomized eigenvalue sums for large N (renyi).")], None),
    "chunk_size": (Annotated[int | None, typer.Option("--chunk-size", help="Average estimates over chunks of this many samples (renyi).")], None),
    "n_bins": (Annotated[int | None, typer.Option("--n-bins", help="Bins per value (binning).")], None),
    "noise_variance": (Annotated[float | None, typer.Option("--noise-variance", help="Noise variance σ_n² (kde).")], None),
    "bound": (Annotated[str | None, typer.Option(help="upper or lower (kde).")], None),
    "k": (Annotated[int | None, typer.Option("--k", help="Neighbour rank (ksg).")], None),
}


def _with_estimator_options(*skip: str):
    """Give a command the options of :data:`ESTIMATOR_OPTIONS` (less ``skip``), which it
    receives as keyword arguments, so that each option is declared once."""

    def decorate(fn):
        sig = inspect.signature(fn, eval_str=True)
        own = [p for p in sig.parameters.values() if p.kind is not inspect.Parameter.VAR_KEYWORD]
        shared = [inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, annotation=annotation, default=default)
                  for name, (annotation, default) in ESTIMATOR_OPTIONS.items() if name not in skip]
        fn.__signature__ = sig.replace(parameters=own + shared)
        return fn

    return decorate


def _estimator(method: str, **options: Any):
    """The estimator the command line asks for: only the options the user gave are passed."""
    for name in ("sigma_x", "sigma_y"):
        options[name] = parse_sigma(options.get(name))
    return make_estimator(method, **{k: v for k, v in options.items() if v is not None})


def _print_estimate(label: str, estimate, as_json: bool) -> None:
    if as_json:
        typer.echo(json.dumps({"quantity": label, "unit": "bits", **estimate.to_dict()}, default=_jsonable))
        return
    shown = ", ".join(f"{k}={_short(v)}" for k, v in estimate.params.items() if v is not None)
    _console().print(f"{label} = [bold]{estimate.value:.6f}[/bold] bits  ({estimate.method}: {shown})")


def _jsonable(v: Any) -> Any:
    if isinstance(v, (np.generic,)):
        return v.item()
    if isinstance(v, tuple):
        return list(v)
    return str(v)


def _short(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:.6g}"
    if isinstance(v, (list, tuple)) and len(v) > 4:
        return f"[{', '.join(_short(a) for a in v[:3])}, … ({len(v)} values)]"
    return str(v)


@app.command("mi")
@_with_estimator_options()
def mi_command(
    x_path: Annotated[Path, typer.Argument(metavar="X.npy", help="Samples on axis 0, any trailing shape.")],
    y_path: Annotated[Path, typer.Argument(metavar="Y.npy", help="Samples, or integer class labels of shape (N,).")],
    as_json: JsonOpt = False,
    **options: Any,
) -> None:
    """Estimate the mutual information I(X;Y) in bits."""
    est = _estimator(**options)
    x, y = load_array(x_path, "X"), load_array(y_path, "Y")
    _print_estimate("I(X;Y)", est.estimate_mutual_information(x, y), as_json)


@app.command("entropy")
@_with_estimator_options("sigma_y")
def entropy_command(
    x_path: Annotated[Path, typer.Argument(metavar="X.npy", help="Samples on axis 0, or integer labels (N,).")],
    as_json: JsonOpt = False,
    **options: Any,
) -> None:
    """Estimate the entropy H(X) in bits."""
    _print_estimate("H(X)", _estimator(**options).estimate_entropy(load_array(x_path, "X")), as_json)


@app.command("calibrate")
def calibrate_command(
    n: Annotated[int, typer.Option("--n", min=2, help="Samples.")] = 1000,
    d: Annotated[int, typer.Option("--d", min=1, help="Dimensions of each of X and Y.")] = 5,
    estimator: Annotated[list[str] | None, typer.Option("--estimator", "-e", help="Estimator(s); default every one for continuous values.")] = None,
    bits: Annotated[float, typer.Option("--bits", min=0.0, help="The true I(X;Y) of every case, in bits.")] = 2.0,
    seed: Annotated[int, typer.Option(help="Seed of the samples.")] = 0,
) -> None:
    """Each estimator against the known MI of Gaussian pairs (dense, sparse, sinh-transformed) at N samples of D+D dimensions."""
    from .calibration import calibrate

    table = calibrate(estimator or [name for name, cls in ESTIMATORS.items() if cls.tags.continuous], n, d, target_bits=bits, seed=seed)
    shown = table.drop(columns=["shannon"]).assign(error_bits=table.error_bits.map(lambda v: "— (not Shannon)" if v != v else f"{v:+.3f}"))
    _console().print(_frame_table(shown, f"Estimates of a known I(X;Y) = {bits:g} bits at N={n}, D={d}+{d}"))


@app.command("estimators")
def estimators_command() -> None:
    """List the estimators and their parameters with defaults."""
    table = Table("method", "class", "parameters (defaults)")
    for name, cls in ESTIMATORS.items():
        params = ", ".join(f"{k}={v!r}" for k, v in cls().get_params().items())
        table.add_row(name, cls.__name__, params)
    _console().print(table)


def _run_with_progress(name: str, **kwargs: Any):
    """Run an experiment with a Rich progress bar showing epoch, losses, accuracy and ETA."""
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    from .experiments import get_experiment, run_experiment

    exp = get_experiment(name)
    total = kwargs.get("epochs") or exp.epochs
    columns = (
        TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(), TextColumn("{task.fields[info]}"),
        TimeElapsedColumn(), TextColumn("ETA"), TimeRemainingColumn(),
    )
    with Progress(*columns, console=Console(stderr=True)) as progress:
        task = progress.add_task(name, total=total, info="measuring epoch 0…")

        def on_epoch(epoch: int, epochs: int, m: dict[str, float]) -> None:
            info = f"loss {m['train_loss']:.3f}  acc {m['train_acc']:.3f}  test acc {m['test_acc']:.3f}"
            progress.update(task, completed=epoch, info=info)

        result = run_experiment(name, on_epoch=on_epoch, **kwargs)
        progress.update(task, completed=total)
    return result


def _last_epoch_table(store, run: str, title: str) -> Table:
    from .analysis.series import final_values
    from .labels import layer_labels

    layers = store.layers(run)
    final = final_values(store.measurements(run=run), layers.name)
    if final.empty:
        return Table(title=f"{title}: no measurements yet")
    labels = layer_labels(layers)
    table = Table("probe", "layer", "estimator", H_T, I_XT, I_TY, title=f"{title}, epoch {int(final.epoch.iloc[0])} (bits)")
    for _, row in final.iterrows():
        table.add_row(row.probe, labels.get(row.layer, row.layer), row.estimator, *(f"{row.get(q, float('nan')):.3f}" for q in (H_T, I_XT, I_TY)))
    return table


@app.command("run")
def run_command(
    experiment: Annotated[str, typer.Argument(help="tishby, tishby-quantized, mnist-mlp, mnist-cnn, mnist-vgg, digits-mlp, cifar-vgg16 or cifar-resnet18.")],
    epochs: Annotated[int | None, typer.Option(help="Training epochs (default: the experiment's).")] = None,
    estimator: Annotated[list[str] | None, typer.Option("--estimator", "-e", help="Estimator(s) to record; repeat for several.")] = None,
    probe_size: Annotated[int | None, typer.Option(help="Samples in each probe set (train and held-out).")] = None,
    every: Annotated[str, typer.Option(help="'epoch' or a number of steps between measurements.")] = "epoch",
    seed: Annotated[int, typer.Option(help="Seed of weights, batch order and probe choice.")] = 0,
    activation: Annotated[str | None, typer.Option(help="tanh or relu (default: the experiment's).")] = None,
    units: Annotated[bool, typer.Option("--units/--no-units", help="Record per-unit information.")] = True,
    unit_every: Annotated[int | None, typer.Option(min=1, help="Per-unit values every this many epochs and at the last (default: the experiment's).")] = None,
    unit_probes: Annotated[str, typer.Option(help="Probes with per-unit values, comma-separated: train, test.")] = "train",
    noise_variance: Annotated[float | None, typer.Option(help="Add Gaussian noise of this variance to T (noise-injected variant).")] = None,
    bootstrap: Annotated[int, typer.Option(help="Probe subsamples for bootstrap bands of layer values (0: none).")] = 0,
    sensitivity: Annotated[bool, typer.Option("--sensitivity", help="Record sensitivity bands (bins, σ, noise, k at ½× and 2×).")] = False,
    chance: Annotated[int, typer.Option(min=0, help="Label permutations for a chance band of I(T;Y) (0: none).")] = 0,
    calibrate: Annotated[bool, typer.Option("--calibrate", help="Store every estimator's error on Gaussians of known MI at each layer's N and D.")] = False,
    memory_budget: Annotated[float | None, typer.Option(help="MiB one measurement may use (default: half the memory).")] = None,
    out: Annotated[Path, typer.Option("--out", "-o", help="SQLite database to write.")] = Path("runs.db"),
    name: Annotated[str | None, typer.Option("--name", help="Run name (default: experiment-activation-sSEED).")] = None,
    resume: Annotated[bool, typer.Option(help="Continue the run of that name from its last stored epoch.")] = False,
    device: DeviceOpt = None,
    data: DataOpt = None,
) -> None:
    """Train a reference experiment and record MI of every layer each epoch, and of every unit on the experiment's cadence."""
    given = {"estimators": estimator or None, "unit_every": unit_every, "noise_variance": noise_variance,
             "memory_budget": None if memory_budget is None else int(memory_budget * 2**20)}
    options = {k: v for k, v in given.items() if v is not None}  # the rest: the experiment's defaults
    result = _run_with_progress(
        experiment, store=out, run=name, epochs=epochs, probe_size=probe_size, seed=seed, activation=activation, resume=resume,
        device=device or default_device(), data=data,
        every=every if every == "epoch" else _positive_int(every, "--every"), units=units, bootstrap=bootstrap,
        sensitivity=sensitivity, chance=chance, calibrate=calibrate, unit_probes=[p.strip() for p in unit_probes.split(",") if p.strip()], **options,
    )
    from .store import load

    with load(out) as store:
        _console().print(_last_epoch_table(store, result.run, result.run))
    _console().print(
        f"run [bold]{result.run}[/bold] stored in {out} ({result.seconds:.1f} s). "
        f"Next: [bold]infoscope show {out} {result.run}[/bold]"
    )


def _positive_int(value: str, option: str) -> int:
    try:
        n = int(value)
    except ValueError:
        raise ValueError(f"{option} must be 'epoch' or a whole number of steps, got {value!r}") from None
    if n < 1:
        raise ValueError(f"{option} must be >= 1, got {n}")
    return n


@app.command("runs")
def runs_command(db: Annotated[Path, typer.Argument(help="An infoscope database.")]) -> None:
    """List the runs in a database."""
    from .store import load

    with load(db) as store:
        df = store.runs()
    table = Table("run", "experiment", "seed", "status", "records", "last epoch", "started")
    for r in df.itertuples():
        started = time.strftime("%Y-%m-%d %H:%M", time.localtime(r.started_at))
        last = "" if r.last_epoch is None or r.last_epoch != r.last_epoch else str(int(r.last_epoch))
        table.add_row(r.name, str(r.experiment or ""), str(r.seed if r.seed is not None else ""), r.status, str(r.records), last, started)
    _console().print(table)


@app.command("show")
def show_command(
    db: Annotated[Path, typer.Argument(help="An infoscope database.")],
    run: Annotated[str, typer.Argument(help="Run name (see 'infoscope runs').")],
) -> None:
    """A table of the last recorded epoch of a run, with its metrics and warnings."""
    from .store import load

    console = _console()
    with load(db) as store:
        info = store.run_info(run)
        console.print(_last_epoch_table(store, run, run))
        metrics = store.metrics(run=run)
        if not metrics.empty:
            last = metrics[metrics.epoch == metrics.epoch.max()]
            console.print("metrics: " + ", ".join(f"{r.name}={r.value:.4f}" for r in last.itertuples()))
        warnings = store.warnings(run=run)
        for w in warnings.itertuples():
            console.print(f"[yellow]warning[/yellow] (epoch {w.epoch}): {w.message}")
    data = info["config"].get("dataset")
    console.print(f"status: {info['status']}; seed {info['seed']}; infoscope {info['versions'].get('infoscope', '?')}"
                  + (f"; data: {data}" + (" (synthetic: not the real data set)" if "synthetic" in data else "") if data else ""))


@app.command("export")
def export_command(
    db: Annotated[Path, typer.Argument(help="An infoscope database.")],
    out: Annotated[Path, typer.Argument(help="A .csv or .parquet file, or a folder with --tensorboard.")],
    run: Annotated[list[str] | None, typer.Option("--run", help="Only these runs (repeatable).")] = None,
    tensorboard: Annotated[bool, typer.Option("--tensorboard", help="Write TensorBoard event files into the folder OUT.")] = False,
) -> None:
    """Export measurements (and metrics beside them) to CSV, Parquet or TensorBoard."""
    from .store import load

    with load(db) as store:
        if tensorboard:
            from .integrations.tensorboard import export_tensorboard

            folders = export_tensorboard(store, out, run or None)
            _console().print(f"wrote TensorBoard logs for {len(folders)} run(s) under {out} (tensorboard --logdir {out})")
            return
        path = store.export(out, run=run or None)
    _console().print(f"wrote {path} and {path.with_suffix('.metrics' + path.suffix)}")


@app.command("plot")
def plot_command(
    db: Annotated[Path, typer.Argument(help="An infoscope database.")],
    run: Annotated[str, typer.Argument(help="Run name; for 'compare', several names separated by commas.")],
    kind: Annotated[str, typer.Argument(help="plane, curves, units, sigma or compare.")],
    out: Annotated[Path | None, typer.Option("--out", "-o", help="Output file: .png, .svg or .pdf (default RUN-KIND.FORMAT).")] = None,
    fmt: Annotated[str | None, typer.Option("--format", "-f", help="png, svg or pdf (default: the suffix of --out, else png).")] = None,
    probe: Annotated[str | None, typer.Option(help="train or test (plane, units, sigma, compare).")] = None,
    estimator: Annotated[str | None, typer.Option(help="Which recorded estimator to draw.")] = None,
) -> None:
    """Draw a static picture of a recorded run (PNG, SVG or PDF)."""
    from .plots import plot, save

    chosen = fmt.lower().lstrip(".") if fmt else None
    if chosen is not None and chosen not in ("png", "svg", "pdf"):
        raise typer.BadParameter(f"--format must be png, svg or pdf, got {fmt!r}")
    runs = [r.strip() for r in run.split(",") if r.strip()]
    if out is not None and out.suffix:
        if chosen is not None and out.suffix.lower() != "." + chosen:
            raise typer.BadParameter(f"--out {out.name} and --format {fmt} disagree; give one of them")
        target = out
    else:
        target = (out or Path(f"{'-'.join(runs)}-{kind}")).with_suffix("." + (chosen or "png"))
    options: dict[str, Any] = {}
    if probe is not None:
        options["probe"] = probe
    if estimator is not None:
        options["estimator"] = estimator
    fig = plot(db, runs, kind, **options)
    path = save(fig, target)
    _console().print(f"wrote {path}")


@app.command("report")
def report_command(
    db: Annotated[Path, typer.Argument(help="An infoscope database.")],
    runs: Annotated[list[str] | None, typer.Argument(help="Runs to include (default: all).")] = None,
    out: Annotated[Path, typer.Option("--out", "-o", help="HTML file to write.")] = Path("report.html"),
) -> None:
    """Write a self-contained interactive HTML report (one file, no network needed)."""
    from .report import write_report

    path = write_report(db, out, runs or None)
    _console().print(f"wrote {path.resolve()} ({path.stat().st_size / 1e6:.1f} MB)")


@app.command("serve")
def serve_command(
    db: Annotated[Path, typer.Argument(help="An infoscope database (a run may be writing it).")],
    port: Annotated[int, typer.Option(min=0, max=65535, help="Port on 127.0.0.1 (0: any free one).")] = 8050,
    every: Annotated[float, typer.Option(min=0.1, help="Seconds between a page's checks for new values.")] = 1.0,
) -> None:
    """Show the runs of a database in the browser, refreshing while a run writes (Ctrl-C stops)."""
    from .serve import make_server

    try:
        server = make_server(db, port=port, every=every)
    except OSError as exc:
        raise typer.BadParameter(f"cannot listen on 127.0.0.1:{port} ({exc.strerror}); choose another --port") from None
    console = _console()
    console.print(f"serving {db} at [bold]{server.url}[/bold] (Ctrl-C stops)")
    previous = signal.signal(signal.SIGTERM, _interrupt)  # `kill` stops it as cleanly as Ctrl-C
    try:
        server.serve_forever(poll_interval=0.2)
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
        signal.signal(signal.SIGTERM, previous)
    console.print("stopped")


def _interrupt(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt


def _frame_table(df, title: str, floats: int = 3) -> Table:
    table = Table(*[str(c) for c in df.columns], title=title)
    for row in df.itertuples(index=False):
        table.add_row(*[(f"{v:.{floats}f}" if isinstance(v, float) and v == v else "—" if v is None or v != v else str(v)) for v in row])
    return table


@app.command("analyze")
def analyze_command(
    db: Annotated[Path, typer.Argument(help="An infoscope database.")],
    run: Annotated[str, typer.Argument(help="Run name.")],
    window: Annotated[int, typer.Option(help="Epochs a plateau must last.")] = 5,
    rtol: Annotated[float, typer.Option(help="Relative tolerance of a plateau.")] = 0.05,
    atol: Annotated[float, typer.Option(help="Absolute tolerance of a plateau (bits).")] = 0.05,
    fraction: Annotated[float, typer.Option(help="Share of each layer's units proposed for pruning.")] = 0.25,
) -> None:
    """Convergence, fitting/compression phases, redundant units and sanity warnings of a run."""
    import pandas as pd

    from .experiments.inspection import analyze_run

    if not db.exists():
        raise FileNotFoundError(f"no database at {db}; record a run first (infoscope run …)")
    a = analyze_run(db, run, window=window, rtol=rtol, atol=atol, fraction=fraction)
    console = _console()
    net = a.network
    since = lambda e: "still changing" if e is None else f"since epoch {e}"  # noqa: E731
    console.print(f"[bold]Convergence[/bold]: {net['verdict']}. Loss plateau: {since(net['loss_since'])}; "
                  f"accuracy plateau: {since(net['accuracy_since'])}.")
    console.print(_frame_table(a.convergence, "Epoch from which each MI series stays on its plateau (— = still changing)"))
    cols = ["probe", "estimator", "layer", "shape", "peak_epoch", "peak", "final", "drop", "drop_fraction", "compression_epochs", "compressed"]
    console.print(_frame_table(a.phases[cols], "Fitting and compression of I(X;T) (bits)"))
    if a.candidates:
        console.print(_frame_table(pd.DataFrame([c.__dict__ for c in a.candidates]), "Prune candidates"))
    for layer, pairs in a.pairs.items():
        if pairs:
            console.print(f"layer {layer}: redundant pairs " + ", ".join(f"({i},{j}) r={r:.2f}" for i, j, r in pairs[:10]))
    for *_, msg in a.warnings:
        console.print(f"[yellow]warning[/yellow]: {msg}")
    for note in a.notes:
        console.print(f"[dim]note: {note}[/dim]")
    console.print(f"{len(a.warnings)} warning(s) stored with run {run}.")


@app.command("prune-check")
def prune_check_command(
    db: Annotated[Path, typer.Argument(help="An infoscope database.")],
    run: Annotated[str, typer.Argument(help="An experiment run with per-unit measurements.")],
    fraction: Annotated[float, typer.Option(help="Share of each hidden layer's units to mask.")] = 0.25,
    seeds: Annotated[int, typer.Option(help="Random masks per layer for the baseline.")] = 5,
    estimator: Annotated[str | None, typer.Option(help="Estimator whose I(unit;Y) ranks the units.")] = None,
) -> None:
    """Mask the least informative units and compare held-out accuracy with random masks."""
    from .experiments.pruning import prune_check
    from .store import load

    with load(db) as store:
        result = prune_check(store, run, fraction=fraction, seeds=seeds, estimator=estimator)
    _console().print(_frame_table(result.table, f"Held-out accuracy after masking {fraction:.0%} of units ({run})", floats=4))
    _console().print("acc: before masking; acc_mi_low / acc_mi_high: after masking the lowest / highest "
                     f"I(unit;Y) units; acc_rand, acc_rand_sd: mean and s.d. over {seeds} random masks.")


@app.command("analyze-checkpoints")
def analyze_checkpoints_command(
    directory: Annotated[Path, typer.Argument(help="Folder of checkpoint files whose names end in the epoch (epoch_3.pt).")],
    model: Annotated[str, typer.Option("--model", help="Model factory as 'package.module:function'.")],
    experiment: Annotated[str, typer.Option("--experiment", help="Experiment whose data gives the probes.")],
    estimator: Annotated[list[str] | None, typer.Option("--estimator", "-e", help="Estimator(s); repeat for several.")] = None,
    probe_size: Annotated[int | None, typer.Option(help="Samples in each probe set.")] = None,
    workers: Annotated[int, typer.Option(help="Worker processes.")] = 2,
    units: Annotated[bool, typer.Option("--units/--no-units", help="Record per-unit information.")] = True,
    out: Annotated[Path, typer.Option("--out", "-o", help="SQLite database to write.")] = Path("runs.db"),
    name: Annotated[str | None, typer.Option("--name", help="Run name (default: FOLDER-checkpoints).")] = None,
) -> None:
    """Recompute MI for the saved checkpoints of a past training, in parallel workers."""
    from .checkpoints import analyze_checkpoints

    if "" not in sys.path:
        sys.path.insert(0, "")  # factories in the current folder import as they would in python -c
    run, n = analyze_checkpoints(directory, model, experiment, store=out, run=name, estimators=estimator or None,
                                 probe_size=probe_size, units=units, workers=workers)
    _console().print(f"measured {n} checkpoints into run [bold]{run}[/bold] of {out}. Next: infoscope show {out} {run}")


@app.command("reproduce")
def reproduce_command(
    study: Annotated[str, typer.Argument(help="tishby-tanh, saxe-relu, fang-units, estimator-disagreement, wickstrom-mlp, wickstrom-cnn or lorenzen-quantized.")],
    full: Annotated[bool, typer.Option("--full", help="The paper-sized version (much longer).")] = False,
    out: Annotated[Path, typer.Option("--out", "-o", help="Folder for the database, figures and summary.")] = Path("reproduce"),
    seed: Annotated[int, typer.Option(help="Seed of weights, batch order and probes.")] = 0,
    device: DeviceOpt = None,
    data: DataOpt = None,
) -> None:
    """Reproduce a published result: run it, analyse it, draw it, and say whether the claim held."""
    from .reproduce import reproduce

    result = reproduce(study, out, full=full, seed=seed, device=device or default_device(), data=data)
    _console().print(f"[bold]Verdict: the claim {'held' if result.held else 'did not hold'} here.[/bold] {result.verdict}")
    _console().print(f"wrote {result.summary} and the figures beside it ({', '.join(result.figures)})")


@app.command("demo")
def demo_command(
    out: Annotated[Path, typer.Option("--out", "-o", help="SQLite database to write.")] = Path("infoscope-demo.db"),
    epochs: Annotated[int, typer.Option(help="Training epochs.")] = 15,
    device: DeviceOpt = None,
) -> None:
    """The main job in about a minute: train an MLP on the shipped digits, record MI of every layer and unit, write a report."""
    from .report import write_report
    from .store import Store, load

    with Store(out) as store:
        existing = [n for n in store.run_names() if n.startswith("demo")]
    name = f"demo-{len(existing) + 1}"
    result = _run_with_progress("digits-mlp", store=out, run=name, epochs=epochs, device=device or default_device())

    with load(out) as store:
        _console().print(_last_epoch_table(store, name, f"digits-mlp ({name})"))
    report = write_report(out, out.with_suffix(".html"), [name], title=f"infoscope demo: {name}")
    _console().print(
        f"Recorded {result.epochs} epochs in {result.seconds:.0f} s into [bold]{out}[/bold] "
        f"(test accuracy {result.metrics['test_acc']:.3f}).\n"
        f"Report: [bold]{report.resolve()}[/bold] (open it in a browser)\n"
        f"Next: [bold]infoscope show {out} {name}[/bold], or in Python: "
        f"infoscope.load('{out}').measurements(run='{name}')"
    )


def main(argv: list[str] | None = None) -> int:
    """Entry point: run the CLI, turning user errors into one-line messages (exit code 2).

    Usage errors are reported by Typer itself (exit code 2); errors in the user's data,
    files or parameters surface as ``ValueError``/``TypeError``/``OSError`` from the library
    and are printed here as one line, or as a traceback with ``--debug``.
    """
    args = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in args
    if debug:  # accepted anywhere on the line, not only before the command
        args = ["--debug"] + [a for a in args if a != "--debug"]
    try:
        app(args=args, prog_name="infoscope")
    except SystemExit as exc:  # Typer ends every run this way; hand its code back
        return exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    except USER_ERRORS as exc:
        if debug:
            raise
        message = exc.args[0] if isinstance(exc, KeyError) and exc.args else exc
        typer.echo(f"error: {message}", err=True)
        return 2
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
