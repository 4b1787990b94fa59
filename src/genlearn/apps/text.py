"""Moved to :mod:`genlearn.text` (and the command line to :mod:`genlearn.cli.text`); these
names stay importable from here."""

from ..text import (  # noqa: F401
    TEXT_MODELS,
    Vocabulary,
    chunk,
    generate_text,
    load_text_model,
    read_text,
    split_text,
    train_text,
)


def add_subparser(sub) -> None:
    """``genlearn text`` (kept for callers of the old location)."""
    from ..cli.text import add_parser

    add_parser(sub)
