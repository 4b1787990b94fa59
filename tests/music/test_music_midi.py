"""MIDI in and out of piano rolls, note for note, and the bad files a user can hand us."""

import sys

import mido
import numpy as np
import pytest

from genlearn.music import midi
from genlearn.music.data import LOWEST_PITCH, require


def _roll():
    roll = np.zeros((8, 88), dtype=np.uint8)
    roll[0:2, 60 - 21] = 1  # C4, two steps
    roll[0:4, 64 - 21] = 1  # E4 held
    roll[3:5, 60 - 21] = 1  # C4 again after a rest
    roll[5:8, 48 - 21] = 1  # C3 to the end
    return roll


def test_write_midi_reads_back_note_for_note_with_mido(tmp_path):
    path = midi.write_midi(_roll(), tmp_path / "a.mid", steps_per_quarter=2)
    f = mido.MidiFile(str(path))
    tick, on, notes = 0, {}, []
    for msg in f.tracks[0]:
        tick += msg.time
        if msg.type == "note_on" and msg.velocity > 0:
            on[msg.note] = tick
        elif msg.type in ("note_off", "note_on"):
            notes.append((msg.note, on.pop(msg.note), tick))
    step = f.ticks_per_beat // 2
    expected = [(p, s * step, e * step) for p, s, e in midi.roll_to_notes(_roll())]
    assert sorted(notes) == sorted(expected)
    assert len(notes) == 4


@pytest.mark.parametrize("spq", [1, 2, 4])
def test_roll_round_trip(tmp_path, spq):
    path = midi.write_midi(_roll(), tmp_path / "a.mid", steps_per_quarter=spq)
    back = midi.read_midi(path, steps_per_quarter=spq)
    np.testing.assert_array_equal(back, _roll())


def _write(path, messages, channel=0):
    f = mido.MidiFile()
    track = mido.MidiTrack()
    for m in messages:
        track.append(m.copy(channel=channel) if hasattr(m, "channel") else m)
    f.tracks.append(track)
    f.save(str(path))
    return path


def test_no_notes_drums_corrupt_are_clear_errors(tmp_path):
    empty = _write(tmp_path / "empty.mid", [mido.MetaMessage("set_tempo", tempo=500000)])
    with pytest.raises(ValueError, match="has no notes"):
        midi.read_midi(empty)
    drums = _write(tmp_path / "drums.mid", [mido.Message("note_on", note=36, velocity=90),
                                            mido.Message("note_off", note=36, time=480)],
                   channel=9)
    with pytest.raises(ValueError, match="only drum notes"):
        midi.read_midi(drums)
    bad = tmp_path / "bad.mid"
    bad.write_bytes(b"MThd\x00\x00\x00\x06garbage")
    with pytest.raises(ValueError, match="not a readable MIDI file"):
        midi.read_midi(bad)
    with pytest.raises(ValueError, match="unknown music file type"):
        midi.read_piece(tmp_path / "x.txt")


def test_pitches_outside_the_keyboard_error_or_clip_by_octaves(tmp_path):
    path = _write(tmp_path / "low.mid", [mido.Message("note_on", note=12, velocity=90),
                                         mido.Message("note_off", note=12, time=480)])
    with pytest.raises(ValueError, match="outside the piano's 88 keys"):
        midi.read_midi(path)
    roll = midi.read_midi(path, clip=True)
    assert np.flatnonzero(roll[0]).tolist() == [24 - LOWEST_PITCH]  # C0 -> C1 (MIDI 24)


def test_missing_extra_names_the_install_command(monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, "mido", None)  # makes "import mido" fail
    with pytest.raises(ImportError, match=r"pip install genlearn\[music\]"):
        require("mido")
    with pytest.raises(ImportError, match=r"pip install genlearn\[music\]"):
        midi.write_midi(_roll(), tmp_path / "a.mid")


def test_score_to_roll_and_transposition():
    music21 = pytest.importorskip("music21")
    s = music21.stream.Stream()
    for name in ["D4", "F#4", "A4", "D5"]:  # D major arpeggio, a quarter each
        s.append(music21.note.Note(name, quarterLength=1.0))
    roll = midi.score_to_roll(s, steps_per_quarter=2)
    assert roll.shape == (8, 88)
    assert [int(np.flatnonzero(r)[0]) + 21 for r in roll[::2]] == [62, 66, 69, 74]
    c = midi.score_to_roll(s, transpose=True)
    assert [int(np.flatnonzero(r)[0]) + 21 for r in c] == [60, 64, 67, 72]


def test_piano_roll_png(tmp_path):
    from genlearn.music.render import audio_available, save_piano_roll

    p = save_piano_roll(_roll(), tmp_path / "a.png", opening=2)
    assert p.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    msg = audio_available()
    assert msg is None or "apt install fluidsynth fluid-soundfont-gm" in msg


def test_musicxml_file_reads_as_the_same_roll_and_a_corrupt_one_is_a_clear_error(tmp_path):
    music21 = pytest.importorskip("music21")
    s = music21.stream.Stream()
    for name, ql in [("C4", 1.0), ("E4", 2.0), ("G4", 1.0)]:
        s.append(music21.note.Note(name, quarterLength=ql))
    s.append(music21.chord.Chord(["C4", "E4", "G4"], quarterLength=2.0))
    path = tmp_path / "piece.musicxml"
    s.write("musicxml", fp=str(path))
    roll = midi.read_piece(path, steps_per_quarter=2)
    expected = np.zeros((12, 88), dtype=np.uint8)
    expected[0:2, 60 - LOWEST_PITCH] = 1
    expected[2:6, 64 - LOWEST_PITCH] = 1
    expected[6:8, 67 - LOWEST_PITCH] = 1
    expected[8:12, [60 - LOWEST_PITCH, 64 - LOWEST_PITCH, 67 - LOWEST_PITCH]] = 1
    np.testing.assert_array_equal(roll, expected)
    bad = tmp_path / "bad.musicxml"
    bad.write_text("<score-partwise><part id='P1'><measure>")  # cut off
    with pytest.raises(ValueError, match="could not be read as a score"):
        midi.read_piece(bad)


def test_a_folder_of_midi_files_reads_every_file_and_an_empty_folder_is_an_error(tmp_path):
    (tmp_path / "sub").mkdir()
    midi.write_midi(_roll(), tmp_path / "a.mid")
    midi.write_midi(_roll()[:5], tmp_path / "sub" / "b.midi")
    (tmp_path / "notes.txt").write_text("not music")
    rolls = midi.rolls_from_path(tmp_path)
    assert sorted(rolls) == ["a.mid", "sub/b.midi"]
    np.testing.assert_array_equal(rolls["a.mid"], _roll())
    np.testing.assert_array_equal(rolls["sub/b.midi"], _roll()[:5])
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match="holds no MIDI or MusicXML files"):
        midi.rolls_from_path(tmp_path / "empty")
