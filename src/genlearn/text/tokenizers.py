"""Tokenizers for text models: characters (:class:`~genlearn.text.vocab.Vocabulary`) or
byte-level BPE (Hugging Face ``tokenizers``), both saved as JSON inside a checkpoint.

Every tokenizer has ``encode(text) -> (n,) int64``, ``decode(ids) -> str``, ``len()`` (the
model's ``n_symbols``), ``to_json()`` and a ``type`` tag that :func:`tokenizer_from_json`
reads back. Byte-level BPE (Radford et al. 2019, GPT-2) starts from the 256 byte values, so any
text encodes without an unknown symbol; the character vocabulary maps unseen characters to
its unknown slot (id 0).

    tok = BPETokenizer.train(text, vocab_size=512)
    ids = tok.encode("def f(x):"); tok.decode(ids) == "def f(x):"
"""

from __future__ import annotations

import numpy as np

from .._utils import check_int
from .vocab import Vocabulary

__all__ = ["BPETokenizer", "build_tokenizer", "tokenizer_from_json"]

MISSING = "the BPE tokenizer needs the tokenizers package: pip install genlearn[text]"


def _tokenizers():
    try:
        import tokenizers
    except ImportError:  # pragma: no cover - the text extra is installed in development
        raise ImportError(MISSING) from None
    return tokenizers


class BPETokenizer:
    """Byte-level BPE with ``vocab_size`` tokens (the 256 bytes and the learned merges)."""

    TYPE = "genlearn.BPETokenizer"

    def __init__(self, tokenizer):
        self._tok = tokenizer

    @classmethod
    def train(cls, text: str, vocab_size: int = 1024) -> BPETokenizer:
        """Learn merges from ``text`` until the vocabulary has ``vocab_size`` tokens."""
        check_int(vocab_size, "vocab_size", low=257)
        if not isinstance(text, str) or not text:
            raise ValueError("text is empty: there is nothing to learn BPE merges from")
        tk = _tokenizers()
        tok = tk.Tokenizer(tk.models.BPE())
        tok.pre_tokenizer = tk.pre_tokenizers.ByteLevel(add_prefix_space=False)
        tok.decoder = tk.decoders.ByteLevel()
        trainer = tk.trainers.BpeTrainer(
            vocab_size=vocab_size, show_progress=False, special_tokens=[],
            initial_alphabet=tk.pre_tokenizers.ByteLevel.alphabet())
        lines = text.split("\n")
        tok.train_from_iterator((ln + "\n" for ln in lines), trainer=trainer)
        return cls(tok)

    def __len__(self) -> int:
        return self._tok.get_vocab_size()

    def __eq__(self, other) -> bool:
        return isinstance(other, BPETokenizer) and self._tok.to_str() == other._tok.to_str()

    def __repr__(self) -> str:
        return f"BPETokenizer({len(self)} tokens, byte-level)"

    def encode(self, text: str) -> np.ndarray:
        if not isinstance(text, str):
            raise ValueError(f"text must be a str; got {type(text).__name__}")
        if not text:
            return np.zeros(0, dtype=np.int64)
        # encode line by line: one huge string is slow in the pre-tokenizer, and byte-level
        # BPE never merges across the "\n" it keeps at the end of each piece
        pieces = text.split("\n")
        pieces = [p + "\n" for p in pieces[:-1]] + ([pieces[-1]] if pieces[-1] else [])
        ids = [e.ids for e in self._tok.encode_batch(pieces)]
        return np.fromiter((i for seq in ids for i in seq), dtype=np.int64)

    def decode(self, ids) -> str:
        arr = np.asarray(ids, dtype=np.int64).reshape(-1)
        if arr.size and (arr.min() < 0 or arr.max() >= len(self)):
            bad = int(arr[(arr < 0) | (arr >= len(self))][0])
            raise ValueError(f"id {bad} is outside this BPE vocabulary of {len(self)} tokens")
        return self._tok.decode(arr.tolist(), skip_special_tokens=False)

    def to_json(self) -> dict:
        return {"type": self.TYPE, "tokenizer": self._tok.to_str()}

    @classmethod
    def from_json(cls, data: dict) -> BPETokenizer:
        if not isinstance(data, dict) or not isinstance(data.get("tokenizer"), str):
            raise ValueError("BPE tokenizer JSON has no \"tokenizer\" string")
        tk = _tokenizers()
        try:
            return cls(tk.Tokenizer.from_str(data["tokenizer"]))
        except Exception as exc:  # the library raises its own exception types
            raise ValueError(f"the BPE tokenizer JSON could not be read: {exc}") from None


def _char(text: str, vocab_size: int | None = None) -> Vocabulary:
    return Vocabulary.build(text, max_size=vocab_size)


def _bpe(text: str, vocab_size: int | None = None) -> BPETokenizer:
    return BPETokenizer.train(text, 1024 if vocab_size is None else vocab_size)


BUILDERS = {"char": _char, "bpe": _bpe}
READERS = {Vocabulary.TYPE: Vocabulary.from_json, BPETokenizer.TYPE: BPETokenizer.from_json}


def build_tokenizer(kind: str, text: str, vocab_size: int | None = None):
    """A tokenizer of ``kind`` ("char" or "bpe") learned from ``text``."""
    if kind not in BUILDERS:
        raise ValueError(f"tokenizer must be one of {sorted(BUILDERS)}; got {kind!r}")
    return BUILDERS[kind](text, vocab_size)


def tokenizer_from_json(data):
    """The tokenizer a ``to_json()`` dict describes."""
    kind = data.get("type") if isinstance(data, dict) else None
    if kind not in READERS:
        raise ValueError(f"not a genlearn tokenizer: expected \"type\" to be one of "
                         f"{sorted(READERS)}; got {kind!r}")
    return READERS[kind](data)
