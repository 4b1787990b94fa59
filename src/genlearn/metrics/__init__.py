"""Metrics for generative models, shared by every family.

``log_likelihood`` (with the family's estimator named); sample-based metrics that need no
likelihood (so they also judge GANs): ``frechet_distance``, ``prdc`` (precision, recall,
density, coverage), ``c2st_accuracy``, ``memorisation_share``, ``mode_coverage`` (2-D mixtures);
and the feature spaces they are computed in (``feature_space``, ``digit_features``,
``StandardizedFeatures``). ``genlearn compare`` puts them in one report.
"""

from .features import (
    ClassifierFeatures,
    FeatureSpace,
    StandardizedFeatures,
    digit_features,
    feature_space,
)
from .likelihood import log_likelihood
from .modes import mode_coverage
from .sample_quality import (
    c2st_accuracy,
    frechet_distance,
    frechet_distance_from_stats,
    knn_radii,
    memorisation_share,
    prdc,
)

__all__ = [
    "ClassifierFeatures",
    "FeatureSpace",
    "StandardizedFeatures",
    "c2st_accuracy",
    "digit_features",
    "feature_space",
    "frechet_distance",
    "frechet_distance_from_stats",
    "knn_radii",
    "log_likelihood",
    "memorisation_share",
    "mode_coverage",
    "prdc",
]
