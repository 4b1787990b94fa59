"""Autoregressive sequence models: the shared base of ``gl.Transformer`` and ``gl.RNN``.

    log p(x_1 .. x_T) = sum_t log p(x_t | BOS, x_1 .. x_{t-1})  [+ log p(EOS | BOS, x_1 .. x_T)]

A network (``seq_nets``) maps the tokens read so far to next-token logits. Every sequence is
read after a begin symbol (BOS, never predicted); with ``end_symbol=True`` an end symbol (EOS)
is predicted after the last symbol, so the model learns where sequences stop and ``sample``
stops there. Symbols are the integers 0..n_symbols-1; EOS is ``n_symbols``, BOS
``n_symbols + 1``.

A network with a finite window W (the Transformer's ``block_size``) sees at most W tokens.
For longer contexts the window slides by strides of S = W // 2: the token at index t of the
row (BOS at index 0) is predicted from the tokens ``s(t)..t-1`` with ``s(t) = 0`` for t <= W
and ``s(t) = ceil((t - W) / S) * S`` beyond, so every prediction sees between W - S and W
tokens. ``log_prob`` (strided windows), ``next_log_proba`` and both samplers (with and without
the key/value cache) use this one rule, so the model is one well-defined distribution over
sequences of any length and ``log_prob`` is exact under it. A recurrent network has no window:
its hidden state carries the whole context.

Training (``fit``): AdamW, linear warm-up then cosine decay of the learning rate, gradient
clipping, bf16 autocast on CUDA; sequences longer than W + 1 tokens are cut into windows whose
offsets are shifted at random every epoch. Batches are random; with ``length_buckets=N`` each
is cut from a chunk of N batches sorted by length (``training.loop.LengthBuckets``), so
sequences of unequal length waste little work on padding. A validation split (a random
``val_fraction`` of the sequences, or the tail of a single sequence) gives held-out bits per
symbol after every epoch, with early stopping on it (the best epoch's weights are kept). The loop is
``genlearn.training.run_epochs``: non-finite loss and Ctrl-C leave the last good weights.
"""

from __future__ import annotations

import abc
import logging
import math
import time

import numpy as np
import torch
import torch.nn.functional as F

from .. import distributed
from .._threads import check_threads, thread_policy
from .._utils import check_common, check_float, check_int, check_n
from ..sequences import SequenceModel, parse_sequences, vocabulary_size
from ..training.epoch import EpochModel, EpochPlan, SequenceNetModel
from ..training.loop import LengthBuckets, minibatches
from .seq_windows import IGNORE, Windows

log = logging.getLogger(__name__)



# the clocks ``max_time`` can count: wall time, or this process's CPU time (all its threads),
# which does not depend on what else the machine runs (a one-thread run's CPU time is its work)
CLOCKS = {"wall": time.perf_counter, "cpu": time.process_time}


def _stride(window: int) -> int:
    return max(1, window // 2)


def context_start(t: int, window: int | None) -> int:
    """Index of the first token the prediction of token ``t`` sees (BOS is index 0)."""
    if window is None or t <= window:
        return 0
    s = _stride(window)
    return -(-(t - window) // s) * s


def check_filter(temperature=1.0, top_k=None, top_p=None) -> None:
    """Validate :func:`filter_logits`'s settings (T > 0, top_k >= 1, 0 < top_p <= 1; None:
    no truncation), with errors that name the field."""
    check_float(temperature, "temperature", low=0.0, low_open=True)
    check_int(top_k, "top_k", low=1, allow_none=True)
    if top_p is not None:
        check_float(top_p, "top_p", low=0.0, high=1.0, low_open=True)


def filter_logits(logits: torch.Tensor, temperature=1.0, top_k=None, top_p=None):
    """Tempered, truncated next-token log-probabilities (n, V) (float64).

    ``top_k`` keeps the k most likely symbols, ``top_p`` the smallest set whose probability
    reaches p (nucleus sampling, Holtzman et al. 2020); the rest get -inf.
    """
    lp = torch.log_softmax(logits.double() / temperature, dim=-1)
    if top_k is None and top_p is None:
        return lp
    if top_k is not None and top_k < lp.shape[-1]:
        kth = lp.topk(top_k, dim=-1).values[:, -1:]
        lp = lp.masked_fill(lp < kth, -math.inf)
    if top_p is not None and top_p < 1.0:
        srt, order = lp.sort(dim=-1, descending=True)
        before = srt.exp().cumsum(-1) - srt.exp()  # probability of the symbols ranked above
        drop = torch.zeros_like(lp, dtype=torch.bool).scatter(-1, order, before >= top_p)
        lp = lp.masked_fill(drop, -math.inf)
    return torch.log_softmax(lp, dim=-1)


class AutoregressiveModel(SequenceModel, SequenceNetModel):
    """Base of the neural autoregressive models; a subclass supplies ``_net_config`` and
    ``_make_net`` (and validates its own network hyperparameters).

    ``fit`` is :class:`~genlearn.training.epoch.EpochModel`'s (this class supplies the data
    hook, the network, the step); ``score``, ``bits_per_symbol`` and ``evaluate`` are
    :class:`~genlearn.sequences.SequenceModel`'s.
    """

    input_kind = "sequences"
    conditional = False
    has_likelihood = True
    resumable = True
    epoch_trained = True

    # the training hyperparameters every subclass takes (subclass __init__ stores them)
    _TRAIN = ("n_symbols", "end_symbol", "block_size", "epochs", "batch_size", "lr",
              "weight_decay", "warmup", "min_lr_ratio", "grad_clip", "val_fraction", "patience",
              "max_time", "clock", "seed", "device", "verbose", "threads", "length_buckets")

    _CONTRACT_NET: dict = {}  # a subclass's tiny network for the contract suite

    @classmethod
    def _contract_example(cls) -> dict:
        rng = np.random.default_rng(0)
        X = [rng.integers(0, 3, size=int(rng.integers(5, 9))) for _ in range(12)]
        params = dict(block_size=8, epochs=2, batch_size=4, warmup=2, verbose=False,
                      device="cpu", **cls._CONTRACT_NET)
        return {"params": params, "X": X, "sample": {"max_length": 6}}

    @abc.abstractmethod
    def _net_config(self, vocab_in: int, vocab_out: int):
        """The network's config dataclass for these vocabulary sizes."""

    @abc.abstractmethod
    def _make_net(self, config: dict) -> torch.nn.Module:
        """The network from its config (as a dict, as stored in checkpoints)."""

    # -- validation -------------------------------------------------------------------------
    def _validate_params(self) -> None:
        check_int(self.n_symbols, "n_symbols", low=1, allow_none=True)
        if not isinstance(self.end_symbol, bool):
            raise ValueError(f"end_symbol must be True or False; got {self.end_symbol!r}")
        for name in ("block_size", "epochs", "batch_size"):
            check_int(getattr(self, name), name, low=1)
        check_int(self.warmup, "warmup", low=0)
        check_int(self.length_buckets, "length_buckets", low=0)
        check_int(self.patience, "patience", low=1, allow_none=True)
        check_float(self.lr, "lr", low=0.0, low_open=True)
        check_float(self.weight_decay, "weight_decay", low=0.0)
        check_float(self.min_lr_ratio, "min_lr_ratio", low=0.0, high=1.0)
        check_float(self.grad_clip, "grad_clip", low=0.0)
        check_float(self.val_fraction, "val_fraction", low=0.0, high=1.0, high_open=True)
        check_threads(self.threads)
        if self.max_time is not None:
            check_float(self.max_time, "max_time", low=0.0, low_open=True)
        if self.clock not in CLOCKS:
            raise ValueError(f"clock must be one of {sorted(CLOCKS)}; got {self.clock!r}")
        check_common(self)

    # -- data -------------------------------------------------------------------------------
    @property
    def _eos(self) -> int:
        return self.n_symbols_

    @property
    def _bos(self) -> int:
        return self.n_symbols_ + 1

    def _rows(self, seqs) -> list[np.ndarray]:
        """Token rows: BOS, the symbols, and EOS when the model has an end symbol."""
        tail = [self._eos] if self.end_symbol else []
        return [np.concatenate(([self._bos], s, tail)).astype(np.int64) for s in seqs]

    def _threads(self):
        """The thread policy for a query (one thread for a small network on the CPU)."""
        work = sum(p.numel() for p in self.net_.parameters()) * 64.0
        return thread_policy(self.threads, work=work, device=self.device_)

    # -- the conditionals -------------------------------------------------------------------
    def _target_log_probs(self, tokens: torch.Tensor) -> torch.Tensor:
        """log p(tokens[:, t] | its context) for t = 1..T-1, (B, T-1), by the window rule."""
        net, T = self.net_, tokens.shape[1] - 1
        W = net.window
        if W is None or T <= W:
            logits, _ = net(tokens[:, :T])
            return torch.log_softmax(logits.float(), -1).gather(-1, tokens[:, 1:, None])[..., 0]
        out = torch.empty(tokens.shape[0], T, device=tokens.device)
        S, start, k = _stride(W), 0, 0
        while True:
            first = 1 if k == 0 else W + (k - 1) * S + 1  # targets this window is responsible for
            stop = min(start + W, T)
            logits, _ = net(tokens[:, start:stop])
            lp = torch.log_softmax(logits.float(), -1)
            lp = lp.gather(-1, tokens[:, start + 1: stop + 1, None])[..., 0]  # targets start+1..
            out[:, first - 1: stop] = lp[:, first - 1 - start:]
            if stop == T:
                return out
            k += 1
            start = k * S

    def log_prob(self, X, lengths=None) -> np.ndarray:
        """Exact log-likelihood of each sequence in nats: the sum of the network's log
        conditionals (the end symbol's included when the model has one), shape (n,).

        Sequences longer than the window are scored with the strided window of the module
        docstring, which is the model's definition of those conditionals.
        """
        self._check_fitted()
        rows = self._rows(self._parse(X, lengths).seqs)
        with self._threads(), torch.no_grad():
            return self._log_prob_rows(rows)

    def _log_prob_rows(self, rows) -> np.ndarray:
        self.net_.eval()
        order = np.argsort([len(r) for r in rows])
        out = np.empty(len(rows))
        budget = 32768  # tokens per forward pass
        i = 0
        while i < len(order):
            j = i + 1
            while j < len(order) and (j - i + 1) * len(rows[order[j]]) <= budget:
                j += 1
            group = order[i:j]
            Lmax = len(rows[group[-1]])
            tok = np.zeros((len(group), Lmax), dtype=np.int64)
            mask = np.zeros((len(group), Lmax - 1), dtype=bool)
            for r, g in enumerate(group):
                tok[r, : len(rows[g])] = rows[g]
                mask[r, : len(rows[g]) - 1] = True
            lp = self._target_log_probs(torch.as_tensor(tok, device=self.device_))
            lp = lp.double().cpu().numpy()
            out[group] = np.where(mask, lp, 0.0).sum(axis=1)
            i = j
        return out

    @torch.no_grad()
    def next_log_proba(self, context=()) -> np.ndarray:
        """log p(next | context) over the symbols and then EOS (when the model has one), from
        one uncached forward pass over the window rule's context; shape (n_symbols [+1],)."""
        self._check_fitted()
        ctx = np.asarray(context, dtype=np.int64).reshape(-1)
        if ctx.size and (ctx.min() < 0 or ctx.max() >= self.n_symbols_):
            raise ValueError(f"context has a symbol outside 0..{self.n_symbols_ - 1}")
        row = np.concatenate(([self._bos], ctx))
        s = context_start(len(row), self.net_.window)
        self.net_.eval()
        logits, _ = self.net_(torch.as_tensor(row[None, s:], device=self.device_))
        return torch.log_softmax(logits[0, -1].double(), -1).cpu().numpy()

    # -- sampling ---------------------------------------------------------------------------
    def _check_prompt(self, prompt) -> np.ndarray:
        if prompt is None or np.size(prompt) == 0:
            return np.zeros(0, dtype=np.int64)
        return parse_sequences([np.asarray(prompt).reshape(-1)], name="prompt",
                               n_symbols=self.n_symbols_).seqs[0]

    @torch.no_grad()
    def generate(self, n, max_length=None, *, prompt=None, temperature=1.0, top_k=None,
                 top_p=None, seed=None, use_cache=True):
        """Yield the next symbol of each of ``n`` draws, (n,) int64 per step, -1 for a draw
        that has already ended (see :meth:`sample`, which collects these)."""
        self._check_fitted()
        n = check_n(n)
        max_length = self.max_length_ if max_length is None else max_length
        check_int(max_length, "max_length", low=1)
        check_filter(temperature, top_k, top_p)
        ctx = self._check_prompt(prompt)
        check_int(seed, "seed", low=0, allow_none=True)
        gen = torch.Generator()
        gen.manual_seed(int(seed) % 2**63) if seed is not None else gen.seed()
        net, W, dev = self.net_, self.net_.window, self.device_
        net.eval()
        tokens = torch.empty(n, len(ctx) + 1 + max_length, dtype=torch.int64, device=dev)
        tokens[:, 0] = self._bos
        tokens[:, 1: 1 + len(ctx)] = torch.as_tensor(ctx, device=dev)
        t = 1 + len(ctx)  # tokens so far; the next one has index t
        start = context_start(t, W)
        logits, state = net(tokens[:, start:t])
        done = torch.zeros(n, dtype=torch.bool)
        uniform = torch.rand(max_length, n, 1, generator=gen, dtype=torch.float64)
        for i in range(max_length):
            lp = filter_logits(logits[:, -1].cpu(), temperature, top_k, top_p)
            cdf = lp.exp().cumsum(-1)  # inverse-CDF draw: one uniform per symbol drawn
            nxt = torch.searchsorted(cdf, uniform[i] * cdf[:, -1:])
            nxt = nxt.clamp_(max=lp.shape[1] - 1)[:, 0]
            out = torch.where(done, -1, nxt)
            if self.end_symbol:
                done |= nxt == self._eos
                out = torch.where(nxt == self._eos, -1, out)
            yield out.numpy()
            if bool(done.all()) or i == max_length - 1:
                return
            tokens[:, t] = nxt.to(dev)
            t += 1
            new_start = context_start(t, W)
            if use_cache and new_start == start:
                logits, state = net(tokens[:, t - 1: t], state)
            else:  # without the cache, or when the window slides: one pass over the context
                start = new_start
                logits, state = net(tokens[:, start:t])

    def sample(self, n, max_length=None, *, prompt=None, temperature=1.0, top_k=None,
               top_p=None, seed=None, use_cache=True, length=None) -> list[np.ndarray]:
        """``n`` draws, each a 1-D int64 array of at most ``max_length`` symbols.

        A draw stops at the end symbol (not returned) or after ``max_length`` symbols (default:
        the longest training sequence). ``prompt`` (symbols) is read after BOS and continued;
        it is not returned. ``temperature`` T draws from p^(1/T) renormalised, then ``top_k``
        / ``top_p`` truncate; at T = 1 without truncation the draws follow exactly the
        distribution :meth:`log_prob` scores. ``use_cache=False`` recomputes every step from
        the context (same draws, slower). Contexts longer than the window slide (see module).
        ``length`` is another name for ``max_length`` (the sequence models' ``sample(n,
        length)``).
        """
        if length is not None:
            if max_length is not None:
                raise ValueError("give max_length or length, not both")
            max_length = length
        self._check_fitted()
        with self._threads(), torch.inference_mode():
            cols = list(self.generate(n, max_length, prompt=prompt, temperature=temperature,
                                      top_k=top_k, top_p=top_p, seed=seed,
                                      use_cache=use_cache))
        mat = np.stack(cols, axis=1)
        return [row[row >= 0].astype(np.int64) for row in mat]

    # -- training: the hooks of EpochModel --------------------------------------------------
    def fit(self, X, lengths=None, *, resume: bool = False, callback=None):
        """Train on integer sequences ``X`` (a list of 1-D arrays, or one concatenated array
        with ``lengths``); returns ``self``.

        ``resume=True`` continues a fitted or loaded model from the epoch it reached up to
        ``epochs`` (optimizer, schedule and random states included: the run equals an
        uninterrupted one on CPU). ``callback(epoch, record)`` runs after each epoch.

        With ``max_time`` (seconds on ``clock``: ``"wall"`` time or the process's ``"cpu"``
        time), the learning rate decays by whichever is further along, the steps or the
        clock, so the cosine ends when the budget does, and training stops at the first step
        past the time: the weights are those of that step, ``stop_reason_`` is ``"max_time"``
        and ``epochs_trained_`` counts the finished epochs (a resume then is not bit-exact).
        """
        self._validate_params()
        seqs = parse_sequences(X, lengths, name="X").seqs
        try:
            return EpochModel.fit(self, seqs, None, resume=resume, callback=callback)
        except _TimeUp:
            self.stop_reason_ = "max_time"
            self.net_.eval()
            log.info("stopped after max_time=%s s at step %d", self.max_time, self.steps_)
            return self

    def _check_data(self, X, y, *, continuing: bool) -> Windows:
        if continuing:
            parse_sequences(X, n_symbols=self.n_symbols_)
            return Windows(X)
        self.n_symbols_ = vocabulary_size(np.concatenate(X), self.n_symbols)
        self.max_length_ = max(len(s) for s in X)
        self.config_ = self._net_config(self.n_symbols_ + 2,
                                        self.n_symbols_ + int(self.end_symbol)).to_dict()
        self.steps_ = 0
        return Windows(X)

    def _build(self) -> None:
        self.net_ = self._make_net(self.config_).to(self.device_)
        params = [p for p in self.net_.parameters() if p.requires_grad]
        decay = [p for p in params if p.dim() >= 2]  # matrices and embeddings; not biases/norms
        rest = [p for p in params if p.dim() < 2]
        self.optimizer_ = torch.optim.AdamW(
            [{"params": decay, "weight_decay": self.weight_decay},
             {"params": rest, "weight_decay": 0.0}], lr=self.lr, betas=(0.9, 0.99))

    def _trainables(self) -> dict:
        return {"net": self.net_, "optim": self.optimizer_}

    def _work_size(self, plan) -> float:
        """Multiply-adds of a step: parameters x tokens per batch."""
        return float(self._parameter_count()) * self.batch_size * self.block_size

    def _split(self, seqs):
        """(train, validation) sequences; a single sequence gives up its tail."""
        f = self.val_fraction
        if f == 0.0:
            return seqs, []
        if len(seqs) == 1:
            cut = int(round(len(seqs[0]) * (1.0 - f)))
            if cut < 2 or len(seqs[0]) - cut < 2:
                return seqs, []
            return [seqs[0][:cut]], [seqs[0][cut:]]
        n_val = int(round(len(seqs) * f))
        if n_val < 1 or n_val >= len(seqs):
            return seqs, []
        perm = np.random.default_rng(self.seed_).permutation(len(seqs))
        return [seqs[i] for i in perm[n_val:]], [seqs[i] for i in perm[:n_val]]

    def _plan(self, data: Windows, start: int, gen=None) -> EpochPlan:
        train, data.val = self._split(data.seqs)
        data.prepare(self._rows(train), self.block_size, self.device_)
        self._total_steps = self.epochs * -(-len(data) // self.batch_size)
        self._clock = [time.perf_counter(), 0]
        self._t_start = CLOCKS[self.clock]()  # max_time counts from here
        self._bar = None
        evaluate = monitor = patience = None
        if data.val:
            def evaluate(epoch):
                bits = self.bits_per_symbol(data.val)
                self.net_.train()
                return {"val_bits_per_symbol": bits, "val_score": -bits}

            if self.patience is not None:
                monitor, patience = "val_score", self.patience
        batches = (LengthBuckets(data.lengths(), chunk=self.length_buckets)
                   if self.length_buckets else minibatches)
        return EpochPlan(data=data, batch_size=self.batch_size, evaluate=evaluate,
                         monitor=monitor, patience=patience, batches=batches)

    def _time_used(self) -> float:
        """Share of ``max_time`` used so far (0 without one). Under a process group it is the
        largest over the ranks (one tiny all-reduce per step), so every rank takes the same
        learning rate and stops at the same step: clocks differ between processes."""
        if self.max_time is None:
            return 0.0
        used = (CLOCKS[self.clock]() - self._t_start) / self.max_time
        if distributed.is_distributed():
            t = torch.tensor([used], dtype=torch.float64)
            with distributed.collective("agreeing on the time used (all_reduce)"):
                torch.distributed.all_reduce(t, op=torch.distributed.ReduceOp.MAX)
            used = float(t[0])
        return used

    def _lr_at(self, step: int, time_used: float = 0.0) -> float:
        """Linear warm-up over ``warmup`` steps (at most a tenth of the run), then cosine
        decay to ``lr * min_lr_ratio`` at the last step, or when ``max_time`` runs out
        (``time_used`` = 1), whichever comes first."""
        warmup = min(self.warmup, self._total_steps // 10)
        if step < warmup:
            return self.lr * (step + 1) / warmup
        frac = min(1.0, max(time_used, (step - warmup) / max(1, self._total_steps - warmup)))
        low = self.lr * self.min_lr_ratio
        return low + 0.5 * (self.lr - low) * (1.0 + math.cos(math.pi * frac))

    def _train_step(self, data: Windows, idx: torch.Tensor, epoch: int) -> dict:
        used = self._time_used()
        if used > 1.0:
            raise _TimeUp
        for group in self.optimizer_.param_groups:
            group["lr"] = self._lr_at(self.steps_, used)
        tok, tgt, n_tokens = data.batch(idx, epoch, self.seed_)
        self.net_.train()
        with torch.autocast(self.device_.type, dtype=torch.bfloat16,
                            enabled=self.device_.type == "cuda"):
            logits, _ = self.net_(tok)
        loss = F.cross_entropy(logits.float().reshape(-1, logits.shape[-1]), tgt.reshape(-1),
                               ignore_index=IGNORE)
        self.optimizer_.zero_grad(set_to_none=True)
        loss.backward()
        if self.grad_clip > 0:
            torch.nn.utils.clip_grad_norm_(self.net_.parameters(), self.grad_clip)
        self.optimizer_.step()
        self.steps_ += 1
        value = float(loss.detach())
        self._clock[1] += n_tokens
        if self.verbose:
            self._progress(data, value)
        return {"loss": value}

    def _progress(self, data, loss: float) -> None:
        """A per-epoch bar of steps with the loss and tokens per second."""
        if self._bar is None:
            from tqdm.auto import tqdm

            self._bar = tqdm(total=-(-len(data) // self.batch_size), desc="steps",
                             leave=False, dynamic_ncols=True)
        self._bar.update(1)
        if self._bar.n % 10 == 0:
            rate = self._clock[1] / max(time.perf_counter() - self._clock[0], 1e-9)
            self._bar.set_postfix({"loss": f"{loss:.3f}", "tok/s": f"{rate:,.0f}"},
                                  refresh=False)

    def _end_epoch(self, epoch: int, record: dict) -> None:
        now = time.perf_counter()
        record["tokens_per_s"] = self._clock[1] / max(now - self._clock[0], 1e-9)
        self._clock = [now, 0]
        if self._bar is not None:
            self._bar.close()
            self._bar = None


class _TimeUp(Exception):
    """Raised by a step after ``max_time``; ``fit`` catches it."""
