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

__all__ = ["load_array", "parse_sigma", "ESTIMATOR_OPTIONS"]


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
    "bound": (Annotated[str | None, typer.Option(help="upper or lower (kde).")], None),
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


@app.command("calibrate")
def calibrate_command(
    n: Annotated[int, typer.Option("--n", min=2, help="Samples.")] = 1000,
    d: Annotated[int, typer.Option("--d", min=1, help="Dimensions of each of X and Y.")] = 5,
    estimator: Annotated[list[str] | None, typer.Option("--estimator", "-e", help="Estimator(s); default every one for continuous values.")] = None,
    bits: Annotated[float, typer.Option("--bits", min=0.0, help="The true I(X;Y) of every case, in bits.")] = 2.0,
    seed: Annotated[int, typer.Option(help="Seed of the samples.")] = 0,
) -> None:
    """Each estimator against the known MI of Gaussian pairs (dense, sparse, sinh-transformed) at N samples of D+D dimensions."""
    from ..calibration import calibrate

    table = calibrate(estimator or [name for name, cls in _estimators.ESTIMATORS.items() if cls.tags.continuous], n, d, target_bits=bits, seed=seed)
    shown = table.drop(columns=["shannon"]).assign(error_bits=table.error_bits.map(lambda v: "— (not Shannon)" if v != v else f"{v:+.3f}"))
    console().print(frame_table(shown, f"Estimates of a known I(X;Y) = {bits:g} bits at N={n}, D={d}+{d}"))


@app.command("estimators")
def estimators_command() -> None:
    """List the estimators and their parameters with defaults."""
    table = Table("method", "class", "parameters (defaults)")
    for name, cls in _estimators.ESTIMATORS.items():
        params = ", ".join(f"{k}={v!r}" for k, v in cls().get_params().items())
        table.add_row(name, cls.__name__, params)
    console().print(table)
