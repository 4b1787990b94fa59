"""Molecular properties from RDKit: QED, logP, synthetic accessibility, weight, TPSA.

Each takes an RDKit ``Mol`` and returns a float; ``PROPERTIES`` maps their names. QED is
Bickerton et al. (2012) as ``rdkit.Chem.QED.qed`` computes it; logP is Crippen's
(``Descriptors.MolLogP``); SA is Ertl & Schuffenhauer's (2009) score from RDKit's contrib
``SA_Score/sascorer.py`` (1 easy .. 10 hard); weight is ``Descriptors.MolWt``; TPSA is Ertl's
topological polar surface area (``Descriptors.TPSA``).
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

from ._chem import require

__all__ = ["PROPERTIES", "logp", "mol_weight", "qed", "sa_score", "tpsa"]

_sascorer = None


def qed(mol) -> float:
    return float(require("rdkit.Chem.QED").qed(mol))


def logp(mol) -> float:
    return float(require("rdkit.Chem.Descriptors").MolLogP(mol))


def mol_weight(mol) -> float:
    return float(require("rdkit.Chem.Descriptors").MolWt(mol))


def tpsa(mol) -> float:
    return float(require("rdkit.Chem.Descriptors").TPSA(mol))


def sa_score(mol) -> float:
    """Synthetic accessibility (1 easy .. 10 hard), RDKit contrib's ``sascorer``."""
    global _sascorer
    if _sascorer is None:
        RDConfig = require("rdkit.RDConfig")
        path = Path(RDConfig.RDContribDir) / "SA_Score" / "sascorer.py"
        if not path.is_file():
            raise FileNotFoundError(f"RDKit's contrib SA score is missing ({path}); reinstall "
                                    "rdkit: pip install genlearn[chem]")
        spec = importlib.util.spec_from_file_location("_genlearn_sascorer", path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        _sascorer = module
    return float(_sascorer.calculateScore(mol))


PROPERTIES = {"qed": qed, "logp": logp, "sa": sa_score, "weight": mol_weight, "tpsa": tpsa}
