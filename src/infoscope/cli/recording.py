"""Recording: ``infoscope run``, ``demo``, ``reproduce`` and ``analyze-checkpoints``.

``run`` takes the recording options from :class:`~infoscope.options.RecordingOptions` itself
(:data:`RECORDING_OPTIONS`): every field is an option, named and documented as the dataclass
names and documents it, so a new recording option is written once.
"""

from __future__ import annotations

import contextlib
import dataclasses
import re
import sys
import time
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console

from ..options import RecordingOptions
from .app import DataOpt, DeviceOpt, app, console, default_device, last_epoch_table, with_options

__all__ = ["RECORDING_OPTIONS", "recording_overrides"]


def _run_with_progress(name: str, **kwargs: Any):
    """Run an experiment with a Rich progress bar showing epoch, losses, accuracy and ETA."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

    from ..experiments import get_experiment, run_experiment

    exp = get_experiment(name)
    total = exp.epochs if kwargs.get("epochs") is None else int(kwargs["epochs"])  # (--epochs 0: none)
    columns = (
        TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TextColumn("{task.fields[info]}"),
        TimeElapsedColumn(), TextColumn("ETA"), TimeRemainingColumn(),
    )
    with Progress(*columns, console=Console(stderr=True)) as progress:
        task = progress.add_task(name, total=total, info="measuring epoch 0…")
        last = {"info": "measuring epoch 0…"}

        def on_epoch(epoch: int, epochs: int, m: dict[str, float]) -> None:
            last["info"] = f"loss {m['train_loss']:.3f}  acc {m['train_acc']:.3f}  test acc {m['test_acc']:.3f}"
            progress.update(task, completed=epoch, info=last["info"])

        def on_record(done: int, total_steps: int, what: str) -> None:  # a record's layers, in the same bar
            info = last["info"] if done >= total_steps else f"measuring: {done}/{total_steps} layers ({what})"
            progress.update(task, info=info)

        result = run_experiment(name, on_epoch=on_epoch, **{"progress": on_record, **kwargs})
        progress.update(task, completed=total)
    return result


#: Options of the recorder that say how, not what: left to the experiment and the machine
#: (``--device`` is ``run``'s own: where the network trains as well).
_NOT_OPTIONS = ("forward_batch_size", "on_error", "device", "progress")


def _comma_list(value: str) -> list[str]:
    return [p.strip() for p in value.split(",") if p.strip()]


def _every(value: str) -> str | int:
    if value == "epoch":
        return value
    try:
        n = int(value)
    except ValueError:
        raise ValueError(f"--every must be 'epoch' or a whole number of steps, got {value!r}") from None
    if n < 1:
        raise ValueError(f"--every must be >= 1, got {n}")
    return n


def _layers(value: str) -> str | list[str]:
    return value if value in ("auto", "blocks") else _comma_list(value)


#: Fields read from the command line otherwise than by their dataclass type: (type on the
#: command line, option declaration, help where it differs from the docstring's, converter).
def _assignments(text: str, flag: str, form: str) -> dict[str, str]:
    """``a=1,b=2`` → {"a": "1", "b": "2"}; anything else is refused, naming ``flag``'s ``form``."""
    out = {}
    for item in _comma_list(text):
        key, sep, value = item.rpartition("=")
        if not sep or not key.strip() or not value.strip():
            raise typer.BadParameter(f"{flag} takes {form}, comma-separated; got {item!r}")
        out[key.strip()] = value.strip()
    return out


def _probe_estimators(text: str) -> dict[str, list[str]]:
    """``train=renyi+binning,test=binning`` → {"train": ["renyi", "binning"], "test": ["binning"]}."""
    given = _assignments(text, "--probe-estimators", "PROBE=EST[+EST]")
    return {probe: [n.strip() for n in names.split("+") if n.strip()] for probe, names in given.items()}


def _whole(text: str, flag: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise typer.BadParameter(f"{flag}: {text!r} is not a whole number") from None


def _unit_axis(text: str) -> int | dict[str, int]:
    """``-1`` (every layer) or ``LAYER=AXIS,…``."""
    if text.strip().lstrip("-").isdigit():
        return _whole(text, "--unit-axis")
    return {k: _whole(v, "--unit-axis") for k, v in _assignments(text, "--unit-axis", "1, -1 or LAYER=AXIS").items()}


def _heads(text: str) -> dict[str, int]:
    """``LAYER=H,…``."""
    return {k: _whole(v, "--heads") for k, v in _assignments(text, "--heads", "LAYER=H").items()}


_SPECIAL: dict[str, tuple[Any, tuple[str, ...], str | None, Any]] = {
    "estimators": (list[str], ("--estimator", "-e"), "Estimator(s) to record; repeat for several.", None),
    "layers": (str, (), "Layers to record: auto, blocks, or names from model.named_modules(), comma-separated.", _layers),
    "units": (bool, ("--units/--no-units",), "Record per-unit information (default: the experiment's).", None),
    "unit_probes": (str, (), "Probes with per-unit values, comma-separated: train, test.", _comma_list),
    "unit_estimators": (str, (), "Estimators that measure units, comma-separated (default: all but neural).", _comma_list),
    "every": (str, (), "'epoch' or a number of steps between measurements.", _every),
    "probe_estimators": (str, (), "Which estimators measure a probe: PROBE=EST[+EST], comma-separated (e.g. test=binning); "
                                  "probes not named get every estimator.", _probe_estimators),
    "unit_axis": (str, (), "Where units are: 1 (channels) or -1 (the last axis, a sequence's features), for every layer "
                           "or LAYER=AXIS, comma-separated (default: read from each layer's module).", _unit_axis),
    "heads": (str, (), "Layers whose units are attention heads: LAYER=H, comma-separated.", _heads),
    "memory_budget": (float, (), "MiB one measurement may use (default: half the memory).", lambda mib: int(mib * 2**20)),
}


def _field_help() -> dict[str, str]:
    """Each field's description in the ``Parameters`` section of :class:`RecordingOptions`."""
    doc = (RecordingOptions.__doc__ or "").split("Parameters\n    ----------\n", 1)[-1].split("\n    Examples", 1)[0]
    out: dict[str, str] = {}
    for block in re.split(r"\n    (?=\w+ : )", "\n" + doc):
        name, _, text = block.strip().partition(" : ")
        body = " ".join(line.strip() for line in text.splitlines()[1:])
        if name:
            out[name] = re.sub(r"``([^`]+)``", r"\1", re.sub(r":\w+:`~?([^`]+)`", r"\1", body))
    return out


def _recording_options() -> dict[str, tuple[Any, Any]]:
    """``infoscope run``'s recording options, one per field of :class:`RecordingOptions`; None
    (the default of every one) leaves the experiment's own setting."""
    helps = _field_help()
    table: dict[str, tuple[Any, Any]] = {}
    types = {"int": int, "float": float, "str": str, "bool": bool}
    for f in dataclasses.fields(RecordingOptions):
        if f.name in _NOT_OPTIONS:
            continue
        if f.name in _SPECIAL:
            kind, decl, help_text, _ = _SPECIAL[f.name]
        else:
            kind, decl, help_text = types[str(f.type).split(" | ")[0]], (), None
        if kind is bool and not decl:
            flag = f.name.replace("_", "-")
            decl = (f"--{flag}/--no-{flag}",)
        text = help_text or helps.get(f.name, "") + " (default: the experiment's)"
        table[f.name] = (Annotated[kind | None, typer.Option(*decl, help=text)], None)
    return table


#: ``infoscope run``'s options built from :class:`RecordingOptions`: name → (annotation, default).
RECORDING_OPTIONS = _recording_options()


def recording_overrides(given: dict[str, Any]) -> dict[str, Any]:
    """The recording options a user gave on the command line, converted (the rest: None)."""
    out = {}
    for name, value in given.items():
        if value is None or value == []:
            continue
        convert = _SPECIAL.get(name, (None, (), None, None))[3]
        out[name] = convert(value) if convert is not None else value
    return out


@app.command("run")
@with_options(RECORDING_OPTIONS)
def run_command(
    experiment: Annotated[str, typer.Argument(help="tishby, tishby-quantized, mnist-mlp, mnist-cnn, mnist-vgg, digits-mlp, cifar-vgg16 or cifar-resnet18.")],
    epochs: Annotated[int | None, typer.Option(help="Training epochs (default: the experiment's).")] = None,
    probe_size: Annotated[int | None, typer.Option(help="Samples in each probe set (train and held-out).")] = None,
    seed: Annotated[int, typer.Option(help="Seed of weights, batch order and probe choice.")] = 0,
    activation: Annotated[str | None, typer.Option(help="tanh or relu (default: the experiment's).")] = None,
    out: Annotated[Path, typer.Option("--out", "-o", help="SQLite database to write.")] = Path("runs.db"),
    name: Annotated[str | None, typer.Option("--name", help="Run name (default: experiment-activation-sSEED).")] = None,
    resume: Annotated[bool, typer.Option(help="Continue the run of that name from its last stored epoch.")] = False,
    device: DeviceOpt = None,
    data: DataOpt = None,
    **options: Any,
) -> None:
    """Train a reference experiment and record MI of every layer each epoch, and of every unit on the experiment's cadence."""
    result = _run_with_progress(
        experiment, store=out, run=name, epochs=epochs, probe_size=probe_size, seed=seed, activation=activation, resume=resume,
        device=device or default_device(), data=data, **recording_overrides(options),
    )
    from ..store import load

    with load(out) as store:
        console().print(last_epoch_table(store, result.run, result.run))
    for note in result.notes:
        typer.echo(f"note: {note}")
    console().print(
        f"run {result.run} stored in {out} ({result.seconds:.1f} s). "
        f"Next: infoscope show {out} {result.run}"
    )


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
    from ..checkpoints import analyze_checkpoints

    if "" not in sys.path:
        sys.path.insert(0, "")  # factories in the current folder import as they would in python -c
    run, n = analyze_checkpoints(directory, model, experiment, store=out, run=name, estimators=estimator or None,
                                 probe_size=probe_size, units=units, workers=workers)
    console().print(f"measured {n} checkpoints into run {run} of {out}. Next: infoscope show {out} {run}")


@app.command("reproduce")
def reproduce_command(
    study: Annotated[str, typer.Argument(help="tishby-tanh, saxe-relu, fang-units, estimator-disagreement, wickstrom-mlp, wickstrom-cnn or lorenzen-quantized.")],
    full: Annotated[bool, typer.Option("--full", help="The paper-sized version (much longer).")] = False,
    out: Annotated[Path, typer.Option("--out", "-o", help="Folder for the database, figures and summary.")] = Path("reproduce"),
    seed: Annotated[int, typer.Option(help="Seed of weights, batch order and probes (the first of --seeds).")] = 0,
    seeds: Annotated[int | None, typer.Option(min=1, help="Seeds to run (default 1 quick, 3 with --full; a claim holds on >= 3 full seeds).")] = None,
    device: DeviceOpt = None,
    data: DataOpt = None,
) -> None:
    """Reproduce a published result: run it, analyse it, draw it, and say part by part whether the claim held."""
    from ..reproduce import reproduce

    err = Console(stderr=True)
    last = [-float("inf")]

    def line(text: str) -> None:  # plain lines outside a terminal (CI logs, notebooks), at most one each 10 s
        if time.perf_counter() - last[0] >= 10:
            typer.echo(f"reproduce {study}: {text}", err=True)
            last[0] = time.perf_counter()

    with err.status(f"reproduce {study}: starting") if err.is_terminal else contextlib.nullcontext() as status:
        tell = (lambda text: status.update(f"reproduce {study}: {text}")) if status is not None else line  # a live line in a terminal
        result = reproduce(study, out, full=full, seed=seed, seeds=seeds, device=device or default_device(), data=data,
                           on_progress=tell)
    con = console()
    for s, parts in result.parts.items():
        for part in parts:
            con.print(f"seed {s}: {part.status}: {part.name} ({part.evidence})")
    con.print(f"Verdict: {result.verdict.text}.")
    console().print(f"wrote {result.summary} and the figures beside it ({', '.join(result.figures)})")


#: The demo's bands: label permutations for the chance level of I(T;Y), probe subsamples for
#: the sampling error of every value.
DEMO_BANDS = {"chance": 10, "bootstrap": 5}


@app.command("demo")
def demo_command(
    out: Annotated[Path, typer.Option("--out", "-o", help="SQLite database to write.")] = Path("infoscope-demo.db"),
    epochs: Annotated[int, typer.Option(help="Training epochs.")] = 15,
    device: DeviceOpt = None,
) -> None:
    """The main job in about a minute: train an MLP on the shipped digits, record MI of every layer and unit, write a report."""
    from ..report import write_report
    from ..store import Store, load

    with Store(out) as store:
        existing = [n for n in store.run_names() if n.startswith("demo")]
    name = f"demo-{len(existing) + 1}"
    # with chance and bootstrap bands (every third epoch): a phase needs a change beyond both
    result = _run_with_progress("digits-mlp", store=out, run=name, epochs=epochs, device=device or default_device(),
                                **DEMO_BANDS, band_every=max(1, epochs // 5))

    with load(out) as store:
        console().print(last_epoch_table(store, name, f"digits-mlp ({name})"))
    report = write_report(out, out.with_suffix(".html"), [name], title=f"infoscope demo: {name}")
    console().print(
        f"Recorded {result.epochs} epochs in {result.seconds:.0f} s into {out} "
        f"(test accuracy {result.metrics['test_acc']:.3f}).\n"
        f"Report: {report.resolve()} (open it in a browser)\n"
        f"Next: infoscope show {out} {name}, or in Python: "
        f"infoscope.load('{out}').measurements(run='{name}')"
    )
