"""The contract every genlearn model follows.

``fit(X) -> self``, ``sample(n, seed=None)``, ``log_prob(X)`` (per example, in nats; its
docstring names the estimator), ``score(X)`` (mean ``log_prob``, higher is better),
``save(path)`` and :func:`genlearn.load`. Hyperparameters are keyword arguments stored as given
(scikit-learn's ``BaseEstimator`` supplies ``get_params``/``set_params`` so ``clone`` and
``GridSearchCV`` work); learned state ends in ``_``.

A model reaches checkpoints through two hooks: ``_get_state() -> (meta, tensors)`` returns
JSON-able fitted attributes and named tensors, ``_set_state(meta, tensors)`` rebuilds them.
"""

from __future__ import annotations

import numpy as np
from sklearn.base import BaseEstimator


class NotFittedError(ValueError, AttributeError):
    """A method that needs a fitted model was called before ``fit``."""


class GenerativeModel(BaseEstimator):
    """Base class of every genlearn model; subclasses register themselves by name."""

    _registry_name: str = ""

    # -- validation -----------------------------------------------------------------------
    def _validate_params(self) -> None:
        """Raise ``ValueError`` naming the field for any bad hyperparameter."""

    def set_params(self, **params):
        super().set_params(**params)
        self._validate_params()
        return self

    def _check_fitted(self) -> None:
        if not getattr(self, "is_fitted_", False):
            raise NotFittedError(f"this {type(self).__name__} is not fitted yet; call fit(X) "
                                 "first or load a checkpoint with genlearn.load(path)")

    # -- the contract ---------------------------------------------------------------------
    def fit(self, X, y=None):  # pragma: no cover - abstract
        raise NotImplementedError

    def sample(self, n, seed=None):  # pragma: no cover - abstract
        raise NotImplementedError

    def log_prob(self, X):
        """Per-example log-likelihood in nats; families without one raise ``TypeError``."""
        raise TypeError(f"{type(self).__name__} defines no log-likelihood")

    def score(self, X, y=None) -> float:
        """Mean :meth:`log_prob` over the rows of ``X`` (nats per example; higher is better)."""
        lp = self.log_prob(X) if y is None else self.log_prob(X, y)
        return float(np.mean(lp))

    def evaluate(self, X, y=None) -> dict:
        """Held-out metrics this family supports; always ``log_likelihood`` and its estimator."""
        lp = self.log_prob(X) if y is None else self.log_prob(X, y)
        return {"log_likelihood": float(np.mean(lp)), "estimator": self.log_prob_estimator(),
                "n": int(len(lp))}

    def log_prob_estimator(self) -> str:
        """One line naming how :meth:`log_prob` is computed (exact, AIS, importance-weighted)."""
        return "exact"

    def save(self, path) -> str:
        """Write a checkpoint folder (``config.json`` + ``weights.safetensors``) atomically."""
        from .io import save

        return str(save(self, path))

    # -- checkpoint hooks -----------------------------------------------------------------
    def _get_state(self) -> tuple[dict, dict]:  # pragma: no cover - abstract
        raise NotImplementedError

    def _set_state(self, meta: dict, tensors: dict) -> None:  # pragma: no cover - abstract
        raise NotImplementedError

    def _fit_meta(self) -> dict:
        """The JSON-able description of the data and the run that the epoch-trained models
        (VAE, GAN, RBM, DBN) share in their checkpoints; ``classes_`` when the model has it."""
        meta = {
            "n_features_in_": self.n_features_in_,
            "data_shape_": list(self.data_shape_),
            "image_shape_": None if self.image_shape_ is None else list(self.image_shape_),
            "epochs_trained_": self.epochs_trained_,
            "history_": self.history_,
            "stop_reason_": getattr(self, "stop_reason_", None),
        }
        if hasattr(self, "classes_"):
            meta["classes_"] = None if self.classes_ is None else self.classes_.tolist()
        return meta

    def _set_fit_meta(self, meta: dict) -> None:
        """The inverse of :meth:`_fit_meta`."""
        self.n_features_in_ = int(meta["n_features_in_"])
        self.data_shape_ = tuple(meta["data_shape_"])
        self.image_shape_ = None if meta["image_shape_"] is None else tuple(meta["image_shape_"])
        self.epochs_trained_ = int(meta["epochs_trained_"])
        self.history_ = list(meta["history_"])
        self.stop_reason_ = meta.get("stop_reason_")
        if "classes_" in meta:
            self.classes_ = None if meta["classes_"] is None else np.asarray(meta["classes_"])

    @property
    def data_shape(self) -> tuple[int, ...] | None:
        """Per-example shape of the training data (samples come back in this shape)."""
        shape = getattr(self, "data_shape_", None)
        return tuple(shape) if shape is not None else None
