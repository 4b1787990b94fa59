"""Reading and cleaning molecule files: SMILES column, canonical form, salts, charges, length.

    smiles = read_smiles("train.csv", column="SMILES", subset=250_000, seed=0)
    data = prepare(smiles, "selfies", max_length=100)   # PreparedMolecules
    data.report()  # how many were read, invalid, too long, kept: never silent

RDKit does the chemistry: ``Chem.MolFromSmiles`` parses; the largest fragment is kept to strip
salts and solvents (``rdMolStandardize.LargestFragmentChooser``); charges are neutralised where
a neutral form exists (``rdMolStandardize.Uncharger``); ``Chem.MolToSmiles`` gives the
canonical SMILES. Every molecule that fails a step is counted with its reason.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .._utils import check_int
from ._chem import chem, require
from .tokens import get_repr

__all__ = ["PreparedMolecules", "canonical", "prepare", "read_smiles", "subset"]

log = logging.getLogger(__name__)


def subset(items, n, seed=None) -> list:
    """``n`` items drawn at random without replacement, in random order (all if ``n`` is None
    or at least ``len(items)``). Files such as MOSES's are sorted, so a prefix is no sample."""
    items = list(items)
    if n is None:
        return items
    check_int(n, "subset", low=1)
    if n >= len(items):
        return items
    idx = np.random.default_rng(seed).choice(len(items), size=n, replace=False)
    return [items[i] for i in idx]


def read_smiles(path, column: str = "SMILES", *, subset_n=None, seed=None) -> list[str]:
    """The SMILES strings of a CSV (``column``; gzip allowed) or ``.smi`` file.

    A ``.smi`` file has one molecule a line, the SMILES first (anything after whitespace is a
    name); a first line whose first field is the column name is a header. ``subset_n`` draws
    that many rows at random (``seed``). Raises ``ValueError`` for a missing file, an empty
    file, or a column that is not there (naming the columns that are).
    """
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"no molecule file at {path}")
    name = path.name.lower().removesuffix(".gz")
    if name.endswith((".smi", ".smiles", ".txt")):
        import gzip

        opener = gzip.open if path.name.lower().endswith(".gz") else open
        with opener(path, "rt") as fh:
            rows = [line.split()[0] for line in fh if line.strip()]
        if rows and rows[0].lower() == column.lower():
            rows = rows[1:]
    else:
        pd = require("pandas")
        try:
            df = pd.read_csv(path, dtype=str, keep_default_na=False)
        except pd.errors.EmptyDataError:
            raise ValueError(f"{path} is empty: no header and no molecules") from None
        if column not in df.columns:
            cols = ", ".join(map(str, df.columns[:10]))
            raise ValueError(f"{path} has no column {column!r} (columns: {cols}); pass the "
                             "SMILES column's name")
        rows = df[column].tolist()
    if not rows:
        raise ValueError(f"{path} holds no molecules")
    return subset(rows, subset_n, seed)


def canonical(smiles: str, *, strip_salts: bool = False, neutralize: bool = False,
              isomeric: bool = True) -> str | None:
    """RDKit's canonical SMILES of ``smiles`` (optionally the largest fragment, neutralised);
    ``None`` if RDKit cannot parse it or it is empty."""
    Chem = chem()
    if not isinstance(smiles, str) or not smiles.strip():
        return None
    mol = Chem.MolFromSmiles(smiles)
    if mol is None or mol.GetNumAtoms() == 0:
        return None
    if strip_salts or neutralize:
        std = require("rdkit.Chem.MolStandardize.rdMolStandardize")
        if strip_salts:
            mol = std.LargestFragmentChooser(preferOrganic=True).choose(mol)
        if neutralize:
            mol = std.Uncharger().uncharge(mol)
    return Chem.MolToSmiles(mol, isomericSmiles=isomeric)


@dataclass
class PreparedMolecules:
    """Molecules ready for a sequence model, and what happened to the rest."""

    smiles: list[str]            # canonical SMILES kept, in input order
    tokens: list[list[str]]      # their tokens in the chosen representation
    representation: str
    n_read: int = 0
    dropped: dict = field(default_factory=dict)   # reason -> count
    examples: dict = field(default_factory=dict)  # reason -> first few offending inputs

    @property
    def n_kept(self) -> int:
        return len(self.smiles)

    def report(self) -> str:
        """One line: read, kept, and every reason a molecule was dropped, with counts."""
        parts = [f"{self.n_read} read", f"{self.n_kept} kept"]
        for reason, count in self.dropped.items():
            ex = self.examples.get(reason, [])
            parts.append(f"{count} {reason}" + (f" (e.g. {ex[0]!r})" if ex else ""))
        return "molecules: " + ", ".join(parts)


def _clean(smiles, rep, kw, deduplicate=False) -> list:
    """``[canonical or None, tokens or None]`` for each of ``smiles``: the per-molecule work of
    :func:`prepare`, done in one process or in each worker of a pool. With ``deduplicate`` a
    repeat of an earlier molecule in ``smiles`` is not tokenized (``prepare`` drops it as a
    duplicate before it looks at the tokens)."""
    out, seen = [], set()
    for s in smiles:
        can = canonical(s, **kw)
        if can is None or (deduplicate and can in seen):
            out.append((can, None))
            continue
        if deduplicate:
            seen.add(can)
        try:
            out.append((can, rep.tokenize(can)))
        except ValueError:
            out.append((can, None))
    return out


def _clean_chunk(args) -> list:  # a pool worker: the representation travels by name
    smiles, representation, kw, deduplicate = args
    return _clean(smiles, get_repr(representation), kw, deduplicate)


def prepare(smiles, representation: str = "smiles", *, max_length: int | None = None,
            strip_salts: bool = True, neutralize: bool = True, isomeric: bool = True,
            deduplicate: bool = False, n_jobs: int = 1) -> PreparedMolecules:
    """Canonicalise and tokenize ``smiles``; skip and COUNT invalid, unencodable and too long
    ones (``max_length`` tokens, the end symbol not counted). Logs the report as a warning
    when anything was dropped. Raises ``ValueError`` if nothing is left.

    ``n_jobs > 1`` cleans the molecules in that many worker processes (RDKit holds the GIL);
    the result is the same as with one, in the same order."""
    rep = get_repr(representation)
    if max_length is not None:
        check_int(max_length, "max_length", low=1)
    check_int(n_jobs, "n_jobs", low=1)
    kw = {"strip_salts": strip_salts, "neutralize": neutralize, "isomeric": isomeric}
    smiles = list(smiles)
    if n_jobs == 1 or len(smiles) < 2 * n_jobs:
        cleaned = _clean(smiles, rep, kw, deduplicate)
    else:
        import multiprocessing as mp

        size = -(-len(smiles) // (8 * n_jobs))  # 8 chunks a worker: an even finish
        chunks = [(smiles[i:i + size], representation, kw, deduplicate)
                  for i in range(0, len(smiles), size)]
        # fork where there is one, as MoleculeGenerator.sample does: a caller's script needs no
        # ``if __name__ == "__main__"`` guard, and the workers run RDKit only, no torch
        ctx = mp.get_context("fork" if "fork" in mp.get_all_start_methods() else "spawn")
        with ctx.Pool(n_jobs) as pool:
            cleaned = [r for part in pool.map(_clean_chunk, chunks) for r in part]
    out = PreparedMolecules([], [], rep.name)
    seen = set()

    def drop(reason, s):
        out.dropped[reason] = out.dropped.get(reason, 0) + 1
        ex = out.examples.setdefault(reason, [])
        if len(ex) < 3:
            ex.append(s)

    for s, (can, toks) in zip(smiles, cleaned, strict=True):
        out.n_read += 1
        if can is None:
            drop("invalid SMILES", s)
            continue
        if deduplicate:
            if can in seen:
                drop("duplicates", s)
                continue
            seen.add(can)
        if toks is None:
            drop(f"not encodable as {rep.name}", s)
            continue
        if max_length is not None and len(toks) > max_length:
            drop(f"longer than {max_length} tokens", s)
            continue
        out.smiles.append(can)
        out.tokens.append(toks)
    if out.dropped:
        log.warning("%s", out.report())
    if not out.smiles:
        raise ValueError(f"no usable molecule: {out.report()}")
    return out
