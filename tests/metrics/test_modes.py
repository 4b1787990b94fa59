"""Mode-coverage metrics on hand-built sample sets whose answers are known."""

import math

import numpy as np
import pytest
from scipy.stats import entropy

from genlearn.datasets import toy2d, toy2d_modes, toy2d_std
from genlearn.metrics import mode_coverage

RING, RING_STD = toy2d_modes("ring"), toy2d_std("ring")


def test_every_mode_equally_is_full_coverage():
    samples = np.repeat(RING, 25, axis=0)  # 25 points exactly on each of the 8 centres
    r = mode_coverage(samples, RING, RING_STD)
    assert r["modes_captured"] == 8 and r["n_modes"] == 8
    assert r["high_quality"] == 1.0
    assert r["reverse_kl"] == pytest.approx(0.0, abs=1e-12)
    assert r["counts"] == [25] * 8


def test_one_mode_only():
    samples = RING[3] + 0.5 * RING_STD * np.ones((100, 2))  # all near mode 3
    r = mode_coverage(samples, RING, RING_STD)
    assert r["modes_captured"] == 1
    assert r["counts"][3] == 100
    assert r["reverse_kl"] == pytest.approx(math.log(8))


def test_off_manifold_noise_lowers_quality_not_coverage():
    good = np.repeat(RING, 30, axis=0)  # 240 on the modes
    bad = np.zeros((240, 2))  # the centre of the ring: 2 away from every mode
    r = mode_coverage(np.vstack([good, bad]), RING, RING_STD)
    assert r["high_quality"] == pytest.approx(0.5)
    assert r["modes_captured"] == 8
    assert r["reverse_kl"] == pytest.approx(0.0, abs=1e-12)


def test_thresholds_are_inclusive_at_the_stated_values():
    # on the radius through mode 0: just inside and just outside 3 std
    inside = RING[0] + np.array([3 * RING_STD * 0.999, 0.0])
    outside = RING[0] + np.array([3 * RING_STD * 1.001, 0.0])
    r = mode_coverage(np.vstack([np.repeat([inside], 20, 0), np.repeat([outside], 5, 0)]),
                      RING, RING_STD)
    assert r["counts"][0] == 20 and r["high_quality"] == pytest.approx(20 / 25)
    # a mode needs min_count high-quality samples: 19 is not enough, 20 is
    samples = np.vstack([np.repeat(RING[:1], 19, 0), np.repeat(RING[1:2], 20, 0)])
    assert mode_coverage(samples, RING, RING_STD)["modes_captured"] == 1
    assert mode_coverage(samples, RING, RING_STD, min_count=19)["modes_captured"] == 2


def test_reverse_kl_matches_scipy_on_an_uneven_histogram():
    counts = [30, 10, 0, 5, 0, 0, 55, 0]
    samples = np.repeat(RING, counts, axis=0)
    r = mode_coverage(samples, RING, RING_STD)
    p = np.asarray(counts) / sum(counts)
    assert r["reverse_kl"] == pytest.approx(entropy(p, np.full(8, 1 / 8)))
    assert r["modes_captured"] == 2  # only the modes with >= 20 samples: 30 and 55
    assert r["counts"] == counts


def test_real_data_is_high_quality_at_the_rayleigh_rate():
    # within 3 std of the centre in 2-D: P(R <= 3 sigma) = 1 - exp(-9/2) for a Rayleigh radius
    for name in ("ring", "grid"):
        X = toy2d(name, n_samples=20_000, seed=1).X
        r = mode_coverage(X, toy2d_modes(name), toy2d_std(name))
        assert r["modes_captured"] == len(toy2d_modes(name))
        assert r["high_quality"] == pytest.approx(1 - math.exp(-4.5), abs=0.003)
        assert r["reverse_kl"] < 0.005
        assert r["spread"] == pytest.approx(1.0, abs=0.02)  # the data's own width


def test_spread_against_hand_computed_widths():
    # two points per mode at 1 std and two at 2 std: RMS 1.58 std, relative to the truncated
    # 2-D Gaussian's sqrt(E[r^2 | r <= 3]) = sqrt((2 - 11 exp(-4.5)) / (1 - exp(-4.5)))
    offsets = np.array([[1.0, 0.0], [0.0, -1.0], [2.0, 0.0], [0.0, 2.0]]) * RING_STD
    samples = (RING[:, None, :] + offsets[None]).reshape(-1, 2)
    expected = math.sqrt((2 - 11 * math.exp(-4.5)) / (1 - math.exp(-4.5)))
    r = mode_coverage(samples, RING, RING_STD)
    assert r["spread"] == pytest.approx(math.sqrt(2.5) / expected)
    # collapse onto the centres gives 0; far-off samples do not count towards the width
    assert mode_coverage(np.vstack([RING, [[0.0, 0.0]]]), RING, RING_STD)["spread"] == 0.0
    assert math.isnan(mode_coverage(np.zeros((3, 2)), RING, RING_STD)["spread"])
    # in 3-D the same formula uses chi2 with 3 and 5 degrees of freedom
    X = np.random.default_rng(0).normal(size=(200_000, 3))
    r3 = mode_coverage(X, np.zeros((1, 3)), 1.0)
    assert r3["spread"] == pytest.approx(1.0, abs=0.005)


def test_bad_input():
    with pytest.raises(ValueError, match="features"):
        mode_coverage(np.zeros((5, 3)), RING, RING_STD)
    with pytest.raises(ValueError, match="std"):
        mode_coverage(np.zeros((5, 2)), RING, 0.0)
    with pytest.raises(ValueError, match="NaN"):
        mode_coverage(np.full((5, 2), np.nan), RING, RING_STD)
    r = mode_coverage(np.full((5, 2), 100.0), RING, RING_STD)
    assert r["high_quality"] == 0.0 and r["modes_captured"] == 0 and r["reverse_kl"] == math.inf
