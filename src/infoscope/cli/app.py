"""The ``infoscope`` command's Typer application, the options and helpers its command groups
share, and :func:`main`, which turns user errors into one-line messages.

User errors (bad files, bad parameters, bad data) end with a one-line message and exit code 2;
``--debug`` shows the full traceback instead.
"""

from __future__ import annotations

import inspect
import sys
from typing import Annotated, Any

import typer
from typer.exceptions import TyperException
from rich.console import Console
from rich.table import Table

from ..errors import StoreError
from ..estimators import H_T, I_TY, I_XT
from ..marks import MARK_LEGEND, marked

__all__ = ["app", "main", "USER_ERRORS", "console", "default_device", "with_options", "frame_table", "frame_tables", "last_epoch_table",
           "DataOpt", "DeviceOpt"]

app = typer.Typer(
    name="infoscope",
    help="Look inside deep neural networks with information theory (all values in bits).",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)

#: Exceptions that are the user's to fix: shown as one line, never as a traceback (an
#: ImportError: an optional extra not installed, whose message says what to install).
USER_ERRORS: tuple[type[BaseException], ...] = (ValueError, TypeError, OSError, KeyError, StoreError, ImportError)

DataOpt = Annotated[str | None, typer.Option(help="CIFAR folder for the CIFAR experiments, or 'synthetic' (default: $INFOSCOPE_DATA, else synthetic).")]

DeviceOpt = Annotated[str | None, typer.Option(help="Where to train and measure: cpu, cuda, cuda:1 … (default: cuda if available, else cpu).")]


@app.callback()
def _root(
    debug: Annotated[bool, typer.Option("--debug", help="Show full tracebacks for errors.")] = False,
    threads: Annotated[int | None, typer.Option(min=1, help="Threads for torch and NumPy (default: the cores idle when "
                                                            "the command starts; $OMP_NUM_THREADS wins).")] = None,
) -> None:
    """infoscope: mutual information of layers and units, in bits."""
    set_threads(threads)


def set_threads(threads: int | None) -> None:
    """Give the numerical libraries ``threads`` threads, or the idle cores (:mod:`~infoscope.threads`),
    before they load; a thread count the user set in the environment is kept. Where torch is
    loaded already (the command line called from Python), only an explicit ``threads`` changes it."""
    import os

    if "torch" in sys.modules:
        if threads is not None:
            sys.modules["torch"].set_num_threads(threads)
        return
    if threads is None:
        if "OMP_NUM_THREADS" in os.environ:
            return
        from ..threads import chosen_threads

        threads = chosen_threads()
    for name in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        os.environ[name] = str(threads)


def console() -> Console:
    """Standard output, without Rich's guesses at highlighting, and without markup: every name
    a user gave (a run, a layer, a metric) is shown as the text it is."""
    return Console(highlight=False, markup=False)


def default_device() -> str:
    """``cuda`` where a GPU is available, else ``cpu``."""
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


def with_options(table: dict[str, tuple[Any, Any]], *skip: str):
    """Give a command the options of ``table`` (name → (annotation, default)), less ``skip``,
    which it receives as keyword arguments: each option is declared once, in its table."""

    def decorate(fn):
        sig = inspect.signature(fn, eval_str=True)
        own = [p for p in sig.parameters.values() if p.kind is not inspect.Parameter.VAR_KEYWORD]
        shared = [inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, annotation=annotation, default=default)
                  for name, (annotation, default) in table.items() if name not in skip]
        fn.__signature__ = sig.replace(parameters=own + shared)
        return fn

    return decorate


def _cell(v: Any, floats: int) -> str:
    return f"{v:.{floats}f}" if isinstance(v, float) and v == v else "—" if v is None or v != v else str(v)


def frame_table(df, title: str, floats: int = 3) -> Table:
    """A DataFrame as a Rich table: floats to ``floats`` decimals, missing values as a dash."""
    table = Table(*[str(c) for c in df.columns], title=title)
    for row in df.itertuples(index=False):
        table.add_row(*[_cell(v, floats) for v in row])
    return table


#: Columns that name what a row is about, repeated in every part of a table split to fit.
KEY_COLUMNS = ("run", "probe", "estimator", "layer", "quantity")


def frame_tables(df, title: str, floats: int = 3, width: int | None = None) -> list[Table]:
    """A DataFrame as Rich tables that fit the terminal with every name and number whole: the
    columns are split into as many tables as the width needs, each repeating the columns that
    name the rows (:data:`KEY_COLUMNS`), and no cell or header is cut.

    Examples
    --------
    >>> import pandas as pd
    >>> df = pd.DataFrame({"layer": ["conv1", "conv2"], **{f"quantity_{i}": [1.0, 2.0] for i in range(12)}})
    >>> [len(t.columns) for t in frame_tables(df, "t", width=80)]
    [6, 6, 3]
    """
    width = width or console().width
    cells = {c: [_cell(v, floats) for v in df[c]] for c in df.columns}
    need = {c: max([len(str(c))] + [len(v) for v in cells[c]]) + 3 for c in df.columns}  # with Rich's padding and rule
    keys = [c for c in df.columns if c in KEY_COLUMNS]
    rest = [c for c in df.columns if c not in keys]
    groups: list[list[str]] = [[]]
    base = sum(need[c] for c in keys) + 1
    for c in rest:
        if groups[-1] and base + sum(need[g] for g in groups[-1]) + need[c] > width:
            groups.append([])
        groups[-1].append(c)
    tables = []
    for i, group in enumerate(groups):
        cols = keys + group
        part = f" ({i + 1}/{len(groups)})" if len(groups) > 1 else ""
        table = Table(title=title + part)
        for c in cols:
            table.add_column(str(c), min_width=need[c] - 3, overflow="fold")
        for r in range(len(df)):
            table.add_row(*[cells[c][r] for c in cols])
        tables.append(table)
    return tables


def last_epoch_table(store, run: str, title: str) -> Table:
    """A run's whole-layer values at its last recorded epoch, layers by their labels."""
    from ..analysis.series import final_values
    from ..labels import layer_labels

    layers = store.layers(run)
    final = final_values(store.measurements(run=run), layers.name)
    if final.empty:
        return Table(title=f"{title}: no measurements yet")
    labels = layer_labels(layers)
    shown = [q for q in (H_T, I_XT, I_TY) if q in final.columns]
    any_mark = any(final[f"{q} mark"].astype(bool).any() for q in shown)
    table = Table("probe", "layer", "estimator", *shown, title=f"{title}, epoch {int(final.epoch.iloc[0])} (bits)",
                  caption=MARK_LEGEND if any_mark else None)
    for _, row in final.iterrows():
        table.add_row(row.probe, labels.get(row.layer, row.layer), row.estimator, *(marked(row[q], row[f"{q} mark"]) for q in shown))
    return table


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
        code = app(args=args, prog_name="infoscope", standalone_mode=False)
    except SystemExit as exc:  # (a command may still end this way) hand its code back
        return exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    except TyperException as exc:  # a wrong command, option or value: one line too, never a box
        ctx = getattr(exc, "ctx", None)
        path = getattr(ctx, "command_path", "") or ""
        hint = f" (see {path} --help)" if path else ""
        typer.echo(f"error: {exc.format_message()}{hint}", err=True)
        return 2
    except typer.Abort:
        typer.echo("error: aborted", err=True)
        return 1
    except USER_ERRORS as exc:
        if debug:
            raise
        message = exc.args[0] if isinstance(exc, KeyError) and exc.args else exc
        typer.echo(f"error: {message}", err=True)
        return 2
    return code if isinstance(code, int) else 0
