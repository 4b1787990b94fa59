"""Train a GAN on the ring of 8 and the grid of 25 Gaussians and plot its samples over the modes.

    python examples/gan_modes.py [--epochs 50] [--out runs/gan_modes]

Writes gan_modes.png: for each data set, 2,500 samples (dots) over the mode centres (circles of
3 std, the "high quality" radius), with the mode-coverage figures in the title. The settings
are those of benchmarks/gan_modes.py (about 50 s per data set on one CPU core): PacGAN packing,
a categorical latent code with a few categories per mode, and learning rates that fall to
zero over the second half of training.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

import genlearn as gl
from genlearn import viz
from genlearn.datasets import toy2d, toy2d_modes, toy2d_std
from genlearn.metrics import mode_coverage

SETTINGS = dict(loss="ns", latent_dim=16, hidden_g=(128, 128, 128), hidden_d=(128, 128, 128),
                lr_g=1e-3, lr_d=1e-3, betas=(0.5, 0.9), batch_size=256, pack=4,
                gradient_penalty=1.0, lr_decay=0.5)
PER_DATA = {"ring": dict(fourier_scale=20.0, latent_categories=64),
            "grid": dict(fourier_scale=10.0, latent_categories=100)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--epochs", type=int, default=50, help="passes over 25,600 points")
    ap.add_argument("--rows", type=int, default=25_600, help="training points per data set")
    ap.add_argument("--out", default="runs/gan_modes")
    args = ap.parse_args()

    plt = viz._pyplot()
    fig, axes = plt.subplots(1, 2, figsize=(10, 5))
    for ax, name in zip(axes, ("ring", "grid"), strict=True):
        X = toy2d(name, n_samples=args.rows, seed=1).X
        t0 = time.perf_counter()
        model = gl.GAN(**SETTINGS, **PER_DATA[name], epochs=args.epochs, seed=0,
                       verbose=False).fit(X)
        seconds = time.perf_counter() - t0
        samples = model.sample(2500, seed=0)
        modes, std = toy2d_modes(name), toy2d_std(name)
        r = mode_coverage(samples, modes, std)
        print(f"{name}: {r['modes_captured']}/{r['n_modes']} modes, "
              f"{100 * r['high_quality']:.1f}% high quality, reverse KL {r['reverse_kl']:.3f} "
              f"({seconds:.0f} s)")
        viz.draw_scatter(ax, samples, modes=modes, radius=3 * std)
        lim = np.abs(modes).max() + 1.0  # frame the modes; far-off samples fall outside
        ax.set_xlim(-lim, lim)
        ax.set_ylim(-lim, lim)
        ax.set_title(f"{name}: {r['modes_captured']}/{r['n_modes']} modes, "
                     f"{100 * r['high_quality']:.0f}% high quality", fontsize=10)
    path = viz._save_figure(fig, Path(args.out) / "gan_modes.png")
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
