"""Mode coverage of samples from a mixture with known modes (VEEGAN / PacGAN Table 1).

Given the centres of K modes and their per-coordinate std, a sample is *high quality* when its
Euclidean distance to the nearest centre is at most ``threshold * std`` (3 std in the papers);
a mode is *captured* when at least ``min_count`` (20) high-quality samples fall on it. The
reverse KL is KL(p || u) = sum_k p_k log(K p_k), where p is the histogram of the high-quality
samples over the K modes and u the uniform distribution the data follow (Srivastava et al.
2017; Lin et al. 2018): 0 when every mode gets the same share, log K when one mode gets all.

Those three figures reward a generator that puts every sample exactly on a centre, which is
not the data's distribution either. ``spread`` says how wide the high-quality samples are:
the root mean square of (distance to the centre / std) over them, divided by the value the
true mixture gives, sqrt(d P(chi2_{d+2} <= t^2) / P(chi2_d <= t^2)) for threshold t (the
squared distance of a d-dimensional Gaussian sample, in std units, is chi2_d). 1 matches the
data's width; below 1 is too narrow (collapsed within each mode), above 1 too wide.
"""

from __future__ import annotations

import numpy as np

from .._utils import check_array, check_float, check_int


def mode_coverage(samples, modes, std: float, *, threshold: float = 3.0,
                  min_count: int = 20) -> dict:
    """Modes captured, share of high-quality samples and reverse KL to the uniform histogram.

    Parameters
    ----------
    samples : array of shape (n, d)
        Generated points.
    modes : array of shape (K, d)
        Centres of the data's modes (e.g. :func:`genlearn.datasets.toy2d_modes`).
    std : float
        Per-coordinate standard deviation of each mode (e.g. ``toy2d_std``).
    threshold : float, default 3.0
        A sample is high quality when it lies within ``threshold * std`` of a centre.
    min_count : int, default 20
        High-quality samples a mode needs to count as captured.

    Returns
    -------
    dict
        ``modes_captured`` (int), ``n_modes`` (K), ``high_quality`` (fraction in [0, 1]),
        ``reverse_kl`` (nats; ``inf`` when no sample is high quality), ``spread`` (the
        high-quality samples' RMS distance to their centre relative to the true mixture's; 1
        for samples of the data's own distribution, ``nan`` when none is high quality) and
        ``counts`` (list of K high-quality counts per mode).
    """
    X, _ = check_array(samples, name="samples", allow_3d=False)
    centres, _ = check_array(modes, name="modes", n_features=X.shape[1], allow_3d=False)
    check_float(std, "std", low=0.0, low_open=True)
    check_float(threshold, "threshold", low=0.0, low_open=True)
    check_int(min_count, "min_count", low=1)
    K = centres.shape[0]
    # squared distances (n, K), computed in blocks so a large n stays within memory
    nearest = np.empty(X.shape[0], dtype=np.int64)
    dist2 = np.empty(X.shape[0])
    for start in range(0, X.shape[0], 65536):
        block = X[start:start + 65536]
        d2 = ((block[:, None, :] - centres[None, :, :]) ** 2).sum(-1)
        nearest[start:start + len(block)] = d2.argmin(1)
        dist2[start:start + len(block)] = d2.min(1)
    good = dist2 <= (threshold * std) ** 2
    counts = np.bincount(nearest[good], minlength=K)
    total = int(counts.sum())
    if total == 0:
        reverse_kl = float("inf")
    else:
        p = counts[counts > 0] / total
        reverse_kl = float(np.sum(p * np.log(K * p)))
    if total == 0:
        spread = float("nan")
    else:
        from scipy.stats import chi2

        d, t2 = X.shape[1], threshold ** 2
        expected = d * chi2.cdf(t2, d + 2) / chi2.cdf(t2, d)  # E[r^2 | r <= t] in std^2
        spread = float(np.sqrt(dist2[good].mean() / std ** 2 / expected))
    return {
        "modes_captured": int(np.sum(counts >= min_count)),
        "n_modes": int(K),
        "high_quality": float(good.mean()),
        "reverse_kl": max(reverse_kl, 0.0),  # rounding can give -1e-17 for a uniform histogram
        "spread": spread,
        "counts": counts.tolist(),
    }
