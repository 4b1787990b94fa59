"""GAN and conditional GAN on the 8x8 digits, judged in a digit classifier's feature space.

Data: scikit-learn's digits scaled to [0, 1] (grey levels, not binarized), 80/20 split with
seed 0. The feature space is the penultimate layer of the classifier that
``genlearn.metrics.digit_features`` trains once on the training split (and caches). For each
generator, as many samples as held-out images; Fréchet distance (FD) and precision / recall
(k = 5 nearest neighbours) against the held-out images. The floor: the held-out images against
an equally large part of the training images. The VAE of the same data is reported beside the
GAN. The conditional GAN draws the same number of each digit; its class accuracy is the share
the same classifier assigns to the requested digit. Records benchmarks/results/gan_digits.json
and sample grids under benchmarks/results/.

    python benchmarks/gan_digits.py [--epochs 100] [--seed 0]
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch

import genlearn as gl
from genlearn import viz
from genlearn.metrics import digit_features, frechet_distance, prdc

GAN_DIGITS = dict(generator="dcgan", loss="ns", latent_dim=32, conv_channels=(64, 128),
                  lr_g=2e-4, lr_d=2e-4, betas=(0.5, 0.999), batch_size=64, ema=0.999)
VAE_DIGITS = dict(likelihood="bernoulli", latent_dim=16, hidden=(256, 256), epochs=200)


def figures(space, real_test, fake) -> dict:
    ft, ff = space(real_test), space(fake)
    return {"fd": frechet_distance(ft, ff), **prdc(ft, ff, k=5)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--epochs", type=int, default=100)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--out", default=str(Path(__file__).parent / "results"))
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    out = Path(args.out)

    train, test = gl.datasets.load("digits", split=0.8, seed=0)
    space = digit_features(train.X, train.y)
    n = len(test.X)
    rng = np.random.default_rng(args.seed)
    floor_rows = rng.choice(len(train.X), size=n, replace=False)
    rows = {"real train (floor)": figures(space, test.X, train.X[floor_rows])}
    print(f"feature classifier: train accuracy {space.train_accuracy_:.3f}; test accuracy "
          f"{np.mean(space.predict(test.X) == test.y):.3f}", flush=True)

    results = {"config_gan": {**GAN_DIGITS, "epochs": args.epochs}, "config_vae": VAE_DIGITS,
               "features": space.describe(), "n_test": n}
    t0 = time.perf_counter()
    gan = gl.GAN(**GAN_DIGITS, epochs=args.epochs, seed=args.seed, verbose=False).fit(
        train.X.reshape(-1, 8, 8))
    results["gan_seconds"] = time.perf_counter() - t0
    fake = gan.sample(n, seed=args.seed).reshape(n, -1)
    rows["GAN (dcgan, EMA)"] = figures(space, test.X, fake)
    viz.save_image_grid(fake[:64], out / "gan_digits_samples.png", image_shape=(8, 8),
                        title="GAN: 64 samples")

    t0 = time.perf_counter()
    cgan = gl.GAN(**GAN_DIGITS, epochs=args.epochs, seed=args.seed, verbose=False).fit(
        train.X.reshape(-1, 8, 8), train.y)
    results["cgan_seconds"] = time.perf_counter() - t0
    want = np.resize(np.arange(10), n)
    cfake = cgan.sample(n, y=want, seed=args.seed).reshape(n, -1)
    rows["conditional GAN"] = figures(space, test.X, cfake)
    per_class = {int(k): float(np.mean(space.predict(cfake[want == k]) == k)) for k in range(10)}
    results["conditional_accuracy"] = float(np.mean(space.predict(cfake) == want))
    results["conditional_accuracy_per_class"] = per_class
    order = np.argsort(np.resize(np.arange(10), 100), kind="stable")
    viz.save_image_grid(cgan.sample(100, y=np.resize(np.arange(10), 100)[order], seed=1),
                        out / "gan_digits_conditional.png", image_shape=(8, 8),
                        title="conditional GAN: ten of each digit")

    t0 = time.perf_counter()
    vae = gl.VAE(**VAE_DIGITS, seed=args.seed, verbose=False).fit(train.X)
    results["vae_seconds"] = time.perf_counter() - t0
    rows["VAE (E[x|z])"] = figures(space, test.X, vae.sample(n, seed=args.seed, mean=True))

    results["rows"] = rows
    print(f"{'':<22} {'FD':>8} {'precision':>10} {'recall':>8}")
    for name, r in rows.items():
        print(f"{name:<22} {r['fd']:>8.2f} {r['precision']:>10.3f} {r['recall']:>8.3f}")
    print(f"conditional GAN: requested digit recognised in "
          f"{100 * results['conditional_accuracy']:.1f}% of {n} samples (per digit "
          f"{min(per_class.values()) * 100:.0f}%..{max(per_class.values()) * 100:.0f}%)")
    print(f"training seconds: GAN {results['gan_seconds']:.0f}, conditional GAN "
          f"{results['cgan_seconds']:.0f}, VAE {results['vae_seconds']:.0f}")
    path = out / "gan_digits.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(results, indent=2))
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
