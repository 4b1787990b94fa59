"""Music corpora as piano rolls: (T, 88) 0/1 frames, keys = MIDI pitches 21..108 (A0..C8).

- :func:`load_mat` reads the polyphonic benchmarks of Boulanger-Lewandowski et al. (2012)
  (JSB Chorales, Nottingham, ...) as the TCN code redistributes them: a MATLAB file with
  ``traindata`` / ``validdata`` / ``testdata``, each a cell array of (T, 88) piano rolls at
  quarter-note steps (JSB: the published 229 / 76 / 77 split).
- :func:`bach_chorales` encodes the Bach chorales of the music21 corpus (shipped with the
  ``music`` extra, so it works offline) and caches the arrays, keyed by a version, in
  ``~/.cache/genlearn`` (``GENLEARN_CACHE`` overrides); :func:`split_pieces` is the fixed
  seeded split by piece.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

log = logging.getLogger(__name__)

LOWEST_PITCH = 21  # MIDI pitch of key 0 (A0)
N_KEYS = 88
SPLITS = ("train", "valid", "test")
CACHE_VERSION = 1  # bump when the encoding changes; old cache files are then ignored


@dataclass
class PianoRolls:
    """A corpus split into train / valid / test lists of (T, 88) uint8 piano rolls."""

    train: list
    valid: list
    test: list
    name: str = ""
    steps_per_quarter: int = 1
    info: dict = field(default_factory=dict)

    def __getitem__(self, split: str) -> list:
        if split not in SPLITS:
            raise KeyError(f"unknown split {split!r}; choose one of {', '.join(SPLITS)}")
        return getattr(self, split)

    def describe(self) -> dict:
        return {"name": self.name, "steps_per_quarter": self.steps_per_quarter,
                **{f"n_{s}": len(self[s]) for s in SPLITS},
                **{f"steps_{s}": int(sum(len(r) for r in self[s])) for s in SPLITS},
                **self.info}


def require(module: str):
    """Import an optional dependency of the music extra, or a one-line error naming it."""
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError:
        raise ImportError(f"{module} is needed for this; install the music extra: "
                          "pip install genlearn[music]") from None


def load_mat(path, name: str | None = None) -> PianoRolls:
    """The train / valid / test piano rolls of a Boulanger-Lewandowski ``.mat`` file."""
    from scipy.io import loadmat
    from scipy.io.matlab import MatReadError

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no music data file at {path}")
    try:
        d = loadmat(str(path))
    except (MatReadError, ValueError, OSError, TypeError) as exc:
        raise ValueError(f"{path} is not a readable MATLAB .mat file: {exc}") from None
    keys = {"train": "traindata", "valid": "validdata", "test": "testdata"}
    missing = [k for k in keys.values() if k not in d]
    if missing:
        raise ValueError(f"{path} lacks {', '.join(missing)}: expected the Boulanger-Lewandowski"
                         " layout (traindata / validdata / testdata cell arrays of piano rolls)")
    splits = {}
    for split, key in keys.items():
        rolls = []
        for i, r in enumerate(np.asarray(d[key]).ravel()):
            r = np.asarray(r)
            if r.ndim != 2 or r.shape[1] != N_KEYS or not np.isin(r, (0, 1)).all():
                raise ValueError(f"{path}: {key}[{i}] is not a (T, {N_KEYS}) 0/1 piano roll "
                                 f"(shape {r.shape})")
            rolls.append(r.astype(np.uint8))
        splits[split] = rolls
    return PianoRolls(**splits, name=name or path.stem, steps_per_quarter=1,
                      info={"source": str(path)})


def split_pieces(n: int, *, seed: int = 0, fractions=(0.8, 0.1, 0.1)) -> dict:
    """A fixed seeded split of ``n`` pieces by index: {"train": [...], "valid": [...], ...}."""
    perm = np.random.default_rng(seed).permutation(n)
    n_train = int(round(fractions[0] * n))
    n_valid = int(round(fractions[1] * n))
    return {"train": sorted(perm[:n_train].tolist()),
            "valid": sorted(perm[n_train:n_train + n_valid].tolist()),
            "test": sorted(perm[n_train + n_valid:].tolist())}


def cache_dir() -> Path:
    root = os.environ.get("GENLEARN_CACHE") or Path.home() / ".cache" / "genlearn"
    return Path(root)


def bach_chorales(*, steps_per_quarter: int = 1, transpose: bool = True, seed: int = 0,
                  limit: int | None = None, cache: bool = True) -> PianoRolls:
    """The Bach chorales of the music21 corpus as piano rolls, split by piece (seeded).

    ``steps_per_quarter`` 1 (quarter notes, as JSB) or 2 (eighth notes); ``transpose`` moves
    each chorale to C major / A minor (music21's key analysis). Parsing all chorales takes
    minutes, so the encoded arrays are cached (``.npz`` keyed by the options and
    :data:`CACHE_VERSION`). ``limit`` keeps the first pieces only (tests, quick looks).
    """
    from .midi import score_to_roll

    if steps_per_quarter not in (1, 2, 4):
        raise ValueError(f"steps_per_quarter must be 1, 2 or 4; got {steps_per_quarter!r}")
    corpus = require("music21.corpus")
    key = json.dumps({"v": CACHE_VERSION, "spq": steps_per_quarter, "tr": bool(transpose),
                      "limit": limit}, sort_keys=True)
    file = cache_dir() / f"bach_{hashlib.sha1(key.encode()).hexdigest()[:12]}.npz"
    if cache and file.is_file():
        z = np.load(file, allow_pickle=False)
        names = [str(s) for s in z["names"]]
        flat, ends = z["rolls"], z["ends"]
        rolls = np.split(flat, ends[:-1])
    else:
        paths = sorted(corpus.getComposer("bach"), key=str)
        paths = [p for p in paths if Path(str(p)).suffix in (".mxl", ".xml", ".krn")]
        if limit is not None:
            paths = paths[:limit]
        names, rolls = [], []
        for p in paths:
            try:
                score = corpus.parse(p)
            except Exception as exc:  # a corpus file music21 itself cannot read: skip it
                log.warning("skipping %s: %s", p, exc)
                continue
            if len(score.parts) != 4:
                continue  # the 4-part chorales (the others are instrumental arrangements)
            try:
                roll = score_to_roll(score, steps_per_quarter=steps_per_quarter,
                                     transpose=transpose)
            except ValueError as exc:
                log.warning("skipping %s: %s", p, exc)
                continue
            names.append(Path(str(p)).stem)
            rolls.append(roll)
        if cache and rolls:
            file.parent.mkdir(parents=True, exist_ok=True)
            tmp = file.with_suffix(".tmp.npz")
            np.savez_compressed(tmp, rolls=np.concatenate(rolls), names=np.array(names),
                                ends=np.cumsum([len(r) for r in rolls]))
            os.replace(tmp, file)
    if not rolls:
        raise ValueError("no Bach chorales could be read from the music21 corpus")
    split = split_pieces(len(rolls), seed=seed)
    parts = {s: [rolls[i] for i in idx] for s, idx in split.items()}
    return PianoRolls(**parts, name="bach", steps_per_quarter=steps_per_quarter,
                      info={"source": "music21 corpus", "transposed": bool(transpose),
                            "split_seed": seed,
                            "split": {s: [names[i] for i in idx] for s, idx in split.items()}})


def load_corpus(corpus: str, **options) -> PianoRolls:
    """``"bach"`` (music21), ``"jsb"`` / ``"nottingham"`` (``GENLEARN_MUSIC_DATA`` or the given
    ``.mat`` path), or a MIDI/MusicXML file or folder of the user's."""
    from .midi import rolls_from_path

    low = str(corpus).lower()
    if low == "bach":
        return bach_chorales(**options)
    if low in ("jsb", "nottingham"):
        fname = {"jsb": "JSB_Chorales.mat", "nottingham": "Nottingham.mat"}[low]
        root = os.environ.get("GENLEARN_MUSIC_DATA")
        if not root:
            raise ValueError(f"the {low} corpus is read from {fname}: set GENLEARN_MUSIC_DATA "
                             "to the folder holding it, or pass the file's path as --corpus")
        return load_mat(Path(root) / fname, name=low)
    path = Path(corpus)
    if path.suffix == ".mat":
        return load_mat(path)
    if not path.exists():
        raise ValueError(f"unknown corpus {corpus!r}: use bach, jsb, nottingham, a .mat file, "
                         "or a MIDI/MusicXML file or folder")
    named = rolls_from_path(path, steps_per_quarter=options.get("steps_per_quarter", 1))
    names = sorted(named)
    split = split_pieces(len(names), seed=options.get("seed", 0))
    if len(names) < 3:  # too few pieces to split: train on all, evaluate on all
        split = {"train": list(range(len(names))), "valid": [], "test": list(range(len(names)))}
    parts = {s: [named[names[i]] for i in idx] for s, idx in split.items()}
    return PianoRolls(**parts, name=path.name,
                      steps_per_quarter=options.get("steps_per_quarter", 1),
                      info={"source": str(path),
                            "split": {s: [names[i] for i in idx] for s, idx in split.items()}})
