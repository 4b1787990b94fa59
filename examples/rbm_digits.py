"""RBM on handwritten digits: an exact log-likelihood, and how far AIS can be trusted.

What it teaches: an RBM's log-likelihood is log p(v) = -F(v) - log Z, where the free energy F is
cheap and the partition function Z is the hard part. With 20 hidden units genlearn sums Z
exactly over all 2^20 hidden states; annealed importance sampling (AIS) estimates it for
models too big to enumerate, and reports a standard error. The script trains gl.RBM with its
defaults, prints the exact held-out log-likelihood (about -17.8 nats per image; independent
pixels get -24.7), compares AIS with the exact log Z for a few numbers of chains (the error
and the reported standard error shrink together), and writes a grid of samples drawn by
continuing the model's persistent Gibbs chains (`rbm_digits_samples.png`).

    python examples/rbm_digits.py [--epochs 200] [--out examples/out]
"""

import argparse
from pathlib import Path

import genlearn as gl
from genlearn import viz


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--epochs", type=int, default=200)
    ap.add_argument("--n-betas", type=int, default=10000, help="AIS temperatures")
    ap.add_argument("--out", default="examples/out")
    args = ap.parse_args(argv)
    out = Path(args.out)

    train, test = gl.datasets.load("digits", binarize=True, split=0.8, seed=0)
    model = gl.RBM(n_hidden=20, epochs=args.epochs, seed=0).fit(train.X)
    exact = model.log_partition("exact")
    print(f"exact log Z = {exact.log_z:.4f} ({exact.detail})")
    print(f"held-out log-likelihood: {model.score(test.X):.3f} nats per image (exact); "
          f"pseudo-log-likelihood {model.pseudo_log_likelihood(test.X).mean():.3f} (not a "
          "log-likelihood)")
    for chains in (10, 100, 1000):
        ais = model.log_partition("ais", n_chains=chains, n_betas=args.n_betas, seed=1)
        print(f"AIS, {chains:4d} chains: log Z = {ais.log_z:.4f} +- {ais.stderr:.4f}  "
              f"(error {ais.log_z - exact.log_z:+.4f})")

    samples = model.sample(64, burn_in=1000, gibbs_steps=100, seed=0, mean=True)
    path = viz.save_image_grid(samples, out / "rbm_digits_samples.png", image_shape=(8, 8),
                               title="64 samples from persistent chains")
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
