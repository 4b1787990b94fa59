"""Reinforcement-learning fine-tuning of an autoregressive molecule generator (REINVENT).

Olivecrona et al. (2017, "Molecular de-novo design through deep reinforcement learning") and
REINVENT 2.0 (Blaschke et al. 2020): the pretrained model stays frozen as the *prior*; a copy,
the *agent*, samples a batch, the objective S(x) in [0, 1] scores it, and the agent moves toward

    log p_aug(x) = log p_prior(x) + sigma * S(x)

by minimising the mean of (log p_aug(x) - log p_agent(x))^2: high-scoring molecules become
likelier, and the prior term keeps the agent from drifting into strings the prior finds
implausible. A *diversity filter* zeroes the score of a molecule seen before and of a molecule
whose Bemis-Murcko scaffold already filled its bucket (REINVENT's "identical Murcko scaffold"
filter), so the agent is not paid to repeat itself; an *experience replay* adds the best
molecules found so far to each batch's loss. The oracle budget is fixed: every valid molecule
scored for the first time is one call (repeats are looked up, not re-scored), and the run
stops when the budget is spent.
"""

from __future__ import annotations

import copy
import logging
import time
from dataclasses import dataclass, field

import numpy as np
import torch

from .._utils import check_float, check_int
from ._chem import chem, require
from .data import canonical
from .tokens import get_repr

__all__ = ["NoFilter", "OptimizationResult", "ScaffoldFilter", "reinvent"]

log = logging.getLogger(__name__)


class NoFilter:
    """No diversity filter: the score as the objective gives it."""

    def __call__(self, smiles: str, score: float) -> float:
        return score


class ScaffoldFilter:
    """REINVENT's identical-Murcko-scaffold filter: a molecule seen before scores 0; molecules
    scoring at least ``min_score`` fill their scaffold's bucket, and once ``bucket_size`` are
    in, the scaffold's next molecules score 0."""

    def __init__(self, bucket_size: int = 25, min_score: float = 0.4):
        check_int(bucket_size, "bucket_size", low=1)
        check_float(min_score, "min_score", low=0.0, high=1.0)
        self.bucket_size, self.min_score = bucket_size, min_score
        self.seen: set[str] = set()
        self.buckets: dict[str, int] = {}

    def __call__(self, smiles: str, score: float) -> float:
        if smiles in self.seen:
            return 0.0
        self.seen.add(smiles)
        Chem = chem()
        murcko = require("rdkit.Chem.Scaffolds.MurckoScaffold")
        try:
            scaf = Chem.MolToSmiles(murcko.GetScaffoldForMol(Chem.MolFromSmiles(smiles)))
        except Exception:  # an exotic valence RDKit cannot cut: its own bucket
            scaf = smiles
        if score < self.min_score:
            return score
        filled = self.buckets.get(scaf, 0)
        if filled >= self.bucket_size:
            return 0.0
        self.buckets[scaf] = filled + 1
        return score


@dataclass
class OptimizationResult:
    """Every distinct valid molecule scored (``scores``: canonical SMILES -> objective
    score), the oracle calls spent, and one record per step."""

    scores: dict = field(default_factory=dict)
    oracle_calls: int = 0
    history: list = field(default_factory=list)
    agent: object = None

    def top(self, k: int = 10) -> list[tuple[str, float]]:
        return sorted(self.scores.items(), key=lambda kv: -kv[1])[:k]

    def top_mean(self, k: int = 10) -> float:
        best = self.top(k)
        return float(np.mean([s for _, s in best])) if best else float("nan")


def sequence_log_probs(model, seqs) -> torch.Tensor:
    """log p(x) (B,) of the symbol sequences ``seqs`` under an autoregressive genlearn model,
    with gradients (the model's own window rule and end symbol)."""
    rows = model._rows(seqs)                                    # BOS, symbols, EOS
    T = max(len(r) for r in rows)
    tokens = torch.full((len(rows), T), model._eos, dtype=torch.int64)
    mask = torch.zeros(len(rows), T - 1)
    for i, r in enumerate(rows):
        tokens[i, :len(r)] = torch.as_tensor(r)
        mask[i, :len(r) - 1] = 1.0
    tokens = tokens.to(model.device_)
    lp = model._target_log_probs(tokens)                        # (B, T-1)
    return (lp * mask.to(lp.device)).sum(1)


def reinvent(generator, objective, *, budget: int = 5000, batch_size: int = 64,
             sigma: float = 60.0, lr: float = 5e-4, diversity=None, replay: int = 8,
             temperature: float = 1.0, seed=None, max_steps: int | None = None,
             callback=None) -> OptimizationResult:
    """Fine-tune a copy of ``generator``'s autoregressive model toward ``objective`` (an
    :class:`~genlearn.molecules.objectives.Objective`) with at most ``budget`` oracle calls.

    ``diversity``: a filter (default :class:`ScaffoldFilter`); ``replay``: how many of the best
    molecules so far join each step's loss (0: none). ``callback(step, record)`` after each
    step. Returns an :class:`OptimizationResult` whose ``agent`` is the fine-tuned copy of the
    generator (save it like any generator).
    """
    generator._check_fitted()
    model = generator.model_
    if not hasattr(model, "_target_log_probs"):
        raise ValueError(f"RL fine-tuning needs an autoregressive model (rnn or transformer); "
                         f"this generator's model is {generator.model!r}")
    check_int(budget, "budget", low=1)
    check_int(batch_size, "batch_size", low=1)
    check_int(replay, "replay", low=0)
    check_float(sigma, "sigma", low=0.0)
    check_float(lr, "lr", low=0.0, low_open=True)
    diversity = ScaffoldFilter() if diversity is None else diversity
    rep = get_repr(generator.representation)
    codec, vocab, L = generator.codec, generator.vocab_, generator.max_length
    rng = np.random.default_rng(seed)
    prior = model
    agent_gen = copy.copy(generator)
    agent_gen.model_ = agent = copy.deepcopy(model)
    prior.net_.eval()
    agent.net_.eval()  # no dropout noise in the likelihoods the loss compares
    # the prior is only read under no_grad, and the caller's model is left as it was
    params = list(agent.net_.parameters())
    for p in params:
        p.requires_grad_(True)
    opt = torch.optim.Adam(params, lr=lr)
    result = OptimizationResult(agent=agent_gen)
    memory: dict[str, tuple[np.ndarray, float]] = {}   # best molecules: ids and raw score
    step = 0
    while result.oracle_calls < budget and (max_steps is None or step < max_steps):
        t0 = time.time()
        rows = codec.sample(agent, batch_size, L, seed=int(rng.integers(2**31 - 1)),
                            temperature=temperature)
        seqs, smiles = [], []
        for r in rows:
            toks = codec.decode(vocab, r, L)
            if toks is None:  # did not end within max_length: not a molecule, not trained on
                continue
            smi = rep.to_smiles(toks)
            seqs.append(np.asarray(r, dtype=np.int64))
            smiles.append(canonical(smi) if smi else None)
        first = {}  # each new molecule once, even if drawn twice in this batch
        for i, s in enumerate(smiles):
            if s is not None and s not in result.scores:
                first.setdefault(s, i)
        new = list(first.values())[:budget - result.oracle_calls]
        if new:
            values = objective([smiles[i] for i in new])
            for i, v in zip(new, values, strict=True):
                result.scores[smiles[i]] = float(v)
                memory[smiles[i]] = (seqs[i], float(v))
            result.oracle_calls += len(new)
        if len(memory) > 100:  # the best 100 so far, for replay
            memory = dict(sorted(memory.items(), key=lambda kv: -kv[1][1])[:100])
        # invalid molecules are trained toward score 0; valid ones past the budget are left out
        use = [i for i, s in enumerate(smiles) if s is None or s in result.scores]
        raw = {i: result.scores[smiles[i]] if smiles[i] else 0.0 for i in use}
        batch_seqs = [seqs[i] for i in use]
        batch_scores = [diversity(smiles[i], raw[i]) if smiles[i] else 0.0 for i in use]
        if replay and memory:
            best = sorted(memory.values(), key=lambda v: -v[1])[:replay]
            batch_seqs += [q for q, _ in best]
            batch_scores += [v for _, v in best]
        if batch_seqs:
            with torch.no_grad():
                lp_prior = sequence_log_probs(prior, batch_seqs)
            lp_agent = sequence_log_probs(agent, batch_seqs)
            target = lp_prior + sigma * torch.as_tensor(batch_scores, dtype=lp_prior.dtype,
                                                        device=lp_prior.device)
            loss = ((target - lp_agent) ** 2).mean()
            opt.zero_grad()
            loss.backward()
            opt.step()
            loss_value = float(loss.detach())
        else:
            loss_value = float("nan")
        step += 1
        valid = [raw[i] for i in use if smiles[i] is not None]
        rec = {"step": step, "oracle_calls": result.oracle_calls, "loss": loss_value,
               "valid": len(valid) / batch_size,
               "mean_score": float(np.mean(valid)) if valid else 0.0,
               "top10": result.top_mean(10), "seconds": time.time() - t0}
        result.history.append(rec)
        log.info("step %d: %d oracle calls, valid %.2f, mean score %.3f, top-10 %.3f", step,
                 rec["oracle_calls"], rec["valid"], rec["mean_score"], rec["top10"])
        if callback is not None:
            callback(step, rec)
    return result
