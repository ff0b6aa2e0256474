"""The Beyond Normal tasks against their analytic MI, the transforms' invertibility, and the
calibration suite from the command line."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from scipy import stats
from typer.testing import CliRunner

from infoscope.beyond_normal import TASKS, normal_mi, sample, spiral, student_t_mi, swiss_roll, task, task_names, wiggly_x, wiggly_y
from infoscope.calibration import calibrate_beyond_normal, suite_summary, within_tolerance
from infoscope.cli import app
from infoscope.estimators import Gaussian
from infoscope.estimators.gaussian import gaussian_mutual_information


def test_forty_tasks_with_the_published_families():
    assert len(TASKS) == 40 and len(set(task_names())) == 40
    families = {t.family for t in TASKS}
    assert families == {"Normal", "Uniform", "Bimodal", "Wiggly", "Half-cube", "Student-t", "Asinh", "Swiss", "Spiral"}
    assert task("Normal 50 × 50 (dense)").mi_nats == pytest.approx(1.6243, abs=1e-4)
    assert task("Normal 25 × 25 (2-pair)").mi_nats == pytest.approx(-math.log(1 - 0.64), abs=1e-12)
    with pytest.raises(ValueError, match="unknown Beyond Normal task"):
        task("Normal 7 × 7")


@pytest.mark.parametrize("name", ["Normal 3 × 3 (dense)", "Normal 5 × 5 (2-pair)", "Normal 25 × 25 (dense)"])
def test_multinormal_samples_have_their_analytic_mi(name):
    t = task(name)
    x, y = sample(t, 40000, seed=1)
    empirical = 0.5 * (np.linalg.slogdet(np.cov(x.T))[1] + np.linalg.slogdet(np.cov(y.T))[1]
                       - np.linalg.slogdet(np.cov(np.hstack([x, y]).T))[1])
    assert empirical == pytest.approx(t.mi_nats, abs=0.02)


@pytest.mark.parametrize("dim, dof", [(1, 1), (3, 2), (5, 3)])
def test_student_t_mi_is_the_monte_carlo_mean_of_the_log_density_ratio(dim, dof):
    n = 40000
    z = stats.multivariate_t.rvs(loc=np.zeros(2 * dim), shape=np.eye(2 * dim), df=dof, size=n, random_state=3).reshape(n, -1)
    joint = stats.multivariate_t(loc=np.zeros(2 * dim), shape=np.eye(2 * dim), df=dof).logpdf(z)
    marginal = stats.multivariate_t(loc=np.zeros(dim), shape=np.eye(dim), df=dof)
    mc = np.mean(joint - marginal.logpdf(z[:, :dim]) - marginal.logpdf(z[:, dim:]))
    assert mc == pytest.approx(student_t_mi(dim, dim, dof), abs=0.02)
    assert normal_mi(np.eye(2 * dim), dim) == 0.0  # uncorrelated: all of its MI is the shared scale


def test_additive_noise_mi_from_the_exact_densities():
    eps = 0.75
    x, y = task("Uniform 1 × 1 (additive noise=0.75)").draw(200000, np.random.default_rng(4))
    p_y = (np.minimum(1.0, y + eps) - np.maximum(0.0, y - eps)) / (2 * eps)  # the density of X + U(−ε, ε)
    mc = np.mean(np.log(1 / (2 * eps)) - np.log(p_y))  # E[log p(y|x) − log p(y)]
    assert mc == pytest.approx(task("Uniform 1 × 1 (additive noise=0.75)").mi_nats, abs=0.01)


def test_the_transforms_are_invertible():
    z = np.linspace(-6, 6, 20001)
    assert (np.diff(wiggly_x(z)) > 0).all() and (np.diff(wiggly_y(z)) > 0).all()  # strictly increasing
    rng = np.random.default_rng(0)
    v = rng.standard_normal((500, 5))
    turned = spiral((1, 2))(v)
    assert np.allclose(np.linalg.norm(turned, axis=1), np.linalg.norm(v, axis=1))  # a rotation: the norm stays
    angle = (v**2).sum(1) / 5  # so the angle can be read back, and the rotation undone
    back = turned.copy()
    back[:, 1] = np.cos(angle) * turned[:, 1] + np.sin(angle) * turned[:, 2]
    back[:, 2] = -np.sin(angle) * turned[:, 1] + np.cos(angle) * turned[:, 2]
    assert np.allclose(back, v)
    u = np.sort(rng.uniform(size=(2000, 1)), axis=0)
    roll = swiss_roll(u)
    radius = np.linalg.norm(roll, axis=1)
    assert (np.diff(radius) > 0).all()  # the radius grows with u: one point per u


def test_every_task_samples_standardised_and_finite():
    for t in TASKS:
        x, y = sample(t, 300, seed=0)
        assert x.shape == (300, t.dim_x) and y.shape == (300, t.dim_y)
        assert np.isfinite(x).all() and np.isfinite(y).all()
        assert np.allclose(x.std(axis=0), 1.0) and np.allclose(y.mean(axis=0), 0.0, atol=1e-9)


def test_the_suite_counts_tasks_within_tolerance():
    assert within_tolerance(1.55, 1.62) and within_tolerance(0.29, 0.41) is False
    t = calibrate_beyond_normal(["gaussian", Gaussian(copula=True)],
                                n=2000, tasks=["Normal 5 × 5 (2-pair)", "Half-cube @ Normal 5 × 5 (2-pair)"])
    assert list(t.estimator.unique()) == ["gaussian", "gaussian(copula=True)"]
    s = suite_summary(t, reference="gaussian").set_index("estimator")
    assert s.loc["gaussian(copula=True)", "within"] == 2  # ranks undo the half-cube exactly
    assert s.loc["gaussian", "time_vs_gaussian"] == pytest.approx(1.0)
    # the values are the estimator's own on the task's samples
    x, y = sample("Normal 5 × 5 (2-pair)", 2000)
    assert t.value_nats.iloc[0] == pytest.approx(gaussian_mutual_information(x, y)[0] * math.log(2))


def test_calibrate_beyond_normal_from_the_command_line():
    runner = CliRunner()
    res = runner.invoke(app, ["calibrate", "--suite", "beyond-normal", "--task", "Normal 2 × 2 (2-pair)", "-e", "gaussian",
                              "-e", "gaussian:copula=true", "--n", "1000"], env={"COLUMNS": "80"})
    assert res.exit_code == 0, res.output
    assert "Normal 2 × 2 (2-pair)" in res.output and "✓" in res.output and "gaussian(copula=True)" in res.output
    out = runner.invoke(app, ["calibrate", "--suite", "beyond-normal", "--task", "Bimodal 1 × 1", "-e", "gaussian", "--json"])
    rows = json.loads(out.output)
    assert rows[0]["task"] == "Bimodal 1 × 1" and rows[0]["true_nats"] == pytest.approx(0.4133, abs=1e-4)
    bad = runner.invoke(app, ["calibrate", "--suite", "beyond-normal", "--task", "Normal 9 × 9"])
    assert bad.exit_code != 0 and "unknown Beyond Normal task" in str(bad.exception)
    bad = runner.invoke(app, ["calibrate", "--suite", "beyond"])
    assert bad.exit_code != 0 and "unknown suite" in str(bad.exception)
