"""MIDI and MusicXML in and out of piano rolls.

A piano roll is a (T, 88) 0/1 array, key k = MIDI pitch 21 + k, one row per time step of
1 / ``steps_per_quarter`` quarter notes. Writing merges the consecutive on-frames of a key into
one note (a roll cannot tell a held note from a repeated one -- the JSB convention); reading
quantises each note's start and end to the nearest step, keeps at least one step per note, and
ignores drums (channel 10). Times are counted in beats (MIDI ticks per beat), so tempo changes do
not move notes between steps.

Pitches outside the 88 keys are an error by default (``clip=True`` moves them by octaves into
range instead); a file with no notes, only drums, or that mido cannot parse is a ``ValueError``
naming the file.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .data import LOWEST_PITCH, N_KEYS, require

TICKS_PER_BEAT = 480
DRUM_CHANNEL = 9  # MIDI channel 10, zero-based
MIDI_SUFFIXES = (".mid", ".midi")
SCORE_SUFFIXES = (".xml", ".mxl", ".musicxml", ".krn", ".abc")


def roll_to_notes(roll, *, steps_per_quarter: int = 1, lowest: int = LOWEST_PITCH):
    """(pitch, start step, end step) of every note of a roll, sorted by start then pitch."""
    roll = np.asarray(roll)
    if roll.ndim != 2:
        raise ValueError(f"a piano roll must be a (T, keys) array; got shape {roll.shape}")
    padded = np.vstack([np.zeros((1, roll.shape[1]), roll.dtype), roll > 0,
                        np.zeros((1, roll.shape[1]), roll.dtype)]).astype(np.int8)
    d = np.diff(padded, axis=0)  # +1 at an onset, -1 after the last on-frame
    notes = []
    for key in range(roll.shape[1]):
        onsets, ends = np.flatnonzero(d[:, key] == 1), np.flatnonzero(d[:, key] == -1)
        for s, e in zip(onsets, ends, strict=True):
            notes.append((lowest + key, int(s), int(e)))
    return sorted(notes, key=lambda n: (n[1], n[0]))


def write_midi(roll, path, *, steps_per_quarter: int = 1, bpm: float = 100.0,
               velocity: int = 80, program: int = 0) -> Path:
    """Write a piano roll as a one-track MIDI file (General MIDI ``program``, 0 = piano)."""
    mido = require("mido")
    from ..io import atomic_path

    step = TICKS_PER_BEAT // steps_per_quarter
    events = []
    for pitch, s, e in roll_to_notes(roll, steps_per_quarter=steps_per_quarter):
        events.append((s * step, 1, pitch))  # note-offs (0) sort before note-ons at one tick
        events.append((e * step, 0, pitch))
    events.sort()
    track = mido.MidiTrack()
    track.append(mido.MetaMessage("set_tempo", tempo=mido.bpm2tempo(bpm), time=0))
    track.append(mido.Message("program_change", program=program, time=0))
    now = 0
    for tick, on, pitch in events:
        track.append(mido.Message("note_on" if on else "note_off", note=pitch,
                                  velocity=velocity if on else 0, time=tick - now))
        now = tick
    track.append(mido.MetaMessage("end_of_track", time=0))
    midi = mido.MidiFile(ticks_per_beat=TICKS_PER_BEAT)
    midi.tracks.append(track)
    path = Path(path)
    with atomic_path(path) as tmp:
        midi.save(str(tmp))
    return path


def read_midi_notes(path):
    """Every non-drum note of a MIDI file as (pitch, start beat, end beat), sorted."""
    mido = require("mido")
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no MIDI file at {path}")
    try:
        midi = mido.MidiFile(str(path))
    except (OSError, EOFError, ValueError, KeyError, IndexError) as exc:
        raise ValueError(f"{path} is not a readable MIDI file: {exc}") from None
    tpb = midi.ticks_per_beat
    notes, drums = [], 0
    for track in midi.tracks:
        tick, open_notes = 0, {}
        for msg in track:
            tick += msg.time
            if msg.type not in ("note_on", "note_off"):
                continue
            if msg.channel == DRUM_CHANNEL:
                drums += msg.type == "note_on" and msg.velocity > 0
                continue
            key = (msg.channel, msg.note)
            if msg.type == "note_on" and msg.velocity > 0:
                if key in open_notes:  # a re-strike without note-off ends the held note
                    notes.append((msg.note, open_notes[key] / tpb, tick / tpb))
                open_notes[key] = tick
            elif key in open_notes:
                notes.append((msg.note, open_notes.pop(key) / tpb, tick / tpb))
        for (_, pitch), start in open_notes.items():  # never released: end at the track's end
            notes.append((pitch, start / tpb, tick / tpb))
    if not notes:
        what = "only drum notes (channel 10)" if drums else "no notes"
        raise ValueError(f"{path} has {what}: nothing to turn into a piano roll")
    return sorted(notes, key=lambda n: (n[1], n[0]))


def notes_to_roll(notes, *, steps_per_quarter: int = 1, clip: bool = False,
                  source: str = "the piece") -> np.ndarray:
    """A (T, 88) roll from (pitch, start beat, end beat) notes, quantised to the step grid."""
    notes = list(notes)
    if not notes:
        raise ValueError(f"{source} has no notes")
    pitches = []
    for pitch, _, _ in notes:
        if not LOWEST_PITCH <= pitch < LOWEST_PITCH + N_KEYS:
            if not clip:
                raise ValueError(f"{source} has pitch {pitch}, outside the piano's 88 keys "
                                 f"(MIDI {LOWEST_PITCH}..{LOWEST_PITCH + N_KEYS - 1}); pass "
                                 "clip=True (--clip) to move such notes by octaves into range")
            while pitch < LOWEST_PITCH:
                pitch += 12
            while pitch >= LOWEST_PITCH + N_KEYS:
                pitch -= 12
        pitches.append(pitch)
    spans = [(int(round(s * steps_per_quarter)), int(round(e * steps_per_quarter)))
             for _, s, e in notes]
    spans = [(s, max(e, s + 1)) for s, e in spans]
    T = max(e for _, e in spans)
    roll = np.zeros((T, N_KEYS), dtype=np.uint8)
    for pitch, (s, e) in zip(pitches, spans, strict=False):
        roll[s:e, pitch - LOWEST_PITCH] = 1
    return roll


def read_midi(path, *, steps_per_quarter: int = 1, clip: bool = False) -> np.ndarray:
    """A MIDI file as a (T, 88) piano roll (see the module docstring for the rules)."""
    return notes_to_roll(read_midi_notes(path), steps_per_quarter=steps_per_quarter, clip=clip,
                         source=str(path))


def score_to_roll(score, *, steps_per_quarter: int = 1, transpose: bool = False,
                  clip: bool = False) -> np.ndarray:
    """A music21 score as a piano roll; ``transpose`` moves it to C major / A minor."""
    if transpose:
        m21 = require("music21")
        key = score.analyze("key")
        tonic = "C" if key.mode == "major" else "A"
        interval = m21.interval.Interval(key.tonic, m21.pitch.Pitch(tonic))
        # the nearest transposition (at most a tritone), so the voices stay in range
        semis = (interval.semitones + 6) % 12 - 6
        score = score.transpose(semis)
    notes = []
    for n in score.flatten().notes:
        start, end = float(n.offset), float(n.offset + n.quarterLength)
        if end <= start:  # grace notes have no duration in a roll
            continue
        for p in n.pitches:
            notes.append((int(p.midi), start, end))
    return notes_to_roll(notes, steps_per_quarter=steps_per_quarter, clip=clip,
                         source="the score")


def read_score(path, *, steps_per_quarter: int = 1, transpose: bool = False,
               clip: bool = False) -> np.ndarray:
    """A MusicXML (or other music21-readable) file as a piano roll."""
    m21 = require("music21")
    try:
        score = m21.converter.parse(str(path))
    except Exception as exc:  # music21 raises many types for unreadable files
        raise ValueError(f"{path} could not be read as a score: {exc}") from None
    try:
        return score_to_roll(score, steps_per_quarter=steps_per_quarter, transpose=transpose,
                             clip=clip)
    except ValueError as exc:
        raise ValueError(f"{path}: {exc}") from None


def read_piece(path, *, steps_per_quarter: int = 1, clip: bool = False) -> np.ndarray:
    """A MIDI or score file as a piano roll, chosen by its suffix."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix in MIDI_SUFFIXES:
        return read_midi(path, steps_per_quarter=steps_per_quarter, clip=clip)
    if suffix in SCORE_SUFFIXES:
        return read_score(path, steps_per_quarter=steps_per_quarter, clip=clip)
    raise ValueError(f"{path}: unknown music file type {suffix!r}; expected "
                     f"{', '.join(MIDI_SUFFIXES + SCORE_SUFFIXES)}")


def rolls_from_path(path, *, steps_per_quarter: int = 1, clip: bool = False) -> dict:
    """{file name: piano roll} for a music file or every music file in a folder (recursively)."""
    path = Path(path)
    if path.is_file():
        return {path.name: read_piece(path, steps_per_quarter=steps_per_quarter, clip=clip)}
    files = sorted(p for p in path.rglob("*")
                   if p.suffix.lower() in MIDI_SUFFIXES + SCORE_SUFFIXES)
    if not files:
        raise ValueError(f"{path} holds no MIDI or MusicXML files")
    return {str(p.relative_to(path)): read_piece(p, steps_per_quarter=steps_per_quarter,
                                                 clip=clip) for p in files}
