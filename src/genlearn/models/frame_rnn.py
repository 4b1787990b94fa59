"""Frame-level recurrent models of polyphonic music: an RNN over 0/1 frames (piano-roll time
steps) whose state sets the distribution of the next frame.

    p(v_1..T) = prod_t p(v_t | u_{t-1}),   u_t = RNN(u_{t-1}, v_t),  u_0 = 0

The output p(v_t | u) is a strategy from :mod:`.frame_outputs`: independent Bernoulli keys (the
LSTM/GRU baselines of Chung et al. 2014), NADE (the RNN-NADE) or an RBM (the RNN-RBM of
Boulanger-Lewandowski et al. 2012, :mod:`.rnnrbm`). ``log_prob`` is the exact sum of the
per-frame terms, except for an RBM output too large to enumerate (AIS, named by
:meth:`log_prob_estimator`). The JSB figure, nats per time step with every frame weighted
equally, is ``-sum(log_prob(X)) / total frames`` (:meth:`nll_per_step`).

Training maximises the log-likelihood by Adam on mini-batches of whole pieces (padded, masked),
with gradient clipping. ``fit`` is :class:`~genlearn.training.epoch.EpochModel`'s, so exact
resume, callbacks, checkpoints and ``torchrun`` data-parallel training come from there; with
``valid=`` pieces it keeps the epoch with the best validation NLL (early stopping,
``patience``; the same weights when ``max_time`` ends the run). Every training frame weighs the
same in the loss: a batch's summed negative log-likelihood is divided by its pieces times the
mean training piece length (not by its own frame count), so the loss of a batch split across
processes is the weighted sum of the shards' losses, whatever the piece lengths.
"""

from __future__ import annotations

import contextlib
import logging
import time
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from .. import distributed
from .._utils import (
    check_choice,
    check_common,
    check_float,
    check_int,
    check_n,
    resolve_device,
    strip_prefix,
    torch_generator,
)
from ..registry import register
from ..training.epoch import EpochModel, EpochPlan
from .frame_outputs import OUTPUTS

log = logging.getLogger(__name__)

class _TimeUp(Exception):
    """Raised at the end of an epoch when ``max_time`` has passed; ``fit`` catches it."""


@dataclass
class Pieces:
    """The training pieces (float32 (T_i, D) arrays); ``len`` = pieces shuffled per epoch."""

    rolls: list

    def __len__(self) -> int:
        return len(self.rolls)


CELLS = {"lstm": nn.LSTM, "gru": nn.GRU, "tanh": nn.RNN}


class FrameNet(nn.Module):
    """RNN over frames + output layer; the network kept apart from the training procedure."""

    def __init__(self, n_keys, units, layers, cell, output, hidden, dropout, **out_kw):
        super().__init__()
        self.rnn = CELLS[cell](n_keys, units, num_layers=layers, batch_first=True,
                               dropout=dropout if layers > 1 else 0.0)
        self.drop = nn.Dropout(dropout)
        self.out = OUTPUTS[output](units, n_keys, hidden, **out_kw)
        self.units = units

    def states(self, v):
        """u_{t-1} for every t: zero, then the RNN over v_1 .. v_{T-1}. (B, T, D) -> (B, T, U)"""
        u0 = torch.zeros(v.shape[0], 1, self.units, dtype=v.dtype, device=v.device)
        if v.shape[1] == 1:
            return u0
        return torch.cat([u0, self.rnn(v[:, :-1])[0]], dim=1)


@register("frame_rnn")
class FrameRNN(EpochModel):
    """An LSTM/GRU/tanh RNN over piano-roll frames with a Bernoulli, NADE or RBM output.

    ``X`` is a list of (T_i, D) 0/1 arrays (pieces); ``log_prob`` returns one log-likelihood
    per piece in nats (exact for the Bernoulli and NADE outputs).
    """

    input_kind = "sequences"
    conditional = False
    has_likelihood = True
    resumable = True
    epoch_trained = True
    default_output = "bernoulli"
    samples_with_temperature = True  # sample(..., temperature=T); the music commands read it

    @classmethod
    def _contract_example(cls) -> dict:
        from .frame_baselines import contract_rolls

        params = dict(units=8, hidden=4, epochs=2, batch_size=4, seed=0, verbose=False)
        return {"params": params, "X": contract_rolls(), "sample": {"length": 6}}

    def __init__(self, units=150, layers=1, cell="lstm", output=None, hidden=150,
                 epochs=30, batch_size=16, lr=1e-3, dropout=0.0, clip=1.0, patience=None,
                 cd_k=0, max_time=None, threads=None, seed=None, device="cpu", verbose=False):
        self.units, self.layers, self.cell, self.output = units, layers, cell, output
        self.hidden, self.epochs, self.batch_size, self.lr = hidden, epochs, batch_size, lr
        self.dropout, self.clip, self.patience, self.cd_k = dropout, clip, patience, cd_k
        self.max_time = max_time
        self.threads, self.seed, self.device, self.verbose = threads, seed, device, verbose
        self._validate_params()

    # -- validation -----------------------------------------------------------------------
    def _output(self) -> str:
        return self.output or self.default_output

    def _validate_params(self) -> None:
        check_int(self.units, "units", low=1)
        check_int(self.layers, "layers", low=1)
        check_choice(self.cell, "cell", tuple(CELLS))
        check_choice(self._output(), "output", tuple(OUTPUTS))
        check_int(self.hidden, "hidden", low=1)
        check_int(self.epochs, "epochs", low=0)
        check_int(self.batch_size, "batch_size", low=1)
        check_float(self.lr, "lr", low=0.0, low_open=True)
        check_float(self.dropout, "dropout", low=0.0, high=1.0, high_open=True)
        check_float(self.clip, "clip", low=0.0, low_open=True)
        check_int(self.patience, "patience", low=1, allow_none=True)
        check_int(self.cd_k, "cd_k", low=0)
        check_int(self.threads, "threads", low=1, allow_none=True)
        if self.max_time is not None:
            check_float(self.max_time, "max_time", low=0.0, low_open=True)
        check_common(self)

    def _check_rolls(self, X, name="X", *, fitting=False) -> list[np.ndarray]:
        if isinstance(X, np.ndarray) and X.ndim == 2:
            X = [X]
        if not isinstance(X, (list, tuple)) or not X:
            raise ValueError(f"{name} must be a non-empty list of (T, D) 0/1 piano rolls")
        D = None if fitting else self.n_keys_
        out = []
        for i, r in enumerate(X):
            r = np.asarray(r)
            if r.ndim != 2 or r.shape[0] < 1:
                raise ValueError(f"{name}[{i}] must be a (T, D) piano roll with T >= 1; got "
                                 f"shape {r.shape}")
            if not np.isin(r, (0, 1)).all():
                raise ValueError(f"{name}[{i}] must hold only 0 and 1 (note off / on)")
            D = r.shape[1] if D is None else D
            if r.shape[1] != D:
                raise ValueError(f"{name}[{i}] has {r.shape[1]} keys; expected {D}")
            out.append(r.astype(np.float32))
        return out

    @contextlib.contextmanager
    def _threads(self):
        old = torch.get_num_threads()
        # one thread unless asked: a 150-unit recurrent net on a few pieces gains little from
        # more, and on a busy machine extra threads made the test models 5-10x slower
        torch.set_num_threads(self.threads or 1)
        try:
            yield
        finally:
            torch.set_num_threads(old)

    def _pad(self, rolls, inside=False):
        lengths = torch.tensor([len(r) for r in rolls])
        v = torch.zeros(len(rolls), int(lengths.max()), rolls[0].shape[1])
        for i, r in enumerate(rolls):
            v[i, :len(r)] = torch.from_numpy(r)
        mask = torch.arange(v.shape[1])[None] < lengths[:, None]
        if inside:
            v = v[..., self.key_range_[0]:self.key_range_[1]]
        return v.to(self.device_), mask.to(self.device_)

    def _output_kwargs(self) -> dict:
        return {}

    # -- fitting: the hooks of EpochModel ---------------------------------------------------
    def fit(self, X, y=None, *, valid=None, resume=False, callback=None):
        """Train on a list of pieces; ``valid`` (pieces) enables early stopping on its NLL.

        ``resume=True`` continues a fitted or loaded model up to ``epochs`` (optimizer and
        random states included: 2 epochs, save, load and 2 more equal 4 epochs on the CPU).
        ``callback(epoch, record)`` runs after each epoch. With ``max_time`` (seconds of wall
        time, checked after each epoch) the run stops once it has passed, ``stop_reason_`` is
        ``"time_limit"`` and the best-validation epoch's weights are kept.
        """
        self._validate_params()
        self._valid = valid  # checked against the training keys in _plan
        self._best = None
        self._t_start = time.perf_counter()
        try:
            EpochModel.fit(self, X, None, resume=resume, callback=callback)
        except _TimeUp:
            self.stop_reason_ = "time_limit"
            if self._best is not None:  # the best weights; the whole curve stays in history_
                full = list(self.history_)
                self._restore(self._best)
                self.history_[:] = full
            self.epochs_trained_ = self.history_[-1]["epoch"]
            self._set_training(False)
        finally:
            self._valid = self._best = None
        return self

    def _check_data(self, X, y, *, continuing: bool) -> Pieces:
        rolls = self._check_rolls(X, fitting=not continuing)
        if not continuing:
            self.n_keys_ = rolls[0].shape[1]
            self._set_key_range(rolls)
        if not continuing or self.mean_length_ is None:  # (None: an earlier checkpoint)
            self.mean_length_ = float(np.mean([len(r) for r in rolls]))
        return Pieces(rolls)

    def _data_meta(self) -> dict:
        return {"n_keys_": self.n_keys_, "key_range_": list(self.key_range_),
                "p_outside_": self.p_outside_, "mean_length_": self.mean_length_}

    def _set_data_meta(self, meta: dict) -> None:
        self.n_keys_ = int(meta["n_keys_"])
        self.key_range_ = tuple(int(k) for k in meta["key_range_"])
        self.p_outside_ = float(meta["p_outside_"])
        self.mean_length_ = meta.get("mean_length_")

    def _build(self) -> None:
        lo, hi = self.key_range_
        self.net_ = FrameNet(hi - lo, self.units, self.layers, self.cell, self._output(),
                             self.hidden, self.dropout, **self._output_kwargs()).to(self.device_)
        self.optimizer_ = torch.optim.Adam(self.net_.parameters(), lr=self.lr)

    def _trainables(self) -> dict:
        return {"net": self.net_, "optim": self.optimizer_}

    def _work_size(self, plan) -> float:
        # one thread unless asked: a 150-unit recurrent net on a few pieces gains little from
        # more, and on a busy machine extra threads made the test models 5-10x slower
        return 0.0

    def _plan(self, data: Pieces, start: int, gen) -> EpochPlan:
        evaluate = monitor = patience = None
        if self._valid is not None:
            valid = self._valid = self._check_rolls(self._valid, "valid")

            def evaluate(epoch):
                return {"valid_ll": -self.nll_per_step(valid)}

            monitor, patience = "valid_ll", self.patience
        return EpochPlan(data=data, batch_size=int(self.batch_size), evaluate=evaluate,
                         monitor=monitor, patience=patience)

    def _train_step(self, data: Pieces, idx: torch.Tensor, epoch: int) -> dict:
        net = self.net_.train()
        v, mask = self._pad([data.rolls[i] for i in idx.tolist()], inside=True)
        u = net.drop(net.states(v))[mask]  # (frames, U)
        # every frame weighs the same: divide by pieces x mean training length, not by this
        # batch's frames, so shards of a batch add up to the batch (data-parallel training)
        scale = len(idx) * self.mean_length_
        if self.cd_k and hasattr(net.out, "cd_loss"):
            loss = net.out.cd_loss(u, v[mask], None, self.cd_k).sum() / scale  # a CD surrogate
        else:
            loss = -net.out.log_prob(u, v[mask]).sum() / scale
        self.optimizer_.zero_grad()
        loss.backward()
        nn.utils.clip_grad_norm_(net.parameters(), self.clip)
        self.optimizer_.step()
        return {"train_nll": float(loss.detach())}

    def _end_epoch(self, epoch: int, record: dict) -> None:
        # the best-validation weights, so a time limit keeps them as early stopping does
        if "valid_ll" in record and (self._best is None or record["valid_ll"] > self._best_ll):
            self._best, self._best_ll = self._snapshot(), record["valid_ll"]
        if self.max_time is not None:
            over = time.perf_counter() - self._t_start > self.max_time
            # every rank of a process group stops after the same epoch (clocks differ)
            if distributed.max_int(int(over)):
                raise _TimeUp

    def _set_key_range(self, rolls) -> None:
        """The RNN and its output see the keys from the lowest to the highest one played in
        training; each key outside that range is an independent Bernoulli with the add-half
        estimate 0.5 / (frames + 1), so a held-out note there is unlikely, never impossible."""
        frames = np.concatenate(rolls)
        used = np.flatnonzero(frames.any(0))
        lo, hi = (int(used.min()), int(used.max()) + 1) if used.size else (0, frames.shape[1])
        self.key_range_ = (lo, hi)
        self.p_outside_ = 0.5 / (len(frames) + 1.0)

    def _outside_log_prob(self, v) -> torch.Tensor:
        """log-probability of the keys outside ``key_range_`` per frame: v (N, D) -> (N,)."""
        lo, hi = self.key_range_
        out = torch.cat([v[:, :lo], v[:, hi:]], dim=1).double()
        p = torch.tensor(self.p_outside_, dtype=torch.float64)
        return (out * torch.log(p) + (1 - out) * torch.log1p(-p)).sum(-1)

    # -- likelihood -----------------------------------------------------------------------
    @torch.no_grad()
    def log_prob_steps(self, X, *, batch_size: int = 64) -> list[np.ndarray]:
        """log p(v_t | v_<t) per frame of each piece (nats): a list of (T_i,) arrays."""
        self._check_fitted()
        rolls = self._check_rolls(X)
        self.net_.eval()
        out = []
        with self._threads():
            for s in range(0, len(rolls), batch_size):
                full, mask = self._pad(rolls[s:s + batch_size])
                v = full[..., self.key_range_[0]:self.key_range_[1]]
                u = self.net_.states(v)
                lp = torch.zeros(mask.shape, dtype=torch.float64, device=v.device)
                lp[mask] = (self.net_.out.log_prob(u[mask], v[mask]).double()
                            + self._outside_log_prob(full[mask]))
                out += [lp[i, :int(mask[i].sum())].cpu().numpy() for i in range(len(v))]
        return out

    def log_prob(self, X) -> np.ndarray:
        """Log-likelihood of each piece (nats), the sum of its per-frame terms; the estimator
        is named by :meth:`log_prob_estimator` (exact unless an RBM output is too large)."""
        return np.array([s.sum() for s in self.log_prob_steps(X)])

    def nll_per_step(self, X) -> float:
        """Negative log-likelihood per time step, every frame weighted equally (the JSB metric)."""
        steps = self.log_prob_steps(X)
        return float(-np.concatenate(steps).sum() / sum(len(s) for s in steps))

    def log_prob_estimator(self) -> str:
        est = getattr(self.net_.out, "estimator", "exact") if hasattr(self, "net_") else "exact"
        return f"{est}; per frame p(v_t | v_<t) from the RNN state"

    def evaluate(self, X, y=None) -> dict:
        lp = self.log_prob(X)
        n_steps = sum(len(r) for r in self._check_rolls(X))
        return {"log_likelihood": float(np.mean(lp)), "estimator": self.log_prob_estimator(),
                "n": int(len(lp)), "nll_per_step": float(-lp.sum() / n_steps)}

    @torch.no_grad()
    def predict_next_frames(self, X, *, seed=0) -> list[np.ndarray]:
        """For every step t of each piece, one frame drawn from p(v_t | the true v_<t)."""
        self._check_fitted()
        rolls = self._check_rolls(X)
        gen = torch_generator(self.device_, seed)
        lo, hi = self.key_range_
        out = []
        with self._threads():
            for r in rolls:
                v, _ = self._pad([r], inside=True)
                u = self.net_.eval().states(v)[0]  # (T, U)
                pred = np.zeros(r.shape, dtype=np.uint8)
                pred[:, lo:hi] = self.net_.out.sample(u, gen).cpu().numpy()
                out.append(pred)
        return out

    # -- sampling -------------------------------------------------------------------------
    @torch.no_grad()
    def sample(self, n, length=64, *, seed=None, prompt=None,
               temperature: float = 1.0) -> list[np.ndarray]:
        """``n`` new pieces of ``length`` frames, each a (length, D) 0/1 array.

        ``prompt`` (a (T0, D) piano roll) conditions the draws through the RNN state after it;
        it is not repeated in the output (prepend it to get the completed piece).
        ``temperature`` divides each frame's logits (the RBM's energy) before drawing: 1 is the
        model; below 1 sharper, more conservative frames (see :mod:`.frame_outputs`).
        """
        self._check_fitted()
        n, length = check_n(n), check_n(length, "length")
        check_float(temperature, "temperature", low=0.0, low_open=True)
        gen = torch_generator(self.device_, seed)
        net = self.net_.eval()
        D = self.n_keys_
        with self._threads():
            u = torch.zeros(n, self.units, device=self.device_)
            state = None
            if prompt is not None:  # the state after the whole opening
                v, _ = self._pad([self._check_rolls([prompt], "prompt")[0]] * n, inside=True)
                uu, state = net.rnn(v)
                u = uu[:, -1]
            frames = []
            for _t in range(length):
                v_t = net.out.sample(u, gen, temperature)  # (n, D)
                frames.append(v_t)
                uu, state = net.rnn(v_t[:, None], state)
                u = uu[:, -1]
        lo, hi = self.key_range_
        x = (torch.rand(n, length, D, generator=gen, device=self.device_)
             < self.p_outside_).to(torch.uint8)  # keys outside the range: independent
        x[..., lo:hi] = torch.stack(frames, 1).to(torch.uint8)  # (n, length, D)
        x = x.cpu().numpy()
        return [x[i] for i in range(n)]

    # -- checkpoints: EpochModel's, plus the format written before it ---------------------
    def _set_state(self, meta, tensors) -> None:
        if "data" in meta:
            super()._set_state(meta, tensors)
            return
        # a checkpoint of the earlier FrameRNN (its own fit): the network only; a resume
        # starts a fresh optimizer
        self.device_ = resolve_device(self.device)
        self._set_data_meta(meta)
        self.epochs_trained_ = int(meta["epochs_trained_"])
        self.history_ = list(meta["history_"])
        self.stop_reason_ = meta.get("stop_reason_")
        self.seed_ = int(self.seed or 0)
        self.rng_state_ = None
        self._build()
        self.net_.load_state_dict(strip_prefix(tensors, "net."))
        self.net_.eval()
        self.is_fitted_ = True

    @property
    def data_shape(self):
        n = getattr(self, "n_keys_", None)
        return None if n is None else (None, n)
