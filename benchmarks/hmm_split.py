"""Grow a trained molecule HMM by splitting its busiest states (issue 12, the HMM row).

    .venv/bin/python benchmarks/hmm_split.py runs/moses_hmm200_smiles_more \
        runs/moses_hmm300_split --add 100
    .venv/bin/python benchmarks/moses_train.py --model hmm --repr smiles \
        --out runs/moses_hmm300_split --resume --chunk 10 --time-budget 3000

Each of the ``--add`` states with the most expected visits (start distribution pushed through
the transition matrix for ``--horizon`` steps) gets a twin: the same outgoing transitions and
emissions, the incoming probability shared between the two (0.5 +- ``--noise`` / 2, drawn
per column), the twin's emissions perturbed by a factor exp(``--noise`` * N(0, 1)) and
renormalised. Before the perturbation the larger model is the same distribution as the
smaller (tested below by ``--check``), so EM continues from the smaller model's likelihood
instead of from scratch; the noise lets the twins separate (state splitting, as in split-merge
EM for latent-variable grammars, Petrov et al. 2006).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

import genlearn.molecules as glm
from genlearn.molecules.generator import MoleculeGenerator


def occupancy(start: np.ndarray, trans: np.ndarray, horizon: int) -> np.ndarray:
    """Expected visits to each state in the first ``horizon`` steps."""
    p, total = start.copy(), np.zeros_like(start)
    for _ in range(horizon):
        total += p
        p = p @ trans
    return total


def split(start, trans, emit, which, noise, rng):
    """(start, trans, emit) with a twin appended for each state in ``which``."""
    origin = np.r_[np.arange(len(start)), which]  # new state -> the state it copies
    share = np.ones(len(origin))
    w = np.clip(0.5 + noise / 2 * rng.uniform(-1, 1, size=len(which)), 0.05, 0.95)
    share[which] = w
    share[len(start):] = 1.0 - w
    new_start = start[origin] * share
    new_trans = trans[np.ix_(origin, origin)] * share[None, :]
    new_emit = emit[origin].copy()
    if noise > 0:
        twin = new_emit[len(start):] * np.exp(noise * rng.standard_normal(
            new_emit[len(start):].shape))
        new_emit[len(start):] = twin / twin.sum(1, keepdims=True)
    return new_start, new_trans, new_emit


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("run")
    ap.add_argument("out")
    ap.add_argument("--add", type=int, default=100)
    ap.add_argument("--noise", type=float, default=0.1)
    ap.add_argument("--horizon", type=int, default=100)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--check", type=int, default=2000, help="compare log-likelihoods of this "
                    "many training molecules before/after the split without noise (0: skip)")
    args = ap.parse_args(argv)
    if Path(args.out).exists():
        raise SystemExit(f"{args.out} exists; choose a new folder")
    gen = MoleculeGenerator.load(args.run)
    hmm = gen.model_
    K = hmm.n_states
    if not 0 < args.add <= K:
        raise SystemExit(f"--add must be in 1..{K}")
    occ = occupancy(hmm.startprob_, hmm.transmat_, args.horizon)
    which = np.sort(np.argsort(-occ)[:args.add])
    rng = np.random.default_rng(args.seed)
    old = (hmm.startprob_, hmm.transmat_, hmm.emissionprob_)
    report = {"run": args.run, "out": args.out, "states": [K, K + args.add],
              "noise": args.noise, "split_share_of_visits": float(occ[which].sum() / occ.sum())}
    if args.check:
        rep = glm.get_repr(gen.representation)
        seqs = [gen.codec.encode(gen.vocab_, rep.tokenize(s))
                for s in gen.train_smiles_[:args.check]]
        before = float(np.sum(hmm.log_prob(seqs)))
        hmm.startprob_, hmm.transmat_, hmm.emissionprob_ = split(*old, which, 0.0, rng)
        hmm.n_states = K + args.add
        exact = float(np.sum(hmm.log_prob(seqs)))
        report.update(check_molecules=len(seqs), log_lik_before=before,
                      log_lik_split_no_noise=exact)
        print(f"log-likelihood of {len(seqs)} training molecules: {before:.3f} before, "
              f"{exact:.3f} split without noise", flush=True)
        if not np.isclose(before, exact, rtol=1e-9, atol=1e-6):
            raise SystemExit("the split changed the distribution: a bug")
    hmm.startprob_, hmm.transmat_, hmm.emissionprob_ = split(*old, which, args.noise, rng)
    hmm.set_params(n_states=K + args.add, initialize=())
    gen.save(args.out)
    print(json.dumps(report, indent=1))
    res = Path(__file__).resolve().parent / "results" / f"hmm_split_{Path(args.out).name}.json"
    res.write_text(json.dumps(report, indent=1) + "\n")


if __name__ == "__main__":
    main()
