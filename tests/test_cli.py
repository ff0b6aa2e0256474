"""The command line: estimates, JSON output and one-line errors with exit code 2."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

import infoscope
from infoscope.cli import main


@pytest.fixture
def arrays(tmp_path, rng):
    x = rng.normal(size=(200, 3))
    y = (x[:, 0] > 0).astype(np.int64)
    np.save(tmp_path / "x.npy", x)
    np.save(tmp_path / "y.npy", y)
    return tmp_path, x, y


def test_mi_json_reports_value_and_chosen_sigma(arrays, capsys):
    d, x, y = arrays
    assert main(["mi", str(d / "x.npy"), str(d / "y.npy"), "--method", "renyi", "--sigma-x", "knn", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["unit"] == "bits"
    assert out["value"] == pytest.approx(infoscope.mutual_information(x, y, sigma_x="knn"), abs=1e-12)
    assert out["params"]["sigma_x"] > 0 and out["params"]["sigma_y"] == 0.1


@pytest.mark.parametrize("method, extra", [("binning", ["--n-bins", "10"]), ("kde", ["--bound", "lower"]), ("ksg", ["--k", "5"]), ("renyi", ["--alpha", "2", "--sigma-x", "1.5"])])
def test_mi_every_method(arrays, capsys, method, extra):
    d, x, y = arrays
    assert main(["mi", str(d / "x.npy"), str(d / "y.npy"), "-m", method, *extra, "--json"]) == 0
    assert np.isfinite(json.loads(capsys.readouterr().out)["value"])


def test_entropy_with_the_randomized_estimator_is_recorded_and_close(arrays, capsys):
    d, x, _ = arrays
    assert main(["entropy", str(d / "x.npy"), "--approx", "slq", "--sigma-x", "1.0", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["params"]["approx"] == "slq" and out["params"]["approx_probes"] == 10
    assert out["value"] == pytest.approx(infoscope.entropy(x, sigma_x=1.0), abs=0.1)
    assert main(["entropy", str(d / "x.npy"), "--approx", "lowrank"]) == 2
    assert "unknown approx" in capsys.readouterr().err
    assert main(["mi", str(d / "x.npy"), str(d / "y.npy"), "--chunk-size", "100", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["params"]["n_chunks"] == 2 and out["value"] == pytest.approx(
        infoscope.MatrixRenyi(chunk_size=100).mutual_information(x, (x[:, 0] > 0).astype(int)), abs=1e-12)


def test_entropy_plain_output(arrays, capsys):
    d, *_ = arrays
    assert main(["entropy", str(d / "y.npy"), "--method", "binning"]) == 0
    assert "bits" in capsys.readouterr().out


@pytest.mark.parametrize(
    "args, message",
    [
        (["mi", "{d}/missing.npy", "{d}/y.npy"], "no such file"),
        (["mi", "{d}/not.npy", "{d}/y.npy"], "is not a NumPy .npy file"),
        (["mi", "{d}/x.npy", "{d}/y.npy", "--sigma-x", "-1"], "sigma_x must be a finite number > 0"),
        (["mi", "{d}/x.npy", "{d}/y.npy", "-m", "nope"], "unknown method 'nope'"),
        (["mi", "{d}/x.npy", "{d}/y.npy", "-m", "ksg", "--alpha", "2"], "has no parameter"),
        (["mi", "{d}/x.npy", "{d}/short.npy"], "x has 200 samples but y has 3"),
    ],
)
def test_user_errors_are_one_line_with_exit_code_2(arrays, capsys, args, message):
    d, *_ = arrays
    (d / "not.npy").write_text("hello")
    np.save(d / "short.npy", np.arange(3))
    assert main([a.format(d=d) for a in args]) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err and err.count("\n") == 1


def test_debug_shows_the_traceback(arrays):
    d, *_ = arrays
    with pytest.raises(FileNotFoundError):
        main(["mi", str(d / "missing.npy"), str(d / "y.npy"), "--debug"])


def test_installed_console_script(arrays):
    d, *_ = arrays
    proc = subprocess.run(
        [sys.executable, "-m", "infoscope", "mi", str(d / "x.npy"), str(d / "y.npy"), "--json"],
        capture_output=True, text=True, check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["method"] == "renyi"
    bad = subprocess.run([sys.executable, "-m", "infoscope", "mi", "nope.npy", "nope.npy"], capture_output=True, text=True)
    assert bad.returncode == 2 and bad.stderr.startswith("error: ")


@pytest.fixture
def long_named_runs(tmp_path):
    """A store with two runs whose names are longer than a cut column would show."""
    import torch
    from torch import nn

    db = tmp_path / "names.db"
    x, y = torch.randn(60, 4), (torch.arange(60) % 2)
    for name in ("a-rather-long-run-name-tishby-tanh-s0", "another-long-run-name-tishby-relu-s1"):
        model = nn.Sequential(nn.Linear(4, 3), nn.Tanh(), nn.Linear(3, 2))
        with infoscope.Recorder(model, (x, y), estimators=["binning"], store=db, run=name) as rec:
            for epoch in range(7):
                rec.record(epoch)
    return db


def test_tables_keep_every_name_whole_at_80_columns(long_named_runs, capsys, monkeypatch):
    monkeypatch.setenv("COLUMNS", "80")
    db = long_named_runs
    assert main(["runs", str(db)]) == 0
    out = capsys.readouterr().out
    assert all(len(line) <= 80 for line in out.splitlines())
    assert "a-rather-long-run-name-tishby-tanh-s0" in out and "another-long-run-name-tishby-relu-s1" in out
    assert "…" not in out
    assert main(["analyze", str(db), "a-rather-long-run-name-tishby-tanh-s0"]) == 0
    out = capsys.readouterr().out
    for header in ("peak_epoch", "compression_epochs", "drop_fraction", "rescaled", "tolerance"):
        assert header in out
    assert "…" not in out


def test_runs_show_and_analyze_for_scripts(long_named_runs, capsys):
    db = long_named_runs
    assert main(["runs", str(db), "--json"]) == 0
    runs = json.loads(capsys.readouterr().out)["runs"]
    assert [r["run"] for r in runs] == ["a-rather-long-run-name-tishby-tanh-s0", "another-long-run-name-tishby-relu-s1"]
    assert runs[0]["records"] == 7 and runs[0]["last epoch"] == 6
    assert main(["runs", str(db), "--csv"]) == 0
    assert capsys.readouterr().out.splitlines()[0] == "run,experiment,seed,status,records,last epoch,started"
    assert main(["show", str(db), "a-rather-long-run-name-tishby-tanh-s0", "--json"]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert {v["layer"] for v in shown["values"]} == {"1", "2"} and shown["status"] == "finished"
    assert main(["analyze", str(db), "a-rather-long-run-name-tishby-tanh-s0", "--json"]) == 0
    analysis = json.loads(capsys.readouterr().out)
    assert {"convergence", "phases", "candidates", "network", "warnings"} <= set(analysis)
    assert {p["layer"] for p in analysis["phases"]} == {"1", "2"}


def test_help_and_reading_commands_start_without_torch(long_named_runs):
    """`infoscope --help`, `runs` and `show` import neither torch nor matplotlib (they load when
    a command needs them), which is what makes the command line answer at once."""
    code = (
        "import contextlib, io, sys\n"
        "from infoscope.cli import main\n"
        "for args in (['--help'], ['runs', sys.argv[1]], ['show', sys.argv[1], 'a-rather-long-run-name-tishby-tanh-s0']):\n"
        "    with contextlib.redirect_stdout(io.StringIO()):\n"
        "        assert main(args) == 0, args\n"
        "print(sorted(m for m in ('torch', 'matplotlib', 'sklearn') if m in sys.modules))\n"
    )
    out = subprocess.run([sys.executable, "-c", code, str(long_named_runs)], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]", out.stdout + out.stderr


@pytest.mark.parametrize("args, env, expected", [(["--threads", "1"], {}, 1), ([], {"OMP_NUM_THREADS": "2"}, 2)])
def test_the_command_line_sets_threads_before_torch_loads(args, env, expected):
    """`--threads N` (or the user's own OMP_NUM_THREADS) decides torch's threads; without either,
    the cores idle at the start (infoscope.threads)."""
    import os

    code = ("import contextlib, io\nfrom infoscope.cli import main\n"
            f"with contextlib.redirect_stdout(io.StringIO()):\n    assert main({args + ['estimators']!r}) == 0\n"
            "import torch\nprint(torch.get_num_threads())\n")
    environ = {k: v for k, v in os.environ.items() if k not in ("OMP_NUM_THREADS", "MKL_NUM_THREADS")} | env
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, env=environ)
    assert int(out.stdout.strip()) == expected
