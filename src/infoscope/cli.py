"""The ``infoscope`` command line (Typer, with Rich tables and progress bars).

User errors (bad files, bad parameters, bad data) end with a one-line message and exit code 2;
``--debug`` shows the full traceback instead.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Any

import numpy as np
import typer
from rich.console import Console
from rich.table import Table

from .estimators import ESTIMATORS, make_estimator

app = typer.Typer(
    name="infoscope",
    help="Look inside deep neural networks with information theory (all values in bits).",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)

#: Exceptions that are the user's to fix: shown as one line, never as a traceback.
USER_ERRORS: tuple[type[BaseException], ...] = (ValueError, TypeError, FileNotFoundError, PermissionError, KeyError)


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


def _params(**options: Any) -> dict[str, Any]:
    """Estimator parameters from CLI options: only those the user gave."""
    return {k: v for k, v in options.items() if v is not None}


MethodOpt = Annotated[str, typer.Option("--method", "-m", help=f"Estimator: {', '.join(ESTIMATORS)}.")]
AlphaOpt = Annotated[float | None, typer.Option(help="Rényi order α (renyi).")]
SigmaXOpt = Annotated[str | None, typer.Option("--sigma-x", help="Kernel width for X, or a rule: silverman, knn, alignment (renyi).")]
SigmaYOpt = Annotated[str | None, typer.Option("--sigma-y", help="Kernel width for Y, or a rule (renyi).")]
KernelOpt = Annotated[str | None, typer.Option(help="rbf (tensor kernel) or multivariate (renyi).")]
BinsOpt = Annotated[int | None, typer.Option("--n-bins", help="Bins per value (binning).")]
NoiseOpt = Annotated[float | None, typer.Option("--noise-variance", help="Noise variance σ_n² (kde).")]
BoundOpt = Annotated[str | None, typer.Option(help="upper or lower (kde).")]
KOpt = Annotated[int | None, typer.Option("--k", help="Neighbour rank (ksg).")]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print the estimate and every parameter used as JSON.")]


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
def mi_command(
    x_path: Annotated[Path, typer.Argument(metavar="X.npy", help="Samples on axis 0, any trailing shape.")],
    y_path: Annotated[Path, typer.Argument(metavar="Y.npy", help="Samples, or integer class labels of shape (N,).")],
    method: MethodOpt = "renyi",
    alpha: AlphaOpt = None,
    sigma_x: SigmaXOpt = None,
    sigma_y: SigmaYOpt = None,
    kernel: KernelOpt = None,
    n_bins: BinsOpt = None,
    noise_variance: NoiseOpt = None,
    bound: BoundOpt = None,
    k: KOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Estimate the mutual information I(X;Y) in bits."""
    params = _params(
        alpha=alpha, sigma_x=parse_sigma(sigma_x), sigma_y=parse_sigma(sigma_y), kernel=kernel,
        n_bins=n_bins, noise_variance=noise_variance, bound=bound, k=k,
    )
    est = make_estimator(method, **params)
    x, y = load_array(x_path, "X"), load_array(y_path, "Y")
    _print_estimate("I(X;Y)", est.estimate_mutual_information(x, y), as_json)


@app.command("entropy")
def entropy_command(
    x_path: Annotated[Path, typer.Argument(metavar="X.npy", help="Samples on axis 0, or integer labels (N,).")],
    method: MethodOpt = "renyi",
    alpha: AlphaOpt = None,
    sigma_x: SigmaXOpt = None,
    kernel: KernelOpt = None,
    n_bins: BinsOpt = None,
    noise_variance: NoiseOpt = None,
    bound: BoundOpt = None,
    k: KOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Estimate the entropy H(X) in bits."""
    params = _params(
        alpha=alpha, sigma_x=parse_sigma(sigma_x), kernel=kernel, n_bins=n_bins,
        noise_variance=noise_variance, bound=bound, k=k,
    )
    est = make_estimator(method, **params)
    _print_estimate("H(X)", est.estimate_entropy(load_array(x_path, "X")), as_json)


@app.command("estimators")
def estimators_command() -> None:
    """List the estimators and their parameters with defaults."""
    table = Table("method", "class", "parameters (defaults)")
    for name, cls in ESTIMATORS.items():
        params = ", ".join(f"{k}={v!r}" for k, v in cls().get_params().items())
        table.add_row(name, cls.__name__, params)
    _console().print(table)


@app.command("demo")
def demo_command() -> None:
    """A short tour: every estimator on data that ships with infoscope."""
    from .datasets import load_mnist_subset, load_tishby

    tishby = load_tishby()
    mnist = load_mnist_subset(n_train=1000, n_test=1)
    cases = [
        ("12-bit task: I(X;Y), N=3482", tishby.x_train, tishby.y_train),
        ("MNIST pixels: I(X;Y), N=1000", mnist.x_train, mnist.y_train),
    ]
    table = Table("data", *ESTIMATORS, title="Mutual information in bits (default parameters)")
    for label, x, y in cases:
        table.add_row(label, *(f"{make_estimator(m).mutual_information(x, y):.3f}" for m in ESTIMATORS))
    console = _console()
    console.print(table)
    console.print("H(Y) of the 12-bit labels: {:.3f} bits; of MNIST: {:.3f} bits".format(
        make_estimator("binning").entropy(tishby.y_train), make_estimator("binning").entropy(mnist.y_train)))


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
