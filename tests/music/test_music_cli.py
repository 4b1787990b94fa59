"""``genlearn music train / generate / continue / evaluate`` on a tiny corpus written here."""

import json

import mido
import numpy as np
import pytest
from scipy.io import savemat

from genlearn.cli import main
from genlearn.music.midi import read_midi, write_midi

ARPEGGIO = [39, 43, 46, 51]  # C4 E4 G4 C5 as key indices


def _piece(T, shift=0):
    r = np.zeros((T, 88), np.uint8)
    for t in range(T):
        r[t, ARPEGGIO[(t + shift) % 4]] = 1
        r[t, 27] = 1  # a held C3
    return r


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    root = tmp_path_factory.mktemp("music")
    cells = {}
    for key, k in zip(("traindata", "validdata", "testdata"), (6, 2, 2), strict=True):
        arr = np.empty((1, k), dtype=object)
        for i in range(k):
            arr[0, i] = _piece(16 + i, shift=i)
        cells[key] = arr
    savemat(str(root / "tiny.mat"), cells)
    return root


@pytest.fixture(scope="module")
def run(corpus):
    out = corpus / "run"
    assert main(["music", "train", "--corpus", str(corpus / "tiny.mat"), "--model", "rnnrbm",
                 "--epochs", "15", "--lr", "0.02", "--units", "16", "--hidden", "4",
                 "--out", str(out), "-q"]) == 0
    return out


def test_generate_writes_midi_and_png(run, tmp_path, capsys):
    out = tmp_path / "piece.mid"
    argv = ["music", "generate", str(run), "--bars", "2", "-o", str(out), "--seed", "0"]
    assert main(argv + ["--temperature", "0.8"]) == 0
    assert main(argv) == 0
    roll = read_midi(out)
    assert 1 <= len(roll) <= 8 and roll.any()
    assert (tmp_path / "piece.png").read_bytes()[:4] == b"\x89PNG"
    assert "wrote" in capsys.readouterr().out


def test_continue_keeps_the_opening_unchanged(run, tmp_path):
    opening = _piece(6)
    start = write_midi(opening, tmp_path / "start.mid")
    out = tmp_path / "done.mid"
    assert main(["music", "continue", str(run), str(start), "--bars", "1", "-o", str(out),
                 "--seed", "1"]) == 0
    done = read_midi(out)
    np.testing.assert_array_equal(done[:6], opening)
    assert len(done) >= 7  # something was added (a silent tail would end the file earlier)


def test_long_opening_is_fine_for_a_recurrent_model(run, tmp_path):
    start = write_midi(_piece(300), tmp_path / "long.mid")  # no context limit in an RNN
    assert main(["music", "continue", str(run), str(start), "--bars", "1",
                 "-o", str(tmp_path / "x.mid")]) == 0


def test_evaluate_json(run, capsys):
    assert main(["music", "evaluate", str(run), "--json"]) == 0
    res = json.loads(capsys.readouterr().out)
    assert res["test_steps"] == 16 + 17 and np.isfinite(res["nll_per_step"])
    assert 0 <= res["frame_accuracy"] <= 1 and "exact" in res["estimator"]
    assert res["nll_per_step"] < 11  # learned something: far below the untrained ~61 nats


def test_hmm_and_bernoulli_runs(corpus, tmp_path, capsys, one_line_error):
    for model in ("hmm", "bernoulli"):
        out = tmp_path / model
        assert main(["music", "train", "--corpus", str(corpus / "tiny.mat"), "--model", model,
                     "--states", "4", "--out", str(out)] if model == "hmm" else
                    ["music", "train", "--corpus", str(corpus / "tiny.mat"), "--model", model,
                     "--out", str(out)]) == 0
        start = write_midi(_piece(5), tmp_path / "s.mid")
        assert main(["music", "continue", str(out), str(start), "--bars", "1",
                     "-o", str(tmp_path / f"{model}.mid")]) == 0
        np.testing.assert_array_equal(read_midi(tmp_path / f"{model}.mid")[:5], _piece(5))
        one_line_error(["music", "generate", str(out), "--temperature", "0.5", "-o",
                        str(tmp_path / "t.mid")], "temperature=0.5 is not available")


def _midi(path, notes, channel=0):
    f = mido.MidiFile()
    tr = mido.MidiTrack()
    for n in notes:
        tr.append(mido.Message("note_on", note=n, velocity=80, channel=channel))
        tr.append(mido.Message("note_off", note=n, time=480, channel=channel))
    f.tracks.append(tr)
    f.save(str(path))
    return path


def test_bad_inputs_are_one_line_errors(run, corpus, tmp_path, one_line_error):
    out = str(tmp_path / "o.mid")
    drums = _midi(tmp_path / "drums.mid", [36, 38], channel=9)
    one_line_error(["music", "continue", str(run), str(drums), "-o", out], "only drum notes")
    empty = tmp_path / "empty.mid"
    mido.MidiFile().save(str(empty))
    one_line_error(["music", "continue", str(run), str(empty), "-o", out], "has no notes")
    junk = tmp_path / "junk.mid"
    junk.write_bytes(b"\x00\x01not midi")
    one_line_error(["music", "continue", str(run), str(junk), "-o", out], "not a readable MIDI")
    high = _midi(tmp_path / "high.mid", [120])
    one_line_error(["music", "continue", str(run), str(high), "-o", out], "outside the piano")
    assert main(["music", "continue", str(run), str(high), "--clip", "-o", out]) == 0
    one_line_error(["music", "generate", str(run), "-o", str(tmp_path / "x.wav")],
                   "must end in .mid")
    one_line_error(["music", "generate", str(run), "--bars", "0", "-o", out], "bars must be")
    one_line_error(["music", "generate", str(run), "--temperature", "0", "-o", out],
                   "temperature must be")
    one_line_error(["music", "train", "--corpus", str(tmp_path / "nothing"), "--out",
                    str(tmp_path / "r")], "unknown corpus")
    one_line_error(["music", "train", "--corpus", "jsb", "--out", str(tmp_path / "r")],
                   "GENLEARN_MUSIC_DATA")
    one_line_error(["music", "evaluate", str(tmp_path)], "not a genlearn checkpoint")


def test_train_nproc_starts_torchrun_and_only_rank_0_writes(corpus, tmp_path, monkeypatch,
                                                             capsys):
    import subprocess

    from genlearn import distributed

    seen = []
    monkeypatch.delenv("WORLD_SIZE", raising=False)
    monkeypatch.setattr(subprocess, "run", lambda cmd, **kw: seen.append(cmd)
                        or subprocess.CompletedProcess(cmd, 0))
    argv = ["music", "train", "--corpus", str(corpus / "tiny.mat"), "--model", "lstm",
            "--epochs", "1", "--nproc", "2", "--out", str(tmp_path / "r")]
    assert main(argv) == 0
    assert seen[0][-len(argv) + 2:] == [a for a in argv if a not in ("--nproc", "2")]
    assert "--nproc-per-node=2" in seen[0]
    # a rank other than 0 (as under torchrun) trains the same model but writes and prints nothing
    monkeypatch.setattr(distributed, "rank", lambda: 1)
    capsys.readouterr()
    assert main(["music", "train", "--corpus", str(corpus / "tiny.mat"), "--model", "lstm",
                 "--epochs", "1", "--units", "4", "--out", str(tmp_path / "r"), "-q"]) == 0
    assert not (tmp_path / "r").exists() and capsys.readouterr().out == ""
