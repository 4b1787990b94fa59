"""Train a molecule generator on a random subset of the MOSES training set (issue 12).

    .venv/bin/python benchmarks/moses_train.py --model rnn --repr selfies --subset 250000 \
        --out runs/moses_rnn_selfies --param hidden=256 --param epochs=1

Data-parallel on N processes (one torch thread each; rank 0 writes the run), for example both
cores of a 2-core machine: ``torchrun --standalone --nproc-per-node 2
benchmarks/moses_train.py ...`` (``batch_size`` is then the global batch, split over the ranks).

Writes the checkpoint folder (``genlearn molecules sample/evaluate`` read it) and
``benchmarks/results/moses_train_<tag>.json`` with the data report, training time, threads and
the machine's load before and after (``os.getloadavg``).
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import os
import resource
import time
import warnings
from pathlib import Path

import numpy as np
import torch

import genlearn.molecules as glm
from genlearn import distributed
from genlearn.models.hmm_em import ConvergenceWarning
from genlearn.molecules.generator import MoleculeGenerator
from genlearn.training.launch import process_group

TRAIN = Path(__file__).resolve().parents[2] / "shared" / "data" / "moses_train.csv.gz"


def _part(data, start, n):
    """Molecules start..start+n of ``data`` (same vocabulary source: built from this part)."""
    return glm.PreparedMolecules(data.smiles[start:start + n], data.tokens[start:start + n],
                                 data.representation, n_read=min(n, data.n_kept - start))


def use_bf16_autocast() -> None:
    """Run the RNN's and Transformer's forward passes under CPU bfloat16 autocast.

    The library's ``fit`` autocasts on CUDA only; on a CPU with AMX/AVX-512 bf16 (this
    machine's Xeon) the LSTM trains 2.7x faster per thread under autocast (measured: 2x256,
    batch 128, 40 tokens: 14.8k -> 40.1k tokens/s). Weights, optimizer and loss stay float32.
    A benchmark-only switch: checkpoints are the same float32 networks either way.
    """
    from genlearn.models import seq_nets

    for cls in (seq_nets.RNNNet, seq_nets.TransformerNet):
        plain = cls.forward

        def forward(self, idx, state=None, _plain=plain):
            with torch.autocast("cpu", dtype=torch.bfloat16, enabled=self.training):
                logits, state = _plain(self, idx, state)
            return logits.float(), state

        cls.forward = forward


def resume(args, load0) -> None:
    """More epochs for the run in ``args.out`` over its train.smi, saving after every chunk."""
    gen = MoleculeGenerator.load(args.out)
    rep = glm.get_repr(gen.representation)
    t0 = time.time()
    seqs = []
    for smi in gen.train_smiles_:  # canonical already: tokenize only
        toks = rep.tokenize(smi)
        if len(toks) <= gen.max_length and all(x in gen.vocab_ for x in toks):
            seqs.append(gen.codec.encode(gen.vocab_, toks))
    print(f"{len(seqs)} training sequences re-encoded in {time.time() - t0:.0f} s", flush=True)
    if not getattr(gen.model_, "epoch_trained", False):
        return resume_em(args, gen, seqs, load0)
    rng = np.random.default_rng(args.seed + gen.model_.epochs_trained_)
    t1, chunks, step = time.time(), [], args.chunk or len(seqs)
    while not args.time_budget or time.time() - t1 < args.time_budget:
        order = rng.permutation(len(seqs))
        for start in range(0, len(seqs), step):
            if args.time_budget and time.time() - t1 >= args.time_budget:
                break
            gen.model_.set_params(epochs=gen.model_.epochs_trained_ + 1)
            gen.model_.fit([seqs[i] for i in order[start:start + step]], resume=True)
            gen.save(args.out)
            chunks.append({"chunks_trained": gen.model_.epochs_trained_,
                           "s": time.time() - t1, "load": os.getloadavg()})
            print(chunks[-1], flush=True)
        if not args.time_budget:
            break
    rec = {"resumed": args.out, "sequences": len(seqs), "fit_s": time.time() - t1,
           "chunk": step, "threads": args.threads, "load_before": load0,
           "load_after": os.getloadavg(), "chunks": chunks}
    res = Path(__file__).resolve().parent / "results" / \
        f"moses_train_{Path(args.out).name}_resume.json"
    res.write_text(json.dumps(rec, indent=2, default=str) + "\n")


def resume_em(args, gen, seqs, load0) -> None:
    """More Baum-Welch iterations for an HMM run: EM from its saved parameters
    (``initialize=()``), ``--chunk`` iterations at a time (default 10), saving after each, until
    ``--time-budget`` seconds (or one round without it)."""
    model, step = gen.model_, args.chunk or 10
    lls = []  # this resume's iterations (a checkpoint keeps only its last fit's history)
    t1, c1, rounds = time.time(), time.process_time(), []
    while True:
        model.set_params(initialize=(), n_iter=step, tol=-math.inf)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)  # n_iter is the budget here
            model.fit(seqs)
        lls += [h["log_likelihood"] for h in model.history_]
        gen.save(args.out)
        rounds.append({"iterations_this_resume": len(lls), "log_likelihood": lls[-1],
                       "wall_s": time.time() - t1, "cpu_s": time.process_time() - c1,
                       "load": os.getloadavg()})
        print(rounds[-1], flush=True)
        if not args.time_budget or time.time() - t1 >= args.time_budget:
            break
    rec = {"resumed": args.out, "sequences": len(seqs), "iterations_per_round": step,
           "fit_s": time.time() - t1, "fit_cpu_s": time.process_time() - c1,
           "threads": args.threads, "load_before": load0, "load_after": os.getloadavg(),
           "rounds": rounds, "log_likelihood": lls}
    res = Path(__file__).resolve().parent / "results" / \
        f"moses_train_{Path(args.out).name}_resume.json"
    res.write_text(json.dumps(rec, indent=2, default=str) + "\n")


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="rnn")
    ap.add_argument("--repr", default="selfies")
    ap.add_argument("--subset", type=int, default=250_000)
    ap.add_argument("--max-length", type=int, default=100)
    ap.add_argument("--param", action="append", default=[], help="key=value (JSON value)")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--prep-jobs", type=int, default=1, help="worker processes for cleaning "
                    "and tokenizing the molecules (not counted in the training budget)")
    ap.add_argument("--out", required=True)
    ap.add_argument("--data", default=str(TRAIN))
    ap.add_argument("--chunk", type=int, default=0, help="rnn/transformer: train on chunks "
                    "of N molecules, one epoch each (fit(resume=True) on the next chunk), "
                    "saving the run after each, until the data or --time-budget run out")
    ap.add_argument("--time-budget", type=float, default=0, help="seconds of training")
    ap.add_argument("--resume", action="store_true", help="continue the run in --out: more "
                    "epochs over its own training molecules (train.smi), chunk by chunk; for "
                    "an HMM, more EM iterations, --chunk (default 10) at a time")
    ap.add_argument("--bf16", action="store_true", help="train under CPU bfloat16 autocast")
    ap.add_argument("--cpu-budget", type=float, default=0, help="rnn/transformer, one fit: "
                    "max_time in CPU seconds of this process (clock='cpu'); the cosine "
                    "schedule ends when it runs out; the run is saved after every epoch")
    ap.add_argument("--wall-budget", type=float, default=0, help="as --cpu-budget, in wall "
                    "seconds from the start of training (clock='wall'): on a shared machine "
                    "the run then ends on time and its CPU time is what it got")
    ap.add_argument("--standardize", action="store_true", help="strip salts and neutralise "
                    "(MOSES molecules are already neutral single fragments: off by default)")
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    torch.set_num_threads(args.threads)
    params = {}
    for p in args.param:
        k, v = p.split("=", 1)
        try:
            params[k] = json.loads(v)
        except ValueError:
            params[k] = v
    if args.bf16:
        use_bf16_autocast()
    if args.cpu_budget and args.wall_budget:
        raise SystemExit("give --cpu-budget or --wall-budget, not both")
    if args.cpu_budget:
        params.update(max_time=args.cpu_budget, clock="cpu")
    if args.wall_budget:
        params.update(max_time=args.wall_budget, clock="wall")
    if distributed.world_size() > 1 and (args.resume or args.chunk):
        raise SystemExit("under torchrun: one fit over --subset (no --resume, no --chunk)")
    load0 = os.getloadavg()
    if args.resume:
        return resume(args, load0)
    def cpu():  # this process and its finished children (the --prep-jobs workers)
        kids = resource.getrusage(resource.RUSAGE_CHILDREN)
        return time.process_time() + kids.ru_utime + kids.ru_stime

    t0, c0 = time.time(), cpu()
    smiles = glm.read_smiles(args.data, subset_n=args.subset, seed=args.seed)
    data = glm.prepare(smiles, args.repr, max_length=args.max_length,
                       strip_salts=args.standardize, neutralize=args.standardize,
                       n_jobs=args.prep_jobs)
    t_prep, c_prep = time.time() - t0, cpu() - c0
    print(data.report(), f"({t_prep:.0f} s wall, {c_prep:.0f} s CPU)", flush=True)
    gen = MoleculeGenerator(model=args.model, representation=args.repr,
                            max_length=args.max_length, model_params=params, seed=args.seed)
    t1 = time.time()
    chunks = []
    if args.chunk:
        gen.fit(_part(data, 0, args.chunk))
        gen.save(args.out)
        chunks.append({"molecules": min(args.chunk, data.n_kept), "s": time.time() - t1,
                       "load": os.getloadavg()})
        print(chunks[-1], flush=True)
        start = args.chunk
        while start < data.n_kept and (not args.time_budget
                                        or time.time() - t1 < args.time_budget):
            gen.model_.set_params(epochs=gen.model_.epochs_trained_ + 1)
            part = [t for t in data.tokens[start:start + args.chunk]
                    if all(x in gen.vocab_ for x in t)]  # tokens the first chunk never had: skip
            gen.model_.fit([gen.codec.encode(gen.vocab_, t) for t in part], resume=True)
            start += args.chunk
            gen.train_smiles_ = data.smiles[:start]  # novelty against all molecules seen
            gen.data_report_["n_trained"] = len(gen.train_smiles_)
            gen.save(args.out)
            chunks.append({"molecules": min(start, data.n_kept), "s": time.time() - t1,
                           "load": os.getloadavg()})
            print(chunks[-1], flush=True)
    else:
        epochs = []

        def on_epoch(epoch, record):  # save as it goes: a stopped run keeps its last epoch
            gen.save(args.out)
            epochs.append({"epoch": epoch, "cpu_s": time.process_time() - c1,
                           "wall_s": time.time() - t1, "load": os.getloadavg(),
                           **{k: v for k, v in record.items() if isinstance(v, float)}})
            print(epochs[-1], flush=True)

        c1 = time.process_time()
        from genlearn.molecules.generator import _model_class

        epoch_trained = getattr(_model_class(args.model), "epoch_trained", False)
        gen.fit(data, **({"callback": on_epoch} if epoch_trained else {}))
        if distributed.rank() != 0:  # under torchrun: the same fit on every rank; rank 0 writes
            return
        gen.save(args.out)
        chunks = epochs
    t_fit, c_fit = time.time() - t1, time.process_time() - c1 if not args.chunk else None
    rec = {"model": args.model, "repr": args.repr, "subset": args.subset, "params": params,
           "max_length": args.max_length, "standardize": args.standardize,
           "threads": args.threads, "processes": distributed.world_size(), "seed": args.seed,
           "prep_jobs": args.prep_jobs, "data": gen.data_report_,
           "vocab_size": len(gen.vocab_), "prep_s": t_prep,
           "prep_cpu_s": c_prep, "fit_s": t_fit, "fit_cpu_s": c_fit, "bf16": args.bf16,
           "stop_reason": getattr(gen.model_, "stop_reason_", None),
           "steps": getattr(gen.model_, "steps_", None), "load_before": load0,
           "load_after": os.getloadavg(),
           "out": args.out}
    if chunks:
        rec["chunks"] = chunks
    hist = getattr(gen.model_, "history_", None)
    if hist:
        rec["history"] = hist
    tag = Path(args.out).name
    res = Path(__file__).resolve().parent / "results" / f"moses_train_{tag}.json"
    res.write_text(json.dumps(rec, indent=2, default=str) + "\n")
    print(json.dumps({k: v for k, v in rec.items() if k != "history"}, default=str), flush=True)


if __name__ == "__main__":
    with process_group("cpu"):  # torchrun --nproc-per-node N: data-parallel (rnn/transformer)
        main()
