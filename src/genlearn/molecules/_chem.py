"""The chem extra (RDKit, selfies, fcd): imported on first use with a one-line error if missing.

genlearn does no chemistry itself: parsing, canonical SMILES, fingerprints, fragments and
descriptors all come from RDKit. ``import genlearn.molecules`` works without the extra; the
first call that needs it raises :class:`MissingExtraError` naming the install command.
"""

from __future__ import annotations

import importlib

INSTALL = "pip install genlearn[chem]"


class MissingExtraError(ImportError):
    """An optional dependency is not installed; the message names the pip command."""


def require(module: str):
    """Import ``module`` (e.g. ``"rdkit.Chem"``) or raise a one-line :class:`MissingExtraError`."""
    try:
        return importlib.import_module(module)
    except ImportError:
        top = module.split(".")[0]
        raise MissingExtraError(f"{top} is not installed; molecules need the chem extra: "
                                f"{INSTALL}") from None


def chem():
    """``rdkit.Chem`` with RDKit's per-molecule parse warnings silenced (we count failures)."""
    Chem = require("rdkit.Chem")
    require("rdkit.RDLogger").DisableLog("rdApp.*")
    return Chem
