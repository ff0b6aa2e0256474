"""Reading what was recorded: ``infoscope runs``, ``show``, ``export``, ``plot``, ``report``,
``serve``, ``analyze`` and ``prune-check``."""

from __future__ import annotations

import signal
import time
from pathlib import Path
from typing import Annotated, Any

import typer
from .app import app, console, frame_tables, last_epoch_table

__all__: list[str] = []


#: ``--json`` / ``--csv``: the table for scripts instead of for reading.
JsonOpt = Annotated[bool, typer.Option("--json", help="Print the table(s) as JSON, for scripts.")]
CsvOpt = Annotated[bool, typer.Option("--csv", help="Print the table as CSV, for scripts.")]


def _emit(tables: dict[str, Any], as_json: bool, as_csv: bool, extra: dict[str, Any] | None = None) -> bool:
    """Print ``tables`` (name → DataFrame) as JSON or CSV if asked; whether it did."""
    import json

    if as_json and as_csv:
        raise typer.BadParameter("--json and --csv: give one of them")
    if as_json:
        out = {name: json.loads(df.to_json(orient="records")) for name, df in tables.items()}
        typer.echo(json.dumps({**out, **(extra or {})}, indent=1, default=str))
    elif as_csv:
        if len(tables) > 1:
            raise typer.BadParameter(f"--csv prints one table, and this command has {len(tables)}: use --json")
        typer.echo(next(iter(tables.values())).to_csv(index=False), nl=False)
    return as_json or as_csv


def _print_tables(df, title: str, floats: int = 3) -> None:
    for table in frame_tables(df, title, floats):
        console().print(table)


@app.command("runs")
def runs_command(db: Annotated[Path, typer.Argument(help="An infoscope database.")], as_json: JsonOpt = False,
                 as_csv: CsvOpt = False) -> None:
    """List the runs in a database (whole names at any width; --json or --csv for scripts)."""
    import pandas as pd

    from ..store import load

    with load(db) as store:
        df = store.runs()
    shown = pd.DataFrame({
        "run": df.name, "experiment": df.experiment.fillna(""), "seed": df.seed, "status": df.status, "records": df.records,
        "last epoch": [None if v is None or v != v else int(v) for v in df.last_epoch],
        "started": [time.strftime("%Y-%m-%d %H:%M", time.localtime(t)) for t in df.started_at],
    })
    if not _emit({"runs": shown}, as_json, as_csv):
        _print_tables(shown, "runs")


@app.command("show")
def show_command(
    db: Annotated[Path, typer.Argument(help="An infoscope database.")],
    run: Annotated[str, typer.Argument(help="Run name (see 'infoscope runs').")],
    as_json: JsonOpt = False,
) -> None:
    """A table of the last recorded epoch of a run, with its metrics and warnings (--json for scripts)."""
    from ..analysis.series import final_values
    from ..store import load

    con = console()
    with load(db) as store:
        info = store.run_info(run)
        if as_json:
            metrics = store.metrics(run=run)
            last = metrics[metrics.epoch == metrics.epoch.max()] if not metrics.empty else metrics
            _emit({"values": final_values(store.measurements(run=run), store.layers(run).name),
                   "metrics": last[["epoch", "name", "value"]] if not last.empty else last,
                   "warnings": store.warnings(run=run)}, True, False,
                  {"status": info["status"], "seed": info["seed"], "dataset": info["config"].get("dataset")})
            return
        con.print(last_epoch_table(store, run, run))
        metrics = store.metrics(run=run)
        if not metrics.empty:
            last = metrics[metrics.epoch == metrics.epoch.max()]
            con.print("metrics: " + ", ".join(f"{r.name}={r.value:.4f}" for r in last.itertuples()))
        warnings = store.warnings(run=run)
        for w in warnings.itertuples():
            con.print(f"warning (epoch {w.epoch}): {w.message}")
    data = info["config"].get("dataset")
    con.print(f"status: {info['status']}; seed {info['seed']}; infoscope {info['versions'].get('infoscope', '?')}"
                  + (f"; data: {data}" + (" (synthetic: not the real data set)" if "synthetic" in data else "") if data else ""))


@app.command("export")
def export_command(
    db: Annotated[Path, typer.Argument(help="An infoscope database.")],
    out: Annotated[Path, typer.Argument(help="A .csv or .parquet file, or a folder with --tensorboard.")],
    run: Annotated[list[str] | None, typer.Option("--run", help="Only these runs (repeatable).")] = None,
    tensorboard: Annotated[bool, typer.Option("--tensorboard", help="Write TensorBoard event files into the folder OUT.")] = False,
) -> None:
    """Export measurements (and metrics beside them) to CSV, Parquet or TensorBoard."""
    from ..store import load

    with load(db) as store:
        if tensorboard:
            from ..integrations.tensorboard import export_tensorboard

            folders = export_tensorboard(store, out, run or None)
            console().print(f"wrote TensorBoard logs for {len(folders)} run(s) under {out} (tensorboard --logdir {out})")
            return
        path = store.export(out, run=run or None)
    console().print(f"wrote {path} and {path.with_suffix('.metrics' + path.suffix)}")


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
    from ..plots import plot, save

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
    console().print(f"wrote {path}")


@app.command("report")
def report_command(
    db: Annotated[Path, typer.Argument(help="An infoscope database.")],
    runs: Annotated[list[str] | None, typer.Argument(help="Runs to include (default: all).")] = None,
    out: Annotated[Path, typer.Option("--out", "-o", help="HTML file to write.")] = Path("report.html"),
) -> None:
    """Write a self-contained interactive HTML report (one file, no network needed)."""
    from ..report import write_report

    path = write_report(db, out, runs or None)
    console().print(f"wrote {path.resolve()} ({path.stat().st_size / 1e6:.1f} MB)")


@app.command("serve")
def serve_command(
    db: Annotated[Path, typer.Argument(help="An infoscope database (a run may be writing it).")],
    port: Annotated[int, typer.Option(min=0, max=65535, help="Port on 127.0.0.1 (0: any free one).")] = 8050,
    every: Annotated[float, typer.Option(min=0.1, help="Seconds between a page's checks for new values.")] = 1.0,
) -> None:
    """Show the runs of a database in the browser, refreshing while a run writes (Ctrl-C stops)."""
    from ..serve import make_server

    try:
        server = make_server(db, port=port, every=every)
    except OSError as exc:
        raise typer.BadParameter(f"cannot listen on 127.0.0.1:{port} ({exc.strerror}); choose another --port") from None
    con = console()
    con.print(f"serving {db} at {server.url} (Ctrl-C stops)")
    previous = signal.signal(signal.SIGTERM, _interrupt)  # `kill` stops it as cleanly as Ctrl-C
    try:
        server.serve_forever(poll_interval=0.2)
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
        signal.signal(signal.SIGTERM, previous)
    con.print("stopped")


def _interrupt(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt


@app.command("analyze")
def analyze_command(
    db: Annotated[Path, typer.Argument(help="An infoscope database.")],
    run: Annotated[str, typer.Argument(help="Run name.")],
    window: Annotated[int, typer.Option(help="Epochs a plateau must last.")] = 5,
    rtol: Annotated[float, typer.Option(help="Relative tolerance of a plateau.")] = 0.05,
    atol: Annotated[float, typer.Option(help="Absolute tolerance of a plateau (bits).")] = 0.05,
    fraction: Annotated[float, typer.Option(help="Share of each layer's units proposed for pruning.")] = 0.25,
    as_json: JsonOpt = False,
) -> None:
    """Convergence, fitting/compression phases, redundant units and sanity warnings of a run (--json for scripts)."""
    import pandas as pd

    from ..experiments.inspection import analyze_run

    if not db.exists():
        raise FileNotFoundError(f"no database at {db}; record a run first (infoscope run …)")
    a = analyze_run(db, run, window=window, rtol=rtol, atol=atol, fraction=fraction)
    con = console()
    net = a.network
    since = lambda e: "still changing" if e is None else f"since epoch {e}"  # noqa: E731
    cols = ["probe", "estimator", "layer", "shape", "peak_epoch", "peak", "final", "maximum", "drop", "drop_fraction", "compression_epochs", "compressed", "rescaled"]
    candidates = pd.DataFrame([c.__dict__ for c in a.candidates])
    if _emit({"convergence": a.convergence, "phases": a.phases, "candidates": candidates}, as_json, False,
             {"network": net, "warnings": [msg for *_, msg in a.warnings], "notes": list(a.notes)}):
        return
    con.print(f"Convergence: {net['verdict']}. Loss plateau: {since(net['loss_since'])}; "
                  f"accuracy plateau: {since(net['accuracy_since'])}.")
    _print_tables(a.convergence, "Epoch from which each MI series stays on its plateau (— = still changing)")
    _print_tables(a.phases[cols], "Fitting and compression of I(X;T) (bits)")
    if a.candidates:
        _print_tables(candidates, "Prune candidates")
    for layer, pairs in a.pairs.items():
        if pairs:
            con.print(f"layer {layer}: redundant pairs " + ", ".join(f"({i},{j}) r={r:.2f}" for i, j, r in pairs[:10]))
    for *_, msg in a.warnings:
        con.print(f"warning: {msg}")
    for note in a.notes:
        con.print(f"note: {note}")
    con.print(f"{len(a.warnings)} warning(s) stored with run {run}.")


@app.command("prune-check")
def prune_check_command(
    db: Annotated[Path, typer.Argument(help="An infoscope database.")],
    run: Annotated[str, typer.Argument(help="An experiment run with per-unit measurements.")],
    fraction: Annotated[float, typer.Option(help="Share of each hidden layer's units to mask.")] = 0.25,
    seeds: Annotated[int, typer.Option(help="Random masks per layer for the baseline.")] = 5,
    estimator: Annotated[str | None, typer.Option(help="Estimator whose I(unit;Y) ranks the units.")] = None,
) -> None:
    """Mask the least informative units and compare held-out accuracy with random masks."""
    from ..experiments.pruning import prune_check
    from ..store import load

    with load(db) as store:
        result = prune_check(store, run, fraction=fraction, seeds=seeds, estimator=estimator)
    _print_tables(result.table, f"Held-out accuracy after masking {fraction:.0%} of units ({run})", floats=4)
    console().print("acc: before masking; acc_mi_low / acc_mi_high: after masking the lowest / highest "
                     f"I(unit;Y) units; acc_rand, acc_rand_sd: mean and s.d. over {seeds} random masks.")
