"""Each estimator owns its facts: generic code asks its tags, never its name, and the memory
figure the budget takes from an estimator is within 2x of what it really uses."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import pytest

import infoscope
from infoscope import ESTIMATORS, KDE, KSG, Binning, Discrete, MatrixRenyi
from infoscope.estimators import estimator_tags, resolution_value
from infoscope.estimators.base import Estimator
from infoscope.estimators.tags import UNKNOWN

SRC = Path(infoscope.__file__).parent

#: Where estimator names may be written as strings: the estimators themselves, the command line
#: (which names them for users) and the study definitions (which name what a paper used).
NAMED_ON_PURPOSE = ("estimators/", "cli", "reproduce.py", "experiments/registry.py")


def _docstrings(tree: ast.AST) -> set[int]:
    ids = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)) and node.body:
            first = node.body[0]
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant):
                ids.add(id(first.value))
    return ids


def _name_uses(tree: ast.AST) -> list[tuple[int, str]]:
    """Estimator names used as data: compared with, looked up by, or keyed on."""
    names = set(ESTIMATORS)
    found = []

    def literal_names(node: ast.AST) -> list[str]:
        if isinstance(node, ast.Constant) and node.value in names:
            return [node.value]
        if isinstance(node, (ast.Tuple, ast.List, ast.Set)):
            return [e.value for e in node.elts if isinstance(e, ast.Constant) and e.value in names]
        return []

    for node in ast.walk(tree):
        if isinstance(node, ast.Compare):
            for side in [node.left, *node.comparators]:
                found += [(node.lineno, n) for n in literal_names(side)]
        elif isinstance(node, ast.Dict):
            found += [(node.lineno, k.value) for k in node.keys if isinstance(k, ast.Constant) and k.value in names]
        elif isinstance(node, ast.Subscript):
            found += [(node.lineno, n) for n in literal_names(node.slice)]
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "get":
            found += [(node.lineno, n) for a in node.args[:1] for n in literal_names(a)]
    return found


def test_no_code_outside_the_estimators_compares_an_estimator_name():
    offenders = []
    for path in SRC.rglob("*.py"):
        mod = path.relative_to(SRC).as_posix()
        if mod.startswith(NAMED_ON_PURPOSE):
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        offenders += [f"{mod}:{line} uses {name!r}" for line, name in _name_uses(tree)]
    assert not offenders, "estimator facts keyed by name (ask the estimator's tags):\n" + "\n".join(offenders)


def test_the_check_itself_finds_a_name_keyed_table():
    code = 'BOUNDED = ("renyi", "kde")\nif method in ("renyi", "kde"):\n    pass\nd = {"ksg": 1}\nx = d.get("binning")\n'
    assert [n for _, n in _name_uses(ast.parse(code))] == ["renyi", "kde", "ksg", "binning"]


def test_every_estimator_is_registered_with_its_own_tags():
    assert set(ESTIMATORS) == {"renyi", "binning", "discrete", "kde", "ksg", "gaussian", "neural"}
    for name, cls in ESTIMATORS.items():
        assert cls.name == name and estimator_tags(name) is cls.tags
        # batching layers is a fact only where the class computes layers its own way
        assert cls.tags.batches_layers == (cls.layers_information is not Estimator.layers_information), name
        assert not cls.tags.batches_units or cls.units_information is not Estimator.units_information, name
    assert estimator_tags("no-such-estimator") is UNKNOWN and not UNKNOWN.bounded
    # the facts the old name-keyed tables held, now asked of the classes
    assert [n for n, c in ESTIMATORS.items() if c.tags.bounded] == ["renyi", "binning", "discrete", "kde"]
    assert [n for n, c in ESTIMATORS.items() if c.tags.shannon] == ["binning", "discrete", "kde", "ksg", "gaussian", "neural"]
    assert {n: c.tags.unit_pooling for n, c in ESTIMATORS.items()} == {
        "renyi": "map", "binning": "mean", "discrete": "mean", "kde": "map", "ksg": "mean", "gaussian": "mean", "neural": "mean"}


def test_resolution_of_stored_values():
    assert resolution_value("renyi", {"sigma_x": [1.0, 3.0]}) == 2.0
    assert resolution_value("binning", {"value_range_x": [-1.0, 1.0], "n_bins": 40}) == 0.05
    assert resolution_value("kde", {"noise_variance": 0.25}) == 0.5
    assert resolution_value("ksg", {"k": 3}) is None and resolution_value("discrete", {}) is None
    assert resolution_value("unknown", {"sigma_x": 1.0}) is None


def test_saturation_rules():
    from infoscope import Estimate

    at_zero = {"H(T)": Estimate(0.0, "x", {"n_samples": 64}), "I(T;Y)": Estimate(0.5, "x", {"n_samples": 64})}
    assert Binning.saturation(at_zero) == {"H(T)": "zero", "I(T;Y)": "zero"}  # T resolves nothing: all of T's values
    assert KSG.saturation(at_zero) == {"H(T)": "zero", "I(T;Y)": None}  # each value at 0 on its own
    at_top = {"H(T)": Estimate(6.0, "x", {"n_samples": 64})}
    assert Discrete.saturation(at_top) == {"H(T)": "log2 n"} and KSG.saturation(at_top) == {"H(T)": None}


def test_only_a_rule_chosen_sigma_is_smoothed():
    assert MatrixRenyi(sigma_x="silverman").width_rule() == "silverman" and MatrixRenyi(sigma_x=2.0).width_rule() is None
    assert MatrixRenyi(sigma_x="knn", sigma_scale=2.0).with_width(0.5).get_params()["sigma_x"] == 0.5
    for est in (Binning(), KDE(), KSG(), Discrete()):
        assert est.width_rule() is None
        with pytest.raises(TypeError, match="no data-chosen width"):
            est.with_width(1.0)


_PEAK = r'''
import gc, json, sys
import torch
from infoscope.estimators import make_estimator
from infoscope.estimators.base import ProbeContext

def status(key):
    for line in open("/proc/self/status"):
        if line.startswith(key):
            return int(line.split()[1]) * 1024

name, n, d, dx, params = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), json.loads(sys.argv[5])
torch.set_num_threads(1)
g = torch.Generator().manual_seed(0)
x, y, t = torch.randn(n, dx, generator=g), torch.randint(0, 10, (n,), generator=g), torch.randn(n, d, generator=g)
est = make_estimator(name, **params)
est.layer_information(t[:60], ProbeContext.build(x[:60], y[:60]))  # lazy set-up out of the way
ctx = ProbeContext.build(x, y)
gc.collect()
with open("/proc/self/clear_refs", "w") as fh:
    fh.write("5")  # reset the peak
base = status("VmRSS")
est.layer_information(t, ctx)
print(json.dumps({"used": status("VmHWM") - base, "figure": est.memory_bytes(n, d, dx)}))
'''


def _clear_refs_works() -> bool:
    try:
        with open("/proc/self/clear_refs", "w") as fh:
            fh.write("5")
        return True
    except OSError:
        return False


@pytest.mark.skipif(not sys.platform.startswith("linux") or not _clear_refs_works(),
                    reason="needs Linux's /proc/self/clear_refs to measure a peak of memory")
@pytest.mark.parametrize("name, n, d, dx, params", [
    ("renyi", 1500, 20, 64, {"sigma_x": "alignment"}),  # n×n Grams of the layer and of the probe
    ("renyi", 3000, 20, 64, {"chunk_size": 100}),         # chunks: 30 matrices of 100×100, not one of 3000×3000
    ("kde", 1500, 20, 64, {}),
    ("binning", 1500, 2000, 64, {}),                     # no n×n matrices: copies of the values
    ("discrete", 1500, 2000, 64, {}),
    ("ksg", 200, 12000, 64, {}),
    ("ksg", 200, 20, 12000, {}),                          # the input's copies
])
def test_the_budget_figure_is_within_twice_the_memory_really_used(name, n, d, dx, params):
    out = subprocess.run([sys.executable, "-c", _PEAK, name, str(n), str(d), str(dx), json.dumps(params)],
                         capture_output=True, text=True, check=True, timeout=300)
    r = json.loads(out.stdout)
    ratio = r["figure"] / r["used"]
    assert 0.5 <= ratio <= 2.0, f"{name} {params}: the budget says {r['figure'] / 2**20:.1f} MiB, it used {r['used'] / 2**20:.1f} MiB"
