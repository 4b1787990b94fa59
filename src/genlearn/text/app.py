"""Train and generate with a text model: what ``genlearn text train`` / ``generate`` run.

The corpus is split by characters (first ``split`` trains, the rest is held out, as nanoGPT
splits Tiny Shakespeare); the tokenizer (characters, or byte-level BPE) is learned from the
training part only. Held-out figures are always **bits per character**: the exact total
negative log-likelihood of the held-out text, in bits, over its number of characters, so models
with different tokenizers compare honestly; a 5-gram Kneser-Ney model on the same split and
tokens is reported beside them. The tokenizer is saved inside the checkpoint as JSON.

    report = train_text("corpus.txt", model="transformer", out="runs/text")
    for piece in iter_generate("runs/text", prompt="To be", length=200): print(piece, end="")
"""

from __future__ import annotations

import logging
import math
import time
import warnings
from pathlib import Path

import numpy as np

from .._utils import check_float, check_int
from .tokenizers import build_tokenizer, tokenizer_from_json
from .vocab import Vocabulary, chunk, docs_corpus, read_text, split_text

log = logging.getLogger(__name__)

TEXT_MODELS = ("transformer", "rnn", "hmm", "ngram")
CORPORA = {"docs": lambda: docs_corpus()}


# -- the models: one builder per name (the keyword arguments each one reads) ---------------------
def _transformer(n_symbols, o):
    from ..models.transformer import Transformer

    return Transformer(n_layer=o["n_layer"], n_head=o["n_head"], n_embd=o["n_embd"],
                       dropout=o["dropout"], block_size=o["block_size"], n_symbols=n_symbols,
                       end_symbol=False, epochs=o["epochs"], batch_size=o["batch_size"],
                       lr=o["lr"], warmup=o["warmup"], max_time=o["max_time"], clock=o["clock"],
                       seed=o["seed"], device=o["device"], verbose=o["verbose"],
                       threads=o["threads"])


def _rnn(n_symbols, o):
    from ..models.rnn import RNN

    return RNN(cell=o["cell"], n_layer=o["n_layer"], hidden=o["hidden"], dropout=o["dropout"],
               block_size=o["block_size"], n_symbols=n_symbols, end_symbol=False,
               epochs=o["epochs"], batch_size=o["batch_size"], lr=o["lr_rnn"],
               max_time=o["max_time"], clock=o["clock"], seed=o["seed"], device=o["device"],
               verbose=o["verbose"], threads=o["threads"])


def _hmm(n_symbols, o):
    from ..models.hmm import HMM

    # floor: a pseudo-count on every emission and transition, so the unknown slot and symbols
    # a state never emitted in training keep a small probability (held-out text would
    # otherwise score -inf)
    return HMM(n_states=o["states"], emission="categorical", n_symbols=n_symbols,
               n_iter=o["n_iter"], floor=o["floor"], init="random", seed=o["seed"],
               device=o["device"], verbose=o["verbose"])


def _ngram(n_symbols, o):
    from ..models.ngram import NGram

    return NGram(order=o["order"], n_symbols=n_symbols, verbose=o["verbose"])


BUILDERS = {"transformer": _transformer, "rnn": _rnn, "hmm": _hmm, "ngram": _ngram}
DEFAULTS = {"n_layer": 4, "n_head": 4, "n_embd": 128, "dropout": 0.1, "block_size": 128,
            "epochs": 5, "batch_size": 32, "lr": 2e-3, "lr_rnn": 3e-3, "cell": "lstm",
            "hidden": 256, "states": 128, "n_iter": 100, "floor": 1e-2, "order": 5, "seed": 0,
            "warmup": 100, "max_time": None, "clock": "wall", "threads": None, "device": "auto",
            "verbose": True}


def _bits_per_char(model, seqs, n_chars: int) -> float:
    return float(-model.log_prob(seqs).sum() / n_chars / math.log(2.0))


def _corpus(path, data):
    if (path is None) == (data is None):
        raise ValueError("give a corpus file or --data NAME (one of: "
                         f"{', '.join(sorted(CORPORA))}), not both or neither")
    if data is not None:
        if data not in CORPORA:
            raise ValueError(f"unknown corpus {data!r}; known: {sorted(CORPORA)}")
        return CORPORA[data](), f"data:{data}"
    return read_text(path), str(Path(path).resolve())


def train_text(path=None, *, data: str | None = None, model: str = "transformer",
               tokenizer: str = "char", vocab_size: int | None = None, chars: int | None = None,
               seq_len: int | None = None, split: float = 0.9, out="runs/text",
               baseline: bool = True, force: bool = False, resume: bool = False,
               checkpoint_every: int = 1, **options) -> dict:
    """Learn a text model of the UTF-8 file ``path`` (or the named corpus ``data``), save it to
    ``out`` and return a report with held-out bits per character.

    ``options`` are the model's settings (see ``DEFAULTS``: n_layer, n_embd, block_size,
    epochs, states, order, ...). The training tokens are cut into sequences of ``seq_len``
    tokens (default: 8 windows for the networks, 200 for the HMM and n-gram); the held-out part
    is scored as one sequence. Networks write a checkpoint every ``checkpoint_every`` epochs;
    ``resume`` continues the checkpoint in ``out``.

    Under a process group (``torchrun``, or ``genlearn text train --nproc N``) every rank runs
    this with the same corpus and settings: the networks, the HMM and the n-gram share their
    training out (genlearn.training.distributed_fit, genlearn.distributed) and only rank 0
    writes ``out``.
    """
    from .. import distributed, io
    from ..models.hmm import ConvergenceWarning

    if model not in BUILDERS:
        raise ValueError(f"--model must be one of {list(TEXT_MODELS)}; got {model!r}")
    unknown = set(options) - set(DEFAULTS)
    if unknown:
        raise ValueError(f"unknown text-model option(s) {sorted(unknown)}; known: "
                         f"{sorted(DEFAULTS)}")
    opts = {**DEFAULTS, **options}
    check_float(split, "split", low=0.0, high=1.0, low_open=True, high_open=True)
    check_int(chars, "chars", low=2, allow_none=True)
    out = Path(out)
    if resume:
        if not io.is_checkpoint(out):
            raise ValueError(f"--resume: {out} holds no checkpoint to continue")
    elif io.is_checkpoint(out) and not force:
        raise ValueError(f"{out} already holds a checkpoint; use --force to replace it")
    elif out.exists() and (not out.is_dir() or any(out.iterdir())) and not io.is_checkpoint(out):
        raise ValueError(f"output folder {out} exists and is not a genlearn checkpoint")
    text, source = _corpus(path, data)
    if chars is not None:
        text = text[:chars]
    train_txt, test_txt = split_text(text, split)
    if resume:  # the checkpoint's model and tokenizer; only the number of epochs is new
        est, tok = load_text_model(out)
        if "epochs" in est.get_params():
            est.set_params(epochs=opts["epochs"], verbose=opts["verbose"])
    else:
        tok = build_tokenizer(tokenizer, train_txt, vocab_size)
        est = BUILDERS[model](len(tok), opts)
    train_ids, test_ids = tok.encode(train_txt), tok.encode(test_txt)
    if seq_len is None:
        seq_len = 8 * opts["block_size"] if model in ("transformer", "rnn") else 200
    check_int(seq_len, "seq_len", low=1)
    train_seqs = chunk(train_ids, seq_len)
    spec = {"tokenizer": tok.to_json(), "corpus": source, "split": split, "chars": chars,
            "seq_len": seq_len}

    writer = distributed.rank() == 0  # under torchrun: one writer, the same fit everywhere

    def save_every(epoch, record):
        if writer and checkpoint_every and epoch % checkpoint_every == 0:
            io.save(est, out, data={"text": spec})

    t0, c0 = time.perf_counter(), time.process_time()
    with warnings.catch_warnings():  # a fixed EM budget is the user's choice: said once below
        warnings.simplefilter("ignore", ConvergenceWarning)
        if getattr(type(est), "epoch_trained", False):
            est.fit(train_seqs, resume=resume, callback=save_every)
        else:
            est.fit(train_seqs)
    seconds, cpu_seconds = time.perf_counter() - t0, time.process_time() - c0
    report = {"model": est._registry_name, "corpus": source, "tokenizer": tokenizer,
              "converged": bool(getattr(est, "converged_", True)), "characters": len(text),
              "vocabulary": len(tok), "train_characters": len(train_txt),
              "test_characters": len(test_txt), "train_tokens": int(len(train_ids)),
              "train_seconds": seconds, "train_cpu_seconds": cpu_seconds,
              "bits_per_char": _bits_per_char(est, [test_ids], len(test_txt))}
    if baseline and report["model"] != "ngram":
        from ..models.ngram import NGram

        ref = NGram(order=5, n_symbols=len(tok), verbose=False).fit(chunk(train_ids, 200))
        report["ngram5_bits_per_char"] = _bits_per_char(ref, [test_ids], len(test_txt))
    spec["bits_per_char"] = report["bits_per_char"]
    if writer:
        io.save(est, out, data={"text": spec})
    report["processes"] = distributed.world_size()
    return report


def load_text_model(path, tokenizer_file=None):
    """(model, tokenizer) of a checkpoint written by :func:`train_text`.

    ``tokenizer_file`` (a tokenizer JSON) may stand in for one the checkpoint lacks; it must
    have the model's number of symbols and, when the checkpoint has a tokenizer, equal it.
    """
    import json

    from .. import io

    cfg = io.read_config(path)
    spec = (cfg.get("data") or {}).get("text")
    stored = None
    if isinstance(spec, dict):
        stored = spec.get("tokenizer", spec.get("vocabulary"))
    model = io.load(path)
    if tokenizer_file is not None:
        try:
            tok = tokenizer_from_json(json.loads(Path(tokenizer_file).read_text()))
        except (OSError, ValueError) as exc:
            raise ValueError(f"tokenizer file {tokenizer_file}: {exc}") from None
        if stored is not None and tok != tokenizer_from_json(stored):
            raise ValueError(f"tokenizer file {tokenizer_file} does not match the tokenizer "
                             f"saved in {path}")
    elif stored is None:
        raise ValueError(f"{path} is a genlearn checkpoint but not a text model (no "
                         "tokenizer); train one with `genlearn text train`")
    else:
        tok = tokenizer_from_json(stored)
    n_symbols = getattr(model, "n_symbols_", None)
    if n_symbols is not None and n_symbols != len(tok):
        raise ValueError(f"the tokenizer has {len(tok)} symbols but the model in {path} has "
                         f"{n_symbols}: they do not belong together")
    return model, tok


def _encode_prompt(tok, prompt: str) -> np.ndarray:
    ids = tok.encode(prompt)
    if isinstance(tok, Vocabulary) and np.any(ids == 0):
        unknown = sorted({c for c, i in zip(prompt, ids, strict=True) if i == 0})
        warnings.warn(f"the prompt has {int(np.sum(ids == 0))} character(s) the vocabulary "
                      f"does not know ({''.join(unknown)!r}); they are read as the unknown "
                      "symbol", stacklevel=3)
    return ids


def iter_generate(path, *, prompt: str = "", length: int = 400, temperature: float = 1.0,
                  top_k=None, top_p=None, seed=None, tokenizer_file=None):
    """Yield the text of one continuation of ``prompt`` piece by piece as it is generated
    (``length`` tokens; the prompt itself is not yielded)."""
    check_int(length, "length", low=1)
    model, tok = load_text_model(path, tokenizer_file)
    ids = _encode_prompt(tok, prompt) if prompt else None
    if not hasattr(model, "generate"):  # HMM, n-gram: the whole draw at once
        if top_k is not None or top_p is not None:
            raise ValueError(f"--top-k/--top-p need a transformer or rnn model; this is "
                             f"{model._registry_name!r}")
        yield tok.decode(model.sample(1, length, seed=seed, prompt=ids,
                                      temperature=temperature)[0])
        return
    drawn, shown = [], ""
    for step in model.generate(1, length, prompt=ids, temperature=temperature, top_k=top_k,
                               top_p=top_p, seed=seed):
        if step[0] < 0:
            break
        drawn.append(int(step[0]))
        text = tok.decode(drawn)
        stable = text.rstrip("\ufffd")  # a byte-level token may end inside a character
        if len(stable) > len(shown):
            yield stable[len(shown):]
            shown = stable
    text = tok.decode(drawn)
    if len(text) > len(shown):
        yield text[len(shown):]


def generate_text(path, *, length: int = 400, prompt: str = "", temperature: float = 1.0,
                  top_k=None, top_p=None, seed=None, n: int = 1,
                  tokenizer_file=None) -> list[str]:
    """``n`` continuations of ``prompt`` (``length`` tokens each) from a text checkpoint."""
    check_int(n, "n", low=1)
    out = []
    for i in range(n):
        s = None if seed is None else seed + i
        out.append("".join(iter_generate(path, prompt=prompt, length=length,
                                         temperature=temperature, top_k=top_k, top_p=top_p,
                                         seed=s, tokenizer_file=tokenizer_file)))
    return out
