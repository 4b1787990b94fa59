"""A molecule generator: a genlearn sequence model over SMILES or SELFIES tokens.

    gen = MoleculeGenerator(model="rnn", representation="selfies", max_length=100)
    gen.fit(prepare(smiles, "selfies", max_length=100))
    gen.sample(1000, seed=0)      # canonical SMILES, None where the draw is not a molecule
    gen.save("runs/mol"); MoleculeGenerator.load("runs/mol")

The sequence model is any registered genlearn model that reads integer sequences; how a
molecule becomes a sequence depends on whether the model has its own end symbol, so each family
has a small strategy (:class:`FixedLengthCodec` for the n-gram and HMM, which draw a fixed
number of symbols and learn our ``<eos>`` symbol like any other; :class:`EndSymbolCodec` for
the Transformer and RNN, which add BOS/EOS themselves and stop at EOS). A draw that ends
without an end symbol (longer than ``max_length`` tokens) or with a special symbol inside is
not a molecule and counts as invalid.

A checkpoint is the sequence model's genlearn checkpoint folder (``config.json`` +
``weights.safetensors``) with ``molecules.json`` beside it (vocabulary, representation,
max_length, how the training data were cleaned) and ``train.smi`` (the canonical training
molecules, for novelty).
"""

from __future__ import annotations

import importlib
import json
import logging
import os
import tempfile
from pathlib import Path

import numpy as np

from .._utils import check_int
from ..models.autoregressive import check_filter
from .data import PreparedMolecules, canonical, prepare
from .sampling import draw_ids, supports
from .tokens import Vocabulary, get_repr

__all__ = ["MODELS", "EndSymbolCodec", "FixedLengthCodec", "MoleculeGenerator"]

log = logging.getLogger(__name__)

META = "molecules.json"
TRAIN = "train.smi"
FORMAT = "genlearn-molecules"


class FixedLengthCodec:
    """Models that draw ``length`` symbols (n-gram, HMM): molecule = tokens + ``<eos>``."""

    def encode(self, vocab, tokens):
        return vocab.encode(tokens)

    def sample(self, model, n, max_length, *, seed, temperature, top_p=None,
               precision="float32"):
        if precision != "float32":
            raise ValueError(f"precision={precision!r} needs a neural model (rnn, transformer)")
        if top_p is not None:
            raise ValueError("top_p needs a neural model (rnn, transformer); an n-gram or HMM "
                             "draws with temperature only")
        return model.sample(n, max_length + 1, seed=seed, temperature=temperature)

    def decode(self, vocab, ids, max_length):
        return vocab.decode(ids)


class EndSymbolCodec:
    """Models with their own BOS/EOS (Transformer, RNN): molecule = tokens; the model stops."""

    def encode(self, vocab, tokens):
        return vocab.encode(tokens)[:-1]

    def sample(self, model, n, max_length, *, seed, temperature, top_p=None,
               precision="float32"):
        # one symbol more than allowed: a draw that uses it did not stop, so it is cut off;
        # the batched sampler drops finished rows (same distribution, less work)
        if supports(model, max_length + 1):
            return draw_ids(model, n, max_length + 1, seed=seed, temperature=temperature,
                            top_p=top_p, batch_size=n, precision=precision)
        if precision != "float32":
            raise ValueError(f"precision={precision!r} needs the batched sampler, which this "
                             "model's window does not allow")
        return model.sample(n, max_length + 1, seed=seed, temperature=temperature,
                            top_p=top_p)

    def decode(self, vocab, ids, max_length):
        ids = np.asarray(ids)
        if len(ids) > max_length:
            return None
        return vocab.decode(np.r_[ids, vocab.eos_id])


# name -> (module that registers it, codec, default hyperparameters for molecules)
MODELS = {
    "ngram": ("genlearn.models.ngram", FixedLengthCodec, {"order": 6}),
    "hmm": ("genlearn.models.hmm", FixedLengthCodec,
            {"n_states": 32, "n_iter": 30, "verbose": False}),
    "rnn": ("genlearn.models.rnn", EndSymbolCodec,
            {"cell": "lstm", "n_layer": 2, "hidden": 256, "epochs": 2, "batch_size": 128,
             "lr": 2e-3, "val_fraction": 0.02, "length_buckets": 100, "verbose": False}),
    "transformer": ("genlearn.models.transformer", EndSymbolCodec,
                    {"n_layer": 4, "n_head": 4, "n_embd": 128, "epochs": 2, "batch_size": 128,
                     "lr": 1e-3, "val_fraction": 0.02, "length_buckets": 100,
                     "verbose": False}),
    # the sequence VAE (its own BOS/EOS: the end-symbol codec of the RNN); latent.py searches
    # its latent space
    "seqvae": ("genlearn.models.seq_vae", EndSymbolCodec,
               {"latent_dim": 32, "hidden": 256, "enc_hidden": 256, "n_embd": 64, "epochs": 5,
                "batch_size": 128, "lr": 1e-3, "beta": 1.0, "warmup_epochs": 1.0,
                "free_bits": 0.1, "word_dropout": 0.1, "iw_samples": 100, "verbose": False}),
}


def _model_class(name: str):
    if name not in MODELS:
        raise ValueError(f"unknown molecule model {name!r}; choose one of {', '.join(MODELS)}")
    from .. import registry

    importlib.import_module(MODELS[name][0])
    return registry.get(name)


class MoleculeGenerator:
    """Sequence model + vocabulary + representation. See the module docstring.

    Parameters
    ----------
    model : {"ngram", "hmm", "rnn", "transformer"}
    representation : {"smiles", "selfies", "selfies-short", "selfies-short:N"}
    max_length : int
        The longest molecule in tokens; longer training molecules are dropped (and counted),
        longer draws are invalid.
    model_params : dict or None
        Hyperparameters of the sequence model, over the defaults in ``MODELS``.
    seed : int or None
    """

    def __init__(self, model="rnn", representation="selfies", max_length=100,
                 model_params=None, seed=None):
        _model_class(model)
        get_repr(representation)
        check_int(max_length, "max_length", low=1)
        check_int(seed, "seed", low=0, allow_none=True)
        if model_params is not None and not isinstance(model_params, dict):
            raise ValueError(f"model_params must be a dict; got {model_params!r}")
        self.model = model
        self.representation = representation
        self.max_length = max_length
        self.model_params = dict(model_params or {})
        self.seed = seed

    @property
    def codec(self):
        return MODELS[self.model][1]()

    def _check_fitted(self):
        if not hasattr(self, "model_"):
            from ..base import NotFittedError

            raise NotFittedError("this MoleculeGenerator is not fitted; call fit or load")

    # -- training ---------------------------------------------------------------------------
    def fit(self, data, **fit_kwargs):
        """Fit on ``data``: a :class:`PreparedMolecules` (its representation must match) or a
        list of SMILES (cleaned and counted by :func:`prepare`). Returns ``self``."""
        if not isinstance(data, PreparedMolecules):
            data = prepare(data, self.representation, max_length=self.max_length)
        if data.representation != get_repr(self.representation).name:
            raise ValueError(f"the data were prepared as {data.representation}, the generator "
                             f"reads {self.representation}")
        too_long = [len(t) for t in data.tokens if len(t) > self.max_length]
        if too_long:
            raise ValueError(f"{len(too_long)} molecules are longer than max_length="
                             f"{self.max_length} tokens (the longest has {max(too_long)}); "
                             "prepare them with the same max_length")
        self.vocab_ = Vocabulary.build(data.tokens)
        codec = self.codec
        seqs = [codec.encode(self.vocab_, t) for t in data.tokens]
        params = {**MODELS[self.model][2], **self.model_params, "n_symbols": len(self.vocab_)}
        if self.seed is not None:
            params["seed"] = self.seed
        cls = _model_class(self.model)
        if self.model in ("rnn", "transformer"):
            params.setdefault("block_size", self.max_length + 2)
        # the model, molecules and report are in place before training, so a fit callback
        # (one per epoch) can save the generator as it goes
        self.model_ = cls(**params)
        self.train_smiles_ = list(data.smiles)
        self.data_report_ = {"n_read": data.n_read, "n_kept": data.n_kept,
                             "dropped": dict(data.dropped)}
        self.model_.fit(seqs, **fit_kwargs)
        return self

    # -- sampling ---------------------------------------------------------------------------
    def sample_tokens(self, n, *, seed=None, temperature=1.0, top_p=None, batch_size=1000,
                      precision="float32"):
        """``n`` draws as token lists (``None`` for a draw that is not a complete molecule).
        ``precision="bf16"`` runs an RNN/Transformer's products in bfloat16 (faster on CPUs
        with AMX; a slightly perturbed distribution, see :mod:`genlearn.molecules.sampling`).
        ``temperature`` and ``top_p`` as in :meth:`sample`."""
        check_filter(temperature, top_p=top_p)
        return [t for m, s in self._batch_plan(n, seed, batch_size)
                for t in self._draw_tokens(m, s, temperature, top_p, precision)]

    def _batch_plan(self, n, seed, batch_size) -> list[tuple[int, int]]:
        """(size, seed) of each batch: the draws depend on these, not on who draws them."""
        self._check_fitted()
        check_int(n, "n", low=1)
        check_int(batch_size, "batch_size", low=1)
        rng = np.random.default_rng(seed)
        sizes = [min(batch_size, n - i) for i in range(0, n, batch_size)]
        return [(m, int(rng.integers(2**31 - 1))) for m in sizes]

    def _draw_tokens(self, m, seed, temperature, top_p, precision) -> list:
        codec = self.codec
        rows = codec.sample(self.model_, m, self.max_length, seed=seed,
                            temperature=temperature, top_p=top_p, precision=precision)
        return [codec.decode(self.vocab_, r, self.max_length) for r in rows]

    def _draw_smiles(self, m, seed, temperature, top_p, precision) -> list:
        return to_canonical(self.representation,
                            self._draw_tokens(m, seed, temperature, top_p, precision))

    def sample(self, n, *, seed=None, temperature=1.0, top_p=None, batch_size=1000,
               precision="float32", n_jobs=1) -> list:
        """``n`` draws as canonical SMILES, ``None`` where a draw is not a valid molecule.

        ``temperature`` T draws from p^(1/T) renormalised at every step; ``top_p`` (RNN and
        Transformer only; nucleus sampling) then keeps the smallest set of next symbols whose
        probability reaches p. At T = 1 without ``top_p`` the draws follow the model exactly.

        ``n_jobs > 1`` draws the batches in that many CPU worker processes (each draws a
        batch and turns it into SMILES: the network, the SELFIES decoder and RDKit): the same
        molecules in the same order as ``n_jobs=1``, in less wall time on several cores."""
        check_int(n_jobs, "n_jobs", low=1)
        check_filter(temperature, top_p=top_p)
        plan = self._batch_plan(n, seed, batch_size)
        if n_jobs == 1 or len(plan) == 1:
            return [x for m, s in plan
                    for x in self._draw_smiles(m, s, temperature, top_p, precision)]
        device = getattr(self.model_, "device_", None)
        if device is not None and getattr(device, "type", "cpu") != "cpu":
            raise ValueError(f"n_jobs={n_jobs} draws in CPU worker processes; the model is on "
                             f"{device}: use n_jobs=1")
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor

        # fork where there is one (the workers inherit the model, as DataLoader workers do)
        methods = multiprocessing.get_all_start_methods()
        ctx = multiprocessing.get_context("fork" if "fork" in methods else "spawn")
        with ProcessPoolExecutor(min(n_jobs, len(plan)), mp_context=ctx,
                                 initializer=_worker_init, initargs=(self,)) as pool:
            futures = [pool.submit(_worker_draw, m, s, temperature, top_p, precision)
                       for m, s in plan]
            return [x for f in futures for x in f.result()]

    def log_prob(self, smiles) -> np.ndarray:
        """log p of each molecule (nats) under the sequence model, of the one token sequence
        the representation writes it as (canonical SMILES or SELFIES; ``selfies-short``'s
        chosen atom order). The model may give the molecule's other writings probability too
        (SELFIES has many), so this is a lower bound on the molecule's log-probability.
        Raises ``ValueError`` for an invalid or unencodable molecule."""
        self._check_fitted()
        data = prepare(smiles, self.representation, max_length=self.max_length,
                       strip_salts=False, neutralize=False)
        if data.n_kept != len(list(smiles)):
            raise ValueError(f"cannot score every molecule: {data.report()}")
        codec = self.codec
        return self.model_.log_prob([codec.encode(self.vocab_, t) for t in data.tokens])

    # -- checkpoints ------------------------------------------------------------------------
    def config(self) -> dict:
        return {"format": FORMAT, "version": 1, "model": self.model,
                "representation": self.representation, "max_length": self.max_length,
                "model_params": self.model_params, "seed": self.seed,
                "vocabulary": self.vocab_.to_dict(), "data": self.data_report_}

    def save(self, path) -> str:
        """Write the checkpoint folder ``path`` (see the module docstring)."""
        self._check_fitted()
        path = Path(path)
        self.model_.save(path)
        _atomic_write(path / META, json.dumps(self.config(), indent=2) + "\n")
        _atomic_write(path / TRAIN, "".join(s + "\n" for s in self.train_smiles_))
        return str(path)

    @classmethod
    def load(cls, path) -> MoleculeGenerator:
        from ..io import CheckpointError, load

        path = Path(path)
        meta_path = path / META
        if not meta_path.is_file():
            raise CheckpointError(f"{path} is not a molecule generator checkpoint: it has no "
                                  f"{META} (train one with genlearn molecules train)")
        try:
            meta = json.loads(meta_path.read_text())
        except ValueError as exc:
            raise CheckpointError(f"{meta_path} is not valid JSON: {exc}") from None
        if meta.get("format") != FORMAT:
            raise CheckpointError(f"{meta_path} is not a genlearn molecules config")
        gen = cls(model=meta["model"], representation=meta["representation"],
                  max_length=meta["max_length"], model_params=meta.get("model_params"),
                  seed=meta.get("seed"))
        gen.model_ = load(path)
        gen.vocab_ = Vocabulary.from_dict(meta["vocabulary"])
        gen.data_report_ = meta.get("data", {})
        train = path / TRAIN
        gen.train_smiles_ = train.read_text().split() if train.is_file() else []
        return gen


_WORKER: dict = {}


def _worker_init(gen) -> None:
    import torch

    # one process a core: several threads each would oversubscribe (this process's copy only)
    torch.set_num_threads(1)
    if "threads" in gen.model_.get_params():
        gen.model_.set_params(threads=1)
    _WORKER["gen"] = gen


def _worker_draw(m, seed, temperature, top_p, precision) -> list:
    return _WORKER["gen"]._draw_smiles(m, seed, temperature, top_p, precision)


def to_canonical(representation: str, token_lists) -> list:
    """Canonical SMILES of each token list (``None`` for ``None`` or an invalid molecule)."""
    rep = get_repr(representation)
    out = []
    for toks in token_lists:
        smi = rep.to_smiles(toks) if toks is not None else None
        out.append(canonical(smi) if smi else None)
    return out


def _atomic_write(path: Path, text: str) -> None:
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp makes 0600; the file gets the usual mode
        with os.fdopen(fd, "w") as fh:
            fh.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
