"""Objectives for property-guided generation: QED, logP and GuacaMol's goal-directed tasks.

An objective maps SMILES to scores in [0, 1] (invalid molecules score 0) and counts its calls,
so an optimiser's oracle budget is measured, not assumed. The GuacaMol tasks (Brown et al.
2019, "GuacaMol: benchmarking models for de novo molecular design", suite v2) are rebuilt here
from their definitions with RDKit only: Tanimoto similarity of count fingerprints (ECFP4/6 =
Morgan radius 2/3, FCFP4 = Morgan radius 2 on feature invariants, AP = atom pairs up to
distance 10; PHCO = Gobbi's 2-D pharmacophore bits) against a target, passed through a score
modifier (Gaussian, half-Gaussian, clipped ramp); descriptors (logP, TPSA, rotatable bonds,
aromatic rings, weight, atom counts, Bertz complexity) the same way; a SMARTS that must be
present or absent; an isomer score that matches a molecular formula; the parts combined by a
geometric or arithmetic mean. A task's benchmark score is the mean of its top-1, top-10 and
top-100 averages (top-1 only for rediscovery): :func:`guacamol_score`.
"""

from __future__ import annotations

import re

import numpy as np

from ._chem import chem, require
from .properties import logp, mol_weight, qed, tpsa

__all__ = ["OBJECTIVES", "Objective", "get_objective", "guacamol_score"]


# -- score modifiers (GuacaMol's score_modifier.py) -----------------------------------------
def gaussian(mu, sigma):
    return lambda x: float(np.exp(-0.5 * ((x - mu) / sigma) ** 2))


def min_gaussian(mu, sigma):  # 1 at or below mu, a Gaussian tail above
    return lambda x: gaussian(mu, sigma)(max(x, mu))


def max_gaussian(mu, sigma):  # 1 at or above mu, a Gaussian tail below
    return lambda x: gaussian(mu, sigma)(min(x, mu))


def clipped(upper_x, lower_x=0.0):  # linear from 0 at lower_x to 1 at upper_x, clipped
    return lambda x: float(np.clip((x - lower_x) / (upper_x - lower_x), 0.0, 1.0))


def _identity(x):
    return float(x)


# -- parts: functions of an RDKit molecule ----------------------------------------------------
def _fingerprinter(kind: str):
    G = require("rdkit.Chem.rdFingerprintGenerator")
    gens = {
        "ECFP4": lambda: G.GetMorganGenerator(radius=2),
        "ECFP6": lambda: G.GetMorganGenerator(radius=3),
        "FCFP4": lambda: G.GetMorganGenerator(
            radius=2, atomInvariantsGenerator=G.GetMorganFeatureAtomInvGen()),
        "AP": lambda: G.GetAtomPairGenerator(maxDistance=10),
    }
    if kind == "PHCO":  # Gobbi and Poppinger's 2-D pharmacophore fingerprint (bits)
        Gen = require("rdkit.Chem.Pharm2D.Generate")
        factory = require("rdkit.Chem.Pharm2D.Gobbi_Pharm2D").factory
        return lambda mol: Gen.Gen2DFingerprint(mol, factory)
    return gens[kind]().GetSparseCountFingerprint


def similarity(target: str, fp: str, modifier=_identity):
    """Tanimoto similarity of fingerprints ``fp`` to the molecule ``target`` (counts; bits for
    PHCO)."""
    Chem = chem()
    DataStructs = require("rdkit.DataStructs")
    make = _fingerprinter(fp)
    ref = make(Chem.MolFromSmiles(target))
    return lambda mol: modifier(DataStructs.TanimotoSimilarity(make(mol), ref))


def descriptor(fn, modifier=_identity):
    return lambda mol: modifier(fn(mol))


def substructure(smarts: str, present: bool = True):
    """1 when the molecule has (``present``) or lacks (``present=False``) the SMARTS, else 0."""
    pattern = chem().MolFromSmarts(smarts)
    if pattern is None:
        raise ValueError(f"{smarts!r} is not a SMARTS pattern RDKit can read")
    return lambda mol: float(mol.HasSubstructMatch(pattern) == present)


def _count_atoms(element):
    def count(mol):
        if element == "H":
            mol = chem().AddHs(mol)
        return sum(a.GetSymbol() == element for a in mol.GetAtoms())
    return count


def isomer(formula: str):
    """Closeness to ``formula``: geometric mean of a Gaussian (sigma 1) on each element's count
    and one (sigma 2) on the total number of atoms, hydrogens included."""
    parts = [(el, int(n) if n else 1) for el, n in re.findall(r"([A-Z][a-z]*)(\d*)", formula)]
    fns = [descriptor(_count_atoms(el), gaussian(n, 1.0)) for el, n in parts]
    fns.append(descriptor(lambda m: chem().AddHs(m).GetNumAtoms(),
                          gaussian(sum(n for _, n in parts), 2.0)))
    return geometric(fns)


def geometric(fns):
    return lambda mol: float(np.prod([f(mol) for f in fns]) ** (1.0 / len(fns)))


def arithmetic(fns):
    return lambda mol: float(np.mean([f(mol) for f in fns]))


def _rot(m):
    return require("rdkit.Chem.Descriptors").NumRotatableBonds(m)


def _arom(m):
    return require("rdkit.Chem.rdMolDescriptors").CalcNumAromaticRings(m)


def _rings(m):
    return require("rdkit.Chem.rdMolDescriptors").CalcNumRings(m)


def _bertz(m):
    return require("rdkit.Chem.GraphDescriptors").BertzCT(m)


def _cns_mpo(max_logp=5.0):
    hbd = require("rdkit.Chem.Descriptors").NumHDonors
    return arithmetic([descriptor(tpsa, min_gaussian(90, 30)),
                       descriptor(tpsa, max_gaussian(40, 20)),
                       descriptor(hbd, min_gaussian(0, 2.0)),
                       descriptor(logp, min_gaussian(max_logp, 1)),
                       descriptor(mol_weight, min_gaussian(360, 60))])


# -- the tasks ---------------------------------------------------------------------------------
CELECOXIB = "CC1=CC=C(C=C1)C1=CC(=NN1C1=CC=C(C=C1)S(N)(=O)=O)C(F)(F)F"
TROGLITAZONE = "Cc1c(C)c2OC(C)(COc3ccc(CC4SC(=O)NC4=O)cc3)CCc2c(C)c1O"
THIOTHIXENE = "CN(C)S(=O)(=O)c1ccc2Sc3ccccc3C(=CCCN4CCN(C)CC4)c2c1"
OSIMERTINIB = "COc1cc(N(C)CCN(C)C)c(NC(=O)C=C)cc1Nc2nccc(n2)c3cn(C)c4ccccc34"
FEXOFENADINE = "CC(C)(C(=O)O)c1ccc(cc1)C(O)CCCN2CCC(CC2)C(O)(c3ccccc3)c4ccccc4"
RANOLAZINE = "COc1ccccc1OCC(O)CN2CCN(CC(=O)Nc3c(C)cccc3C)CC2"
PERINDOPRIL = "O=C(OCC)C(NC(C(=O)N1C(C(=O)O)CC2CCCCC12)C)CCC"
AMLODIPINE = r"Clc1ccccc1C2C(=C(/N/C(=C2/C(=O)OCC)COCCN)C)\C(=O)OC"
SITAGLIPTIN = "Fc1cc(c(F)cc1F)CC(N)CC(=O)N3Cc2nnc(n2CC3)C(F)(F)F"
ZALEPLON = "O=C(C)N(CC)C1=CC=CC(C2=CC=NC3=C(C=NN23)C#N)=C1"


def _sitagliptin():
    mol = chem().MolFromSmiles(SITAGLIPTIN)
    return geometric([similarity(SITAGLIPTIN, "ECFP4", gaussian(0, 0.1)),
                      descriptor(logp, gaussian(logp(mol), 0.2)),
                      descriptor(tpsa, gaussian(tpsa(mol), 5)), isomer("C16H15F6N5O")])


# the kinase inhibitor of the two hop tasks, and the parts they keep or change
HOP_START = "CCCOc1cc2ncnc(Nc3ccc4ncsc4c3)c2cc1S(=O)(=O)C(C)(C)C"
HOP_SCAFFOLD = "[#7]-c1n[c;h1]nc2[c;h1]c(-[#8])[c;h0][c;h1]c12"


def _valsartan_smarts():
    """Valsartan's biphenyl-methyl-formamide SMARTS, with sitagliptin's logP, TPSA and Bertz
    complexity."""
    mol = chem().MolFromSmiles(SITAGLIPTIN)
    return geometric([substructure("CN(C=O)Cc1ccc(c2ccccc2)cc1"),
                      descriptor(logp, gaussian(logp(mol), 0.2)),
                      descriptor(tpsa, gaussian(tpsa(mol), 5)),
                      descriptor(_bertz, gaussian(_bertz(mol), 30))])


def _deco_hop():
    """Keep the quinazoline scaffold and the pharmacophore, lose both decorations."""
    return arithmetic([similarity(HOP_START, "PHCO", clipped(0.85)),
                       substructure("CS([#6])(=O)=O", present=False),
                       substructure("[#7]-c1ccc2ncsc2c1", present=False),
                       substructure(HOP_SCAFFOLD)])


def _scaffold_hop():
    """Keep the decorations and the pharmacophore, lose the scaffold."""
    return arithmetic([similarity(HOP_START, "PHCO", clipped(0.75)),
                       substructure("[#6]-[#6]-[#6]-[#8]-[#6]~[#6]~[#6]~[#6]~[#6]-[#7]"
                                    "-c1ccc2ncsc2c1"),
                       substructure(HOP_SCAFFOLD, present=False)])


_TASKS = {
    "celecoxib_rediscovery": lambda: similarity(CELECOXIB, "ECFP4"),
    "troglitazone_rediscovery": lambda: similarity(TROGLITAZONE, "ECFP4"),
    "thiothixene_rediscovery": lambda: similarity(THIOTHIXENE, "ECFP4"),
    "aripiprazole_similarity": lambda: similarity(
        "Clc4cccc(N3CCN(CCCCOc2ccc1c(NC(=O)CC1)c2)CC3)c4Cl", "ECFP4", clipped(0.75)),
    "albuterol_similarity": lambda: similarity("CC(C)(C)NCC(O)c1ccc(O)c(CO)c1", "FCFP4",
                                               clipped(0.75)),
    "mestranol_similarity": lambda: similarity(
        "COc1ccc2[C@H]3CC[C@@]4(C)[C@@H](CC[C@@]4(O)C#C)[C@@H]3CCc2c1", "AP", clipped(0.75)),
    "c11h24": lambda: isomer("C11H24"),
    "c9h10n2o2pf2cl": lambda: isomer("C9H10N2O2PF2Cl"),
    "median1": lambda: geometric([similarity("CC(C)C1CCC(C)CC1O", "ECFP4"),
                                  similarity("CC1(C)C2CCC1(C)C(=O)C2", "ECFP4")]),
    "median2": lambda: geometric([
        similarity("O=C1N(CC(N2C1CC3=C(C2C4=CC5=C(OCO5)C=C4)NC6=C3C=CC=C6)=O)C", "ECFP6"),
        similarity("CCCC1=NN(C2=C1N=C(NC2=O)C3=C(C=CC(=C3)S(=O)(=O)N4CCN(CC4)C)OCC)C",
                   "ECFP6")]),
    "osimertinib_mpo": lambda: geometric([
        similarity(OSIMERTINIB, "FCFP4", clipped(0.8)),
        similarity(OSIMERTINIB, "ECFP6", min_gaussian(0.85, 0.1)),
        descriptor(tpsa, max_gaussian(100, 10)), descriptor(logp, min_gaussian(1, 1))]),
    "fexofenadine_mpo": lambda: geometric([
        similarity(FEXOFENADINE, "AP", clipped(0.8)),
        descriptor(tpsa, max_gaussian(90, 10)), descriptor(logp, min_gaussian(4, 1))]),
    "ranolazine_mpo": lambda: geometric([
        similarity(RANOLAZINE, "AP", clipped(0.7)), descriptor(logp, max_gaussian(7, 1)),
        descriptor(_count_atoms("F"), gaussian(1, 1.0)), descriptor(tpsa, max_gaussian(95, 20))]),
    "perindopril_mpo": lambda: geometric([similarity(PERINDOPRIL, "ECFP4"),
                                          descriptor(_arom, gaussian(2, 0.5))]),
    "amlodipine_mpo": lambda: geometric([similarity(AMLODIPINE, "ECFP4"),
                                         descriptor(_rings, gaussian(3, 0.5))]),
    "sitagliptin_mpo": _sitagliptin,
    "zaleplon_mpo": lambda: geometric([similarity(ZALEPLON, "ECFP4"), isomer("C19H17N3O2")]),
    "valsartan_smarts": _valsartan_smarts,
    "deco_hop": _deco_hop,
    "scaffold_hop": _scaffold_hop,
    "cns_mpo": _cns_mpo,
}

# The plain properties (in [0, 1]); logP is rewarded linearly from 0 to 8, clipped.
OBJECTIVES = {"qed": lambda: qed, "logp": lambda: descriptor(logp, clipped(8.0))}
OBJECTIVES.update({f"guacamol:{k}": v for k, v in _TASKS.items()})


class Objective:
    """A named objective: ``obj(smiles_list) -> scores`` (n,) in [0, 1]; invalid -> 0.

    ``calls`` counts every molecule scored (the oracle budget an optimiser spent).
    """

    def __init__(self, name: str):
        if name not in OBJECTIVES:
            raise ValueError(f"unknown objective {name!r}; choose one of "
                             f"{', '.join(OBJECTIVES)}")
        self.name = name
        self._fn = OBJECTIVES[name]()
        self.calls = 0

    def __call__(self, smiles) -> np.ndarray:
        Chem = chem()
        out = np.zeros(len(smiles))
        for i, s in enumerate(smiles):
            self.calls += 1
            mol = Chem.MolFromSmiles(s) if isinstance(s, str) and s else None
            if mol is not None:
                out[i] = self._fn(mol)
        return out


def get_objective(name: str) -> Objective:
    return Objective(name)


def guacamol_score(scores, name: str = "") -> float:
    """GuacaMol's benchmark score from the scores of distinct molecules: the mean of the top-1,
    top-10 and top-100 averages (top-1 alone for a rediscovery task)."""
    s = np.sort(np.asarray(scores, dtype=np.float64))[::-1]
    tops = (1,) if name.endswith("rediscovery") else (1, 10, 100)
    if len(s) < max(tops):
        raise ValueError(f"the score needs {max(tops)} distinct molecules; got {len(s)}")
    return float(np.mean([s[:k].mean() for k in tops]))
