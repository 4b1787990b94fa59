"""Molecules as token sequences: SMILES (atom-level regex) or SELFIES, and their vocabulary.

SMILES tokens follow the atom-level scheme of Schwaller et al. (2019, "Molecular
Transformer"): a bracket atom (``[nH]``, ``[C@@H]``, ``[O-]``) is one token, so are the
two-letter organic-subset elements ``Cl`` and ``Br``, a two-digit ring-bond label ``%nn``, and
every other character (atoms, bonds, branches, ring-bond digits). ``"".join(tokens)`` gives the
string back exactly. SELFIES (Krenn et al. 2020) tokens are its bracketed symbols, split by the
``selfies`` package; any SELFIES string decodes to a valid molecule.

A representation is a strategy object (:class:`SmilesRepr`, :class:`SelfiesRepr`,
:class:`ShortSelfiesRepr`) with ``tokenize(smiles) -> list[str]`` and
``to_smiles(tokens) -> str | None``; ``REPRESENTATIONS`` maps the names the CLI takes to them,
and :func:`get_repr` also reads ``"name:N"`` for one that takes an integer
(``"selfies-short:64"``).
"""

from __future__ import annotations

import json
import re
from collections import Counter

import numpy as np

from ._chem import chem, require

__all__ = ["REPRESENTATIONS", "SelfiesRepr", "ShortSelfiesRepr", "SmilesRepr", "Vocabulary",
           "get_repr", "span_cost", "tokenize_smiles"]

# bracket atom | %nn ring label | Cl | Br | any other single character
_SMILES_TOKEN = re.compile(r"\[[^\[\]]+\]|%\d\d|Cl|Br|.", re.DOTALL)


def tokenize_smiles(smiles: str) -> list[str]:
    """Split a SMILES string into atom-level tokens (``"".join`` gives it back)."""
    if not isinstance(smiles, str):
        raise ValueError(f"a SMILES must be a string; got {type(smiles).__name__}")
    return _SMILES_TOKEN.findall(smiles)


class SmilesRepr:
    """SMILES strings, atom-level tokens."""

    name = "smiles"

    def tokenize(self, smiles: str) -> list[str]:
        return tokenize_smiles(smiles)

    def to_smiles(self, tokens) -> str | None:
        return "".join(tokens)


class SelfiesRepr:
    """SELFIES strings (the ``selfies`` package), one token per bracketed symbol."""

    name = "selfies"

    def __init__(self):
        self._sf = require("selfies")

    def tokenize(self, smiles: str) -> list[str]:
        """SELFIES tokens of ``smiles``; raises ``ValueError`` if selfies cannot encode it."""
        try:
            s = self._sf.encoder(smiles, strict=True)
        except Exception as exc:  # selfies raises its own EncoderError
            raise ValueError(f"selfies cannot encode {smiles!r}: {exc}") from None
        if s is None:
            raise ValueError(f"selfies cannot encode {smiles!r}")
        return list(self._sf.split_selfies(s))

    def to_smiles(self, tokens) -> str | None:
        try:
            return self._sf.decoder("".join(tokens))
        except Exception:  # a malformed symbol (only possible with hand-made tokens)
            return None


_ATOM = re.compile(r"\[[^\[\]]+\]|Cl|Br|[BCNOPSFIbcnops]")


def span_cost(smiles: str) -> int:
    """How far a SMILES string's branches and ring bonds reach: the atoms inside every
    parenthesised branch (nested ones counted at each level) plus, for every ring bond, the
    atoms written between its two ends. SELFIES writes the same two numbers as index symbols
    *before* the branch and at the ring's closing atom, so this is what a left-to-right model
    of the SELFIES must plan ahead or count back."""
    n, cost, stack, open_at = 0, 0, [], {}
    for t in tokenize_smiles(smiles):
        if _ATOM.fullmatch(t):
            n += 1
        elif t == "(":
            stack.append(n)
        elif t == ")":
            if not stack:
                raise ValueError(f"unbalanced ')' in SMILES {smiles!r}")
            cost += n - stack.pop()
        elif t.isdigit() or t.startswith("%"):
            if t in open_at:
                cost += n - open_at.pop(t) - 1
            else:
                open_at[t] = n
    return cost


class ShortSelfiesRepr(SelfiesRepr):
    """SELFIES of the writing of each molecule whose branches and ring bonds reach least.

    A SELFIES string follows the atom order of the SMILES it was encoded from; RDKit's
    canonical order often nests long side chains, whole rings included, inside branches, and
    SELFIES then has to announce their length before the first of their symbols. This
    representation writes each molecule in ``n_orders`` random atom orders (RDKit's random
    SMILES, a fixed seed, so the same molecule always gets the same string) besides the
    canonical one and encodes the one with the smallest :func:`span_cost` (ties: the shorter
    string, then the canonical one). The molecules are the same; only the strings differ, and
    decoding is plain SELFIES decoding.
    """

    name = "selfies-short"
    parameter = "n_orders"  # get_repr("selfies-short:64") -> ShortSelfiesRepr(n_orders=64)
    default_orders = 32
    seed = 1  # RDKit draws unseeded random orders at seed 0

    def __init__(self, n_orders: int = default_orders):
        # the argument first: a bad one is a ValueError even where the chem extra is missing
        if isinstance(n_orders, bool) or not isinstance(n_orders, int) or n_orders < 1:
            raise ValueError(f"n_orders must be an integer >= 1; got {n_orders!r}")
        super().__init__()
        self.n_orders = n_orders
        if n_orders != self.default_orders:  # the name says everything the strings depend on
            self.name = f"{type(self).name}:{n_orders}"

    def writing(self, smiles: str) -> str:
        """The SMILES of ``smiles``'s molecule that this representation encodes."""
        Chem = chem()
        mol = Chem.MolFromSmiles(smiles) if isinstance(smiles, str) else None
        if mol is None:
            raise ValueError(f"RDKit cannot parse {smiles!r}")
        writings = [smiles, *Chem.MolToRandomSmilesVect(mol, self.n_orders, randomSeed=self.seed)]
        return min(writings, key=lambda s: (span_cost(s), len(s)))

    def tokenize(self, smiles: str) -> list[str]:
        return super().tokenize(self.writing(smiles))


REPRESENTATIONS = {"smiles": SmilesRepr, "selfies": SelfiesRepr,
                   "selfies-short": ShortSelfiesRepr}


def get_repr(name: str):
    """The representation called ``name``: one of ``REPRESENTATIONS``, or ``"base:N"`` for a
    representation that takes one integer (``"selfies-short:64"``: 64 random orders)."""
    base, sep, arg = name.partition(":") if isinstance(name, str) else (name, "", "")
    if base not in REPRESENTATIONS:
        raise ValueError(f"unknown molecule representation {name!r}; choose one of "
                         f"{', '.join(REPRESENTATIONS)}")
    cls = REPRESENTATIONS[base]
    if not sep:
        return cls()
    param = getattr(cls, "parameter", None)
    if param is None:
        raise ValueError(f"molecule representation {base!r} takes no ':' parameter; got {name!r}")
    try:
        value = int(arg)
    except ValueError:
        raise ValueError(f"molecule representation {name!r}: {param} must be an integer; "
                         f"got {arg!r}") from None
    return cls(**{param: value})


class Vocabulary:
    """Token <-> id map with an end-of-sequence symbol (id 0) and a begin symbol (id 1).

    Tokens get ids 2.. in order of decreasing training frequency (ties alphabetical), so the
    same data always gives the same ids. ``encode`` appends the end symbol; ``len(vocab)`` is
    the ``n_symbols`` of a sequence model. JSON-serialisable (``to_dict``/``from_dict``), so a
    checkpoint carries it in its config.
    """

    EOS, BOS = "<eos>", "<bos>"
    eos_id, bos_id = 0, 1

    def __init__(self, tokens):
        tokens = list(tokens)
        for t in tokens:
            if not isinstance(t, str) or not t:
                raise ValueError(f"vocabulary tokens must be non-empty strings; got {t!r}")
            if t in (self.EOS, self.BOS):
                raise ValueError(f"{t!r} is reserved for the vocabulary's special symbols")
        if len(set(tokens)) != len(tokens):
            raise ValueError("vocabulary tokens must be distinct")
        self.tokens = [self.EOS, self.BOS, *tokens]
        self._ids = {t: i for i, t in enumerate(self.tokens)}

    @classmethod
    def build(cls, token_lists) -> Vocabulary:
        """The vocabulary of every token in ``token_lists`` (an iterable of token lists)."""
        counts = Counter()
        for toks in token_lists:
            counts.update(toks)
        if not counts:
            raise ValueError("cannot build a vocabulary from no tokens")
        return cls(sorted(counts, key=lambda t: (-counts[t], t)))

    def __len__(self) -> int:
        return len(self.tokens)

    def __contains__(self, token) -> bool:
        return token in self._ids

    def __eq__(self, other) -> bool:
        return isinstance(other, Vocabulary) and self.tokens == other.tokens

    def encode(self, tokens, *, bos: bool = False) -> np.ndarray:
        """Ids of ``tokens`` followed by the end symbol (and preceded by BOS if ``bos``)."""
        try:
            ids = [self._ids[t] for t in tokens]
        except KeyError as exc:
            raise ValueError(f"token {exc.args[0]!r} is not in the vocabulary of "
                             f"{len(self)} symbols") from None
        return np.array(([self.bos_id] if bos else []) + ids + [self.eos_id], dtype=np.int64)

    def decode(self, ids) -> list[str] | None:
        """Tokens up to the first end symbol; ``None`` if there is no end symbol or a special
        symbol stands inside the molecule (the sample is then incomplete, not a molecule)."""
        out = []
        for i in np.asarray(ids).reshape(-1).tolist():
            if i == self.eos_id:
                return out
            if i == self.bos_id and not out:
                continue  # a leading BOS is the prompt, not part of the molecule
            if i < 2 or i >= len(self.tokens):
                return None
            out.append(self.tokens[i])
        return None

    def to_dict(self) -> dict:
        return {"tokens": self.tokens[2:]}

    @classmethod
    def from_dict(cls, d: dict) -> Vocabulary:
        if not isinstance(d, dict) or not isinstance(d.get("tokens"), list):
            raise ValueError("a vocabulary record needs a 'tokens' list")
        return cls(d["tokens"])

    def to_json(self) -> str:
        return json.dumps(self.to_dict())
