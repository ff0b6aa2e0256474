"""Shared fixtures: seeded random generators and ground-truth formulas from outside infoscope."""

from __future__ import annotations

import numpy as np
import pytest


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(12345)


def gaussian_pair(rho: float, n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """A bivariate standard Gaussian sample with correlation ``rho``."""
    r = np.random.default_rng(seed)
    x = r.normal(size=n)
    y = rho * x + np.sqrt(1.0 - rho**2) * r.normal(size=n)
    return x, y


def gaussian_mi_bits(rho: float) -> float:
    """Exact I(X;Y) of a bivariate Gaussian with correlation rho, in bits."""
    return -0.5 * np.log2(1.0 - rho**2)


@pytest.fixture(scope="module")
def browser():
    """One headless Chromium per test module (skips where Chromium or playwright is missing)."""
    from .browser import BROWSER_ARGS, CHROMIUM

    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is part of the test extra")
    if CHROMIUM is None:
        pytest.skip("Chromium is not installed (scripts/test.sh installs Debian's chromium)")
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=BROWSER_ARGS)
        yield b
        b.close()
