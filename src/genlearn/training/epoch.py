"""The base of every epoch-trained model: it owns ``fit``; a model supplies its network and step.

:class:`EpochModel` does, once for every family: hyperparameter validation at ``fit``; the
data hook (validation, the data description on the first fit, tensors for the step); the
thread policy (:mod:`genlearn._threads`); seeding; resume; the epoch loop
(:func:`genlearn.training.loop.run_epochs`: shuffled mini-batches, the non-finite / exploding
loss check, Ctrl-C and a bad step going back to the last finished epoch, early stopping);
end-of-epoch bookkeeping; and checkpoints (``_get_state`` / ``_set_state``).

Hooks a subclass writes (``*`` = required)::

    *_build(self)                          networks + optimizers from the fitted description
                                           (first fit and load); may read self.device_
    *_trainables(self) -> {name: module or optimizer}
                                           what snapshots, checkpoints and restores hold
    *_train_step(self, data, idx, epoch) -> {metric: float}
                                           one optimisation step on the items ``idx`` (a 1-D
                                           index tensor into ``plan.data``); finite floats
     _plan(self, data, start, gen) -> EpochPlan
                                           the data the step sees (e.g. minus a validation
                                           split drawn with ``gen``), batch size, drop_last,
                                           early stopping, max_abs_loss; default: all of it
     _end_epoch(self, epoch, record)       after each finished epoch (before the callback)
     _extra_state() -> (meta, tensors)     other fitted / run attributes (e.g. a
     _set_extra_state(meta, tensors)       standardisation, a step counter); snapshotted too
     _work_size(self, plan) -> float       multiply-adds per step for the thread policy
                                           (default: parameters x batch size)

The data hook (rows by default; a sequence model overrides these three)::

     _check_data(self, X, y, *, continuing) -> data
         Validate X (and y). On a first fit (continuing False) describe the data: for rows,
         n_features_in_, data_shape_, image_shape_ (resolve_image_shape: (n, 1, 8, 8) and
         (n, 64) both give (8, 8)), classes_ (conditional models) and ``_describe_rows(flat)``
         (a model's own statistics, e.g. a standardisation). Return the object the
         step reads; ``len(data)`` is the number of items shuffled per epoch. Rows: it calls
         ``_rows_data(flat, labels) -> data`` (required for a rows model; :class:`Rows`
         holds float rows and one-hot labels).
     _data_meta(self) -> dict / _set_data_meta(self, meta)
         The JSON description written to / read from the checkpoint.

A sequence model (lists of 1-D integer arrays, or windows of one stream) sets ``input_kind =
"sequences"``, parses X in ``_check_data`` (recording its vocabulary etc. on a first fit),
returns e.g. a (n_windows, T) tensor (``len`` = windows per epoch) and puts its description in
``_data_meta``. ``y`` is ignored by models that are not ``conditional`` (scikit-learn passes
it).

Exact resume: the end of every epoch records the torch CPU (and CUDA) RNG state and the state
of the generator that orders the data (``rng_state_``); checkpoints store them, and ``fit(...,
resume=True)`` continues from them, so 2 epochs + save + load + 2 more equals 4 uninterrupted
epochs bit for bit on the CPU. The caller's global RNG state is left untouched (``fork_rng``).
"""

from __future__ import annotations

import copy
import logging
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch

from .._threads import thread_policy
from .._utils import (
    check_array,
    check_labels,
    resolve_device,
    resolve_image_shape,
    strip_prefix,
)
from ..base import GenerativeModel
from . import distributed_fit
from .loop import minibatches, run_epochs
from .state import clone_optimizer_state, flatten_optimizer, unflatten_optimizer

log = logging.getLogger(__name__)

# A first fit seeds torch with seed * SEED_STRIDE (the data order: seed), as the models did
# before this base existed, so their benchmark figures are unchanged.
SEED_STRIDE = 1_000_003


@dataclass
class Rows:
    """Training rows on the model's device: ``x`` (n, d) and one-hot labels ``c`` (n, K)."""

    x: torch.Tensor
    c: torch.Tensor

    def __len__(self) -> int:
        return self.x.shape[0]

    def take(self, idx: torch.Tensor) -> Rows:
        idx = idx.to(self.x.device)
        return Rows(self.x[idx], self.c[idx])


@dataclass
class EpochPlan:
    """How one ``fit`` runs the loop (see :func:`genlearn.training.loop.run_epochs`)."""

    data: object  # what _train_step indexes; len(data) items are shuffled per epoch
    batch_size: int  # items per call of _train_step
    drop_last: bool = False
    evaluate: Callable[[int], dict] | None = None  # end-of-epoch metrics (validation)
    monitor: str | None = None  # early stopping on this record key (higher is better)
    patience: int | None = None
    max_abs_loss: float | None = None  # larger metrics count as an exploding loss
    batches: Callable = minibatches  # each epoch's index tensors (or loop.LengthBuckets)


class EpochModel(GenerativeModel):
    """Base of the epoch-trained models (VAE, GAN, RBM, DBN, sequence networks).

    Subclasses keep the hyperparameters ``epochs``, ``batch_size``, ``seed``, ``device``,
    ``verbose`` and ``threads`` (None: chosen by the size of the work; an int overrides).
    Fitted attributes set here: ``device_``, ``epochs_trained_``, ``history_`` (one record per
    epoch), ``stop_reason_``, ``seed_`` (the seed used), ``rng_state_``, ``is_fitted_`` and
    the data description (rows: ``n_features_in_``, ``data_shape_``, ``image_shape_``,
    ``classes_``).
    """

    resumable = True
    epoch_trained = True

    # -- fit ------------------------------------------------------------------------------
    def fit(self, X, y=None, *, resume: bool = False, callback=None):
        """Train on ``X`` (with class labels ``y`` for a conditional model).

        ``resume=True`` continues a fitted (or loaded) model from the epoch it reached up to
        ``epochs``, with its optimizer and random-number states, so an interrupted run
        resumed from its checkpoint equals an uninterrupted one. ``callback(epoch, record)``
        runs after each finished epoch (the command line saves checkpoints from it). Returns
        ``self``.
        """
        self._validate_params()
        X, own = distributed_fit.own_rows(self, X)  # a rank's own rows (Sharded), or all
        if not own:
            distributed_fit.check_inputs(X, y)  # every rank the same data (no-op alone)
        continuing = bool(resume) and getattr(self, "is_fitted_", False)
        if continuing and self.epochs_trained_ >= self._epochs():
            log.warning("resume: the model has already trained %d epochs and epochs=%d; "
                        "nothing to do (raise epochs to train more)", self.epochs_trained_,
                        self._epochs())
            return self
        if not continuing:
            self.device_ = resolve_device(self.device)
        self._own_parts = own  # read by the rows data hook (description over all parts)
        try:
            data = self._check_data(X, y if type(self).conditional else None,
                                    continuing=continuing)
        finally:
            del self._own_parts
        if own:
            data = distributed_fit.even_parts(data)
        devices = [self.device_] if self.device_.type == "cuda" else []
        with torch.random.fork_rng(devices=devices):
            gen = torch.Generator()
            if continuing:
                self._set_rng_state(gen)
                start = self.epochs_trained_
            else:
                self.seed_ = (int(self.seed) if self.seed is not None
                              else int(np.random.SeedSequence().entropy % 2**31))
                self.seed_ = distributed_fit.agree_seed(self.seed_)  # rank 0's
                torch.manual_seed(self.seed_ * SEED_STRIDE)
                gen.manual_seed(self.seed_)
                self.history_, self.epochs_trained_, self.stop_reason_ = [], 0, None
                self.is_fitted_ = False
                self._build()
                start = 0
            with distributed_fit.local_batch(self, own):  # own rows: batch_size / N each
                plan = self._plan(data, start, gen)
            with thread_policy(self.threads, work=self._work_size(plan), device=self.device_):
                distributed_fit.run_fit(self, plan, start, gen, callback, own=own)  # = _run
        return self

    def _run(self, plan: EpochPlan, start: int, gen: torch.Generator, callback) -> None:

        def on_epoch(epoch, record):
            self.epochs_trained_ = epoch
            self.is_fitted_ = True
            self.rng_state_ = self._rng_state(gen)
            self._end_epoch(epoch, record)
            if callback is not None:
                callback(epoch, record)

        if start == 0:
            self.rng_state_ = self._rng_state(gen)
        fresh = not getattr(self, "is_fitted_", False)
        self.is_fitted_ = True  # the initial weights are a valid (if poor) model
        try:
            self.stop_reason_ = run_epochs(
                start_epoch=start, epochs=self._epochs(), n_rows=len(plan.data),
                batch_size=plan.batch_size, generator=gen,
                step=lambda idx, epoch: self._train_step(plan.data, idx, epoch),
                history=self.history_, snapshot=self._snapshot, restore=self._restore,
                evaluate=plan.evaluate, monitor=plan.monitor, patience=plan.patience,
                callback=on_epoch, verbose=self.verbose, desc=type(self).__name__,
                drop_last=plan.drop_last, max_abs_loss=plan.max_abs_loss,
                batches=plan.batches)
        except KeyboardInterrupt:
            if fresh and not self.history_:
                # interrupted before a first epoch finished: there is no trained model to
                # keep or save (a checkpoint would call the initial weights an epoch)
                self.is_fitted_ = False
            raise
        finally:
            self._set_training(False)
        self.epochs_trained_ = self.history_[-1]["epoch"] if self.history_ else start

    # -- hooks with defaults ----------------------------------------------------------------
    def _plan(self, data, start: int, gen: torch.Generator) -> EpochPlan:
        return EpochPlan(data=data, batch_size=int(self.batch_size))

    def _epochs(self) -> int:
        """The number of epochs to train to (a model whose default depends on the data
        overrides it)."""
        return int(self.epochs)

    def _end_epoch(self, epoch: int, record: dict) -> None:
        """Bookkeeping after a finished epoch (before the user's callback)."""

    def _extra_state(self) -> tuple[dict, dict]:
        return {}, {}

    def _set_extra_state(self, meta: dict, tensors: dict) -> None:
        """Set what :meth:`_extra_state` returned (called before :meth:`_build` on load)."""

    def _work_size(self, plan: EpochPlan) -> float:
        """Multiply-adds of one training step, for the thread policy: parameters x batch (a
        network whose weights are reused, e.g. over pixels, should return more, or inf)."""
        return float(self._parameter_count() * plan.batch_size)

    def _train_step(self, data, idx: torch.Tensor, epoch: int) -> dict:  # pragma: no cover
        raise NotImplementedError

    def _build(self) -> None:  # pragma: no cover - every subclass defines it
        raise NotImplementedError

    def _trainables(self) -> dict:  # pragma: no cover - every subclass defines it
        raise NotImplementedError

    def _set_training(self, mode: bool) -> None:
        for part in self._trainables().values():
            if isinstance(part, torch.nn.Module):
                part.train(mode)

    def _parameter_count(self) -> int:
        return sum(p.numel() for part in self._trainables().values()
                   if isinstance(part, torch.nn.Module) for p in part.parameters())

    # -- the data hook: rows ----------------------------------------------------------------
    def _domain(self) -> str:
        """``"unit"`` when the likelihood needs data in [0, 1], else ``"real"``."""
        return "real"

    def _check_data(self, X, y, *, continuing: bool):
        flat, data_shape = check_array(X, domain=self._domain(), owner=type(self).__name__,
                                       n_features=self.n_features_in_ if continuing else None)
        if continuing:
            if (y is None) != (getattr(self, "classes_", None) is None):
                raise ValueError("resume must use the same kind of data: the model was fitted "
                                 + ("with" if self.classes_ is not None else "without") + " y")
        else:
            own = getattr(self, "_own_parts", False)  # each rank holds its own rows
            self.n_features_in_ = flat.shape[1]
            self.data_shape_ = data_shape
            self.image_shape_ = resolve_image_shape(data_shape, self.image_shape)
            self.classes_ = None if y is None else distributed_fit.all_classes(
                np.unique(check_labels(y, flat.shape[0])), own)
            self._describe_rows(distributed_fit.description_rows(flat, data_shape, own))
        labels = None if y is None else check_labels(y, flat.shape[0], classes=self.classes_)
        return self._rows_data(flat, labels)

    def _describe_rows(self, flat: np.ndarray) -> None:
        """First fit only: learn what the model needs beyond shapes (e.g. a standardisation)."""

    def _rows_data(self, flat: np.ndarray, labels: np.ndarray | None):  # pragma: no cover
        raise NotImplementedError

    def _data_meta(self) -> dict:
        return {
            "n_features_in_": self.n_features_in_,
            "data_shape_": list(self.data_shape_),
            "image_shape_": None if self.image_shape_ is None else list(self.image_shape_),
            "classes_": None if self.classes_ is None else self.classes_.tolist(),
        }

    def _set_data_meta(self, meta: dict) -> None:
        self.n_features_in_ = int(meta["n_features_in_"])
        self.data_shape_ = tuple(meta["data_shape_"])
        self.image_shape_ = None if meta["image_shape_"] is None else tuple(meta["image_shape_"])
        self.classes_ = None if meta["classes_"] is None else np.asarray(meta["classes_"])

    # -- labels of a conditional rows model -------------------------------------------------
    def _onehot(self, labels: np.ndarray | None, n: int) -> torch.Tensor:
        """(n, K) one-hot rows of ``labels`` among ``classes_``; (n, 0) when unconditional."""
        k = len(self.classes_) if self.classes_ is not None else 0
        out = torch.zeros(n, k, device=self.device_)
        if k:
            idx = torch.as_tensor(np.searchsorted(self.classes_, labels), device=self.device_)
            out[torch.arange(n, device=self.device_), idx] = 1.0
        return out

    def _cond(self, y, n: int) -> torch.Tensor:
        """One-hot labels at inference; checks ``y`` against the training classes."""
        name = type(self).__name__
        if self.classes_ is None:
            if y is not None:
                raise ValueError(f"y was given but this {name} was fitted without labels; "
                                 f"fit(X, y) trains a conditional {name}")
            return self._onehot(None, n)
        if y is None:
            raise ValueError(f"this {name} is conditional (fitted with y): pass the class "
                             f"labels y (known: {self.classes_.tolist()})")
        return self._onehot(check_labels(y, n, classes=self.classes_), n)

    # -- random-number state ----------------------------------------------------------------
    def _rng_state(self, gen: torch.Generator) -> dict:
        state = {"torch": torch.get_rng_state(), "data": gen.get_state()}
        if self.device_.type == "cuda":
            state["cuda"] = torch.cuda.get_rng_state(self.device_)
        return state

    def _set_rng_state(self, gen: torch.Generator) -> None:
        state = getattr(self, "rng_state_", None)
        if state is None:  # a checkpoint written before the states were saved
            torch.manual_seed(self.seed_ * SEED_STRIDE + self.epochs_trained_)
            gen.manual_seed(self.seed_ + 17 * self.epochs_trained_)
            return
        torch.set_rng_state(state["torch"])
        gen.set_state(state["data"])
        if "cuda" in state and self.device_.type == "cuda":
            torch.cuda.set_rng_state(state["cuda"], self.device_)

    # -- snapshots (the last good state) ------------------------------------------------------
    def _snapshot(self):
        parts = {}
        for name, part in self._trainables().items():
            if isinstance(part, torch.optim.Optimizer):
                parts[name] = clone_optimizer_state(part.state_dict())
            else:
                parts[name] = {k: v.detach().clone() for k, v in part.state_dict().items()}
        extra = copy.deepcopy(self._extra_state())
        return parts, extra, len(self.history_), copy.deepcopy(getattr(self, "rng_state_", None))

    def _restore(self, snap) -> None:
        parts, extra, n_hist, rng = snap
        for name, part in self._trainables().items():
            part.load_state_dict(parts[name])
        self._set_extra_state(*copy.deepcopy(extra))
        del self.history_[n_hist:]
        self.rng_state_ = rng
        self.epochs_trained_ = self.history_[-1]["epoch"] if self.history_ else 0

    # -- checkpoints ------------------------------------------------------------------------
    def _get_state(self) -> tuple[dict, dict]:
        extra_meta, extra_tensors = self._extra_state()
        meta = {"data": self._data_meta(), "extra": extra_meta, "optimizers": {},
                "epochs_trained_": self.epochs_trained_, "history_": self.history_,
                "stop_reason_": self.stop_reason_, "seed_": self.seed_}
        tensors = {f"extra.{k}": torch.as_tensor(v) for k, v in extra_tensors.items()}
        for name, part in self._trainables().items():
            if isinstance(part, torch.optim.Optimizer):
                opt_meta, opt_tensors = flatten_optimizer(part.state_dict())
                meta["optimizers"][name] = opt_meta
                tensors.update({f"{name}.{k}": v for k, v in opt_tensors.items()})
            else:
                tensors.update({f"{name}.{k}": v for k, v in part.state_dict().items()})
        for k, v in (getattr(self, "rng_state_", None) or {}).items():
            tensors[f"rng.{k}"] = v
        return meta, tensors

    def _set_state(self, meta: dict, tensors: dict) -> None:
        self.device_ = resolve_device(self.device)
        self._set_data_meta(meta["data"])
        self.epochs_trained_ = int(meta["epochs_trained_"])
        self.history_ = list(meta["history_"])
        self.stop_reason_ = meta.get("stop_reason_")
        self.seed_ = int(meta["seed_"])
        extra = {k[len("extra."):]: v for k, v in tensors.items() if k.startswith("extra.")}
        self._set_extra_state(meta["extra"], extra)
        self._build()
        for name, part in self._trainables().items():
            own = strip_prefix(tensors, name + ".")
            if isinstance(part, torch.optim.Optimizer):
                part.load_state_dict(unflatten_optimizer(meta["optimizers"][name], own))
            else:
                part.load_state_dict(own, strict=True)
        rng = {k[len("rng."):]: v for k, v in tensors.items() if k.startswith("rng.")}
        self.rng_state_ = rng or None
        self._set_training(False)
        self.is_fitted_ = True


class SequenceNetModel(EpochModel):
    """The checkpoint hooks every sequence network shares (the Transformer/RNN and the sequence
    VAE): its description is the vocabulary ``n_symbols_``, the longest training sequence
    ``max_length_`` and the network's ``config_`` (a dict); its run state the step counter
    ``steps_``. A subclass sets them in its ``_check_data`` on a first fit."""

    def _data_meta(self) -> dict:
        return {"n_symbols_": self.n_symbols_, "max_length_": self.max_length_,
                "config_": self.config_}

    def _set_data_meta(self, meta: dict) -> None:
        self.n_symbols_ = int(meta["n_symbols_"])
        self.max_length_ = int(meta["max_length_"])
        self.config_ = dict(meta["config_"])

    def _extra_state(self):
        return {"steps_": self.steps_}, {}

    def _set_extra_state(self, meta, tensors) -> None:
        self.steps_ = int(meta["steps_"])
