"""Test log-likelihood of MLP and convolutional VAEs on binarized MNIST (threshold 0.5).

MNIST is read from a local file (default ../shared/data/mnist.pkl.gz; any path that
``genlearn.datasets.load_mnist`` accepts): train on the 60,000 training images, report the
importance-weighted NLL (k=5000 by default) on the 10,000 test images, with the training time.
Published reference: one-layer VAE 86.76 nats (Burda et al. 2015, Table 1; stochastically
binarized MNIST, which is a harder target than thresholding).

    python benchmarks/vae_mnist.py --arch mlp --epochs 40 [--k 5000] [--n-test 10000]
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch

import genlearn as gl

ARCHS = {
    "mlp": dict(latent_dim=32, hidden=(512, 512), prior="mog", prior_components=50,
                objective="iwae", train_samples=5),
    "conv": dict(latent_dim=32, hidden=(512,), architecture="conv", conv_channels=(32, 64),
                 prior="mog", prior_components=50, objective="elbo"),
}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", default=str(Path(__file__).resolve().parents[2] / "shared" / "data"
                                          / "mnist.pkl.gz"))
    ap.add_argument("--arch", choices=sorted(ARCHS), default="mlp")
    ap.add_argument("--epochs", type=int, default=40)
    ap.add_argument("--batch-size", type=int, default=100)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--k", type=int, default=5000)
    ap.add_argument("--n-test", type=int, default=10000, help="test images to evaluate")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=2, help="torch CPU threads")
    ap.add_argument("--save", default=None, help="checkpoint folder for the trained model")
    ap.add_argument("--load", default=None, help="evaluate this checkpoint instead of training")
    ap.add_argument("--out", default=None, help="JSON record (default results/vae_mnist_ARCH.json)")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    train, test = gl.datasets.load_mnist(path=args.data)
    Xtr = (train.X > 0.5).astype(np.float32)
    Xte = (test.X > 0.5).astype(np.float32)[: args.n_test]
    if args.load:
        model, seconds = gl.load(args.load), None
        print(f"loaded {args.load}: {model.epochs_trained_} epochs")
    else:
        model = gl.VAE(**ARCHS[args.arch], epochs=args.epochs, batch_size=args.batch_size,
                       lr=args.lr, seed=args.seed, device="cpu", verbose=False)
        t0 = time.perf_counter()

        def report(epoch, record):
            print(f"epoch {epoch}: training bound {-record['loss']:.2f} "
                  f"({time.perf_counter() - t0:.0f} s)", flush=True)

        model.fit(Xtr, callback=report)
        seconds = time.perf_counter() - t0
        if args.save:
            model.save(args.save)
    t1 = time.perf_counter()
    lp = model.log_prob(Xte, k=args.k, seed=0)
    eval_s = time.perf_counter() - t1
    nll, se = float(-lp.mean()), float(lp.std(ddof=1) / np.sqrt(len(lp)))
    elbo = float(-model.elbo(Xte).mean())
    print(f"{args.arch} VAE: test NLL {nll:.2f} +- {se:.2f} nats (IWAE k={args.k}, "
          f"{len(Xte)} test images), -ELBO {elbo:.2f}; train "
          f"{'n/a' if seconds is None else f'{seconds:.0f} s'} on "
          f"{torch.get_num_threads()} threads, eval {eval_s:.0f} s")
    out = Path(args.out or Path(__file__).parent / "results" / f"vae_mnist_{args.arch}.json")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({
        "arch": args.arch, "params": {k: list(v) if isinstance(v, tuple) else v
                                      for k, v in model.get_params().items()},
        "epochs": model.epochs_trained_, "train_s": seconds, "test_nll": nll, "test_nll_se": se,
        "neg_elbo": elbo, "k": args.k, "n_test": len(Xte), "eval_s": eval_s,
        "binarization": "threshold 0.5"}, indent=2) + "\n")
    print(f"recorded in {out}")


if __name__ == "__main__":
    main()
