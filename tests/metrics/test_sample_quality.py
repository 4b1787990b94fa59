"""Fréchet distance, precision/recall/density/coverage, C2ST and memorisation on known cases."""

import math

import numpy as np
import pytest
from scipy import linalg
from scipy.stats import norm

from genlearn.metrics import (
    c2st_accuracy,
    frechet_distance,
    frechet_distance_from_stats,
    knn_radii,
    memorisation_share,
    prdc,
)


# -- Fréchet distance ---------------------------------------------------------------------------
def test_frechet_matches_scipy_sqrtm_formula():
    rng = np.random.default_rng(0)
    a = rng.normal(size=(300, 6)) @ rng.normal(size=(6, 6))
    b = rng.normal(size=(200, 6)) @ rng.normal(size=(6, 6)) + 0.5
    mu1, mu2 = a.mean(0), b.mean(0)
    s1, s2 = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    expected = (np.sum((mu1 - mu2) ** 2) + np.trace(s1) + np.trace(s2)
                - 2 * np.trace(linalg.sqrtm(s1 @ s2).real))
    assert frechet_distance(a, b) == pytest.approx(expected, rel=1e-8)


def test_frechet_closed_form_for_gaussians():
    # N(m1, diag v1) vs N(m2, diag v2): |m1 - m2|^2 + sum (sqrt v1 - sqrt v2)^2
    m1, m2 = np.array([0.0, 1.0, -2.0]), np.array([3.0, 1.0, 0.0])
    v1, v2 = np.array([1.0, 4.0, 0.25]), np.array([9.0, 1.0, 0.25])
    exact = np.sum((m1 - m2) ** 2) + np.sum((np.sqrt(v1) - np.sqrt(v2)) ** 2)
    assert frechet_distance_from_stats(m1, np.diag(v1), m2, np.diag(v2)) == pytest.approx(exact)
    # and from large samples of those Gaussians
    rng = np.random.default_rng(1)
    a = m1 + np.sqrt(v1) * rng.normal(size=(100_000, 3))
    b = m2 + np.sqrt(v2) * rng.normal(size=(100_000, 3))
    assert frechet_distance(a, b) == pytest.approx(exact, rel=0.02)


def test_frechet_commuting_full_covariances():
    # for covariances sharing eigenvectors: tr((S1 S2)^1/2) = sum sqrt(l1 l2)
    rng = np.random.default_rng(2)
    Q, _ = np.linalg.qr(rng.normal(size=(4, 4)))
    l1, l2 = np.array([1.0, 2.0, 3.0, 4.0]), np.array([4.0, 0.5, 3.0, 1.0])
    s1, s2 = Q @ np.diag(l1) @ Q.T, Q @ np.diag(l2) @ Q.T
    exact = np.sum(l1 + l2 - 2 * np.sqrt(l1 * l2))
    assert frechet_distance_from_stats(np.zeros(4), s1, np.zeros(4), s2) == pytest.approx(exact)


def test_frechet_identical_sets_is_zero_and_shift_adds_square():
    rng = np.random.default_rng(3)
    a = rng.normal(size=(500, 5))
    assert frechet_distance(a, a) == pytest.approx(0.0, abs=1e-9)
    shift = np.array([1.0, -2.0, 0.0, 0.5, 0.0])
    assert frechet_distance(a, a + shift) == pytest.approx(np.sum(shift**2), rel=1e-9)


def test_frechet_bad_input():
    with pytest.raises(ValueError, match="features"):
        frechet_distance(np.zeros((5, 3)), np.zeros((5, 4)))
    with pytest.raises(ValueError, match="at least 2 rows"):
        frechet_distance(np.zeros((1, 3)), np.zeros((5, 3)))


# -- precision / recall / density / coverage ----------------------------------------------------
def _prdc_brute(real, fake, k):
    """The definitions of Naeem et al. (2020), one point at a time."""
    def radii(X):
        out = []
        for i in range(len(X)):
            d = sorted(np.linalg.norm(X - X[i], axis=1))
            out.append(d[k])  # d[0] is the point itself
        return np.array(out)

    rr, fr = radii(real), radii(fake)
    d = np.array([[np.linalg.norm(r - f) for f in fake] for r in real])  # (n, m)
    precision = np.mean([any(d[i, j] < rr[i] for i in range(len(real)))
                         for j in range(len(fake))])
    recall = np.mean([any(d[i, j] < fr[j] for j in range(len(fake))) for i in range(len(real))])
    density = sum(d[i, j] < rr[i] for i in range(len(real)) for j in range(len(fake))) / (
        k * len(fake))
    coverage = np.mean([d[i].min() < rr[i] for i in range(len(real))])
    return {"precision": precision, "recall": recall, "density": density, "coverage": coverage}


def test_prdc_matches_brute_force():
    rng = np.random.default_rng(4)
    real = rng.normal(size=(40, 3))
    fake = rng.normal(size=(30, 3)) * 1.5 + 0.7
    got, want = prdc(real, fake, k=3), _prdc_brute(real, fake, 3)
    for key in want:
        assert got[key] == pytest.approx(want[key]), key


def test_prdc_identical_and_disjoint_sets():
    rng = np.random.default_rng(5)
    real = rng.normal(size=(200, 4))
    same = prdc(real, real.copy(), k=5)
    assert same["precision"] == same["recall"] == same["coverage"] == 1.0
    far = prdc(real, real + 100.0, k=5)
    assert far == {"precision": 0.0, "recall": 0.0, "density": 0.0, "coverage": 0.0}


def test_prdc_density_on_a_lattice():
    # real = the integers 0..9 on a line, k = 2: ball radius 2 at the ends (0, 9), 1 elsewhere.
    # Fake 4.5 lies strictly inside the balls of 4 and 5; fake 0.5 inside those of 0 and 1;
    # fake 3.0 inside that of 3 only (2 and 4 are exactly 1 away: not strictly inside).
    real = np.arange(10.0).reshape(-1, 1)
    fake = np.array([[4.5], [0.5], [3.0]])
    out = prdc(real, fake, k=2)
    assert out["density"] == pytest.approx((2 + 2 + 1) / (2 * 3))
    assert out["precision"] == 1.0
    # covered real balls: 4, 5 (by 4.5), 0, 1 (by 0.5), 3 (by 3.0); 2's nearest fake is 1.0 away
    assert out["coverage"] == pytest.approx(5 / 10)


def test_knn_radii_counts_duplicates_not_self():
    X = np.array([[0.0], [0.0], [1.0], [3.0]])
    assert knn_radii(X, 1).tolist() == [0.0, 0.0, 1.0, 2.0]
    assert knn_radii(X, 2, rows=[3, 0]).tolist() == [knn_radii(X, 2)[3], knn_radii(X, 2)[0]]
    with pytest.raises(ValueError, match="more than 4"):
        knn_radii(X, 4)


# -- classifier two-sample test -----------------------------------------------------------------
def test_c2st_identical_distributions_near_half():
    rng = np.random.default_rng(6)
    a, b = rng.normal(size=(1500, 2)), rng.normal(size=(1500, 2))
    for clf in ("knn", "logistic"):
        assert abs(c2st_accuracy(a, b, classifier=clf) - 0.5) < 0.04, clf


def test_c2st_disjoint_sets_are_separable():
    rng = np.random.default_rng(7)
    a = rng.normal(size=(400, 3))
    assert c2st_accuracy(a, a + 50.0) == 1.0


def test_c2st_logistic_reaches_bayes_accuracy_for_shifted_gaussians():
    # N(0, 1) vs N(delta, 1): the best possible accuracy is Phi(delta / 2)
    rng = np.random.default_rng(8)
    delta = 1.0
    a, b = rng.normal(size=(5000, 1)), rng.normal(size=(5000, 1)) + delta
    acc = c2st_accuracy(a, b, classifier="logistic", max_per_class=None)
    assert acc == pytest.approx(norm.cdf(delta / 2), abs=0.015)


def test_c2st_is_seeded_and_checks_input():
    rng = np.random.default_rng(9)
    a, b = rng.normal(size=(300, 2)), rng.normal(size=(200, 2)) + 0.3
    assert c2st_accuracy(a, b, seed=3) == c2st_accuracy(a, b, seed=3)
    with pytest.raises(ValueError, match="classifier"):
        c2st_accuracy(a, b, classifier="svm")
    with pytest.raises(ValueError, match="at least 5 rows"):
        c2st_accuracy(a[:3], b)


# -- memorisation ------------------------------------------------------------------------------
def test_memorisation_copies_fresh_and_far():
    rng = np.random.default_rng(10)
    train = rng.normal(size=(500, 2))
    assert memorisation_share(train[:100], train) == 1.0  # copies
    assert memorisation_share(train[:100] + 100.0, train) == 0.0
    fresh = memorisation_share(rng.normal(size=(2000, 2)), train)
    assert 0.05 < fresh < 0.95  # fresh draws: the floor, neither 0 nor 1


def test_memorisation_matches_brute_force():
    rng = np.random.default_rng(11)
    train, samples = rng.normal(size=(60, 3)), rng.normal(size=(40, 3))
    flagged = 0
    for s in samples:
        d = np.linalg.norm(train - s, axis=1)
        t = int(d.argmin())
        others = np.linalg.norm(np.delete(train, t, axis=0) - train[t], axis=1)
        flagged += d[t] <= others.min()
    assert memorisation_share(samples, train) == pytest.approx(flagged / len(samples))
    radii = knn_radii(train, 1)
    assert memorisation_share(samples, train, train_radii=radii) == pytest.approx(
        flagged / len(samples))
    with pytest.raises(ValueError, match="one radius per training row"):
        memorisation_share(samples, train, train_radii=radii[:5])


def test_large_sets_are_processed_in_blocks(monkeypatch):
    # the blocked distance computation gives the same answer as one block
    from genlearn.metrics import sample_quality

    rng = np.random.default_rng(12)
    real, fake = rng.normal(size=(120, 3)), rng.normal(size=(90, 3)) + 0.2
    whole = prdc(real, fake, k=4), memorisation_share(fake, real)
    monkeypatch.setattr(sample_quality, "_BLOCK_ELEMENTS", 200)
    assert (prdc(real, fake, k=4), memorisation_share(fake, real)) == whole
    assert math.isfinite(whole[0]["density"])
