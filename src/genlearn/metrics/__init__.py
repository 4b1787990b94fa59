"""Sample-based metrics for generative models (those without a likelihood, such as GANs)."""

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
