"""Bach chorales in, MIDI out: an RNN-RBM learns the music21 chorales (offline, with the music
extra), writes a new 16-bar piece and completes the opening of a held-out chorale.

    python examples/music_chorales.py --out runs/example_music            (a few minutes)
    python examples/music_chorales.py --pieces 4 --epochs 2 --out /tmp/m  (seconds, a smoke run)

The per-step figure is the JSB metric: nats per quarter-note step, every frame weighted equally.
"""

import argparse
from pathlib import Path

import numpy as np

import genlearn as gl
from genlearn.music import bach_chorales, write_midi
from genlearn.music.render import save_piano_roll


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--pieces", type=int, default=None, help="use the first N chorales only")
    ap.add_argument("--epochs", type=int, default=40)
    ap.add_argument("--hidden", type=int, default=8, help="RBM hidden units per step")
    ap.add_argument("--out", default="runs/example_music")
    args = ap.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)

    rolls = bach_chorales(limit=args.pieces)  # (T, 88) piano rolls, quarter-note steps, in C
    print(f"{len(rolls.train)} training chorales, {len(rolls.test)} held out")
    model = gl.models.RNNRBM(hidden=args.hidden, dropout=0.3, batch_size=8, lr=2e-3,
                             epochs=args.epochs, seed=0)
    model.fit(rolls.train, valid=rolls.valid or None)
    print(f"held-out NLL: {model.nll_per_step(rolls.test):.3f} nats per step "
          f"({model.log_prob_estimator()})")

    piece = model.sample(1, 16 * 4, seed=0)[0]  # 16 bars of 4 quarter notes
    write_midi(piece, out / "piece.mid")
    save_piano_roll(piece, out / "piece.png", title="RNN-RBM, 16 bars")

    opening = rolls.test[0][:8]  # two bars of a held-out chorale
    rest = model.sample(1, 8 * 4, seed=1, prompt=opening)[0]
    completed = np.vstack([opening, rest])
    write_midi(completed, out / "completed.mid")
    save_piano_roll(completed, out / "completed.png", opening=len(opening))
    print(f"wrote {out / 'piece.mid'} and {out / 'completed.mid'} (with .png piano rolls)")


if __name__ == "__main__":
    main()
