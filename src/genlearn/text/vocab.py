"""Character vocabularies and text corpora: reading, splitting, chunking.

    text = read_text("corpus.txt")
    vocab = Vocabulary.build(text)                 # id 0 = "<unk>", then by frequency
    train, test = split_text(vocab.encode(text))   # first 90% / last 10%

``chunk`` cuts a long id stream into many shorter sequences for models that train on batches;
``docs_corpus`` is the English documentation every CPython install carries.
"""

from __future__ import annotations

import codecs
from pathlib import Path

import numpy as np

from .._utils import check_float, check_int

__all__ = ["Vocabulary", "chunk", "docs_corpus", "read_text", "split_text"]


def _codes(text: str) -> np.ndarray:
    """The code points of ``text`` (N,) int64, without a Python loop."""
    raw = text.encode("utf-32-le", errors="surrogatepass")
    return np.frombuffer(raw, dtype="<u4").astype(np.int64)


class Vocabulary:
    """A character vocabulary: id 0 is the unknown-symbol slot ``"<unk>"``, ids 1.. the chars.

    ``chars`` lists the known characters in id order (``chars[i]`` has id ``i + 1``), most
    frequent first, ties by code point, so the same text always gives the same ids. Characters
    outside the vocabulary encode to 0; 0 decodes to ``unk_char`` (U+FFFD by default).
    ``len(vocab)`` counts the ``"<unk>"`` slot: it is the ``n_symbols`` of a model.
    """

    UNK = "<unk>"
    TYPE = "genlearn.Vocabulary"

    def __init__(self, chars, unk_char: str = "\ufffd"):
        chars = list(chars)
        for c in chars:
            if not isinstance(c, str) or len(c) != 1:
                raise ValueError(f"chars must be single characters; got {c!r}")
        if len(set(chars)) != len(chars):
            dup = next(c for c in chars if chars.count(c) > 1)
            raise ValueError(f"chars must be distinct; {dup!r} appears more than once")
        if not isinstance(unk_char, str):
            raise ValueError(f"unk_char must be a string; got {unk_char!r}")
        self.chars = chars
        self.unk_char = unk_char
        codes = _codes("".join(chars))
        order = np.argsort(codes)
        self._sorted_codes = codes[order]  # for encode: code point -> id by binary search
        self._sorted_ids = order.astype(np.int64) + 1
        self._table = np.array([unk_char, *chars], dtype=object)  # id -> string, for decode

    @classmethod
    def build(cls, text: str, min_count: int = 1, max_size: int | None = None,
              unk_char: str = "\ufffd") -> Vocabulary:
        """The characters of ``text`` seen at least ``min_count`` times, most frequent first.

        ``max_size`` caps ``len(vocab)`` (the ``"<unk>"`` slot included): the rarer
        characters are dropped and will encode to 0.
        """
        if not isinstance(text, str):
            raise ValueError(f"text must be a str; got {type(text).__name__}")
        if not text:
            raise ValueError("text is empty: there are no characters to build a vocabulary from")
        check_int(min_count, "min_count", low=1)
        check_int(max_size, "max_size", low=2, allow_none=True)
        codes, counts = np.unique(_codes(text), return_counts=True)
        order = np.lexsort((codes, -counts))  # by count descending, then code point
        keep = order[counts[order] >= min_count]
        if max_size is not None:
            keep = keep[: max_size - 1]
        chars = [chr(int(c)) for c in codes[keep]]
        return cls(chars, unk_char=unk_char)

    def __len__(self) -> int:
        return len(self.chars) + 1

    def __eq__(self, other) -> bool:
        return (isinstance(other, Vocabulary) and self.chars == other.chars
                and self.unk_char == other.unk_char)

    def __repr__(self) -> str:
        return f"Vocabulary({len(self)} symbols: <unk> + {''.join(self.chars[:20])!r}...)"

    @property
    def tokens(self) -> list[str]:
        """The token of every id: ``["<unk>", *chars]``."""
        return [self.UNK, *self.chars]

    def encode(self, text: str) -> np.ndarray:
        """``text`` -> (len(text),) int64 ids; characters not in the vocabulary give 0."""
        if not isinstance(text, str):
            raise ValueError(f"text must be a str; got {type(text).__name__}")
        codes = _codes(text)
        if not self.chars:
            return np.zeros(codes.size, dtype=np.int64)
        idx = np.minimum(np.searchsorted(self._sorted_codes, codes), self._sorted_codes.size - 1)
        return np.where(self._sorted_codes[idx] == codes, self._sorted_ids[idx], 0)

    def decode(self, ids) -> str:
        """ids -> text; id 0 becomes ``unk_char``."""
        arr = np.asarray(ids)
        if arr.size == 0:
            return ""
        if arr.ndim != 1:
            raise ValueError(f"ids must be 1-D; got shape {arr.shape}")
        if not np.issubdtype(arr.dtype, np.integer):
            if not (np.issubdtype(arr.dtype, np.floating) and np.all(arr == np.round(arr))):
                raise ValueError(f"ids must be integers; got dtype {arr.dtype}")
            arr = arr.astype(np.int64)
        if arr.min() < 0 or arr.max() >= len(self):
            bad = int(arr[(arr < 0) | (arr >= len(self))][0])
            raise ValueError(f"id {bad} is outside this vocabulary of {len(self)} symbols "
                             f"(0..{len(self) - 1})")
        return "".join(self._table[arr].tolist())

    def to_json(self) -> dict:
        """A JSON-able dict (for checkpoints); :meth:`from_json` reads it back."""
        return {"type": self.TYPE, "chars": list(self.chars),
                "unk_char": self.unk_char}

    @classmethod
    def from_json(cls, data: dict) -> Vocabulary:
        if not isinstance(data, dict) or data.get("type") != "genlearn.Vocabulary":
            raise ValueError("not a genlearn vocabulary: expected a dict with "
                             "\"type\": \"genlearn.Vocabulary\"")
        if not isinstance(data.get("chars"), list):
            raise ValueError("vocabulary JSON has no list \"chars\"")
        return cls(data["chars"], unk_char=data.get("unk_char", "\ufffd"))


def read_text(path) -> str:
    """Read a UTF-8 text file (a leading byte-order mark is dropped), line endings as ``"\\n"``.

    Raises ``ValueError`` for an empty file, or one that is not UTF-8 (naming the byte offset).
    """
    path = Path(path)
    data = path.read_bytes()
    skip = len(codecs.BOM_UTF8) if data.startswith(codecs.BOM_UTF8) else 0
    if len(data) == skip:
        raise ValueError(f"{path} is empty: there is no text to read")
    try:
        text = data[skip:].decode("utf-8")
    except UnicodeDecodeError as exc:
        offset = exc.start + skip
        raise ValueError(f"{path} is not valid UTF-8: byte 0x{data[offset]:02x} at byte offset "
                         f"{offset} ({exc.reason}); re-encode the file as UTF-8") from None
    return text.replace("\r\n", "\n").replace("\r", "\n")


def _as_ids(ids, name: str = "ids"):
    if isinstance(ids, str):
        return ids
    arr = np.asarray(ids)
    if arr.ndim != 1:
        raise ValueError(f"{name} must be a 1-D id stream; got shape {arr.shape}")
    return arr


def split_text(ids, train_fraction: float = 0.9):
    """(first ``train_fraction``, the rest) of an id stream (or a str): a contiguous split,
    the standard for character-level language modelling. Both parts are non-empty."""
    check_float(train_fraction, "train_fraction", low=0.0, high=1.0, low_open=True,
                high_open=True)
    ids = _as_ids(ids)
    cut = int(round(len(ids) * train_fraction))
    if cut == 0 or cut == len(ids):
        raise ValueError(f"cannot split {len(ids)} symbols at train_fraction={train_fraction}: "
                         "one part would be empty")
    return ids[:cut], ids[cut:]


def chunk(ids, length: int) -> list:
    """Cut an id stream into consecutive sequences of ``length`` (the last may be shorter)."""
    check_int(length, "length", low=1)
    ids = _as_ids(ids)
    if len(ids) == 0:
        raise ValueError("ids is empty: there is nothing to chunk")
    return [ids[i: i + length] for i in range(0, len(ids), length)]


def docs_corpus(chars: int | None = None) -> str:
    """CPython's bundled documentation topics (``pydoc_data.topics``), sorted by name and
    joined by blank lines; the first ``chars`` characters (all ~465k when None). The corpus of
    benchmarks/text_bpc.py, present in every Python install."""
    from pydoc_data.topics import topics

    text = "\n\n".join(topics[k] for k in sorted(topics))
    return text if chars is None else text[:chars]
