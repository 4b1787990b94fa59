"""The contract every genlearn model follows, written as code.

:class:`GenerativeModel` is an abstract base class. Its abstract methods are the contract:

- ``fit(X, ...) -> self``;
- ``sample(n, ..., seed=None)`` -- ``n`` new examples (rows shaped like the training data, or a
  list of ``n`` 1-D integer arrays for sequence models); the same ``seed`` gives the same draws;
- ``_get_state() -> (meta, tensors)`` and ``_set_state(meta, tensors)`` -- JSON-able fitted
  attributes and named tensors, which :func:`genlearn.io.save` / :func:`genlearn.load` write
  as a checkpoint folder (``config.json`` + ``weights.safetensors``; never pickle).

``log_prob(X)`` (per example, nats; its docstring names the estimator) must be overridden by a
model whose ``has_likelihood`` is True; otherwise the base's raises ``TypeError``.
``score(X)`` is the mean ``log_prob``; ``save(path)`` writes a checkpoint. Hyperparameters are
keyword arguments stored as given (scikit-learn's ``BaseEstimator`` supplies ``get_params`` /
``set_params``, so ``clone`` and ``GridSearchCV`` work) and validated in ``fit`` (and
``set_params``) with errors that name the field; learned state ends in ``_``.

Capabilities are class attributes that every registered model declares (the CLI, compare and
the contract test read them; nobody inspects signatures):

==================  ===========================================================================
``input_kind``      ``"rows"``: ``fit(X)`` on an array of examples (n, d) or (n, H, W);
                    ``"sequences"``: ``fit(X)`` on a list of 1-D integer (or row) sequences.
``conditional``     ``fit(X, y)`` with class labels and ``sample(n, y=...)``.
``has_likelihood``  ``log_prob`` returns per-example log-likelihoods (exact or an estimator its
                    docstring names); False: ``log_prob`` and ``score`` raise ``TypeError``.
``resumable``       ``fit(X, ..., resume=True)`` continues a fitted or loaded model.
``epoch_trained``   ``fit(..., callback=fn(epoch, record))`` runs ``fn`` after each epoch (the
                    CLI writes periodic checkpoints from it); ``epochs_trained_`` and
                    ``history_`` describe the run.
==================  ===========================================================================

:func:`check_capabilities` (called by :func:`genlearn.registry.register`) refuses a model
class that leaves one of them undeclared or declares a likelihood without a ``log_prob``.
"""

from __future__ import annotations

import abc
from typing import ClassVar

import numpy as np
from sklearn.base import BaseEstimator
from sklearn.exceptions import NotFittedError as _SklearnNotFittedError

INPUT_KINDS = ("rows", "sequences")
CAPABILITIES = ("input_kind", "conditional", "has_likelihood", "resumable", "epoch_trained")


class NotFittedError(_SklearnNotFittedError):
    """A method that needs a fitted model was called before ``fit``.

    A subclass of scikit-learn's ``NotFittedError`` (itself a ``ValueError`` and an
    ``AttributeError``), so code written for scikit-learn catches it.
    """


class GenerativeModel(BaseEstimator, abc.ABC):
    """Abstract base of every genlearn model; see the module docstring for the contract.

    Subclasses register themselves with ``@genlearn.registry.register(name)`` and declare the
    capability class attributes below (no defaults here, on purpose: a model must say what it
    can do).
    """

    _registry_name: str = ""

    input_kind: ClassVar[str]
    conditional: ClassVar[bool]
    has_likelihood: ClassVar[bool]
    resumable: ClassVar[bool]
    epoch_trained: ClassVar[bool]

    # -- the contract ---------------------------------------------------------------------
    @abc.abstractmethod
    def fit(self, X, *args, **kwargs):
        """Learn the distribution of ``X``; returns ``self``."""

    @abc.abstractmethod
    def sample(self, n, *args, **kwargs):
        """Draw ``n`` new examples; ``seed=`` (keyword) makes the draws repeatable."""

    @abc.abstractmethod
    def _get_state(self) -> tuple[dict, dict]:
        """(JSON-able fitted attributes, named tensors) for a checkpoint."""

    @abc.abstractmethod
    def _set_state(self, meta: dict, tensors: dict) -> None:
        """Rebuild the fitted model from what :meth:`_get_state` returned."""

    def log_prob(self, X, *args, **kwargs) -> np.ndarray:
        """Per-example log-likelihood in nats; families without one raise ``TypeError``."""
        if type(self).has_likelihood:  # pragma: no cover - check_capabilities prevents it
            raise NotImplementedError(f"{type(self).__name__} declares has_likelihood but "
                                      "does not implement log_prob")
        raise TypeError(f"{type(self).__name__} defines no likelihood, so it has no log_prob "
                        "or score; use evaluate(X) or sample-based metrics (genlearn.metrics)")

    def score(self, X, y=None, **kwargs) -> float:
        """Mean :meth:`log_prob` over the examples of ``X`` (nats per example; higher is
        better). ``y`` goes to :meth:`log_prob` when given (conditional models)."""
        return float(np.mean(self._log_prob_y(X, y, **kwargs)))

    def _log_prob_y(self, X, y=None, **kwargs) -> np.ndarray:
        # scikit-learn passes y=None to score; an unconditional log_prob takes no y
        return self.log_prob(X, **kwargs) if y is None else self.log_prob(X, y, **kwargs)

    def evaluate(self, X, y=None, **kwargs) -> dict:
        """Held-out metrics as a dict; every family returns ``"estimator"`` and ``"n"``.

        What else each family returns (every one sets only what it can compute honestly):

        - a likelihood model (``has_likelihood``; this default): ``"log_likelihood"``, the
          mean :meth:`log_prob` in nats per example, and ``"estimator"``, how it is computed
          (:meth:`log_prob_estimator`). The VAE adds ``"elbo"`` and ``"nats_per_dim"``; the
          RBM adds the pseudo-log-likelihood; the sequence models (HMM, n-gram) add
          ``"bits_per_symbol"``.
        - the GAN (no likelihood): sample-based metrics against ``X`` --
          ``"frechet_distance"``, ``"precision"``, ``"recall"``, ``"density"``,
          ``"coverage"`` and the feature space they were measured in (``"features"``).
        - the DBN (intractable likelihood): ``"lower_bound"``, a variational lower bound on
          the mean log-likelihood, named as such, with its ``"estimator"``.

        ``"n"`` is the number of held-out examples (sequences for sequence models).
        """
        lp = self._log_prob_y(X, y, **kwargs)
        return {"log_likelihood": float(np.mean(lp)), "estimator": self.log_prob_estimator(),
                "n": int(len(lp))}

    def log_prob_estimator(self) -> str:
        """One line naming how :meth:`log_prob` is computed (exact, AIS, importance-weighted)."""
        return "exact" if type(self).has_likelihood else "none (no likelihood)"

    def save(self, path) -> str:
        """Write a checkpoint folder (``config.json`` + ``weights.safetensors``) atomically."""
        from .io import save

        return str(save(self, path))

    # -- validation -----------------------------------------------------------------------
    def _validate_params(self) -> None:
        """Raise ``ValueError`` naming the field for any bad hyperparameter.

        Called by ``fit`` (scikit-learn's convention: the constructor and ``set_params`` only
        store, so ``clone`` and parameter searches never fail half-way)."""

    def __sklearn_is_fitted__(self) -> bool:
        return bool(getattr(self, "is_fitted_", False))

    def _check_fitted(self) -> None:
        if not getattr(self, "is_fitted_", False):
            raise NotFittedError(f"this {type(self).__name__} is not fitted yet; call fit(X) "
                                 "first or load a checkpoint with genlearn.load(path)")

    # -- the data and run description of the epoch-trained models -------------------------
    def _fit_meta(self) -> dict:
        """The JSON-able description of the data and the run that the epoch-trained models
        share in their checkpoints; ``classes_`` when the model has it."""
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

    @classmethod
    def _contract_example(cls) -> dict:
        """Tiny, fast settings for the contract suite (tests/test_contract.py), which runs over
        every registered model. Return a dict with

        - ``"params"``: constructor keywords that train in well under a second (few epochs,
          tiny networks, ``verbose=False``, ``device="cpu"``);
        - ``"X"``: training data of the model's ``input_kind`` (rows: an array; sequences: a
          list of 1-D integer arrays, or of (T, D) frames), a few dozen examples;
        - ``"y"``: labels for a ``conditional`` model (optional);
        - ``"sample"``: extra keywords for ``sample`` besides ``n`` and ``seed`` (e.g.
          ``{"length": 6}`` for sequences; optional).
        """
        raise NotImplementedError(f"{cls.__name__} defines no _contract_example(); add one so "
                                  "the contract suite (tests/test_contract.py) can test it")

    @classmethod
    def capabilities(cls) -> dict:
        """The capability attributes of this class, by name."""
        return {name: getattr(cls, name) for name in CAPABILITIES}


def check_capabilities(cls: type) -> None:
    """Raise ``TypeError`` unless ``cls`` declares every capability with a valid value (and a
    ``log_prob`` of its own when it declares a likelihood)."""
    missing = [name for name in CAPABILITIES if not hasattr(cls, name)]
    if missing:
        raise TypeError(f"{cls.__name__} must declare the capability class attribute(s) "
                        f"{', '.join(missing)} (see genlearn.base)")
    if cls.input_kind not in INPUT_KINDS:
        raise TypeError(f"{cls.__name__}.input_kind must be one of {list(INPUT_KINDS)}; got "
                        f"{cls.input_kind!r}")
    for name in CAPABILITIES[1:]:
        if not isinstance(getattr(cls, name), bool):
            raise TypeError(f"{cls.__name__}.{name} must be True or False; got "
                            f"{getattr(cls, name)!r}")
    if cls.has_likelihood and cls.log_prob is GenerativeModel.log_prob:
        raise TypeError(f"{cls.__name__} declares has_likelihood = True but does not define "
                        "log_prob")
