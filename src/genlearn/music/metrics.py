"""Musical statistics of piano rolls, to compare generated pieces with held-out ones.

- **pitch-class histogram**: the share of sounding (frame, key) cells in each of the 12 pitch
  classes; sets of pieces are compared by the L1 distance of their pooled histograms (0..2).
- **in-key share**: per piece, the key is found by the Krumhansl-Schmuckler method
  (correlation of its pitch-class histogram with the Krumhansl-Kessler major and minor
  profiles, 24 keys); the share is the fraction of sounding cells whose pitch class lies in
  that key's scale (major, or harmonic minor: natural minor plus the raised 7th).
- **note durations** (in steps, 1..8, longer counted as 8) and **melodic intervals** of the top
  voice (semitones between successive distinct highest notes, -12..12, wider clipped):
  normalised histograms, compared by L1 distance.
- **polyphony**: mean number of sounding keys per frame, over frames with at least one.
- **copied passages**: the share of a piece's windows of ``window`` steps (every offset,
  silent windows excluded) that occur exactly somewhere in the training pieces.
- **frame accuracy** (Bay et al. 2009, as Boulanger-Lewandowski et al. 2012 report it):
  sum TP / sum (TP + FP + FN) over frames, of predicted against true frames.
"""

from __future__ import annotations

import numpy as np

from .data import LOWEST_PITCH
from .midi import roll_to_notes

MAJOR_PROFILE = np.array([6.35, 2.23, 3.48, 2.33, 4.38, 4.09, 2.52, 5.19, 2.39, 3.66, 2.29, 2.88])
MINOR_PROFILE = np.array([6.33, 2.68, 3.52, 5.38, 2.60, 3.53, 2.54, 4.75, 3.98, 2.69, 3.34, 3.17])
MAJOR_SCALE = (0, 2, 4, 5, 7, 9, 11)
HARMONIC_MINOR = (0, 2, 3, 5, 7, 8, 10, 11)
MAX_DURATION = 8
MAX_INTERVAL = 12


def pitch_class_histogram(rolls) -> np.ndarray:
    """Share of sounding cells per pitch class (C = 0), pooled over the pieces: (12,)."""
    counts = np.zeros(12)
    for r in rolls:
        r = np.asarray(r)
        per_key = r.sum(0)
        pcs = (LOWEST_PITCH + np.arange(r.shape[1])) % 12
        counts += np.bincount(pcs, weights=per_key, minlength=12)
    return counts / max(counts.sum(), 1)


def estimate_key(roll) -> tuple[int, str]:
    """(tonic pitch class, "major" or "minor") by the Krumhansl-Schmuckler correlation."""
    h = pitch_class_histogram([roll])
    best, key = -np.inf, (0, "major")
    for mode, prof in (("major", MAJOR_PROFILE), ("minor", MINOR_PROFILE)):
        for tonic in range(12):
            c = np.corrcoef(h, np.roll(prof, tonic))[0, 1] if h.std() > 0 else 0.0
            if c > best:
                best, key = c, (tonic, mode)
    return key


def in_key_share(roll) -> float:
    """Fraction of sounding cells in the scale of the piece's estimated key (nan if silent)."""
    roll = np.asarray(roll)
    if not roll.any():
        return float("nan")
    tonic, mode = estimate_key(roll)
    scale = {(tonic + s) % 12 for s in (MAJOR_SCALE if mode == "major" else HARMONIC_MINOR)}
    h = pitch_class_histogram([roll])
    return float(sum(h[pc] for pc in scale))


def duration_histogram(rolls) -> np.ndarray:
    """Note durations in steps, 1..MAX_DURATION (last bin: that or longer): (MAX_DURATION,)."""
    counts = np.zeros(MAX_DURATION)
    for r in rolls:
        for _, s, e in roll_to_notes(r):
            counts[min(e - s, MAX_DURATION) - 1] += 1
    return counts / max(counts.sum(), 1)


def top_voice(roll) -> np.ndarray:
    """The highest sounding pitch of each non-silent frame, repeated notes merged."""
    roll = np.asarray(roll)
    on = roll.any(1)
    top = roll.shape[1] - 1 - np.argmax(roll[:, ::-1], axis=1)
    top = top[on]
    if top.size == 0:
        return top
    keep = np.concatenate([[True], top[1:] != top[:-1]])
    return top[keep] + LOWEST_PITCH


def interval_histogram(rolls) -> np.ndarray:
    """Melodic intervals of the top voice, -MAX_INTERVAL..MAX_INTERVAL semitones: (25,)."""
    counts = np.zeros(2 * MAX_INTERVAL + 1)
    for r in rolls:
        d = np.clip(np.diff(top_voice(r)), -MAX_INTERVAL, MAX_INTERVAL)
        counts += np.bincount(d + MAX_INTERVAL, minlength=2 * MAX_INTERVAL + 1)
    return counts / max(counts.sum(), 1)


def polyphony(rolls) -> float:
    """Mean number of sounding keys over the frames that have at least one."""
    frames = np.concatenate([np.asarray(r) for r in rolls])
    n = frames.sum(1)
    return float(n[n > 0].mean()) if (n > 0).any() else 0.0


def _windows(roll, window: int):
    roll = np.ascontiguousarray(np.asarray(roll, dtype=np.uint8))
    for s in range(0, len(roll) - window + 1):
        w = roll[s:s + window]
        if w.any():
            yield w.tobytes()


def copied_share(pieces, training, window: int) -> float:
    """Share of the pieces' non-silent windows of ``window`` steps found in ``training``."""
    seen = {w for r in training for w in _windows(r, window)}
    hits = total = 0
    for r in pieces:
        for w in _windows(r, window):
            total += 1
            hits += w in seen
    return hits / total if total else 0.0


def frame_accuracy(predicted, true) -> float:
    """sum TP / sum (TP + FP + FN) over all frames of the pieces (1 when both are silent)."""
    tp = fp = fn = 0
    for p, t in zip(predicted, true, strict=True):
        p, t = np.asarray(p) > 0, np.asarray(t) > 0
        tp += int((p & t).sum())
        fp += int((p & ~t).sum())
        fn += int((~p & t).sum())
    return tp / (tp + fp + fn) if tp + fp + fn else 1.0


def l1(a, b) -> float:
    return float(np.abs(np.asarray(a) - np.asarray(b)).sum())


def compare_sets(generated, held_out, training, *, window: int) -> dict:
    """Every statistic of the generated pieces beside the held-out pieces', and the distances.

    ``pc_distance_halves`` is the distance between two halves of the held-out set: the scale
    against which ``pc_distance`` (generated vs held-out) is judged.
    """
    half = len(held_out) // 2
    ik_gen = [in_key_share(r) for r in generated if np.asarray(r).any()]
    ik_ref = [in_key_share(r) for r in held_out]
    return {
        "pc_distance": l1(pitch_class_histogram(generated), pitch_class_histogram(held_out)),
        "pc_distance_halves": l1(pitch_class_histogram(held_out[:half]),
                                 pitch_class_histogram(held_out[half:])),
        "in_key_generated": float(np.mean(ik_gen)) if ik_gen else float("nan"),
        "in_key_held_out": float(np.nanmean(ik_ref)),
        "duration_distance": l1(duration_histogram(generated), duration_histogram(held_out)),
        "duration_distance_halves": l1(duration_histogram(held_out[:half]),
                                       duration_histogram(held_out[half:])),
        "interval_distance": l1(interval_histogram(generated), interval_histogram(held_out)),
        "interval_distance_halves": l1(interval_histogram(held_out[:half]),
                                       interval_histogram(held_out[half:])),
        "polyphony_generated": polyphony(generated),
        "polyphony_held_out": polyphony(held_out),
        "copied_share_generated": copied_share(generated, training, window),
        "copied_share_held_out": copied_share(held_out, training, window),
        "window_steps": window,
    }
