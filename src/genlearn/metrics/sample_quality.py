"""Sample-based metrics: how close a set of generated examples is to a set of real ones.

All of them compare two point clouds in some feature space (see :mod:`.features`); none needs a
likelihood, so they apply to every family, GANs included.

* Fréchet distance (Heusel et al. 2017): the 2-Wasserstein distance between the Gaussians fitted
  to the two sets, ``|mu_r - mu_f|^2 + tr(S_r + S_f - 2 (S_r S_f)^(1/2))``; 0 for equal moments.
* Precision, recall, density and coverage (Naeem et al. 2020), on the k-nearest-neighbour
  manifolds of Kynkäänniemi et al. (2019): a point lies on a set's manifold when it falls
  inside the ball around some member whose radius is that member's distance to its k-th nearest
  neighbour in its own set. Precision: share of fake points on the real manifold (fidelity);
  recall: share of real points on the fake manifold (diversity); density: how many real balls
  hold each fake point, divided by k (1 on average when the sets follow one distribution);
  coverage: share of real points whose ball holds at least one fake point.
* Classifier two-sample test (Lopez-Paz & Oquab 2017): held-out accuracy of a classifier told
  to separate real from fake; 0.5 means indistinguishable, 1.0 perfectly separable.
* Memorisation share: the share of samples closer to their nearest training point than that
  training point is to its own nearest other training point. Copies of training examples score
  1; fresh draws from the data distribution score the "real test vs train" floor, not 0.

Distances are Euclidean, computed in float64 blocks so large sets stay within memory.
"""

from __future__ import annotations

import math

import numpy as np

from .._utils import check_array, check_int

_BLOCK_ELEMENTS = 2**24  # entries of one block of the distance matrix (128 MB of float64)


def _as_points(X, name: str, n_features: int | None = None) -> np.ndarray:
    flat, _ = check_array(X, name=name, n_features=n_features)
    return flat


def _sq_norms(X: np.ndarray) -> np.ndarray:
    return np.einsum("ij,ij->i", X, X)


def _blocks(n_rows: int, n_cols: int):
    step = max(1, _BLOCK_ELEMENTS // max(n_cols, 1))
    for start in range(0, n_rows, step):
        yield slice(start, min(start + step, n_rows))


def _sq_distances(A: np.ndarray, B: np.ndarray, a2: np.ndarray, b2: np.ndarray) -> np.ndarray:
    """Squared distances (len(A), len(B)); round-off below 1e-12 of the norms is set to 0."""
    d2 = a2[:, None] + b2[None, :] - 2.0 * (A @ B.T)
    tiny = 1e-12 * (a2[:, None] + b2[None, :])
    d2[d2 <= tiny] = 0.0  # exact copies get exactly 0, not +-1e-15
    return d2


def knn_radii(X, k: int = 5, *, rows=None) -> np.ndarray:
    """Distance from each row of ``X`` to its k-th nearest other row (shape (n,)).

    The row itself does not count, but an exact duplicate of it does (radius 0 when a point has
    k or more copies), as in the reference implementation of Naeem et al. ``rows`` (indices)
    computes the radii of those rows only, still against all of ``X``.
    """
    X = _as_points(X, "X")
    check_int(k, "k", low=1)
    n = X.shape[0]
    if n <= k:
        raise ValueError(f"k={k} nearest neighbours need more than {k} points; got {n}")
    idx = np.arange(n) if rows is None else np.asarray(rows, dtype=np.int64).reshape(-1)
    x2 = _sq_norms(X)
    out = np.empty(idx.shape[0])
    for sl in _blocks(idx.shape[0], n):
        d2 = _sq_distances(X[idx[sl]], X, x2[idx[sl]], x2)
        # index k of the sorted row: position 0 is the point itself (distance 0)
        out[sl] = np.partition(d2, k, axis=1)[:, k]
    return np.sqrt(out)


def _nearest(A: np.ndarray, B: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For each row of A: (index of the nearest row of B, its distance)."""
    a2, b2 = _sq_norms(A), _sq_norms(B)
    idx = np.empty(A.shape[0], dtype=np.int64)
    dist = np.empty(A.shape[0])
    for sl in _blocks(A.shape[0], B.shape[0]):
        d2 = _sq_distances(A[sl], B, a2[sl], b2)
        idx[sl] = d2.argmin(1)
        dist[sl] = d2[np.arange(d2.shape[0]), idx[sl]]
    return idx, np.sqrt(dist)


# -- Fréchet distance ------------------------------------------------------------------------
def _sqrtm_psd(S: np.ndarray) -> np.ndarray:
    w, V = np.linalg.eigh(S)
    return (V * np.sqrt(np.clip(w, 0.0, None))) @ V.T


def frechet_distance_from_stats(mu1, cov1, mu2, cov2) -> float:
    """Fréchet (2-Wasserstein) distance between N(mu1, cov1) and N(mu2, cov2).

    ``tr((S1 S2)^(1/2))`` is computed as the trace of ``(S1^(1/2) S2 S1^(1/2))^(1/2)``, a
    symmetric positive semi-definite matrix, so no complex round-off appears (scipy's
    ``sqrtm(S1 @ S2)`` gives the same value up to that round-off).
    """
    mu1, mu2 = np.asarray(mu1, np.float64).ravel(), np.asarray(mu2, np.float64).ravel()
    cov1, cov2 = np.atleast_2d(np.asarray(cov1, np.float64)), np.atleast_2d(
        np.asarray(cov2, np.float64))
    d = mu1.shape[0]
    if mu2.shape != (d,) or cov1.shape != (d, d) or cov2.shape != (d, d):
        raise ValueError(f"means and covariances must have shapes (d,) and (d, d) for one d; got "
                         f"{mu1.shape}, {cov1.shape}, {mu2.shape}, {cov2.shape}")
    root1 = _sqrtm_psd(cov1)
    middle = root1 @ cov2 @ root1
    tr_cross = float(np.sum(np.sqrt(np.clip(np.linalg.eigvalsh((middle + middle.T) / 2), 0.0,
                                            None))))
    diff = mu1 - mu2
    value = float(diff @ diff + np.trace(cov1) + np.trace(cov2) - 2.0 * tr_cross)
    return max(value, 0.0)


def frechet_distance(a, b) -> float:
    """Fréchet distance between the Gaussians fitted to the rows of ``a`` and ``b``.

    Means and unbiased covariances (``ddof=1``) of each set, then
    :func:`frechet_distance_from_stats`. It is a biased estimate that shrinks as the sets grow,
    so compare values only between sets of the same sizes (``genlearn compare`` does).
    """
    A = _as_points(a, "a")
    B = _as_points(b, "b", n_features=A.shape[1])
    for name, M in (("a", A), ("b", B)):
        if M.shape[0] < 2:
            raise ValueError(f"{name} needs at least 2 rows to estimate a covariance; got "
                             f"{M.shape[0]}")
    return frechet_distance_from_stats(A.mean(0), np.cov(A, rowvar=False), B.mean(0),
                                       np.cov(B, rowvar=False))


# -- precision / recall / density / coverage -------------------------------------------------
def prdc(real, fake, k: int = 5) -> dict:
    """Precision, recall, density and coverage of ``fake`` against ``real`` (Naeem et al. 2020).

    Parameters
    ----------
    real, fake : arrays of shape (n, d) and (m, d)
        Feature vectors of real and generated examples.
    k : int, default 5
        Neighbourhood size of the k-NN balls (the paper's default).

    Returns
    -------
    dict
        ``precision``, ``recall``, ``coverage`` in [0, 1]; ``density`` in [0, n/k] (about 1 when
        both sets follow one distribution). Ball membership is strict (``distance < radius``),
        as in the authors' code.
    """
    R = _as_points(real, "real")
    F = _as_points(fake, "fake", n_features=R.shape[1])
    check_int(k, "k", low=1)
    r_radii = knn_radii(R, k)  # (n,)
    f_radii = knn_radii(F, k)  # (m,)
    r2, f2 = _sq_norms(R), _sq_norms(F)
    n, m = R.shape[0], F.shape[0]
    on_real = np.zeros(m, dtype=bool)  # fake j inside some real ball
    n_balls = np.zeros(m)  # number of real balls holding fake j
    on_fake = np.zeros(n, dtype=bool)  # real i inside some fake ball
    covered = np.zeros(n, dtype=bool)  # real ball i holds some fake point
    for sl in _blocks(n, m):
        d = np.sqrt(_sq_distances(R[sl], F, r2[sl], f2))  # (rows of real, m)
        inside_real = d < r_radii[sl, None]
        on_real |= inside_real.any(0)
        n_balls += inside_real.sum(0)
        on_fake[sl] = (d < f_radii[None, :]).any(1)
        covered[sl] = d.min(1) < r_radii[sl]
    return {"precision": float(on_real.mean()), "recall": float(on_fake.mean()),
            "density": float(n_balls.sum() / (k * m)), "coverage": float(covered.mean())}


# -- classifier two-sample test -------------------------------------------------------------
C2ST_CLASSIFIERS = ("knn", "logistic")


def c2st_accuracy(real, fake, *, seed: int = 0, classifier: str = "knn", folds: int = 5,
                  max_per_class: int | None = 5000) -> float:
    """Cross-validated accuracy of a classifier separating ``real`` from ``fake`` rows.

    Both sets are first subsampled (seeded) to the same size, at most ``max_per_class``, so
    chance level is exactly 0.5. Features are standardized with the real set's statistics.
    ``classifier="knn"``: 5-nearest-neighbour vote (flexible, detects any difference given
    enough points); ``"logistic"``: logistic regression (detects differences of means only, and
    is then Bayes-optimal for two Gaussians with one covariance). Returns the mean accuracy over
    ``folds`` stratified folds: 0.5 = indistinguishable, 1.0 = fully separable.
    """
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import StratifiedKFold, cross_val_score
    from sklearn.neighbors import KNeighborsClassifier

    R = _as_points(real, "real")
    F = _as_points(fake, "fake", n_features=R.shape[1])
    check_int(seed, "seed", low=0)
    check_int(folds, "folds", low=2)
    check_int(max_per_class, "max_per_class", low=2, allow_none=True)
    if classifier not in C2ST_CLASSIFIERS:
        raise ValueError(f"classifier must be one of {list(C2ST_CLASSIFIERS)}; got {classifier!r}")
    rng = np.random.default_rng(seed)
    n = min(R.shape[0], F.shape[0], max_per_class or math.inf)
    if n < folds:
        raise ValueError(f"the two-sample test needs at least {folds} rows in each set "
                         f"(folds={folds}); got {R.shape[0]} real and {F.shape[0]} fake")
    R = R[rng.choice(R.shape[0], n, replace=False)]
    F = F[rng.choice(F.shape[0], n, replace=False)]
    mean, std = R.mean(0), R.std(0)
    std[std == 0] = 1.0
    X = (np.concatenate([R, F]) - mean) / std
    y = np.repeat([0, 1], n)
    model = (KNeighborsClassifier(n_neighbors=5) if classifier == "knn"
             else LogisticRegression(max_iter=1000))
    cv = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
    return float(np.mean(cross_val_score(model, X, y, cv=cv)))


# -- memorisation -----------------------------------------------------------------------------
def memorisation_share(samples, train, *, train_radii=None) -> float:
    """Share of ``samples`` closer to a training point than that point is to the rest of ``train``.

    For each sample s with nearest training point t: memorised when ``d(s, t) <= r(t)``, where
    ``r(t)`` is t's distance to its nearest other training point. ``train_radii`` may hold
    :func:`knn_radii` ``(train, k=1)`` for every training row; by default only the radii of
    the training rows that are some sample's nearest neighbour are computed, so the cost is
    about 2 x samples x training rows distances, never training rows squared.
    Exact copies of training rows count as memorised. Read the value against the same share for
    held-out real data (the floor): a model that generalises scores about the floor, one that
    copies its training set scores near 1.
    """
    S = _as_points(samples, "samples")
    T = _as_points(train, "train", n_features=S.shape[1])
    if T.shape[0] < 2:
        raise ValueError(f"train needs at least 2 rows; got {T.shape[0]}")
    idx, dist = _nearest(S, T)
    if train_radii is None:
        uniq, inverse = np.unique(idx, return_inverse=True)
        radius = knn_radii(T, 1, rows=uniq)[inverse.reshape(-1)]
    else:
        radii = np.asarray(train_radii, dtype=np.float64)
        if radii.shape != (T.shape[0],):
            raise ValueError(f"train_radii must have one radius per training row "
                             f"({T.shape[0]}); got shape {radii.shape}")
        radius = radii[idx]
    return float(np.mean(dist <= radius))
