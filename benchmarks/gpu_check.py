"""The GPU check of issue 15: one short script for a lent GPU machine.

For every torch family it fits a small model on the GPU, samples, scores and saves it, loads the
checkpoint on the CPU and checks that the CPU scores the same weights to a tolerance (the
likelihood code is the same; only the device and, for the Transformer/RNN, bf16 autocast in
training differ). Then it records the GPU timings the issue asks for:

- VAE on MNIST (784 binary pixels, 50,000 rows; the real file when it is at
  ``--mnist``, else random binary rows of the same shape, said in the output): seconds per epoch;
- HMM EM at 256 and 512 states on 100,000 symbols: seconds per iteration on the GPU, beside
  hmmlearn's CategoricalHMM on the CPU from the same start;
- the Transformer: training tokens per second and sampling tokens per second (KV cache).

    python benchmarks/gpu_check.py                  # on the GPU machine; writes $OUT or results/
    python benchmarks/gpu_check.py --smoke --device cpu   # seconds-long dry run (a test runs it)

Nothing here downloads anything. The figures go to ``gpu_check.json`` (in ``$OUT`` when that is
set, else ``benchmarks/results/``) and are printed as they come, so a run cut short still says
what it measured.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
import traceback
from pathlib import Path

import numpy as np
import torch

import genlearn as gl

RESULTS: dict = {}


def _record(key: str, value) -> None:
    RESULTS[key] = value
    print(f"{key}: {json.dumps(value, default=str)}", flush=True)


def _sync(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.synchronize()


def _digits_binary() -> np.ndarray:
    X = gl.datasets.load("digits", binarize=True, split=None).X
    return X.reshape(len(X), -1)


def _sequences(n: int, length: int, n_symbols: int, seed: int) -> list[np.ndarray]:
    """Sequences from a random sticky Markov chain (structure for the models to find)."""
    rng = np.random.default_rng(seed)
    trans = rng.dirichlet(np.full(n_symbols, 0.3), size=n_symbols)
    out = []
    for _ in range(n):
        s = np.empty(length, dtype=np.int64)
        s[0] = rng.integers(n_symbols)
        for t in range(1, length):
            s[t] = rng.choice(n_symbols, p=trans[s[t - 1]])
        out.append(s)
    return out


def _families(smoke: bool, device: str) -> dict:
    """name -> (estimator, training data, held-out data, fit kwargs)."""
    X = _digits_binary()
    tr, te = (X[:200], X[1500:1600]) if smoke else (X[:1500], X[1500:])
    seqs = _sequences(40 if smoke else 200, 30, 8, 0)
    s_tr, s_te = seqs[: len(seqs) * 3 // 4], seqs[len(seqs) * 3 // 4:]
    ep = 1 if smoke else 5
    common = dict(seed=0, device=device, verbose=False)
    return {
        "vae": (gl.VAE(epochs=ep, iw_samples=50, **common), tr, te),
        "gan": (gl.GAN(epochs=ep, **common), tr, te),
        "rbm": (gl.RBM(n_hidden=12, epochs=ep, **common), tr, te),
        "dbn": (gl.DBN(layers=(32, 12), epochs=ep, **common), tr, te),
        "hmm": (gl.HMM(n_states=4, n_iter=5 if smoke else 20, **common), s_tr, s_te),
        "transformer": (gl.Transformer(n_layer=2, n_head=2, n_embd=32, block_size=32,
                                       epochs=ep, **common), s_tr, s_te),
        "rnn": (gl.RNN(n_layer=1, hidden=32, epochs=ep, **common), s_tr, s_te),
    }


def _other_families(done, device: str) -> dict:
    """Every other registered model with a ``device`` (the music frame models, the sequence
    VAE, ...) on its contract example (``_contract_example``: tiny data and settings)."""
    out = {}
    for name in gl.registry.names():
        cls = gl.registry.get(name)
        if name in done or "device" not in cls().get_params():
            continue
        try:
            ex = cls._contract_example()
        except NotImplementedError:
            continue
        model = cls(**{**ex["params"], "device": device})
        out[name] = (model, ex["X"], ex["X"][:4], ex.get("sample", {}))
    return out


def check_families(smoke: bool, device: str) -> None:
    """Fit, sample, score, save on ``device``; load on the CPU; compare the scores."""
    families = {k: (*v, None) for k, v in _families(smoke, device).items()}
    families.update(_other_families(families, device))
    for name, (model, train, test, sample_kw) in families.items():
        entry: dict = {}
        try:
            t0 = time.perf_counter()
            model.fit(train)
            _sync(device)
            entry["fit_s"] = round(time.perf_counter() - t0, 3)
            if sample_kw is not None:  # a contract example says how to sample
                drawn = model.sample(4, seed=0, **sample_kw)
                entry["sample_lengths"] = [len(s) for s in drawn]
            elif model.input_kind == "sequences":
                drawn = model.sample(4, 20, seed=0)
                entry["sample_lengths"] = [len(s) for s in drawn]
            else:
                drawn = model.sample(4, seed=0)
                entry["sample_shape"] = list(np.asarray(drawn).shape)
            with tempfile.TemporaryDirectory() as tmp:
                model.save(Path(tmp) / name)
                on_cpu = gl.load(Path(tmp) / name, device="cpu")
            if model.has_likelihood:
                here, there = float(model.score(test)), float(on_cpu.score(test))
                entry.update(score_device=here, score_cpu=there,
                             rel_diff=abs(here - there) / max(1.0, abs(there)))
                entry["agrees"] = entry["rel_diff"] < 1e-2
            else:
                again = on_cpu.sample(4, seed=0, **(sample_kw or {}))
                entry["agrees"] = all(bool(np.all(np.isfinite(np.asarray(a, dtype=float))))
                                      for a in (again if isinstance(again, list) else [again]))
            entry["estimator"] = (model.log_prob_estimator() if model.has_likelihood
                                  else "no likelihood")
        except Exception as exc:  # one family failing must not hide the others' figures
            entry["error"] = f"{type(exc).__name__}: {exc}"
            traceback.print_exc()
        _record(f"family.{name}", entry)


def time_vae_mnist(smoke: bool, device: str, mnist: Path) -> None:
    n = 300 if smoke else 50_000
    source = "random binary rows"
    if mnist.is_file():
        import gzip
        import pickle  # the trusted benchmark file only; genlearn itself never unpickles

        with gzip.open(mnist) as fh:
            (X, _), _, _ = pickle.load(fh, encoding="latin1")
        X = (X[:n] > 0.5).astype(np.float32)
        source = str(mnist)
    else:
        X = (np.random.default_rng(0).random((n, 784)) < 0.13).astype(np.float32)
    model = gl.VAE(latent_dim=32, hidden=(512, 256), epochs=2 if smoke else 3, batch_size=128,
                   seed=0, device=device, verbose=False).fit(X)
    per_epoch = [round(r["time"], 3) for r in model.history_]
    _record("vae_mnist", {"data": source, "rows": n, "seconds_per_epoch": per_epoch,
                          "steady_state_s": per_epoch[-1]})


def time_hmm(smoke: bool, device: str) -> None:
    n_symbols, T = 64, 2000 if smoke else 100_000
    rng = np.random.default_rng(0)
    X = rng.integers(0, n_symbols, size=T)
    for K in ((8,) if smoke else (256, 512)):
        iters = 3
        hmm = gl.HMM(n_states=K, emission="categorical", n_iter=iters, tol=0.0, seed=0,
                     device=device, verbose=False)
        _sync(device)
        t0 = time.perf_counter()
        hmm.fit([X])
        _sync(device)
        gpu = (time.perf_counter() - t0) / iters
        entry = {"states": K, "symbols": T, "device_s_per_iter": round(gpu, 4)}
        try:
            from hmmlearn.hmm import CategoricalHMM

            ref = CategoricalHMM(n_components=K, n_iter=2, tol=0.0, random_state=0,
                                 init_params="ste")
            t0 = time.perf_counter()
            ref.fit(X.reshape(-1, 1))
            cpu = (time.perf_counter() - t0) / 2
            entry.update(hmmlearn_cpu_s_per_iter=round(cpu, 4), speedup=round(cpu / gpu, 1))
        except ImportError:
            entry["hmmlearn"] = "not installed"
        _record(f"hmm_em_{K}", entry)


def time_transformer(smoke: bool, device: str) -> None:
    seqs = _sequences(20 if smoke else 400, 256, 65, 1)
    model = gl.Transformer(n_layer=2 if smoke else 6, n_head=2 if smoke else 6,
                           n_embd=32 if smoke else 384, block_size=128 if smoke else 256,
                           epochs=1, batch_size=16 if smoke else 64, val_fraction=0.1,
                           seed=0, device=device, verbose=False)
    t0 = time.perf_counter()
    model.fit(seqs)
    _sync(device)
    train_s = time.perf_counter() - t0
    tokens = sum(len(s) + 1 for s in seqs) * 0.9
    length = 64 if smoke else 512
    t0 = time.perf_counter()
    model.sample(8, length, seed=0)
    _sync(device)
    sample_s = time.perf_counter() - t0
    _record("transformer", {"train_tokens_per_s": round(tokens / train_s),
                            "sample_tokens_per_s": round(8 * length / sample_s),
                            "sample_length": length})


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--smoke", action="store_true", help="tiny sizes: a seconds-long run")
    parser.add_argument("--mnist", type=Path, default=Path("../shared/data/mnist.pkl.gz"))
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args(argv)
    if args.device.startswith("cuda") and not torch.cuda.is_available():
        print("no CUDA device here: run this on the GPU machine, or --device cpu --smoke",
              file=sys.stderr)
        return 2
    torch.set_num_threads(min(4, os.cpu_count() or 1))
    card = torch.cuda.get_device_name(0) if args.device.startswith("cuda") else platform.processor()
    _record("machine", {"device": args.device, "card": card, "torch": torch.__version__,
                        "genlearn": gl.__version__})
    stages = {"families": lambda: check_families(args.smoke, args.device),
              "vae_mnist": lambda: time_vae_mnist(args.smoke, args.device, args.mnist),
              "hmm": lambda: time_hmm(args.smoke, args.device),
              "transformer": lambda: time_transformer(args.smoke, args.device)}
    for stage_name, stage in stages.items():
        try:
            stage()
        except Exception as exc:  # said in the summary, not only in a traceback
            traceback.print_exc()
            _record(f"stage.{stage_name}", {"error": f"{type(exc).__name__}: {exc}"})
    out = args.out or Path(os.environ.get("OUT") or Path(__file__).parent / "results")
    out.mkdir(parents=True, exist_ok=True)
    name = "gpu_check_smoke.json" if args.smoke else "gpu_check.json"
    (out / name).write_text(json.dumps(RESULTS, indent=2, default=str) + "\n")
    bad = [k for k, v in RESULTS.items() if (k.startswith("family.") and not v.get("agrees"))
           or k.startswith("stage.")]
    print("families or stages that failed or disagree:", ", ".join(bad) or "none")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
