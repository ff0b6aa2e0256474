"""Estimating from arrays on disk: ``infoscope mi``, ``entropy``, ``calibrate`` and ``estimators``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import numpy as np
import typer
from rich.table import Table

from .. import estimators as _estimators  # (its classes load torch when first used)
from ..estimators import METHODS
from ..marks import MARK_LEGEND, value_mark
from .app import app, console, frame_table, with_options

__all__ = ["load_array", "parse_sigma", "parse_estimator_spec", "ESTIMATOR_OPTIONS"]


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


JsonOpt = Annotated[bool, typer.Option("--json", help="Print the estimate and every parameter used as JSON.")]

#: Options of ``infoscope mi`` and ``infoscope entropy``: name → (annotation, default).
ESTIMATOR_OPTIONS: dict[str, tuple[Any, Any]] = {
    "method": (Annotated[str, typer.Option("--method", "-m", help=f"Estimator: {', '.join(METHODS)}.")], "renyi"),
    "alpha": (Annotated[float | None, typer.Option(help="Rényi order α (renyi).")], None),
    "sigma_x": (Annotated[str | None, typer.Option("--sigma-x", help="Kernel width for X, or a rule: silverman, knn, alignment (renyi).")], None),
    "sigma_y": (Annotated[str | None, typer.Option("--sigma-y", help="Kernel width for Y, or a rule (renyi).")], None),
    "kernel": (Annotated[str | None, typer.Option(help="rbf (tensor kernel) or multivariate (renyi).")], None),
    "approx": (Annotated[str | None, typer.Option(help="slq: randomized eigenvalue sums for large N (renyi).")], None),
    "chunk_size": (Annotated[int | None, typer.Option("--chunk-size", help="Average estimates over chunks of this many samples (renyi).")], None),
    "n_bins": (Annotated[int | None, typer.Option("--n-bins", help="Bins per value (binning).")], None),
    "noise_variance": (Annotated[float | None, typer.Option("--noise-variance", help="Noise variance σ_n² (kde).")], None),
    "bound": (Annotated[str | None, typer.Option(help="upper or lower (kde); infonce, nwj, mine or smile (neural).")], None),
    "copula": (Annotated[bool | None, typer.Option("--copula/--no-copula", help="Rank each coordinate to a normal first (gaussian, neural).")], None),
    "k": (Annotated[int | None, typer.Option("--k", help="Neighbour rank (ksg).")], None),
}


def _estimator(method: str, **options: Any):
    """The estimator the command line asks for: only the options the user gave are passed."""
    for name in ("sigma_x", "sigma_y"):
        options[name] = parse_sigma(options.get(name))
    return _estimators.make_estimator(method, **{k: v for k, v in options.items() if v is not None})


def _print_estimate(label: str, estimate, as_json: bool) -> None:
    mark = value_mark(estimate.params)
    if as_json:
        typer.echo(json.dumps({"quantity": label, "unit": "bits", **estimate.to_dict(), "mark": mark or None}, default=_jsonable))
        return
    shown = ", ".join(f"{k}={_short(v)}" for k, v in estimate.params.items() if v is not None)
    con = console()
    con.print(f"{label} = {estimate.value:.6f} bits" + (f" [{mark}]" if mark else "") + f"  ({estimate.method}: {shown})")
    if mark:
        con.print(MARK_LEGEND)


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
@with_options(ESTIMATOR_OPTIONS)
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
@with_options(ESTIMATOR_OPTIONS, "sigma_y")
def entropy_command(
    x_path: Annotated[Path, typer.Argument(metavar="X.npy", help="Samples on axis 0, or integer labels (N,).")],
    as_json: JsonOpt = False,
    **options: Any,
) -> None:
    """Estimate the entropy H(X) in bits."""
    _print_estimate("H(X)", _estimator(**options).estimate_entropy(load_array(x_path, "X")), as_json)


def parse_estimator_spec(spec: str):
    """An estimator from ``name`` or ``name:param=value,param=value`` (values read as JSON where
    they can be: numbers, true/false, null; else as text).

    Examples
    --------
    >>> parse_estimator_spec("gaussian:copula=true,max_components=8")
    Gaussian(copula=True, shrinkage='auto', bias_correction=True, max_components=8)
    """
    name, _, rest = spec.partition(":")
    params: dict[str, Any] = {}
    for item in filter(None, rest.split(",")):
        key, eq, value = item.partition("=")
        if not eq:
            raise ValueError(f"estimator {spec!r}: {item!r} is not param=value")
        try:
            params[key.strip()] = json.loads(value)
        except json.JSONDecodeError:
            params[key.strip()] = value
    return _estimators.make_estimator(name.strip(), **params)


#: The estimators ``calibrate --suite beyond-normal`` runs unless told: KSG, both Gaussian
#: baselines and the neural estimator, each at its defaults.
BEYOND_NORMAL_DEFAULT = ("ksg", "gaussian", "gaussian:copula=true", "neural")


@app.command("calibrate")
def calibrate_command(
    suite: Annotated[str, typer.Option(help="gaussian: pairs of known MI at N and D; beyond-normal: the 40 tasks of "
                                            "Czyz et al. (2023).")] = "gaussian",
    n: Annotated[int | None, typer.Option("--n", min=4, help="Samples (default 1000; 2000 for beyond-normal).")] = None,
    d: Annotated[int, typer.Option("--d", min=1, help="Dimensions of each of X and Y (gaussian suite).")] = 5,
    estimator: Annotated[list[str] | None, typer.Option(
        "--estimator", "-e", help="Estimator, as name or name:param=value,...; repeat for several. Default: every "
                                  "estimator for continuous values (gaussian), or ksg, gaussian, gaussian:copula=true "
                                  "and neural (beyond-normal).")] = None,
    task: Annotated[list[str] | None, typer.Option("--task", help="Only these tasks (beyond-normal; repeat).")] = None,
    bits: Annotated[float, typer.Option("--bits", min=0.0, help="The true I(X;Y) of every case, in bits (gaussian suite).")] = 2.0,
    seed: Annotated[int, typer.Option(help="Seed of the samples.")] = 0,
    as_json: Annotated[bool, typer.Option("--json", help="Print the table as JSON records.")] = False,
) -> None:
    """Each estimator against a known MI: Gaussian pairs (dense, sparse, sinh-transformed) at N samples of D+D dimensions,
    or the 40 tasks of the Beyond Normal benchmark."""
    from ..calibration import SUITES, calibrate, calibrate_beyond_normal, suite_summary

    if suite not in SUITES:
        raise ValueError(f"unknown suite {suite!r}; choose one of: {', '.join(SUITES)}")
    if suite == "gaussian":
        table = calibrate([parse_estimator_spec(e) for e in estimator] if estimator else
                          [name for name, cls in _estimators.ESTIMATORS.items() if cls.tags.continuous and cls.tags.per_unit],
                          n or 1000, d, target_bits=bits, seed=seed)
        if as_json:
            typer.echo(table.to_json(orient="records"))
            return
        shown = table.drop(columns=["shannon"]).assign(error_bits=table.error_bits.map(lambda v: "— (not Shannon)" if v != v else f"{v:+.3f}"))
        console().print(frame_table(shown, f"Estimates of a known I(X;Y) = {bits:g} bits at N={n or 1000}, D={d}+{d}"))
        return
    from ..progress import WaitProgress

    ests = [parse_estimator_spec(e) for e in (estimator or BEYOND_NORMAL_DEFAULT)]
    size = n or 2000
    with WaitProgress(f"Beyond Normal at N={size}", len(task or []) or 40, "off" if as_json else "auto") as progress:
        table = calibrate_beyond_normal(ests, size, seed, task, on_task=lambda done, total, name: progress.update(done, name))
    if as_json:
        typer.echo(table.to_json(orient="records"))
        return
    wide = table.pivot_table(index=["task", "true_nats"], columns="estimator", values="value_nats", sort=False)
    shown = wide.reset_index()
    for label in wide.columns:
        hit = table[table.estimator == label].set_index("task").within
        shown[label] = [f"{v:.3f}" + (" ✓" if hit[t] else "") for t, v in zip(shown.task, shown[label])]
    shown["true_nats"] = shown.true_nats.map(lambda v: f"{v:.3f}")
    con = console()
    con.print(frame_table(shown, f"Beyond Normal: estimates in nats at N={size}, seed {seed} (✓: within 0.1 nats or 10 %)"))
    summary = suite_summary(table)
    con.print(frame_table(summary.round(3), "Tasks within 0.1 nats or 10 % of the truth, and time per task"))


@app.command("estimators")
def estimators_command() -> None:
    """List the estimators and their parameters with defaults."""
    table = Table("method", "class", "parameters (defaults)")
    for name, cls in _estimators.ESTIMATORS.items():
        params = ", ".join(f"{k}={v!r}" for k, v in cls().get_params().items())
        table.add_row(name, cls.__name__, params)
    console().print(table)
