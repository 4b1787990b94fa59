"""Which family generates the best digits? Train several under one time budget and compare.

What it teaches: how to choose a model family with honest numbers. Every family gets the same
training time on the binarized 8x8 digits and is scored on the same held-out digits: the
log-likelihood where the family has one (its estimator is named: a GAN has none), and for all of
them sample metrics in the feature space of a small digit classifier -- Fréchet distance
(lower is better), precision (do samples look real?), recall and coverage (do they cover all the
kinds of digits?), a classifier two-sample test (0.5 = indistinguishable) and the share of
samples that copy a training digit.

What to look at: `compare_digits/report.md`; its last row, the real-data floor, is what real
held-out digits score against real training digits -- the best a model can reach at these
sample sizes. `samples.png` puts real and generated digits side by side, `metrics.png` shows
each metric as bars with the floor as a dashed line, `curves.png` the training curves.
A family that cannot model images (the HMM learns sequences) is listed with the reason.

    python examples/compare_digits.py [--budget 15s] [--models vae,gan] [--out examples/out]
"""

import argparse
from pathlib import Path

import genlearn as gl

WANTED = ("vae", "gan", "rbm", "hmm")  # the ones registered in this genlearn are compared


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--budget", default="15s", help="training time per model")
    ap.add_argument("--epochs", type=int, default=None, help="epochs per model instead")
    ap.add_argument("--models", default=None, help="comma-separated (default: "
                    + ",".join(WANTED) + ", those that exist)")
    ap.add_argument("--samples", type=int, default=None, help="samples per model")
    ap.add_argument("--out", default="examples/out")
    ap.add_argument("--feature-cache", default=None,
                    help="feature-classifier cache (default: OUT/feature_cache)")
    args = ap.parse_args(argv)
    out = Path(args.out)
    models = args.models or ",".join(m for m in WANTED if m in gl.registry.names())

    records = gl.compare("digits", models=models,
                         budget=None if args.epochs else args.budget, epochs=args.epochs,
                         out=out / "compare_digits", n_samples=args.samples, seed=0,
                         feature_cache=args.feature_cache or out / "feature_cache",
                         verbose=False, as_frame=False)
    for r in records:
        if r["status"] not in ("ok", "floor"):
            print(f"{r['model']:>18}: {r['status']} -- {r['reason']}")
            continue
        ll = "     —" if r["log_likelihood"] is None else f"{r['log_likelihood']:6.2f}"
        print(f"{r['model']:>18}: log-lik {ll}  Fréchet {r['frechet_distance']:7.2f}  "
              f"precision {r['precision']:.2f}  recall {r['recall']:.2f}  "
              f"memorised {r['memorisation_share']:.2f}")
    print(f"wrote {out / 'compare_digits' / 'report.md'} and its PNGs")


if __name__ == "__main__":
    main()
