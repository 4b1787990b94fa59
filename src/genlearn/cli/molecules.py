"""``genlearn molecules``: train a molecule generator, sample, evaluate with MOSES, optimise.

    genlearn molecules train data.csv --model rnn --repr selfies --out RUN [--subset N]
    genlearn molecules sample RUN -n 10000 -o new.csv
    genlearn molecules evaluate RUN --test test.csv [-n 30000] [--grid grid.png]
    genlearn molecules optimize RUN --objective qed --budget 5000 -o best.csv

``train`` reads the SMILES column (``--column``) of a CSV or ``.smi`` file, cleans it (invalid
and too-long molecules are skipped and counted, the count printed) and fits the sequence model
(``--param key=value`` for any of its hyperparameters). ``evaluate`` prints the MOSES table
(novelty against the run's own training molecules) and draws a grid of samples with RDKit.
``optimize`` fine-tunes the run's autoregressive model with REINVENT on a fixed oracle budget
and writes the best molecules found.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

from ..molecules.tokens import REPRESENTATIONS, ShortSelfiesRepr
from ._common import output_file, say, scalar

MODEL_NAMES = ("rnn", "transformer", "hmm", "ngram", "seqvae")


def add_parser(subparsers) -> None:
    p = subparsers.add_parser("molecules", help="molecule generation: train, sample, "
                              "evaluate (MOSES), optimize (REINVENT)",
                              description=__doc__.splitlines()[0])
    sub = p.add_subparsers(dest="molecules_command", required=True, metavar="COMMAND")

    t = sub.add_parser("train", help="fit a generator on a CSV/.smi file of SMILES")
    t.add_argument("data", help="CSV (with a SMILES column) or .smi file; gzip allowed")
    t.add_argument("--model", choices=MODEL_NAMES, default="rnn")
    t.add_argument("--repr", type=_repr_name, default="selfies", metavar="REPR",
                   help=f"one of {', '.join(REPRESENTATIONS)} (default selfies); "
                   "selfies-short: SELFIES of the atom order with the shortest branches and "
                   f"ring bonds among {ShortSelfiesRepr.default_orders} random orders, "
                   "selfies-short:N among N")
    t.add_argument("--out", required=True, help="the run folder to write")
    t.add_argument("--column", default="SMILES", help="the SMILES column (default SMILES)")
    t.add_argument("--subset", type=int, default=None, help="train on N random molecules")
    t.add_argument("--max-length", type=int, default=100, help="longest molecule in tokens")
    t.add_argument("--epochs", type=int, default=None,
                   help="epochs (rnn, transformer, seqvae)")
    t.add_argument("--param", action="append", default=[], metavar="KEY=VALUE",
                   help="a hyperparameter of the sequence model (repeatable)")
    t.add_argument("--seed", type=int, default=0)
    t.add_argument("--prep-jobs", type=int, default=1, metavar="N",
                   help="clean and tokenize the molecules in N worker processes")
    t.add_argument("--nproc", type=int, default=1, metavar="N",
                   help="train in N processes on this machine (starts torchrun; gloo on CPUs, "
                   "NCCL with one GPU each); rank 0 writes --out")
    t.set_defaults(func=cmd_train)

    s = sub.add_parser("sample", help="draw molecules from a run")
    s.add_argument("run")
    s.add_argument("-n", type=int, default=1000)
    s.add_argument("-o", "--out", required=True, help="CSV to write (column SMILES)")
    s.add_argument("--temperature", type=float, default=1.0)
    s.add_argument("--top-p", type=float, default=None, help="nucleus sampling (rnn, "
                   "transformer): at each step only the most likely symbols whose probability "
                   "reaches P")
    s.add_argument("--seed", type=int, default=0)
    s.add_argument("--precision", choices=("float32", "bf16"), default="float32",
                   help="bf16: the RNN/Transformer's products in bfloat16 (faster on CPUs with "
                   "AMX/AVX-512 bf16; a slightly perturbed distribution)")
    s.add_argument("--jobs", type=int, default=1, help="CPU worker processes that draw batches "
                   "in parallel (the same molecules in the same order as --jobs 1)")
    s.add_argument("--force", action="store_true", help="overwrite --out")
    s.set_defaults(func=cmd_sample)

    e = sub.add_parser("evaluate", help="MOSES metrics of a run's samples against a test set")
    e.add_argument("run")
    e.add_argument("--test", required=True, help="CSV/.smi reference molecules")
    e.add_argument("--column", default="SMILES")
    e.add_argument("-n", type=int, default=10000, help="molecules to draw (MOSES: 30,000)")
    e.add_argument("--samples", help="score this CSV of samples instead of drawing")
    e.add_argument("--no-fcd", action="store_true", help="skip FCD (ChemNet is slow on CPU)")
    e.add_argument("--grid", help="PNG grid of samples (default RUN/samples.png)")
    e.add_argument("--json", help="also write the metrics as JSON here")
    e.add_argument("--seed", type=int, default=0)
    e.set_defaults(func=cmd_evaluate)

    o = sub.add_parser("optimize", help="REINVENT fine-tuning toward an objective")
    o.add_argument("run")
    o.add_argument("--objective", required=True,
                   help="qed, logp or guacamol:<task> (e.g. guacamol:osimertinib_mpo)")
    o.add_argument("--budget", type=int, default=5000, help="oracle calls")
    o.add_argument("--method", choices=tuple(OPTIMIZERS), default="reinvent",
                   help="reinvent: RL fine-tuning of an rnn/transformer run; latent: "
                   "surrogate-guided search in a seqvae run's latent space")
    o.add_argument("-o", "--out", required=True, help="CSV of the best molecules")
    o.add_argument("--top", type=int, default=100, help="molecules to write")
    o.add_argument("--batch-size", type=int, default=64)
    o.add_argument("--sigma", type=float, default=60.0)
    o.add_argument("--lr", type=float, default=5e-4)
    o.add_argument("--save-agent", help="also save the fine-tuned generator here")
    o.add_argument("--seed", type=int, default=0)
    o.add_argument("--force", action="store_true", help="overwrite --out")
    o.set_defaults(func=cmd_optimize)


def _repr_name(name: str) -> str:
    """``--repr``'s type: a name ``get_repr`` knows, else argparse's usage error. A missing
    chem extra is not the name's fault: the command reports it in one line when it runs."""
    import argparse

    from ..molecules._chem import MissingExtraError
    from ..molecules.tokens import get_repr

    try:
        get_repr(name)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    except MissingExtraError:  # raised after the name was checked
        pass
    return name


def _generator_class():
    from genlearn.molecules.generator import MoleculeGenerator

    return MoleculeGenerator


def _optimize_reinvent(gen, objective, args):
    from genlearn.molecules.reinvent import reinvent

    return reinvent(gen, objective, budget=args.budget, batch_size=args.batch_size,
                    sigma=args.sigma, lr=args.lr, seed=args.seed)


def _optimize_latent(gen, objective, args):
    from genlearn.molecules.latent import latent_optimize

    return latent_optimize(gen, objective, budget=args.budget, seed=args.seed)


# optimize --method NAME -> fn(generator, objective, args) -> OptimizationResult
OPTIMIZERS = {"reinvent": _optimize_reinvent, "latent": _optimize_latent}


def _params(items) -> dict:
    out = {}
    for item in items:
        if "=" not in item:
            raise ValueError(f"--param takes KEY=VALUE; got {item!r}")
        k, v = item.split("=", 1)
        out[k.strip().replace("-", "_")] = scalar(v.strip())
    return out


def _write_csv(path: Path, header, rows) -> None:
    """Write a CSV atomically (a temporary file renamed into place)."""
    import csv

    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp makes 0600; the file gets the usual mode
        with os.fdopen(fd, "w", newline="") as fh:
            w = csv.writer(fh)
            w.writerow(header)
            w.writerows(rows)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def cmd_train(args) -> int:
    from genlearn.training import launch

    # under torchrun every rank fits and rank 0 writes
    return launch.run(args, _train, _params(args.param).get("device", "auto"))


def _train(args) -> int:
    import genlearn.molecules as glm
    from genlearn import distributed
    MoleculeGenerator = _generator_class()

    params = _params(args.param)
    if args.epochs is not None:
        if args.model not in ("rnn", "transformer", "seqvae"):
            raise ValueError(f"--epochs applies to rnn, transformer and seqvae, not "
                             f"{args.model}")
        params["epochs"] = args.epochs
    gen = MoleculeGenerator(model=args.model, representation=args.repr,
                            max_length=args.max_length, model_params=params, seed=args.seed)
    out = Path(args.out)
    if out.exists() and any(out.iterdir()) and not (out / "molecules.json").is_file():
        raise ValueError(f"{out} exists and is not a molecules run; choose another --out")
    smiles = glm.read_smiles(args.data, args.column, subset_n=args.subset, seed=args.seed)
    data = glm.prepare(smiles, args.repr, max_length=args.max_length, n_jobs=args.prep_jobs)
    if distributed.rank() == 0:
        say(data.report())
    gen.fit(data)
    if distributed.rank() != 0:  # the same fit on every rank; rank 0 writes and reports
        return 0
    gen.save(out)
    say(f"trained {args.model} on {data.n_kept} molecules ({args.repr}, vocabulary "
        f"{len(gen.vocab_)} symbols); saved to {out}")
    return 0


def cmd_sample(args) -> int:
    MoleculeGenerator = _generator_class()

    out = output_file(args.out, args.force)
    gen = MoleculeGenerator.load(args.run)
    draws = gen.sample(args.n, seed=args.seed, temperature=args.temperature, top_p=args.top_p,
                       precision=args.precision, n_jobs=args.jobs)
    valid = [s for s in draws if s]
    _write_csv(out, ["SMILES"], [[s] for s in valid])
    say(f"{len(valid)} valid of {len(draws)} draws (validity {len(valid) / len(draws):.3f}); "
        f"wrote {out}")
    return 0


def _draw_grid(smiles, path: Path, n: int = 24) -> None:
    from rdkit import Chem
    from rdkit.Chem import Draw

    mols = [m for m in (Chem.MolFromSmiles(s) for s in smiles[:n * 2]) if m is not None][:n]
    if not mols:
        return
    img = Draw.MolsToGridImage(mols, molsPerRow=6, subImgSize=(220, 180))
    path.parent.mkdir(parents=True, exist_ok=True)
    img.save(str(path))


def cmd_evaluate(args) -> int:
    import genlearn.molecules as glm
    from genlearn.metrics.molecules import moses_metrics
    MoleculeGenerator = _generator_class()

    gen = MoleculeGenerator.load(args.run)
    test = glm.read_smiles(args.test, args.column)
    if args.samples:
        draws = glm.read_smiles(args.samples, "SMILES")
    else:
        draws = gen.sample(args.n, seed=args.seed)
    m = moses_metrics(draws, test, train=gen.train_smiles_ or None, fcd=not args.no_fcd)
    say(f"MOSES metrics of {m['n_generated']} samples ({m['n_valid']} valid) against "
        f"{len(test)} test molecules" + ("" if args.no_fcd else
                                          " (FCD depends on the sample size: MOSES uses 30,000)"))
    for k, v in m.items():
        if k not in ("n_generated", "n_valid"):
            say(f"  {k:<14} {v:.4f}")
    grid = Path(args.grid) if args.grid else Path(args.run) / "samples.png"
    _draw_grid([s for s in draws if s], grid)
    say(f"sample grid: {grid}")
    if args.json:
        Path(args.json).write_text(json.dumps(m, indent=2) + "\n")
    return 0


def cmd_optimize(args) -> int:
    from genlearn.molecules import properties
    MoleculeGenerator = _generator_class()
    from genlearn.molecules.objectives import Objective

    objective = Objective(args.objective)  # an unknown name fails before any work
    if args.save_agent and args.method != "reinvent":
        raise ValueError("--save-agent applies to --method reinvent (latent search trains "
                         "no model)")
    out = output_file(args.out, args.force)
    gen = MoleculeGenerator.load(args.run)
    res = OPTIMIZERS[args.method](gen, objective, args)
    from rdkit import Chem

    rows = []
    for smi, score in res.top(args.top):
        mol = Chem.MolFromSmiles(smi)
        rows.append([smi, f"{score:.4f}", f"{properties.qed(mol):.4f}",
                     f"{properties.logp(mol):.3f}", f"{properties.sa_score(mol):.3f}",
                     f"{properties.mol_weight(mol):.2f}"])
    _write_csv(out, ["SMILES", "score", "qed", "logp", "sa", "weight"], rows)
    say(f"{args.objective}: {res.oracle_calls} oracle calls, {len(res.scores)} distinct "
        f"molecules; top-1 {res.top_mean(1):.4f}, top-10 mean {res.top_mean(10):.4f}, "
        f"top-100 mean {res.top_mean(100):.4f}; wrote {out}")
    if args.save_agent:
        res.agent.save(args.save_agent)
        say(f"fine-tuned generator saved to {args.save_agent}")
    return 0
