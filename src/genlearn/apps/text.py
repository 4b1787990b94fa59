"""Text as sequences of integer symbols, for character-level language models.

    text = read_text("corpus.txt")
    vocab = Vocabulary.build(text)                 # id 0 = "<unk>", then by frequency
    train, test = split_text(vocab.encode(text))   # first 90% / last 10%
    model = NGram(order=5, n_symbols=len(vocab)).fit([train])
    model.bits_per_symbol([test]); vocab.decode(model.sample(1, 200, seed=0)[0])

``chunk`` cuts a long id stream into many shorter sequences for models that train on batches.
"""

from __future__ import annotations

import codecs
import time
import warnings
from pathlib import Path

import numpy as np

from .._utils import check_float, check_int

__all__ = ["Vocabulary", "chunk", "read_text", "split_text"]


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
        return {"type": "genlearn.Vocabulary", "chars": list(self.chars),
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


# -- train and generate: what ``genlearn text`` runs -----------------------------------------
TEXT_MODELS = ("hmm", "ngram")


def _bits(model, seqs) -> float:
    """Held-out cross-entropy in bits per character (exact log-likelihood of either model)."""
    n = sum(len(s) for s in seqs)
    return float(-model.log_prob(seqs).sum() / n / np.log(2.0))


def train_text(path, *, model: str = "hmm", states: int = 128, order: int = 5,
               n_iter: int = 100, seq_len: int = 200, split: float = 0.9, out="runs/text",
               seed: int = 0, floor: float = 1e-2, baseline: bool = True, force: bool = False,
               verbose: bool = True, device: str = "auto") -> dict:
    """Learn a character-level model of the UTF-8 file ``path`` and save it to ``out``.

    The vocabulary comes from the first ``split`` of the text (the training part; characters
    seen only in the held-out part encode to the unknown slot, as they would for new text).
    The training ids are cut into sequences of ``seq_len`` characters; the held-out part is
    scored as one sequence. Returns a report with held-out bits per character, and with
    ``baseline`` those of a 5-gram Kneser-Ney model on the same split.
    """
    from .. import io
    from ..models.hmm import HMM, ConvergenceWarning
    from ..models.ngram import NGram

    if model not in TEXT_MODELS:
        raise ValueError(f"--model must be one of {list(TEXT_MODELS)}; got {model!r}")
    out = Path(out)
    if out.exists() and any(out.iterdir()) and not force and not io.is_checkpoint(out):
        raise ValueError(f"output folder {out} exists and is not a genlearn checkpoint")
    if io.is_checkpoint(out) and not force:
        raise ValueError(f"{out} already holds a checkpoint; use --force to replace it")
    text = read_text(path)
    train_txt, test_txt = split_text(text, split)
    vocab = Vocabulary.build(train_txt)
    train_ids, test_ids = vocab.encode(train_txt), vocab.encode(test_txt)
    if model == "hmm":
        # floor: a pseudo-count on every emission and transition, so the unknown slot and
        # characters a state never emitted in training keep a small probability (held-out
        # text would otherwise score -inf)
        est = HMM(n_states=states, emission="categorical", n_symbols=len(vocab), n_iter=n_iter,
                  floor=floor, init="random", seed=seed, device=device, verbose=verbose)
    else:
        est = NGram(order=order, n_symbols=len(vocab), verbose=verbose)
    t0 = time.perf_counter()
    with warnings.catch_warnings():  # a fixed EM budget is the user's choice: say it, once
        warnings.simplefilter("ignore", ConvergenceWarning)
        est.fit(chunk(train_ids, seq_len))
    seconds = time.perf_counter() - t0
    report = {"model": model, "corpus": str(path),
              "converged": bool(getattr(est, "converged_", True)), "characters": len(text),
              "vocabulary": len(vocab), "train_characters": len(train_ids),
              "test_characters": len(test_ids), "train_seconds": seconds,
              "bits_per_char": _bits(est, [test_ids]),
              "train_bits_per_char": _bits(est, chunk(train_ids, seq_len))}
    if baseline and model != "ngram":
        ref = NGram(order=5, n_symbols=len(vocab), verbose=False).fit(chunk(train_ids, seq_len))
        report["ngram5_bits_per_char"] = _bits(ref, [test_ids])
    io.save(est, out, data={"text": {"vocabulary": vocab.to_json(), "corpus": str(path),
                                     "split": split, "seq_len": seq_len,
                                     "bits_per_char": report["bits_per_char"]}})
    return report


def load_text_model(path):
    """(model, vocabulary) of a checkpoint written by :func:`train_text`."""
    from .. import io

    cfg = io.read_config(path)
    spec = (cfg.get("data") or {}).get("text")
    if not isinstance(spec, dict) or "vocabulary" not in spec:
        raise ValueError(f"{path} is a genlearn checkpoint but not a text model (no vocabulary);"
                         " train one with `genlearn text train`")
    return io.load(path), Vocabulary.from_json(spec["vocabulary"])


def generate_text(path, *, length: int = 400, prompt: str = "", temperature: float = 1.0,
                  seed=None, n: int = 1) -> list[str]:
    """``n`` continuations of ``prompt`` (``length`` characters each) from a text checkpoint."""
    model, vocab = load_text_model(path)
    ids = vocab.encode(prompt) if prompt else None
    draws = model.sample(n, length, seed=seed, prompt=ids, temperature=temperature)
    return [vocab.decode(d) for d in draws]


def add_subparser(sub) -> None:
    """``genlearn text train`` and ``genlearn text generate`` (called by the CLI's parser)."""
    p = sub.add_parser("text", help="character-level text models: train, generate")
    text_sub = p.add_subparsers(dest="text_command", required=True, metavar="ACTION")
    t = text_sub.add_parser("train", help="learn a character-level model of a UTF-8 file")
    t.add_argument("corpus", help="a UTF-8 text file")
    t.add_argument("--model", default="hmm", choices=TEXT_MODELS)
    t.add_argument("--states", type=int, default=128, help="HMM hidden states (default 128)")
    t.add_argument("--order", type=int, default=5, help="n-gram order (default 5)")
    t.add_argument("--iters", type=int, default=100, help="HMM EM iterations (default 100)")
    t.add_argument("--seq-len", type=int, default=200,
                   help="training sequences are cut to this many characters (default 200)")
    t.add_argument("--split", type=float, default=0.9, help="training fraction (default 0.9)")
    t.add_argument("--out", default="runs/text", help="checkpoint folder (default runs/text)")
    t.add_argument("--seed", type=int, default=0)
    t.add_argument("--device", default="auto")
    t.add_argument("--no-baseline", dest="baseline", action="store_false",
                   help="skip the 5-gram baseline on the same split")
    t.add_argument("--force", action="store_true", help="replace a checkpoint in --out")
    t.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    t.set_defaults(func=_cmd_train)
    g = text_sub.add_parser("generate", help="continue a prompt with a trained text model")
    g.add_argument("checkpoint")
    g.add_argument("--length", type=int, default=400, help="characters to generate")
    g.add_argument("--prompt", default="", help="text to continue (conditions the model)")
    g.add_argument("--temperature", type=float, default=1.0,
                   help="below 1 sharper, above 1 more random (default 1)")
    g.add_argument("-n", type=int, default=1, help="number of continuations")
    g.add_argument("--seed", type=int, default=None)
    g.set_defaults(func=_cmd_generate)


def _cmd_train(args) -> int:
    report = train_text(args.corpus, model=args.model, states=args.states, order=args.order,
                        n_iter=args.iters, seq_len=args.seq_len, split=args.split,
                        out=args.out, seed=args.seed, baseline=args.baseline, force=args.force,
                        verbose=not args.quiet, device=args.device)
    print(f"trained a character-level {report['model']} on {report['train_characters']:,} "
          f"characters ({report['vocabulary']} symbols) in {report['train_seconds']:.1f} s",
          flush=True)
    print(f"held-out bits per character: {report['bits_per_char']:.4f} "
          f"({report['test_characters']:,} characters)", flush=True)
    if not report["converged"]:
        print(f"(EM used all {args.iters} iterations without converging; --iters raises the "
              "budget)", flush=True)
    if "ngram5_bits_per_char" in report:
        print(f"5-gram Kneser-Ney baseline on the same split: "
              f"{report['ngram5_bits_per_char']:.4f}", flush=True)
    print(f"checkpoint: {args.out}", flush=True)
    return 0


def _cmd_generate(args) -> int:
    check_int(args.length, "--length", low=1)
    check_int(args.n, "-n", low=1)
    for text in generate_text(args.checkpoint, length=args.length, prompt=args.prompt,
                              temperature=args.temperature, seed=args.seed, n=args.n):
        print(args.prompt + text, flush=True)
    return 0
