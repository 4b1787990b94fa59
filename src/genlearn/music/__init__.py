"""Music: corpora as piano rolls, MIDI / MusicXML in and out, pictures and sound, and the
musical statistics of generated pieces. mido and music21 (the ``music`` extra) are imported
only by the functions that need them; a missing one is an error naming
``pip install genlearn[music]``."""

from .data import PianoRolls, bach_chorales, load_corpus, load_mat, split_pieces
from .midi import read_midi, read_piece, roll_to_notes, write_midi

__all__ = ["PianoRolls", "bach_chorales", "load_corpus", "load_mat", "read_midi", "read_piece",
           "roll_to_notes", "split_pieces", "write_midi"]
