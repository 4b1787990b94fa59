"""Latent-space optimisation of molecules in a sequence VAE (Gomez-Bombarelli et al. 2018).

A molecule generator whose model is the sequence VAE (``MoleculeGenerator(model="seqvae")``)
maps molecules to latent codes and back (:class:`LatentSpace`). The optimiser
(:func:`latent_optimize`) spends a fixed budget of oracle calls:

1. *start*: decode ``n_init`` codes drawn from the prior N(0, I) and score the distinct valid
   molecules (each new molecule is one oracle call; repeats are looked up);
2. *surrogate*: fit a property predictor on the latent codes of every molecule scored so far
   (:class:`MLPEnsemble`, a deep ensemble of small MLPs whose spread is the uncertainty;
   Lakshminarayanan et al. 2017), each molecule's code being its encoder mean, so the
   predictor reads the molecule, not the proposal that happened to produce it;
3. *propose*: from the best molecules' codes, candidates by gradient ascent on the upper
   confidence bound mean + kappa * std minus a prior penalty ||z||^2 / 2 (so the codes stay
   where the decoder was trained), plus Gaussian perturbations of the best codes; the
   ``batch_size`` candidates with the highest bound are decoded (greedy and sampled decodes);
4. score the new molecules, and go back to 2 until the budget is spent.

The oracle budget counts every distinct valid molecule scored, as
:func:`genlearn.molecules.reinvent.reinvent` counts it, so the two methods compare on calls.
"""

from __future__ import annotations

import logging
import time

import numpy as np
import torch

from .._threads import thread_policy
from .._utils import check_float, check_int
from .data import canonical
from .generator import MoleculeGenerator
from .reinvent import OptimizationResult
from .tokens import get_repr

__all__ = ["LatentSpace", "MLPEnsemble", "latent_optimize"]

log = logging.getLogger(__name__)

class LatentSpace:
    """Molecules <-> latent codes of a fitted sequence-VAE :class:`MoleculeGenerator`."""

    def __init__(self, generator: MoleculeGenerator):
        generator._check_fitted()
        model = generator.model_
        if not (hasattr(model, "encode") and hasattr(model, "decode")):
            raise ValueError(f"latent-space optimisation needs a sequence VAE (model "
                             f"'seqvae'); this generator's model is {generator.model!r}")
        self.generator, self.model = generator, model
        self.rep = get_repr(generator.representation)
        self.dim = int(model.config_["latent_dim"])

    def encode(self, smiles) -> np.ndarray:
        """Posterior means (n, dim) of canonical SMILES the vocabulary can spell (a molecule
        with a token outside it raises ``ValueError``)."""
        gen = self.generator
        seqs = [gen.codec.encode(gen.vocab_, self.rep.tokenize(s)) for s in smiles]
        return self.model.encode(seqs)

    def encode_known(self, smiles) -> tuple[np.ndarray, np.ndarray]:
        """Posterior means (n, dim) and a mask (n,) of the molecules whose tokens are all in
        the vocabulary and within max_length (rows of the others are zero). A decoded
        SELFIES string re-encoded from its canonical SMILES may use other symbols."""
        gen, ok, seqs = self.generator, np.zeros(len(smiles), dtype=bool), []
        for i, s in enumerate(smiles):
            try:
                toks = self.rep.tokenize(s)
            except ValueError:
                continue
            if len(toks) <= gen.max_length and all(t in gen.vocab_ for t in toks):
                ok[i] = True
                seqs.append(gen.codec.encode(gen.vocab_, toks))
        Z = np.zeros((len(smiles), self.dim))
        if seqs:
            Z[ok] = self.model.encode(seqs)
        return Z, ok

    def decode(self, Z, *, greedy: bool = True, seed=None) -> list:
        """Canonical SMILES of the codes ``Z`` (n, dim); ``None`` where the decode is not a
        molecule (too long, or not valid)."""
        gen = self.generator
        rows = self.model.decode(Z, gen.max_length + 1, greedy=greedy, seed=seed)
        out = []
        for r in rows:
            toks = gen.codec.decode(gen.vocab_, r, gen.max_length)
            smi = self.rep.to_smiles(toks) if toks is not None else None
            out.append(canonical(smi) if smi else None)
        return out


class MLPEnsemble:
    """``n_models`` MLPs (dim -> hidden -> hidden -> 1) fitted to (z, y) from different
    initialisations and bootstrap resamples; ``predict`` gives the mean and the spread."""

    def __init__(self, dim: int, *, n_models: int = 5, hidden: int = 64, steps: int = 300,
                 lr: float = 3e-3, weight_decay: float = 1e-4, seed: int = 0):
        check_int(n_models, "n_models", low=1)
        check_int(hidden, "hidden", low=1)
        check_int(steps, "steps", low=1)
        self.dim, self.n_models, self.hidden, self.steps = dim, n_models, hidden, steps
        self.lr, self.weight_decay = lr, weight_decay
        self.gen = torch.Generator().manual_seed(seed)
        self.nets = []

    def _net(self):
        h = self.hidden
        return torch.nn.Sequential(torch.nn.Linear(self.dim, h), torch.nn.SiLU(),
                                   torch.nn.Linear(h, h), torch.nn.SiLU(),
                                   torch.nn.Linear(h, 1))

    def fit(self, Z: np.ndarray, y: np.ndarray) -> MLPEnsemble:
        with thread_policy(None, work=0.0):  # tiny networks: one thread
            return self._fit(Z, y)

    def _fit(self, Z: np.ndarray, y: np.ndarray) -> MLPEnsemble:
        Z = torch.as_tensor(Z, dtype=torch.float32)
        y = torch.as_tensor(y, dtype=torch.float32)
        self.y_mean, self.y_std = float(y.mean()), float(y.std()) + 1e-6
        yn = (y - self.y_mean) / self.y_std
        n = len(Z)
        self.nets = []
        for _ in range(self.n_models):
            torch.manual_seed(int(torch.randint(0, 2**31 - 1, (1,), generator=self.gen)))
            net = self._net()
            opt = torch.optim.Adam(net.parameters(), lr=self.lr, weight_decay=self.weight_decay)
            boot = torch.randint(0, n, (n,), generator=self.gen)
            for _ in range(self.steps):
                idx = boot[torch.randint(0, n, (min(n, 256),), generator=self.gen)]
                loss = ((net(Z[idx])[:, 0] - yn[idx]) ** 2).mean()
                opt.zero_grad()
                loss.backward()
                opt.step()
            net.requires_grad_(False)
            self.nets.append(net)
        return self

    def predict_tensor(self, Z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Mean and standard deviation over the ensemble (differentiable in Z), (n,) each."""
        preds = torch.stack([net(Z)[:, 0] for net in self.nets]) * self.y_std + self.y_mean
        return preds.mean(0), preds.std(0) if len(self.nets) > 1 else torch.zeros(len(Z))

    def predict(self, Z) -> tuple[np.ndarray, np.ndarray]:
        with torch.no_grad():
            m, s = self.predict_tensor(torch.as_tensor(Z, dtype=torch.float32))
        return m.numpy().astype(np.float64), s.numpy().astype(np.float64)


def _ascend(surrogate: MLPEnsemble, z0: np.ndarray, *, steps: int, lr: float, kappa: float,
            prior_weight: float) -> np.ndarray:
    """Gradient ascent on UCB(z) - prior_weight * ||z||^2 / 2 from each row of z0."""
    with thread_policy(None, work=0.0):  # tiny networks: one thread
        return _ascend_rows(surrogate, z0, steps, lr, kappa, prior_weight)


def _ascend_rows(surrogate, z0, steps, lr, kappa, prior_weight) -> np.ndarray:
    z = torch.as_tensor(z0, dtype=torch.float32).clone().requires_grad_(True)
    opt = torch.optim.Adam([z], lr=lr)
    for _ in range(steps):
        m, s = surrogate.predict_tensor(z)
        obj = m + kappa * s - prior_weight * 0.5 * (z**2).sum(1)
        opt.zero_grad()
        (-obj.sum()).backward()
        opt.step()
    return z.detach().numpy().astype(np.float64)


def latent_optimize(generator: MoleculeGenerator, objective, *, budget: int = 5000,
                    n_init: int = 500, batch_size: int = 100, n_starts: int = 50,
                    n_candidates: int = 2000, ascent_steps: int = 50, ascent_lr: float = 0.05,
                    kappa: float = 1.0, prior_weight: float = 0.01, noise: float = 0.3,
                    seed=None, max_rounds: int | None = None, callback=None,
                    surrogate_kwargs=None, init_smiles=None,
                    threads: int | None = None) -> OptimizationResult:
    """Optimise ``objective`` in the latent space of a sequence-VAE generator with at most
    ``budget`` oracle calls (see the module docstring).

    ``init_smiles`` (e.g. molecules of a data set) are scored first, each an oracle call;
    prior draws add to them until ``n_init`` molecules have codes. Each round proposes
    ``n_candidates`` codes (half by gradient ascent from ``n_starts`` of the best codes, half
    as Gaussian perturbations of scale ``noise``) and decodes the ``batch_size`` with the
    highest UCB (``kappa``).
    ``callback(round, record)`` after each round; ``threads``: torch CPU threads (default
    one: the networks are small). Returns an
    :class:`~genlearn.molecules.reinvent.OptimizationResult` (``agent`` is None).
    """
    # small networks: one thread unless told otherwise (genlearn._threads), caller's restored
    with thread_policy(threads, work=0.0, device="cpu"):
        return _latent_optimize(generator, objective, budget, n_init, batch_size, n_starts,
                                n_candidates, ascent_steps, ascent_lr, kappa, prior_weight,
                                noise, seed, max_rounds, callback, surrogate_kwargs,
                                init_smiles)


def _latent_optimize(generator, objective, budget, n_init, batch_size, n_starts, n_candidates,
                     ascent_steps, ascent_lr, kappa, prior_weight, noise, seed, max_rounds,
                     callback, surrogate_kwargs, init_smiles) -> OptimizationResult:
    space = LatentSpace(generator)
    for name in ("budget", "n_init", "batch_size", "n_starts", "n_candidates"):
        check_int(locals()[name], name, low=1)
    check_int(ascent_steps, "ascent_steps", low=0)
    for name in ("ascent_lr", "kappa", "prior_weight", "noise"):
        check_float(locals()[name], name, low=0.0)
    rng = np.random.default_rng(seed)
    result = OptimizationResult()
    codes: dict[str, np.ndarray] = {}   # molecule -> its encoder mean

    def score_new(smiles, proposals) -> int:
        first = {}  # each new molecule once, with the code that produced it (or None)
        for s, z in zip(smiles, proposals, strict=True):
            if s is not None and s not in result.scores:
                first.setdefault(s, z)
        new = list(first)[:budget - result.oracle_calls]
        if not new:
            return 0
        values = objective(new)
        result.oracle_calls += len(new)
        Z, ok = space.encode_known(new)
        for i, (s, v) in enumerate(zip(new, values, strict=True)):
            result.scores[s] = float(v)
            # the molecule's own code; the proposal's where the vocabulary cannot spell it
            if ok[i] or first[s] is not None:
                codes[s] = Z[i] if ok[i] else first[s]
        return len(new)

    t0 = time.time()
    if init_smiles is not None:  # start from given molecules (each scored: an oracle call)
        init = [canonical(s) for s in init_smiles]
        score_new(init, [None] * len(init))
    tries = 0
    while len(codes) < min(n_init, budget) and result.oracle_calls < budget and tries < 20:
        z = rng.standard_normal((n_init, space.dim))
        score_new(space.decode(z, greedy=False, seed=int(rng.integers(2**31 - 1))), z)
        tries += 1
    result.history.append({"round": 0, "oracle_calls": result.oracle_calls,
                           "top10": result.top_mean(10), "seconds": time.time() - t0})
    rnd = 0
    stale = 0
    while result.oracle_calls < budget and (max_rounds is None or rnd < max_rounds):
        rnd += 1
        t1 = time.time()
        names = [s for s in result.scores if s in codes]
        Z = np.stack([codes[s] for s in names])
        y = np.array([result.scores[s] for s in names])
        sur = MLPEnsemble(space.dim, seed=int(rng.integers(2**31 - 1)),
                          **(surrogate_kwargs or {})).fit(Z, y)
        best = np.argsort(-y)[:n_starts]
        starts = Z[rng.choice(best, n_candidates // 2)]
        starts = starts + 0.1 * noise * rng.standard_normal(starts.shape)
        cand = [_ascend(sur, starts, steps=ascent_steps, lr=ascent_lr, kappa=kappa,
                        prior_weight=prior_weight) if ascent_steps else starts,
                Z[rng.choice(best, n_candidates - n_candidates // 2)]
                + noise * rng.standard_normal((n_candidates - n_candidates // 2, space.dim))]
        cand = np.concatenate(cand)
        m, s = sur.predict(cand)
        pick = cand[np.argsort(-(m + kappa * s))[:batch_size]]
        smiles = space.decode(pick) + space.decode(pick, greedy=False,
                                                   seed=int(rng.integers(2**31 - 1)))
        got = score_new(smiles, np.concatenate([pick, pick]))
        stale = stale + 1 if got == 0 else 0
        rec = {"round": rnd, "oracle_calls": result.oracle_calls, "new": got,
               "valid": float(np.mean([x is not None for x in smiles])),
               "top10": result.top_mean(10), "surrogate_top": float(m.max()),
               "seconds": time.time() - t1}
        result.history.append(rec)
        log.info("round %d: %d oracle calls (%d new), top-10 %.4f", rnd, rec["oracle_calls"],
                 got, rec["top10"])
        if callback is not None:
            callback(rnd, rec)
        if stale >= 5:  # five rounds without a new molecule: the search has converged
            log.warning("latent search stopped after %d rounds without a new molecule", stale)
            break
    return result
