"""Matrix-based Rényi entropy: identities, bounds and an independent NumPy/SciPy reference."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy.spatial.distance import cdist
from scipy.stats import entropy as scipy_entropy

import infoscope
from infoscope.estimators.kernels import label_gram, normalize_gram, rbf_gram, squared_distances
from infoscope.estimators.matrix_entropy import matrix_entropy, matrix_joint_entropy, matrix_mutual_information
from infoscope.estimators.renyi import MatrixRenyi

from .conftest import gaussian_pair

ALPHAS = [0.5, 1.0, 1.01, 2.0, 3.0]


def reference_entropy(x: np.ndarray, sigma: float, alpha: float) -> float:
    """Independent implementation: SciPy distances, NumPy eigenvalues, textbook formula."""
    k = np.exp(-cdist(x, x, "sqeuclidean") / (2 * sigma**2))
    a = k / np.trace(k)
    lam = np.clip(np.linalg.eigvalsh(a), 0, None)
    if alpha == 1.0:
        lam = lam[lam > 0]
        return float(-(lam * np.log2(lam)).sum())
    return float(np.log2((lam**alpha).sum()) / (1 - alpha))


@pytest.mark.parametrize("alpha", ALPHAS)
def test_identity_gram_gives_log2_n(alpha):
    for n in (2, 7, 64):
        assert matrix_entropy(torch.eye(n, dtype=torch.float64) / n, alpha) == pytest.approx(np.log2(n), abs=1e-10)


@pytest.mark.parametrize("alpha", ALPHAS)
def test_all_ones_gram_gives_zero(alpha):
    n = 50
    assert matrix_entropy(torch.full((n, n), 1.0 / n, dtype=torch.float64), alpha) == pytest.approx(0.0, abs=1e-10)


@pytest.mark.parametrize("alpha", ALPHAS)
@pytest.mark.parametrize("sigma", [0.3, 1.0, 4.0])
def test_matches_independent_reference(rng, alpha, sigma):
    x = rng.normal(size=(120, 5))
    ours = infoscope.entropy(x, alpha=alpha, sigma_x=sigma)
    assert ours == pytest.approx(reference_entropy(x, sigma, alpha), abs=1e-9)


@pytest.mark.parametrize("alpha", ALPHAS)
def test_bounds_zero_to_log2_n(rng, alpha):
    for sigma in (1e-3, 0.5, 2.0, 1e3):
        x = rng.normal(size=(80, 4))
        s = infoscope.entropy(x, alpha=alpha, sigma_x=sigma)
        assert -1e-12 <= s <= np.log2(80) + 1e-9


def test_joint_entropy_bounds(rng):
    x, y = rng.normal(size=(100, 3)), rng.normal(size=(100, 2))
    kx = rbf_gram(squared_distances(torch.from_numpy(x)), 1.0)
    ky = rbf_gram(squared_distances(torch.from_numpy(y)), 1.0)
    sx, sy = matrix_entropy(normalize_gram(kx)), matrix_entropy(normalize_gram(ky))
    sxy = matrix_joint_entropy(kx, ky)
    assert max(sx, sy) - 1e-9 <= sxy <= sx + sy + 1e-9


@pytest.mark.parametrize("alpha", [2.0, 3.0, 4.0])
def test_integer_alpha_fast_path_equals_eigenvalues(rng, alpha):
    x = rng.normal(size=(150, 6))
    a = normalize_gram(rbf_gram(squared_distances(torch.from_numpy(x)), 1.5))
    lam = np.clip(np.linalg.eigvalsh(a.numpy()), 0, None)
    eig_path = np.log2((lam**alpha).sum()) / (1 - alpha)
    assert matrix_entropy(a, alpha) == pytest.approx(eig_path, abs=1e-9)


def test_alpha_one_is_the_limit(rng):
    x = rng.normal(size=(100, 2))
    vn = infoscope.entropy(x, alpha=1.0, sigma_x=1.0)
    assert infoscope.entropy(x, alpha=1.0 + 1e-6, sigma_x=1.0) == pytest.approx(vn, abs=1e-4)
    assert infoscope.entropy(x, alpha=1.0 - 1e-6, sigma_x=1.0) == pytest.approx(vn, abs=1e-4)


def test_label_entropy_is_shannon_entropy():
    y = np.array([0] * 50 + [1] * 30 + [2] * 20)
    shannon = scipy_entropy([50, 30, 20], base=2)
    assert infoscope.entropy(y, alpha=1.0) == pytest.approx(shannon, abs=1e-9)


def test_mi_of_variable_with_itself_equals_its_entropy_for_class_grams():
    y = np.repeat(np.arange(4), [10, 20, 30, 40])
    est = MatrixRenyi(alpha=1.0)
    assert est.mutual_information(y, y) == pytest.approx(est.entropy(y), abs=1e-9)
    k = torch.eye(16, dtype=torch.float64)
    assert matrix_mutual_information(k, k) == pytest.approx(4.0, abs=1e-9)


def test_mi_of_rbf_variable_with_itself_is_at_most_its_entropy(rng):
    x = rng.normal(size=(100, 3))
    est = MatrixRenyi(sigma_x=1.0, sigma_y=1.0)
    assert 0 < est.mutual_information(x, x) <= est.entropy(x) + 1e-9
    # the limits: tiny sigma (identity Gram) and huge sigma (all-ones Gram)
    tiny = MatrixRenyi(sigma_x=1e-4, sigma_y=1e-4)
    assert tiny.mutual_information(x, x) == pytest.approx(tiny.entropy(x), abs=1e-6)


def test_symmetry(rng):
    x, y = rng.normal(size=(90, 3)), rng.normal(size=(90, 2))
    y[:, 0] += x[:, 0]
    for sx, sy in ((1.0, 0.7), ("silverman", "silverman"), ("knn", "knn")):
        a = infoscope.mutual_information(x, y, sigma_x=sx, sigma_y=sy)
        b = infoscope.mutual_information(y, x, sigma_x=sy, sigma_y=sx)
        assert a == pytest.approx(b, abs=1e-9)


def test_invariant_to_sample_order(rng):
    x = rng.normal(size=(100, 2, 3, 3))
    y = rng.integers(0, 3, 100)
    perm = rng.permutation(100)
    for rule in ("silverman", "knn", "alignment"):
        a = infoscope.mutual_information(x, y, sigma_x=rule)
        b = infoscope.mutual_information(x[perm], y[perm], sigma_x=rule)
        assert a == pytest.approx(b, abs=1e-9)


def test_float32_products_keep_the_float64_answer_to_1e_6(rng):
    # wide float32 samples have their Gram products taken in float32 (summed in float64): the
    # value stays within 1e-6 of the float64 computation on the same (rounded) inputs
    x = rng.normal(size=(200, 300)) + 50.0  # an offset the centring must take out
    y = rng.integers(0, 3, 200)
    x32 = x.astype(np.float32)
    exact = infoscope.mutual_information(x32.astype(np.float64), y, sigma_x=20.0)
    assert infoscope.mutual_information(x32, y, sigma_x=20.0) == pytest.approx(exact, rel=1e-6)
    # narrow ones keep float64 products: the rounding of the inputs is the only difference left
    narrow = x32[:, :8]
    assert infoscope.mutual_information(narrow, y, sigma_x=2.0) == pytest.approx(
        infoscope.mutual_information(narrow.astype(np.float64), y, sigma_x=2.0), abs=1e-12)
    wide = rng.normal(size=(300, 3000)).astype(np.float32)  # several column blocks
    d32 = squared_distances(torch.from_numpy(wide))
    d64 = squared_distances(torch.from_numpy(wide.astype(np.float64)))
    assert float((d32 - d64).abs().max() / d64.max()) < 1e-6
    assert d32.dtype == torch.float64 and float(d32.diagonal().abs().max()) == 0.0


def test_tensor_kernel_equals_multivariate_with_shared_sigma(rng):
    x = rng.normal(size=(60, 4, 5, 5))
    for sigma in (3.0, 8.0):
        tensor = MatrixRenyi(sigma_x=sigma, kernel="rbf").entropy(x)
        multi = MatrixRenyi(sigma_x=sigma, kernel="multivariate").entropy(x)
        assert tensor == pytest.approx(multi, abs=1e-9)


def test_multivariate_with_per_channel_sigma_differs_and_is_reported(rng):
    x = rng.normal(size=(60, 3, 4, 4))
    x[:, 1] *= 10
    est = MatrixRenyi(sigma_x=[4.0, 40.0, 4.0], kernel="multivariate")
    res = est.estimate_entropy(x)
    assert res.params["sigma_x"] == [4.0, 40.0, 4.0]
    assert res.value != pytest.approx(MatrixRenyi(sigma_x=4.0, kernel="rbf").entropy(x), abs=1e-3)
    rules = MatrixRenyi(sigma_x="knn", kernel="multivariate").estimate_entropy(x)
    assert len(rules.params["sigma_x"]) == 3
    assert rules.params["sigma_x"][1] > 5 * rules.params["sigma_x"][0]  # per-channel scale found


def test_multivariate_saturates_with_many_channels(rng):
    n = 64
    values = []
    for channels in (1, 4, 64):
        x = rng.normal(size=(n, channels, 3, 3))
        values.append(MatrixRenyi(sigma_x="silverman", kernel="multivariate").entropy(x))
    assert values[0] < values[1] < values[2]
    assert values[2] > np.log2(n) - 0.05


def test_wrong_number_of_channel_sigmas():
    with pytest.raises(ValueError, match="one sigma per channel"):
        MatrixRenyi(sigma_x=[1.0, 2.0], kernel="multivariate").entropy(np.zeros((10, 3, 2)))


def test_label_gram_is_class_equality_kernel():
    g = label_gram(torch.tensor([0, 1, 1]), 0.1)
    assert g[1, 2] == 1.0 and g[0, 1] < 1e-40


def test_alignment_recovers_cluster_labels(rng):
    y = rng.integers(0, 4, 400)
    x = np.eye(4)[y] * 5 + 0.2 * rng.normal(size=(400, 4))
    res = MatrixRenyi(alpha=1.0, sigma_x="alignment").estimate_mutual_information(x, y)
    h_y = scipy_entropy(np.bincount(y), base=2)
    assert res.value == pytest.approx(h_y, abs=0.02)
    assert 0.2 < res.params["sigma_x"] < 7.0


def test_gaussian_independence_small_and_monotone_in_rho():
    values = []
    for rho in (0.0, 0.5, 0.9):
        x, y = gaussian_pair(rho, 500, seed=3)
        values.append(infoscope.mutual_information(x, y, method="renyi"))
    assert values[0] < 0.3
    assert values[0] < values[1] < values[2]


def test_torch_input_and_device(rng):
    x = torch.from_numpy(rng.normal(size=(50, 3)))
    assert infoscope.entropy(x, sigma_x=1.0) == pytest.approx(infoscope.entropy(x.numpy(), sigma_x=1.0))


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_cuda_equals_cpu(rng):
    x = rng.normal(size=(200, 10)).astype(np.float32)
    y = rng.integers(0, 5, 200)
    cpu = infoscope.mutual_information(x, y, sigma_x="knn")
    gpu = infoscope.mutual_information(torch.from_numpy(x).cuda(), torch.from_numpy(y).cuda(), sigma_x="knn")
    assert gpu == pytest.approx(cpu, abs=1e-6)


def test_constant_input_has_zero_entropy():
    for rule in ("silverman", "knn", 2.0):
        assert infoscope.entropy(np.ones((30, 4)), sigma_x=rule) == 0.0


def test_class_block_shortcut_equals_the_full_matrix(rng):
    from infoscope.estimators.matrix_entropy import class_joint_entropy

    y = rng.integers(0, 5, 150)
    x = y[:, None] + rng.normal(size=(150, 3))
    for alpha in (1.0, 1.01, 2.0, 3.0, 0.5):
        kx = rbf_gram(squared_distances(torch.from_numpy(x)), 1.3)
        ky = label_gram(torch.from_numpy(y))
        full = matrix_mutual_information(kx, ky, alpha)
        assert infoscope.mutual_information(x, y, alpha=alpha, sigma_x=1.3) == pytest.approx(full, abs=1e-9)
        assert class_joint_entropy(kx, torch.from_numpy(y), alpha) == pytest.approx(matrix_joint_entropy(kx, ky, alpha=alpha), abs=1e-9)
    # a wide label kernel is not class-equality: the full path is used and differs
    wide = infoscope.mutual_information(x, y, sigma_x=1.3, sigma_y=2.0)
    assert wide == pytest.approx(matrix_mutual_information(kx, label_gram(torch.from_numpy(y), 2.0), 1.01), abs=1e-9)


def test_slq_approximation_is_close_reproducible_and_recorded(rng):
    from infoscope.estimators.lanczos import slq_entropy

    for dim, sigma in ((4, 1.0), (200, 10.0)):  # a smooth Gram and a nearly flat one
        x = torch.from_numpy(rng.normal(size=(2500, dim)))
        a = normalize_gram(rbf_gram(squared_distances(x), sigma))
        exact = matrix_entropy(a)
        errors = np.array([slq_entropy(a, seed=s) - exact for s in range(5)])
        assert np.abs(errors).max() < 0.05, errors  # every seed, not only on average
        # the deflation and the control variates are what make it so: plain Hutchinson is noisier
        plain = np.array([slq_entropy(a, seed=s, deflate=0, control=False) - exact for s in range(5)])
        assert np.abs(plain).max() > np.abs(errors).max()
    # exact cases: flat spectrum, rank one, four equal classes (the probes meet invariant subspaces)
    n = 400
    assert slq_entropy(torch.eye(n, dtype=torch.float64) / n) == pytest.approx(np.log2(n), abs=1e-9)
    assert slq_entropy(torch.full((n, n), 1.0 / n, dtype=torch.float64)) == pytest.approx(0.0, abs=1e-6)
    blocks = torch.block_diag(*[torch.full((100, 100), 1.0 / 100, dtype=torch.float64)] * 4) / 4
    assert slq_entropy(blocks) == pytest.approx(2.0, abs=1e-6)
    assert slq_entropy(a, seed=3) == slq_entropy(a, seed=3)  # seeded, reproducible
    y = rng.integers(0, 3, 300)
    res = MatrixRenyi(sigma_x=1.0, approx="slq").estimate_mutual_information(x[:300].numpy(), y)
    assert res.params["approx"] == "slq" and res.params["approx_probes"] == 10 and res.params["approx_deflate"] == 16
    exact_mi = MatrixRenyi(sigma_x=1.0).estimate_mutual_information(x[:300].numpy(), y).value
    assert res.value == pytest.approx(exact_mi, abs=0.05)
    with pytest.raises(ValueError, match="unknown approx"):
        MatrixRenyi(approx="nystrom")


def test_minibatch_estimates_are_chunk_averages(rng):
    from infoscope.estimators.base import ProbeContext

    x = rng.normal(size=(230, 5))
    y = rng.integers(0, 3, 230)
    est = MatrixRenyi(chunk_size=100)
    chunks = [(0, 100), (100, 230)]  # the 30-sample remainder joins the last chunk
    plain = MatrixRenyi()
    res = est.estimate_mutual_information(x, y)
    parts = [plain.mutual_information(x[a:b], y[a:b]) for a, b in chunks]
    assert res.value == pytest.approx(np.mean(parts), abs=1e-12)
    assert res.params["n_chunks"] == 2 and res.params["chunk_size"] == 100 and res.params["n_samples"] == 230
    assert res.params["chunk_std"] == pytest.approx(np.std(parts, ddof=1), abs=1e-12)
    h = est.entropy(x)
    assert h == pytest.approx(np.mean([plain.entropy(x[a:b]) for a, b in chunks]), abs=1e-12)
    assert h <= np.log2(130)  # a chunk estimate is bounded by log2 of the chunk size
    # the recorder's path: chunk contexts cached with the probe, same answer on every call
    t = np.tanh(x @ rng.normal(size=(5, 4)))
    ctx = ProbeContext.build(x, y)
    got = {q: r.value for q, r in est.layer_information(t, ctx).items()}
    ref = [plain.layer_information(t[a:b], ProbeContext.build(x[a:b], y[a:b])) for a, b in chunks]
    for q, v in got.items():
        assert v == pytest.approx(np.mean([r[q].value for r in ref]), abs=1e-12)
    assert {q: r.value for q, r in est.layer_information(t, ctx).items()} == got
    # a batch as large as the sample is the plain estimate
    assert MatrixRenyi(chunk_size=230).mutual_information(x, y) == plain.mutual_information(x, y)
    with pytest.raises(ValueError, match="chunk_size"):
        MatrixRenyi(chunk_size=1)
