"""The shape of the code: one options object, one place for run creation, who imports whom.

Numbers here are exact ground truths (plug-in MI of a deterministic code, Rényi entropy of
balanced classes), so the shared machinery is checked against what it must compute.
"""

from __future__ import annotations

import ast
import math
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

import infoscope
from infoscope import KDE, KSG, Binning, MatrixRenyi, Recorder, RecordingOptions
from infoscope.analysis import ModelFindings, analyze
from infoscope.cli import main
from infoscope.errors import StoreError
from infoscope.estimators.base import ProbeContext
from infoscope.estimators.chunking import average_estimates, chunk_indices
from infoscope.estimators.renyi import ProbeGrams
from infoscope.experiments import run_experiment
from infoscope.experiments.inspection import analyze_run
from infoscope.options import recording_options
from infoscope.reproduce import STUDIES
from infoscope.store import Store, opened

SRC = Path(infoscope.__file__).parent


def _imports(path: Path) -> list[str]:
    """Absolute names of what a module imports (relative imports resolved)."""
    package = ".".join(("infoscope",) + path.relative_to(SRC).with_suffix("").parts[:-1])
    names = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            base = package.rsplit(".", node.level - 1)[0] if node.level else ""
            module = ".".join(p for p in (base, node.module) if p)
            names += [module] if node.module else [f"{module}.{a.name}" for a in node.names]
        elif isinstance(node, ast.Import):
            names += [a.name for a in node.names]
    return names


def test_layering_of_imports():
    for path in SRC.rglob("*.py"):
        mod = path.relative_to(SRC).as_posix()
        inner = [n for n in _imports(path) if n.startswith("infoscope")]
        assert "infoscope" not in inner and "infoscope.__version__" not in inner, f"{mod} imports the package __init__"
        if mod.startswith(("analysis/", "report/")):  # read stored data only: never rebuild or re-run a model
            bad = [n for n in inner if n.split(".")[1] in ("experiments", "capture", "recorder", "measurement")]
            assert not bad, f"{mod} runs the pipeline backwards: {bad}"
        if mod in ("measurement.py", "uncertainty.py", "records.py") or mod.startswith("estimators/"):  # compute knows no storage
            bad = [n for n in inner if n.split(".")[1] == "store"]
            assert not bad, f"{mod} imports the store: {bad}"
        if mod.startswith("estimators/"):
            bad = [n for n in inner if not n.startswith(("infoscope.estimators", "infoscope._validation", "infoscope.errors"))]
            assert not bad, f"{mod} imports outside the estimators: {bad}"


def test_recording_options_are_checked_once_everywhere(tmp_path):
    with pytest.raises(TypeError, match="unknown recording option.*unit_evry"):
        recording_options(unit_evry=3)
    with pytest.raises(ValueError, match="sigma_smoothing"):
        RecordingOptions(sigma_smoothing=1.0)
    base = RecordingOptions(estimators=["binning"], unit_every=4)
    assert recording_options(base, bootstrap=2).unit_every == 4 and base.bootstrap == 0
    assert [e.name for e in base.estimators] == ["binning"]
    # the same options through the Recorder, the runner and the Lightning-free API give the same config
    model = nn.Sequential(nn.Linear(4, 3), nn.Tanh(), nn.Linear(3, 2))
    x, y = torch.randn(40, 4), torch.randint(0, 2, (40,))
    with Recorder(model, (x, y), base, store=tmp_path / "a.db", run="a") as r1, \
            Recorder(model, (x, y), store=tmp_path / "b.db", run="b", estimators=["binning"], unit_every=4) as r2:
        assert r1.options == r2.options
        assert r1.store.run_info("a")["config"] == r2.store.run_info("b")["config"]
    with pytest.raises(TypeError, match="unknown recording option"):
        run_experiment("tishby", store=tmp_path / "c.db", epochs=0, probe_size=20, unit_evry=2)


def test_run_creation_and_resumption_are_decided_in_one_place(tmp_path):
    with Store(tmp_path / "r.db") as st:
        first = st.open_run("r", None, {}, None)
        rid = first.run_id
        assert not first.resumed
        with pytest.raises(StoreError, match="already exists"):
            st.open_run("r", None, {}, None)
        again = st.open_run("r", None, {}, None, resume=True)
        assert (again.run_id, again.resumed) == (rid, True)
        assert st.run_info("r")["status"] == "running"
    model = nn.Sequential(nn.Linear(4, 2), nn.ReLU())
    x, y = torch.randn(20, 4), torch.randint(0, 2, (20,))
    with Recorder(model, (x, y), estimators=["binning"], store=tmp_path / "r.db", run="q") as first:
        qid = first.run_id
    with Recorder(model, (x, y), estimators=["binning"], store=tmp_path / "r.db", run="q", resume=True) as rec:
        assert rec.resumed and rec.run_id == qid and qid != rid


def test_opened_leaves_a_given_store_open_and_creates_nothing(tmp_path):
    with pytest.raises(StoreError, match="no database"):
        with opened(tmp_path / "missing.db"):
            pass
    assert not (tmp_path / "missing.db").exists()
    st = Store(tmp_path / "r.db")
    with opened(st) as same:
        assert same is st
    assert st.run_names() == []  # still open
    st.close()
    with opened(tmp_path / "r.db", writable=True) as own:
        own.open_run("w", None, {}, None)
    with pytest.raises(Exception):
        own.run_names()  # closed by the context


@pytest.mark.parametrize("est", [Binning(), KDE(), KSG()])
def test_labels_on_both_sides_use_the_plugin_shortcut(est):
    # x uniform on 8 symbols, y = x // 2: I(X;Y) = H(Y) = 2 bits, H(X) = 3 bits exactly
    x = np.repeat(np.arange(8), 25)
    y = x // 2
    res = est.estimate_mutual_information(x, y)
    assert res.value == pytest.approx(2.0, abs=1e-12) and res.params["y_discrete"] and res.params["n_samples"] == 200
    assert est.entropy(x) == pytest.approx(3.0, abs=1e-12)


def test_chunks_and_their_average():
    assert [len(c) for c in chunk_indices(250, 100)] == [100, 100, 50]
    assert [len(c) for c in chunk_indices(230, 100)] == [100, 130]  # a short remainder joins the last chunk
    assert chunk_indices(100, 100) is None and chunk_indices(5, None) is None
    parts = [infoscope.Estimate(v, "renyi", {"sigma_x": s, "n_samples": 10}) for v, s in ((1.0, 2.0), (3.0, 4.0))]
    avg = average_estimates(parts)
    assert avg.value == 2.0 and avg.params["sigma_x"] == 3.0 and avg.params["n_samples"] == 20
    assert avg.params["n_chunks"] == 2 and avg.params["chunk_std"] == pytest.approx(math.sqrt(2))


def test_probe_grams_are_named_and_exact_for_balanced_classes():
    g = torch.Generator().manual_seed(0)
    x, y = torch.randn(120, 5, generator=g), torch.arange(120) % 4
    ctx = ProbeContext.build(x, y)
    est = MatrixRenyi(alpha=1.01)
    est.layer_information(torch.randn(120, 3, generator=g), ctx)
    (grams,) = [v for v in ctx.cache.values() if isinstance(v, ProbeGrams)]
    assert grams.label_entropy == pytest.approx(2.0, abs=1e-9)  # four equal classes: S_α = log2 4 for any α
    assert grams.class_codes is not None and grams.label_sigma == 0.1
    assert grams.input_gram.shape == (120, 120) and 0 < grams.input_entropy <= math.log2(120)


def test_analysis_reads_stored_data_and_writes_nothing(tmp_path):
    db = tmp_path / "r.db"
    run_experiment("tishby", store=db, run="t", epochs=3, probe_size=200, units=False)
    with infoscope.load(db) as st:
        stored = st.findings("t")  # the runner stores what only the model can tell
    assert stored is not None and stored["epoch"] == 3 and stored["unavailable"] is None
    a = analyze(db, "t", window=2)
    assert not any("need the trained model" in n for n in a.notes)
    model = nn.Sequential(nn.Linear(4, 3), nn.Tanh(), nn.Linear(3, 2))
    with Recorder(model, (torch.randn(40, 4), torch.randint(0, 2, (40,))), estimators=["binning"], store=db, run="u") as rec:
        rec.record(epoch=0)
    bare = analyze(db, "u", window=2)  # nothing stored, nothing given
    assert any("need the trained model: no trained model was given" in n for n in bare.notes)
    given = analyze(db, "t", window=2, findings=ModelFindings(warnings=[(None, "3", "made up")], pairs={"3": [(0, 1, 0.95)]}))
    assert (None, "3", "made up") in given.warnings and given.pairs == {"3": [(0, 1, 0.95)]}
    with infoscope.load(db) as st:
        assert st.warnings("t").empty
    full = analyze_run(db, "t", window=2, save=False)
    assert not any("need the trained model" in n for n in full.notes)
    with infoscope.load(db) as st:
        assert st.warnings("t").empty  # save=False writes nothing
    analyze_run(db, "t", window=2)
    with infoscope.load(db) as st:
        assert len(st.warnings("t")) == len(full.warnings)


def test_reproduce_help_names_every_study(capsys):
    assert main(["reproduce", "--help"]) == 0
    text = " ".join(capsys.readouterr().out.split())
    for name in STUDIES:
        assert name in text


def test_mi_and_entropy_share_their_options(capsys):
    for command in ("mi", "entropy"):
        assert main([command, "--help"]) == 0
    mi_help, entropy_help = capsys.readouterr().out.split("Usage:")[1:]
    for option in ("--method", "--alpha", "--sigma-x", "--kernel", "--approx", "--chunk-size", "--n-bins", "--k", "--json"):
        assert option in mi_help and option in entropy_help
    assert "--sigma-y" in mi_help and "--sigma-y" not in entropy_help


def test_readme_layout_lists_every_module():
    readme = (SRC.parents[1] / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Layout", 1)[1].split("\n## ", 1)[0]
    listed = {line.split("`")[1] for line in section.splitlines() if line.startswith("| `")}
    present = {p.relative_to(SRC).as_posix() for pattern in ("*.py", "*.js") for p in SRC.rglob(pattern)}
    present -= {"__init__.py", "__main__.py", "experiments/__init__.py", "integrations/__init__.py", "report/__init__.py",
                "cli/__init__.py", "cli/__main__.py"}
    assert listed == present


def test_calibration_matches_known_gaussian_mi_and_is_stored_with_a_run(tmp_path, capsys):
    from infoscope.calibration import calibrate, gaussian_pair
    from infoscope.report import build_report

    # the construction: the empirical Gaussian MI of one pair equals the truth
    x, y, bits = gaussian_pair(20000, 1, target_bits=1.0, seed=1)
    rho = np.corrcoef(x[:, 0], y[:, 0])[0, 1]
    assert -0.5 * np.log2(1 - rho**2) == pytest.approx(bits, abs=0.02)
    # an invertible transform leaves MI unchanged: KSG (rank-based neighbours in each marginal) agrees
    t = calibrate(["ksg"], 3000, 1, cases=["sparse", "sparse-sinh"], target_bits=1.0)
    assert (t.error_bits.abs() < 0.1).all()
    assert calibrate(["ksg"], 1000, 25, cases=["sparse"]).error_bits.iloc[0] < -1.0  # known failure at 25+25 dims
    assert np.isnan(calibrate(["renyi"], 300, 2, cases=["dense"]).error_bits.iloc[0])  # not a Shannon estimate
    model = nn.Sequential(nn.Linear(4, 3), nn.Tanh(), nn.Linear(3, 2))
    xs, ys = torch.randn(120, 4), torch.randint(0, 2, (120,))
    with Recorder(model, (xs, ys), estimators=["ksg", "binning"], units=False, store=tmp_path / "r.db", run="c", calibrate=True) as rec:
        rec.record(epoch=0)
    with infoscope.load(tmp_path / "r.db") as st:
        cal = st.run_info("c")["config"]["calibration"]
    assert {(r["n"], r["d"]) for r in cal} == {(120, 3), (120, 2)} and {r["estimator"] for r in cal} == {"ksg", "binning"}
    assert "Calibration: each estimator on Gaussian pairs" in build_report(tmp_path / "r.db", ["c"])
    assert main(["calibrate", "--n", "300", "--d", "2", "-e", "ksg", "-e", "renyi"]) == 0
    assert "not Shannon" in capsys.readouterr().out


def test_run_takes_every_recording_option_from_the_dataclass(capsys, tmp_path, monkeypatch):
    import dataclasses

    monkeypatch.setenv("COLUMNS", "400")  # the help on one line per option, nothing cut short
    from infoscope.cli.recording import RECORDING_OPTIONS, recording_overrides

    fields = {f.name for f in dataclasses.fields(RecordingOptions)}
    assert set(RECORDING_OPTIONS) == fields - {"forward_batch_size", "on_error", "device", "progress"}  # (the command shows its own)
    assert main(["run", "--help"]) == 0
    text = " ".join(capsys.readouterr().out.split())
    for option in ("--bootstrap-fraction", "--sigma-smoothing", "--noise-draws", "--unit-pooling", "--early-every", "--chance"):
        assert option in text
    assert "Label permutations for a" in text  # the help is the dataclass's own documentation
    assert recording_overrides({"every": "3", "memory_budget": 2.0, "unit_probes": "train, test", "chance": None}) == {
        "every": 3, "memory_budget": 2 * 2**20, "unit_probes": ["train", "test"]}
    db = tmp_path / "r.db"
    assert main(["run", "tishby", "--epochs", "1", "--probe-size", "60", "--out", str(db), "--name", "o",
                 "--no-units", "--bootstrap", "2", "--bootstrap-fraction", "0.5", "--chance", "3"]) == 0
    with infoscope.load(db) as st:
        config = st.run_info("o")["config"]
    assert (config["bootstrap"], config["bootstrap_fraction"], config["chance"], config["units"]) == (2, 0.5, 3, [])


def test_no_import_cycles_lazy_imports_included():
    mods = {}
    for p in SRC.rglob("*.py"):
        parts = ("infoscope",) + p.relative_to(SRC).with_suffix("").parts
        mods[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = p
    graph: dict[str, set[str]] = {m: set() for m in mods}
    for m, p in mods.items():
        for name in _imports(p):  # every import statement, inside functions and TYPE_CHECKING blocks too
            while name and name not in mods:
                name = name.rpartition(".")[0]
            if name and name != m and name != "infoscope":
                graph[m].add(name)
    seen: dict[str, int] = {}  # 1: on the path, 2: done

    def visit(m: str, path: list[str]) -> None:
        seen[m] = 1
        for n in sorted(graph[m]):
            assert seen.get(n) != 1, "import cycle: " + " -> ".join(path[path.index(n):] + [n]) if n in path else n
            if n not in seen:
                visit(n, path + [n])
        seen[m] = 2

    for m in sorted(graph):
        if m not in seen:
            visit(m, [m])
