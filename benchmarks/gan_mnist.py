"""DCGAN on MNIST (28x28 grey levels), judged in a digit classifier's feature space, VAE beside.

MNIST is read from a local file (default ../shared/data/mnist.pkl.gz): the 60,000 training
images train every model and the classifier whose penultimate layer is the feature space
(``genlearn.metrics.digit_features``, cached); the 10,000 test images are the reference. For
each model, 10,000 samples against the test images: Fréchet distance (FD, lower is better) and
k-NN precision / recall (k = 5). The floor: 10,000 training images against the test images.
With ``--conditional`` a class-conditional GAN is trained too and its class accuracy is the
share of samples the same classifier assigns to the requested digit. Records
benchmarks/results/gan_mnist.json and sample grids under benchmarks/results/.

    python benchmarks/gan_mnist.py [--epochs 5] [--vae-epochs 10] [--conditional] [--threads 2]
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch
from gan_digits import figures  # FD and precision/recall in the classifier's feature space

import genlearn as gl
from genlearn import viz
from genlearn.metrics import digit_features

GAN_MNIST = dict(generator="dcgan", loss="ns", latent_dim=64, conv_channels=(64, 128),
                 lr_g=2e-4, lr_d=2e-4, betas=(0.5, 0.999), batch_size=128, ema=0.999)
VAE_MNIST = dict(likelihood="bernoulli", latent_dim=32, hidden=(512, 512), batch_size=128)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", default=str(Path(__file__).resolve().parents[2] / "shared" / "data"
                                          / "mnist.pkl.gz"))
    ap.add_argument("--epochs", type=int, default=5, help="GAN epochs")
    ap.add_argument("--vae-epochs", type=int, default=10)
    ap.add_argument("--conditional", action="store_true", help="also a class-conditional GAN")
    ap.add_argument("--n", type=int, default=10_000, help="samples and test images compared")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--out", default=str(Path(__file__).parent / "results"))
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)

    train, test = gl.datasets.load_mnist(path=args.data)
    n = min(args.n, len(test.X))
    Xte = test.X[:n]
    space = digit_features(train.X, train.y)
    rng = np.random.default_rng(args.seed)
    rows = {"real train (floor)": figures(space, Xte, train.X[rng.choice(len(train.X), n,
                                                                         replace=False)])}
    print(f"feature classifier: train accuracy {space.train_accuracy_:.3f}; test accuracy "
          f"{np.mean(space.predict(test.X) == test.y):.4f}", flush=True)
    results = {"config_gan": {**GAN_MNIST, "epochs": args.epochs},
               "config_vae": {**VAE_MNIST, "epochs": args.vae_epochs},
               "features": space.describe(), "n": n, "threads": args.threads}
    images = train.X.reshape(-1, 28, 28)

    def report(name):
        return lambda epoch, rec: print(f"  {name} epoch {epoch}: loss_d {rec['loss_d']:.3f} "
                                        f"loss_g {rec['loss_g']:.3f}", flush=True)

    t0 = time.perf_counter()
    gan = gl.GAN(**GAN_MNIST, epochs=args.epochs, seed=args.seed, verbose=False)
    gan.fit(images, callback=report("GAN"))
    results["gan_seconds"] = time.perf_counter() - t0
    fake = gan.sample(n, seed=args.seed).reshape(n, -1)
    rows["GAN (DCGAN, EMA)"] = figures(space, Xte, fake)
    viz.save_image_grid(fake[:64], out / "gan_mnist_samples.png", image_shape=(28, 28),
                        title=f"DCGAN, {args.epochs} epochs: 64 samples")
    print(f"GAN: {results['gan_seconds']:.0f} s, FD {rows['GAN (DCGAN, EMA)']['fd']:.2f}",
          flush=True)

    if args.conditional:
        t0 = time.perf_counter()
        cgan = gl.GAN(**GAN_MNIST, epochs=args.epochs, seed=args.seed, verbose=False)
        cgan.fit(images, train.y, callback=report("conditional GAN"))
        results["cgan_seconds"] = time.perf_counter() - t0
        want = np.resize(np.arange(10), n)
        cfake = cgan.sample(n, y=want, seed=args.seed).reshape(n, -1)
        rows["conditional GAN"] = figures(space, Xte, cfake)
        results["conditional_accuracy"] = float(np.mean(space.predict(cfake) == want))
        order = np.argsort(np.resize(np.arange(10), 100), kind="stable")
        viz.save_image_grid(cgan.sample(100, y=np.resize(np.arange(10), 100)[order], seed=1),
                            out / "gan_mnist_conditional.png", image_shape=(28, 28),
                            title="conditional DCGAN: ten of each digit")

    t0 = time.perf_counter()
    vae = gl.VAE(**VAE_MNIST, epochs=args.vae_epochs, seed=args.seed, verbose=False).fit(train.X)
    results["vae_seconds"] = time.perf_counter() - t0
    rows["VAE (E[x|z])"] = figures(space, Xte, vae.sample(n, seed=args.seed, mean=True))

    results["rows"] = rows
    print(f"{'':<22} {'FD':>8} {'precision':>10} {'recall':>8}")
    for name, r in rows.items():
        print(f"{name:<22} {r['fd']:>8.2f} {r['precision']:>10.3f} {r['recall']:>8.3f}")
    if args.conditional:
        print(f"conditional GAN: requested digit recognised in "
              f"{100 * results['conditional_accuracy']:.1f}% of {n} samples")
    print("training seconds: " + ", ".join(f"{k[:-8]} {v:.0f}" for k, v in results.items()
                                            if k.endswith("_seconds")))
    path = out / "gan_mnist.json"
    path.write_text(json.dumps(results, indent=2))
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
