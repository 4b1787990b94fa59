"""Musical statistics on hand-made rolls whose answers are known."""

import numpy as np
import pytest

from genlearn.music import metrics

C4 = 60 - 21


def _scale_roll(steps=(0, 2, 4, 5, 7, 9, 11, 12), base=C4, dur=1):
    roll = np.zeros((len(steps) * dur, 88), dtype=np.uint8)
    for i, s in enumerate(steps):
        roll[i * dur:(i + 1) * dur, base + s] = 1
    return roll


def test_pitch_class_histogram_and_key_of_a_c_major_scale():
    r = _scale_roll()
    h = metrics.pitch_class_histogram([r])
    assert h[0] == pytest.approx(2 / 8) and h[1] == 0 and h.sum() == pytest.approx(1)
    assert metrics.estimate_key(r) == (0, "major")
    assert metrics.in_key_share(r) == pytest.approx(1.0)
    chromatic = _scale_roll(steps=tuple(range(12)))
    assert metrics.in_key_share(chromatic) == pytest.approx(7 / 12)
    a_minor = _scale_roll(steps=(0, 2, 3, 5, 7, 8, 11, 12), base=C4 - 3)  # harmonic minor
    assert metrics.estimate_key(a_minor) == (9, "minor")


def test_durations_intervals_polyphony():
    r = _scale_roll(dur=2)
    assert metrics.duration_histogram([r])[1] == pytest.approx(1.0)  # every note 2 steps
    iv = metrics.interval_histogram([r])
    assert iv[metrics.MAX_INTERVAL + 2] == pytest.approx(5 / 7)  # whole tones
    assert iv[metrics.MAX_INTERVAL + 1] == pytest.approx(2 / 7)  # semitones E-F, B-C
    chord = np.zeros((3, 88), np.uint8)
    chord[:2, [C4, C4 + 4, C4 + 7]] = 1
    assert metrics.polyphony([chord]) == pytest.approx(3.0)  # the silent frame is not counted


def test_copied_share_and_frame_accuracy():
    train = [_scale_roll()]
    assert metrics.copied_share([_scale_roll()[2:6]], train, 4) == 1.0
    other = _scale_roll(steps=(0, 1, 2, 3))
    assert metrics.copied_share([other], train, 4) == 0.0
    t = np.zeros((2, 88), np.uint8)
    t[0, [1, 2]] = 1
    p = np.zeros((2, 88), np.uint8)
    p[0, [2, 3]] = 1
    assert metrics.frame_accuracy(p, t) == pytest.approx(1 / 3)  # TP 1, FP 1, FN 1


def test_compare_sets_reports_the_halves_scale():
    held = [_scale_roll(), _scale_roll(base=C4 + 2)]
    res = metrics.compare_sets(held, held, held, window=4)
    assert res["pc_distance"] == 0.0 and res["copied_share_generated"] == 1.0
    assert res["pc_distance_halves"] > 0
