"""The music application: train a model on a corpus, generate and continue pieces, evaluate.

A run is a genlearn checkpoint folder whose ``config.json`` also records the corpus (name,
steps per quarter note, split), so ``generate``, ``continue`` and ``evaluate`` need only the
folder. Time is counted in steps of 1 / ``steps_per_quarter`` quarter notes and a bar is four
quarter notes (the chorales are in 4/4 or 3/4; 4/4 is assumed).
"""

from __future__ import annotations

import logging
import time
from pathlib import Path

import numpy as np

from .. import distributed, io, registry
from .data import load_corpus
from .metrics import compare_sets, frame_accuracy
from .midi import read_piece, write_midi
from .render import audio_available, save_piano_roll, write_wav
from .tokens import TokenFrameModel

log = logging.getLogger(__name__)

QUARTERS_PER_BAR = 4
# CLI model name -> (registry name, default hyperparameters for the music application)
MODELS = {
    "rnnrbm": ("rnnrbm", {"hidden": 8, "dropout": 0.3, "batch_size": 8, "lr": 2e-3,
                          "epochs": 60, "patience": 10}),
    "rnnnade": ("rnnnade", {"dropout": 0.3, "batch_size": 8, "lr": 2e-3, "epochs": 40,
                            "patience": 10}),
    "lstm": ("frame_rnn", {"dropout": 0.3, "batch_size": 8, "lr": 2e-3, "epochs": 100,
                           "patience": 10}),
    "hmm": ("chord_hmm", {"n_states": 32, "n_iter": 200}),
    "bernoulli": ("key_bernoulli", {}),
    # token models over the event encoding of music/tokens.py (no end symbol: frames are scored)
    "transformer": ("transformer", {"n_layer": 2, "n_head": 4, "n_embd": 64, "block_size": 256,
                                    "epochs": 20, "batch_size": 16, "lr": 2e-3, "dropout": 0.1,
                                    "end_symbol": False, "verbose": False, "device": "cpu"}),
}
TOKEN_MODELS = ("transformer",)


def steps_per_bar(steps_per_quarter: int) -> int:
    return QUARTERS_PER_BAR * steps_per_quarter


def make_model(name: str, **params):
    if name not in MODELS:
        raise ValueError(f"unknown music model {name!r}; choose one of {', '.join(MODELS)}")
    reg, defaults = MODELS[name]
    cls = registry.get(reg)
    known = cls().get_params()
    unknown = sorted(set(params) - set(known))
    if unknown:
        raise ValueError(f"{name} has no hyperparameter {unknown[0]!r}")
    return cls(**{**defaults, **params})


def train(corpus: str = "bach", model: str = "rnnrbm", out="runs/music", *,
          steps_per_quarter: int = 1, split_seed: int = 0, **params) -> dict:
    """Fit ``model`` on the corpus's training pieces (early stopping on its valid pieces where
    the model supports it), save the run, and return the held-out figures."""
    rolls = load_corpus(corpus, steps_per_quarter=steps_per_quarter, seed=split_seed)
    if not rolls.train:
        raise ValueError(f"the corpus {corpus!r} has no training pieces")
    est = make_model(model, **params)
    t0 = time.perf_counter()
    extra = {}
    if model in TOKEN_MODELS:
        est = TokenFrameModel.fit(est.set_params(n_symbols=rolls.train[0].shape[1] + 1),
                                  rolls.train)
        extra = {"tokens": True, "max_per_frame": est.max_per_frame, "n_keys": est.n_keys}
    elif rolls.valid and "valid" in type(est).fit.__code__.co_varnames:
        est.fit(rolls.train, valid=rolls.valid)
    else:
        est.fit(rolls.train)
    seconds = time.perf_counter() - t0
    named = str(corpus).lower() in ("bach", "jsb", "nottingham")
    data = {**extra, "corpus": str(corpus) if named else str(Path(corpus).resolve()),
            "steps_per_quarter": rolls.steps_per_quarter, "seed": split_seed,
            "music_model": model, **{k: v for k, v in rolls.describe().items() if k != "split"}}
    if distributed.rank() == 0:  # under torch.distributed every rank fits; one writes
        io.save(est.model if model in TOKEN_MODELS else est, out, data=data)
    test = rolls.test or rolls.train
    return {"model": model, "corpus": rolls.name, "train_seconds": seconds,
            "test_nll_per_step": est.nll_per_step(test), "n_train": len(rolls.train),
            "n_test": len(test), "estimator": _estimator(est), "out": str(out)}


def _estimator(model) -> str:
    if isinstance(model, TokenFrameModel):
        return ("exact log-probability of the canonical token sequence per frame (a lower "
                "bound on the decoded frame's log p)")
    return model.log_prob_estimator()


def load_run(run):
    """The model and the corpus description of a run folder."""
    cfg = io.read_config(run)
    data = cfg.get("data") or {}
    if "steps_per_quarter" not in data:
        raise ValueError(f"{run} is not a music run (it was not written by genlearn music train)")
    model = io.load(run)
    if data.get("tokens"):
        model = TokenFrameModel(model, int(data["n_keys"]), int(data["max_per_frame"]))
    return model, data


def _write_piece(roll, out, spq: int, *, opening: int = 0, title: str = "") -> dict:
    out = Path(out)
    if out.suffix.lower() not in (".mid", ".midi"):
        raise ValueError(f"the output {out} must end in .mid or .midi")
    write_midi(roll, out, steps_per_quarter=spq)
    png = save_piano_roll(roll, out.with_suffix(".png"), steps_per_quarter=spq,
                          opening=opening, title=title)
    wav = write_wav(out, out.with_suffix(".wav"))
    return {"midi": str(out), "png": str(png), "wav": None if wav is None else str(wav),
            "audio_note": audio_available()}


def _draw(model, n, length, *, seed=None, prompt=None, temperature: float = 1.0):
    """``model.sample``; a temperature other than 1 only for the models that have one."""
    kw = {} if prompt is None else {"prompt": prompt}
    if temperature != 1.0:
        if not getattr(type(model), "samples_with_temperature", False):
            raise ValueError(f"temperature={temperature} is not available for "
                             f"{type(model).__name__} (the recurrent frame models have it)")
        kw["temperature"] = temperature
    return model.sample(n, length, seed=seed, **kw)


def generate(run, out="piece.mid", *, bars: int = 16, seed=None,
             temperature: float = 1.0) -> dict:
    """A new piece of ``bars`` bars: MIDI, a piano-roll PNG beside it, WAV where possible."""
    model, data = load_run(run)
    spq = int(data["steps_per_quarter"])
    if bars < 1:
        raise ValueError(f"bars must be >= 1; got {bars}")
    roll = _draw(model, 1, bars * steps_per_bar(spq), seed=seed, temperature=temperature)[0]
    return {"steps": len(roll), **_write_piece(roll, out, spq, title=f"generated, {bars} bars")}


def continue_piece(run, start, out="completed.mid", *, bars: int = 8, seed=None,
                   clip: bool = False, temperature: float = 1.0) -> dict:
    """The opening in ``start`` (MIDI/MusicXML) followed by ``bars`` generated bars; the
    opening's frames are copied unchanged, the continuation is drawn given them."""
    model, data = load_run(run)
    spq = int(data["steps_per_quarter"])
    if bars < 1:
        raise ValueError(f"bars must be >= 1; got {bars}")
    opening = read_piece(start, steps_per_quarter=spq, clip=clip)
    rest = _draw(model, 1, bars * steps_per_bar(spq), seed=seed, prompt=opening,
                 temperature=temperature)[0]
    roll = np.vstack([opening, rest]).astype(np.uint8)
    info = _write_piece(roll, out, spq, opening=len(opening), title="given opening + continuation")
    return {"opening_steps": len(opening), "steps": len(roll), **info}


def next_frame_predictions(model, rolls, seed=0) -> list[np.ndarray]:
    """For each step, a frame drawn from p(v_t | the true v_<t): the frames frame accuracy
    scores (one draw per step, as Boulanger-Lewandowski et al. 2012 do)."""
    if hasattr(model, "predict_next_frames"):
        return model.predict_next_frames(rolls, seed=seed)
    out = []
    for r in rolls:
        frames = [model.sample(1, 1, seed=seed + t, prompt=r[:t] if t else None)[0][0]
                  for t in range(len(r))]
        out.append(np.array(frames))
    return out


def evaluate(run, *, n_pieces: int | None = None, seed: int = 0,
             temperature: float = 1.0) -> dict:
    """Held-out NLL per step (every test frame weighted equally), the continuation NLL of the
    second halves, frame accuracy, and the musical statistics of generated pieces (drawn at
    ``temperature``) against the held-out ones (as many pieces, of the same lengths)."""
    model, data = load_run(run)
    rolls = load_corpus(data["corpus"], steps_per_quarter=int(data["steps_per_quarter"]),
                        seed=int(data.get("seed", 0)))
    test = rolls.test or rolls.train
    steps = model.log_prob_steps(test)
    n = sum(len(s) for s in steps)
    tails = [s[len(s) // 2:] for s in steps]
    pieces = test if n_pieces is None else test[:n_pieces]
    generated = [_draw(model, 1, len(r), seed=seed + i, temperature=temperature)[0]
                 for i, r in enumerate(pieces)]
    spq = int(data["steps_per_quarter"])
    stats = compare_sets(generated, pieces, rolls.train, window=4 * steps_per_bar(spq))
    return {"corpus": rolls.name, "n_test": len(test), "test_steps": n,
            "nll_per_step": float(-np.concatenate(steps).sum() / n),
            "continuation_nll_per_step": float(-np.concatenate(tails).sum()
                                               / sum(len(t) for t in tails)),
            "estimator": _estimator(model), "temperature": temperature,
            "frame_accuracy": frame_accuracy(np.concatenate(next_frame_predictions(model, test)),
                                             np.concatenate(test)),
            **stats}
