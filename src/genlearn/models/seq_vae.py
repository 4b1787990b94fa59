"""A sequence VAE: GRU encoder, autoregressive GRU decoder (Bowman et al. 2016; MOSES's VAE).

    p(x, z) = N(z | 0, I) prod_t p(x_t | x_<t, z)   [t = 1..T, then EOS],
    q(z | x) = N(z | mu(x), diag sigma^2(x)),
    ELBO(x) = E_q[log p(x | z)] - KL(q(z | x) || p(z))  <=  log p(x)

Training maximises the ELBO with teacher forcing, a KL weight that grows linearly from 0 to
``beta`` over ``warmup_epochs`` (per step, so a fraction of an epoch works), and two guards
against posterior collapse (the decoder ignoring z, KL -> 0): *word dropout* (Bowman et al.:
decoder inputs replaced by a MASK symbol with probability ``word_dropout``, so the decoder
must read z) and *free bits* (Kingma et al. 2016: each latent dimension's batch-mean KL
counts at least ``free_bits`` nats in the loss, so pushing it below that earns nothing). Every
step's record holds the true (unweighted) ``kl`` beside ``rec`` and ``elbo``, so a collapse is
visible in ``history_``.

``log_prob`` is the importance-weighted estimate of Burda et al. (2015) with k draws from q
(default ``iw_samples``): log (1/k) sum_i p(x, z_i) / q(z_i | x), a stochastic lower bound
that tightens as k grows (the tests check it against p(x) integrated by quadrature over a
one-dimensional z). Word dropout is a training device only: the model that is scored and
sampled is the decoder reading the real symbols.

The latent space: ``encode`` (posterior means), ``decode`` (greedy or sampled),
``interpolate`` between two sequences; :mod:`genlearn.molecules.latent` optimises in it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from .._threads import check_threads, thread_policy
from .._utils import check_common, check_float, check_int, check_n
from ..ops import (
    gaussian_log_prob,
    importance_weighted_log_prob,
    kl_normal_std,
    standard_normal_log_prob,
)
from ..registry import register
from ..sequences import SequenceModel, parse_sequences, vocabulary_size
from ..training.epoch import EpochModel, EpochPlan, SequenceNetModel
from .seq_vae_nets import SeqVAEConfig, SeqVAENet


@dataclass
class Padded:
    """Sequences as a zero-padded (n, T) int64 tensor and their lengths (n,)."""

    tokens: torch.Tensor
    lengths: torch.Tensor

    @classmethod
    def of(cls, seqs, device) -> Padded:
        lens = np.array([len(s) for s in seqs], dtype=np.int64)
        tok = np.zeros((len(seqs), int(lens.max())), dtype=np.int64)
        for i, s in enumerate(seqs):
            tok[i, :len(s)] = s
        return cls(torch.as_tensor(tok, device=device), torch.as_tensor(lens, device=device))

    def __len__(self) -> int:
        return self.tokens.shape[0]

    def take(self, idx: torch.Tensor) -> Padded:
        idx = idx.to(self.tokens.device)
        lens = self.lengths[idx]
        return Padded(self.tokens[idx, :int(lens.max())], lens)


@register("seqvae")
class SeqVAE(SequenceModel, SequenceNetModel):
    """Sequence VAE over integer symbols; see the module docstring.

    Parameters
    ----------
    latent_dim, n_embd, enc_hidden, hidden, n_layer : int
        Sizes: z, the symbol embedding, the encoder GRU (per direction), the decoder GRU and
        its number of layers.
    word_dropout : float
        Probability that a decoder input symbol is replaced by MASK during training.
    free_bits : float
        Nats per latent dimension below which the KL term is not pushed (0: plain ELBO).
    beta : float
        Final weight of the KL term (1: the ELBO).
    warmup_epochs : float
        The KL weight grows linearly from 0 to ``beta`` over this many epochs (0: none).
    n_symbols : int or None
        Vocabulary size (default 1 + the largest symbol seen).
    epochs, batch_size, lr, grad_clip
        Adam settings; gradients are clipped to norm ``grad_clip`` (0: off).
    iw_samples : int
        Default k of ``log_prob``.
    seed, device, verbose, threads
        As for every epoch-trained genlearn model.
    """

    input_kind = "sequences"
    conditional = False
    has_likelihood = True
    resumable = True
    epoch_trained = True

    def __init__(self, latent_dim=32, n_embd=64, enc_hidden=256, hidden=256, n_layer=1,
                 word_dropout=0.0, free_bits=0.0, beta=1.0, warmup_epochs=0.0, n_symbols=None,
                 epochs=10, batch_size=64, lr=1e-3, grad_clip=5.0, iw_samples=100, seed=None,
                 device="auto", verbose=True, threads=None):
        self.latent_dim = latent_dim
        self.n_embd = n_embd
        self.enc_hidden = enc_hidden
        self.hidden = hidden
        self.n_layer = n_layer
        self.word_dropout = word_dropout
        self.free_bits = free_bits
        self.beta = beta
        self.warmup_epochs = warmup_epochs
        self.n_symbols = n_symbols
        self.epochs = epochs
        self.batch_size = batch_size
        self.lr = lr
        self.grad_clip = grad_clip
        self.iw_samples = iw_samples
        self.seed = seed
        self.device = device
        self.verbose = verbose
        self.threads = threads

    @classmethod
    def _contract_example(cls) -> dict:
        rng = np.random.default_rng(0)
        X = [rng.integers(0, 3, size=int(rng.integers(5, 9))) for _ in range(12)]
        params = dict(latent_dim=2, n_embd=4, enc_hidden=6, hidden=8, epochs=2, batch_size=4,
                      iw_samples=4, verbose=False, device="cpu")
        return {"params": params, "X": X, "sample": {"max_length": 6}}

    # -- hyperparameters ------------------------------------------------------------------
    def _validate_params(self) -> None:
        for name in ("latent_dim", "n_embd", "enc_hidden", "hidden", "n_layer", "epochs",
                     "batch_size", "iw_samples"):
            check_int(getattr(self, name), name, low=1)
        check_int(self.n_symbols, "n_symbols", low=1, allow_none=True)
        check_float(self.word_dropout, "word_dropout", low=0.0, high=1.0, high_open=True)
        check_float(self.free_bits, "free_bits", low=0.0)
        check_float(self.beta, "beta", low=0.0)
        check_float(self.warmup_epochs, "warmup_epochs", low=0.0)
        check_float(self.lr, "lr", low=0.0, low_open=True)
        check_float(self.grad_clip, "grad_clip", low=0.0)
        check_threads(self.threads)
        check_common(self)

    # -- data (the hooks of EpochModel) ---------------------------------------------------
    def fit(self, X, lengths=None, *, resume: bool = False, callback=None):
        """Train on integer sequences ``X`` (a list of 1-D arrays, or one concatenated array
        with ``lengths``); ``resume=True`` continues up to ``epochs``; ``callback(epoch,
        record)`` after each epoch. Returns ``self``."""
        self._validate_params()
        seqs = parse_sequences(X, lengths, name="X").seqs
        return EpochModel.fit(self, seqs, None, resume=resume, callback=callback)

    def _check_data(self, X, y, *, continuing: bool) -> Padded:
        if continuing:
            parse_sequences(X, n_symbols=self.n_symbols_)
        else:
            self.n_symbols_ = vocabulary_size(np.concatenate(X), self.n_symbols)
            self.max_length_ = max(len(s) for s in X)
            self.config_ = SeqVAEConfig(
                n_symbols=self.n_symbols_, latent_dim=self.latent_dim, n_embd=self.n_embd,
                enc_hidden=self.enc_hidden, hidden=self.hidden, n_layer=self.n_layer).to_dict()
            self.steps_ = 0
        return Padded.of(X, self.device_)

    def _build(self) -> None:
        self.net_ = SeqVAENet(SeqVAEConfig(**self.config_)).to(self.device_)
        self.optimizer_ = torch.optim.Adam(self.net_.parameters(), lr=self.lr)

    def _trainables(self) -> dict:
        return {"net": self.net_, "optim": self.optimizer_}

    def _plan(self, data: Padded, start: int, gen=None) -> EpochPlan:
        self._steps_per_epoch = -(-len(data) // int(self.batch_size))
        return EpochPlan(data=data, batch_size=int(self.batch_size))

    def _work_size(self, plan: EpochPlan) -> float:
        return float(self._parameter_count()) * plan.batch_size * self.max_length_

    # -- training ---------------------------------------------------------------------------
    def _teacher(self, x: Padded):
        """Decoder inputs (BOS, x_1..x_T), targets (x_1..x_T, EOS) and their mask, (B, T+1)."""
        net, (B, T) = self.net_, x.tokens.shape
        dev = x.tokens.device
        pos = torch.arange(T + 1, device=dev)[None, :]
        inputs = torch.cat([torch.full((B, 1), net.bos, device=dev), x.tokens], dim=1)
        targets = torch.cat([x.tokens, torch.zeros(B, 1, dtype=torch.int64, device=dev)], 1)
        targets = torch.where(pos == x.lengths[:, None], net.eos, targets)
        mask = (pos <= x.lengths[:, None]).float()
        return inputs, targets, mask

    def _kl_weight(self) -> float:
        if self.warmup_epochs == 0:
            return float(self.beta)
        ramp = (self.steps_ + 1) / (self.warmup_epochs * self._steps_per_epoch)
        return float(self.beta) * min(1.0, ramp)

    def _train_step(self, data: Padded, idx: torch.Tensor, epoch: int) -> dict:
        net = self.net_.train()
        x = data.take(idx)
        mean, log_var = net.encode(x.tokens, x.lengths)
        z = mean + torch.exp(0.5 * log_var) * torch.randn_like(mean)
        inputs, targets, mask = self._teacher(x)
        if self.word_dropout > 0:
            drop = torch.rand(inputs.shape, device=inputs.device) < self.word_dropout
            drop[:, 0] = False  # BOS stays
            inputs = inputs.masked_fill(drop, net.mask)
        rec = net.log_lik(z, inputs, targets, mask)  # (B,)
        kl_dims = 0.5 * (torch.exp(log_var) + mean**2 - 1.0 - log_var)  # (B, L)
        kl = kl_dims.sum(-1)
        kl_term = (kl_dims.mean(0).clamp(min=self.free_bits).sum() if self.free_bits > 0
                   else kl.mean())
        w = self._kl_weight()
        loss = -rec.mean() + w * kl_term
        self.optimizer_.zero_grad(set_to_none=True)
        loss.backward()
        if self.grad_clip > 0:
            torch.nn.utils.clip_grad_norm_(net.parameters(), self.grad_clip)
        self.optimizer_.step()
        self.steps_ += 1
        return {"loss": float(loss.detach()), "elbo": float((rec - kl).mean().detach()),
                "rec": float(rec.mean().detach()), "kl": float(kl.mean().detach()),
                "kl_weight": w}

    # -- inference --------------------------------------------------------------------------
    def _threads(self):
        work = sum(p.numel() for p in self.net_.parameters()) * 64.0
        return thread_policy(self.threads, work=work, device=self.device_)

    def _padded(self, X, lengths=None) -> Padded:
        self._check_fitted()
        return Padded.of(self._parse(X, lengths).seqs, self.device_)

    def log_prob_estimator(self) -> str:
        return f"importance-weighted (IWAE), k={self.iw_samples}"

    @torch.no_grad()
    def log_prob(self, X, lengths=None, *, k: int | None = None, seed=None) -> np.ndarray:
        """Per-sequence log-likelihood in nats: the importance-weighted estimate (IWAE).

        log p(x) ~= log (1/k) sum_i p(x, z_i) / q(z_i | x), z_i ~ q(z | x) (Burda et al.
        2015), with ``k`` (default ``iw_samples``) draws; a stochastic lower bound on log p(x)
        that tightens as k grows. ``seed`` fixes the draws (default: the model's seed).
        """
        data = self._padded(X, lengths)
        k = check_n(self.iw_samples if k is None else k, "k")
        gen = torch.Generator(device=self.device_)
        gen.manual_seed(int(self._eval_seed(seed)))
        net = self.net_.eval()
        chunk = min(k, 64)
        rows = max(1, 4096 // chunk)

        def log_weights(idx, m):
            x = data.take(idx)
            B = len(x)
            mean, log_var = net.encode(x.tokens, x.lengths)
            eps = torch.randn((m, *mean.shape), generator=gen, device=mean.device)
            z = mean + torch.exp(0.5 * log_var) * eps  # (m, B, L)
            inputs, targets, mask = self._teacher(x)
            log_px = net.log_lik(z.reshape(m * B, -1), inputs.repeat(m, 1),
                                 targets.repeat(m, 1), mask.repeat(m, 1)).reshape(m, B)
            return log_px + standard_normal_log_prob(z) - gaussian_log_prob(z, mean, log_var)

        with self._threads():
            lp = importance_weighted_log_prob(log_weights, len(data), k, batch_size=rows,
                                              chunk=chunk)
        return lp.numpy()

    @torch.no_grad()
    def elbo(self, X, lengths=None, *, n_samples: int = 1, seed=None) -> np.ndarray:
        """Per-sequence evidence lower bound (nats), E_q[log p(x|z)] over ``n_samples`` draws
        minus the closed-form KL. Not a log-likelihood: ELBO <= log p(x)."""
        data = self._padded(X, lengths)
        n_samples = check_n(n_samples, "n_samples")
        gen = torch.Generator(device=self.device_)
        gen.manual_seed(int(self._eval_seed(seed)))
        net, out = self.net_.eval(), []
        with self._threads():
            for start in range(0, len(data), 1024):
                x = data.take(torch.arange(start, min(start + 1024, len(data))))
                B = len(x)
                mean, log_var = net.encode(x.tokens, x.lengths)
                eps = torch.randn((n_samples, *mean.shape), generator=gen, device=mean.device)
                z = (mean + torch.exp(0.5 * log_var) * eps).reshape(n_samples * B, -1)
                inputs, targets, mask = self._teacher(x)
                rec = net.log_lik(z, inputs.repeat(n_samples, 1), targets.repeat(n_samples, 1),
                                  mask.repeat(n_samples, 1)).reshape(n_samples, B).mean(0)
                out.append((rec - kl_normal_std(mean, log_var)).double().cpu())
        return torch.cat(out).numpy()

    def _eval_seed(self, seed) -> int:
        return (self.seed if self.seed is not None else 0) if seed is None else int(seed)

    @torch.no_grad()
    def encode(self, X, lengths=None, *, return_log_var: bool = False):
        """Posterior means of z, (n, latent_dim) float64 (and log-variances if asked)."""
        data = self._padded(X, lengths)
        net, means, log_vars = self.net_.eval(), [], []
        with self._threads():
            for start in range(0, len(data), 1024):
                x = data.take(torch.arange(start, min(start + 1024, len(data))))
                m, lv = net.encode(x.tokens, x.lengths)
                means.append(m.double().cpu())
                log_vars.append(lv.double().cpu())
        mean = torch.cat(means).numpy()
        return (mean, torch.cat(log_vars).numpy()) if return_log_var else mean

    def _check_z(self, Z) -> torch.Tensor:
        self._check_fitted()
        Z = np.asarray(Z, dtype=np.float64)
        if Z.ndim == 1:
            Z = Z[None, :]
        if Z.ndim != 2 or Z.shape[1] != self.config_["latent_dim"]:
            raise ValueError(f"Z must have shape (n, {self.config_['latent_dim']}); got "
                             f"{Z.shape}")
        if not np.all(np.isfinite(Z)):
            raise ValueError("Z contains NaN or infinite values")
        return torch.as_tensor(Z, dtype=torch.float32, device=self.device_)

    @torch.no_grad()
    def _generate(self, z: torch.Tensor, max_length: int, *, greedy: bool, gen,
                  temperature: float) -> list[np.ndarray]:
        """Decode each row of z (n, L): symbols until EOS (dropped), or ``max_length`` of
        them when EOS never comes. Sampled draws use one uniform per step (inverse CDF)."""
        net, n = self.net_.eval(), z.shape[0]
        uniform = None if greedy else torch.rand(max_length, n, 1, generator=gen,
                                                 dtype=torch.float64, device=z.device)
        tok = torch.full((n, 1), net.bos, dtype=torch.int64, device=z.device)
        state, cols = None, []
        done = torch.zeros(n, dtype=torch.bool, device=z.device)
        for i in range(max_length):
            logits, state = net.decode(z, tok, state)
            lp = torch.log_softmax(logits[:, -1].double() / temperature, -1)
            if greedy:
                nxt = lp.argmax(-1)
            else:
                cdf = lp.exp().cumsum(-1)
                nxt = torch.searchsorted(cdf, uniform[i] * cdf[:, -1:])
                nxt = nxt.clamp_(max=lp.shape[1] - 1)[:, 0]
            cols.append(torch.where(done | (nxt == net.eos), -1, nxt).cpu())
            done |= nxt == net.eos
            if bool(done.all()):
                break
            tok = nxt[:, None]
        mat = torch.stack(cols, 1).numpy()
        out = []
        for row in mat:
            end = np.flatnonzero(row < 0)
            out.append(row[:end[0] if end.size else len(row)].astype(np.int64))
        return out

    def decode(self, Z, max_length=None, *, greedy: bool = True, seed=None,
               temperature: float = 1.0) -> list[np.ndarray]:
        """Sequences from latent codes ``Z`` (n, latent_dim): the most likely symbol at each
        step (``greedy``) or a draw from p(x | z) (seeded by ``seed``)."""
        z = self._check_z(Z)
        max_length = self.max_length_ if max_length is None else max_length
        check_int(max_length, "max_length", low=1)
        check_float(temperature, "temperature", low=0.0, low_open=True)
        gen = torch.Generator(device=self.device_)
        gen.manual_seed(int(seed)) if seed is not None else gen.seed()
        with self._threads():
            return self._generate(z, max_length, greedy=greedy, gen=gen,
                                  temperature=temperature)

    def sample(self, n, max_length=None, *, seed=None, temperature: float = 1.0,
               length=None) -> list[np.ndarray]:
        """``n`` draws of z ~ N(0, I) then x ~ p(x | z): 1-D int64 arrays, each stopped at
        EOS or after ``max_length`` symbols (default: the longest training sequence).
        ``length`` is another name for ``max_length``; ``temperature`` T draws each symbol
        from p^(1/T) renormalised (T = 1: exactly the model)."""
        self._check_fitted()
        n = check_n(n)
        if length is not None:
            if max_length is not None:
                raise ValueError("give max_length or length, not both")
            max_length = length
        max_length = self.max_length_ if max_length is None else max_length
        check_int(max_length, "max_length", low=1)
        check_int(seed, "seed", low=0, allow_none=True)
        check_float(temperature, "temperature", low=0.0, low_open=True)
        gen = torch.Generator(device=self.device_)
        gen.manual_seed(int(seed) % 2**63) if seed is not None else gen.seed()
        z = torch.randn(n, self.config_["latent_dim"], generator=gen, device=self.device_)
        with self._threads():
            return self._generate(z, max_length, greedy=False, gen=gen,
                                  temperature=temperature)

    def interpolate(self, a, b, steps: int = 10, *, greedy: bool = True,
                    max_length=None) -> list[np.ndarray]:
        """Decode ``steps`` points on the straight line between the posterior means of the
        sequences ``a`` and ``b`` (the first and last are their reconstructions)."""
        steps = check_n(steps, "steps")
        za, zb = self.encode([np.asarray(a), np.asarray(b)])
        t = np.linspace(0.0, 1.0, steps)[:, None]
        return self.decode((1 - t) * za + t * zb, max_length, greedy=greedy, seed=0)


__all__ = ["SeqVAE"]
