"""The MOSES metrics for generated molecules (Polykovskiy et al. 2020, "Molecular Sets").

Computed as MOSES's ``get_all_metrics`` defines them (our code; RDKit does the chemistry):

- ``valid``: the share of generated strings RDKit parses (an empty string is invalid).
- ``unique@k``: distinct canonical SMILES among the first k *valid* molecules, divided by k
  (by the number of valid molecules if fewer, with a warning, as MOSES does).
- ``novelty``: the share of distinct valid generated molecules not in the training set.
- ``IntDiv_p``: 1 - mean_i (mean_j T(i, j)^p)^(1/p) over all ordered pairs of valid generated
  molecules, self-pairs and duplicates included, T the Tanimoto similarity of Morgan radius-2
  1024-bit fingerprints (two empty fingerprints count as similarity 1). IntDiv1 p=1, IntDiv2 p=2.
- ``SNN``: mean over generated molecules of the largest Tanimoto similarity to a reference one.
- ``Frag`` / ``Scaf``: cosine similarity of the count vectors of BRICS fragments (the canonical
  SMILES of ``FragmentOnBRICSBonds``'s pieces) and of Bemis-Murcko scaffolds with at least two
  rings, reference against generated.
- ``Filters``: the share of valid molecules that pass MOSES's filters: no ring of 8 or more
  atoms, no formal charge, only C N S O F Cl Br H, no MCF or PAINS match (matched on the
  molecule with explicit hydrogens).
- ``FCD``: the Fréchet distance between Gaussians fitted to ChemNet's penultimate activations
  (Preuer et al. 2018; the ``fcd`` package and its bundled weights) of canonical SMILES. FCD
  shrinks as the sample grows: MOSES reports it on 30,000 samples, and so should comparisons.
- ``logP``, ``SA``, ``QED``, ``weight``: the 1-D Wasserstein distance between the property's
  values on the reference and on the valid generated molecules.

Reference statistics (fingerprints, fragment and scaffold counts, ChemNet moments, property
values) are computed once by :class:`ReferenceStats` and reused across models.
"""

from __future__ import annotations

import logging
import warnings
from collections import Counter

import numpy as np

from .._threads import use_threads
from ..molecules._chem import chem, require
from ..molecules._filters import ALLOWED_ELEMENTS, MCF_SMARTS
from ..molecules.properties import logp, mol_weight, qed, sa_score
from .sample_quality import frechet_distance_from_stats

__all__ = [
    "ReferenceStats",
    "canonical_valid",
    "cos_similarity",
    "fcd",
    "fingerprints",
    "fraction_passes_filters",
    "fraction_unique",
    "fraction_valid",
    "fragments",
    "internal_diversity",
    "moses_metrics",
    "novelty",
    "passes_filters",
    "scaffolds",
    "snn",
]

log = logging.getLogger(__name__)

FP_BITS, FP_RADIUS = 1024, 2
MOSES_PROPERTIES = {"logP": logp, "SA": sa_score, "QED": qed, "weight": mol_weight}


def get_mol(smiles):
    """RDKit molecule of ``smiles`` or ``None`` (empty or unparsable), as MOSES's ``get_mol``."""
    Chem = chem()
    if not isinstance(smiles, str) or len(smiles) == 0:
        return None
    return Chem.MolFromSmiles(smiles)  # MolFromSmiles sanitises; failure gives None


def canonical_valid(gen) -> list[str]:
    """Canonical SMILES of the valid strings in ``gen``, in order, duplicates kept."""
    Chem = chem()
    out = []
    for s in gen:
        m = get_mol(s)
        if m is not None:
            out.append(Chem.MolToSmiles(m))
    return out


def fraction_valid(gen) -> float:
    """Share of the strings in ``gen`` that RDKit parses (``None`` counts as invalid)."""
    gen = list(gen)
    if not gen:
        raise ValueError("no generated molecules to score")
    return sum(get_mol(s) is not None for s in gen) / len(gen)


def fraction_unique(valid, k: int | None = None) -> float:
    """Distinct molecules among the first ``k`` of ``valid`` (canonical SMILES), over k."""
    valid = list(valid)
    if k is not None:
        if len(valid) < k:
            warnings.warn(f"unique@{k}: only {len(valid)} valid molecules; the share is over "
                          f"{len(valid)}", stacklevel=2)
        valid = valid[:k]
    if not valid:
        return float("nan")
    return len(set(valid)) / len(valid)


def novelty(valid, train) -> float:
    """Share of the distinct canonical SMILES in ``valid`` that are not in ``train``."""
    distinct = set(valid)
    if not distinct:
        return float("nan")
    return len(distinct - set(train)) / len(distinct)


def fingerprints(mols) -> np.ndarray:
    """Morgan radius-2 1024-bit fingerprints (n, 1024) uint8 of RDKit molecules."""
    gen = require("rdkit.Chem.rdFingerprintGenerator").GetMorganGenerator(
        radius=FP_RADIUS, fpSize=FP_BITS)
    out = np.zeros((len(mols), FP_BITS), dtype=np.uint8)
    for i, m in enumerate(mols):
        out[i] = gen.GetFingerprintAsNumPy(m)
    return out


def _agg_tanimoto(ref: np.ndarray, gen: np.ndarray, agg: str, p: float = 1.0,
                  batch: int = 4096) -> np.ndarray:
    """For every row of ``gen``: max or mean over ``ref`` of Tanimoto^p, (n_gen,).

    Tanimoto = |a & b| / (|a| + |b| - |a & b|) from one float32 product per block (exact:
    counts below 2^24); 0/0 (two empty fingerprints) is 1, as in MOSES.
    """
    out = np.zeros(len(gen)) if agg == "max" else np.zeros(len(gen), dtype=np.float64)
    ref_n = ref.sum(1, dtype=np.float32)
    gen_n = gen.sum(1, dtype=np.float32)
    for j in range(0, len(ref), batch):
        R = ref[j:j + batch].astype(np.float32)
        for i in range(0, len(gen), batch):
            G = gen[i:i + batch].astype(np.float32)
            both = R @ G.T                                            # (r, g)
            union = ref_n[j:j + batch, None] + gen_n[None, i:i + batch] - both
            with np.errstate(invalid="ignore", divide="ignore"):
                t = np.where(union > 0, both / union, 1.0)
            if p != 1:
                t = t ** p
            if agg == "max":
                out[i:i + batch] = np.maximum(out[i:i + batch], t.max(0))
            else:
                out[i:i + batch] += t.sum(0, dtype=np.float64)
    if agg == "mean":
        out /= len(ref)
    return out


def internal_diversity(fps: np.ndarray, p: int = 1) -> float:
    """IntDiv_p = 1 - mean_i (mean_j T_ij^p)^(1/p) over the fingerprints ``fps`` (all pairs)."""
    if len(fps) == 0:
        return float("nan")
    return float(1.0 - np.mean(_agg_tanimoto(fps, fps, "mean", p) ** (1.0 / p)))


def snn(gen_fps: np.ndarray, ref_fps: np.ndarray) -> float:
    """Mean over generated molecules of the Tanimoto similarity to the nearest reference one."""
    if len(gen_fps) == 0 or len(ref_fps) == 0:
        return float("nan")
    return float(np.mean(_agg_tanimoto(ref_fps, gen_fps, "max")))


def fragments(mols) -> Counter:
    """Counts of BRICS fragments (canonical SMILES, with their dummy attachment atoms)."""
    Chem = chem()
    counts = Counter()
    for m in mols:
        counts.update(Chem.MolToSmiles(Chem.FragmentOnBRICSBonds(m)).split("."))
    return counts


def scaffolds(mols, min_rings: int = 2) -> Counter:
    """Counts of Bemis-Murcko scaffolds (canonical SMILES) with at least ``min_rings`` rings."""
    Chem = chem()
    Murcko = require("rdkit.Chem.Scaffolds.MurckoScaffold")
    counts = Counter()
    for m in mols:
        try:
            scaf = Murcko.GetScaffoldForMol(m)
        except Exception:  # RDKit fails on a few exotic valences; MOSES skips them too
            continue
        smi = Chem.MolToSmiles(scaf)
        if smi and scaf.GetRingInfo().NumRings() >= min_rings:
            counts[smi] += 1
    return counts


def cos_similarity(ref: Counter, gen: Counter) -> float:
    """Cosine similarity of two count dictionaries (missing keys count 0); NaN if one is empty."""
    if not ref or not gen:
        return float("nan")
    keys = sorted(set(ref) | set(gen))
    a = np.array([ref.get(k, 0) for k in keys], dtype=np.float64)
    b = np.array([gen.get(k, 0) for k in keys], dtype=np.float64)
    return float(a @ b / (np.linalg.norm(a) * np.linalg.norm(b)))


_FILTERS = None


def _filter_patterns():
    global _FILTERS
    if _FILTERS is None:
        Chem = chem()
        FC = require("rdkit.Chem.FilterCatalog")
        params = FC.FilterCatalogParams()
        params.AddCatalog(FC.FilterCatalogParams.FilterCatalogs.PAINS)
        _FILTERS = ([Chem.MolFromSmarts(s) for s in MCF_SMARTS], FC.FilterCatalog(params))
    return _FILTERS


def passes_filters(mol) -> bool:
    """MOSES's filters: no ring >= 8 atoms, no charge, allowed elements, no MCF/PAINS match."""
    Chem = chem()
    if mol is None:
        return False
    if any(len(r) >= 8 for r in mol.GetRingInfo().AtomRings()):
        return False
    if any(a.GetFormalCharge() != 0 for a in mol.GetAtoms()):
        return False
    if any(a.GetSymbol() not in ALLOWED_ELEMENTS for a in mol.GetAtoms()):
        return False
    mcf, pains = _filter_patterns()
    h_mol = Chem.AddHs(mol)
    if any(h_mol.HasSubstructMatch(p) for p in mcf) or pains.HasMatch(h_mol):
        return False
    smi = Chem.MolToSmiles(mol, isomericSmiles=False)
    return bool(smi) and Chem.MolFromSmiles(smi) is not None


def fraction_passes_filters(mols) -> float:
    mols = list(mols)
    return float(np.mean([passes_filters(m) for m in mols])) if mols else float("nan")


_CHEMNET = None


def chemnet_stats(smiles) -> tuple[np.ndarray, np.ndarray]:
    """Mean (512,) and covariance (512, 512) of ChemNet's activations of canonical ``smiles``."""
    global _CHEMNET
    fcd_pkg = require("fcd")
    smiles = list(smiles)
    if len(smiles) < 2:
        raise ValueError(f"FCD needs at least 2 valid molecules; got {len(smiles)}")
    if _CHEMNET is None:
        _CHEMNET = fcd_pkg.load_ref_model()
    # a few molecules are a small LSTM pass: one thread (threads only contend for cores)
    with warnings.catch_warnings(), use_threads(1 if len(smiles) < 1000 else None):
        warnings.simplefilter("ignore", DeprecationWarning)  # fcd calls numpy's row_stack
        act = fcd_pkg.get_predictions(_CHEMNET, smiles, n_jobs=0, device="cpu")
    return act.mean(0).astype(np.float64), np.cov(act.T.astype(np.float64))


def fcd(gen, ref) -> float:
    """Fréchet ChemNet Distance between two lists of SMILES (canonicalised, invalid dropped)."""
    mu1, s1 = chemnet_stats(canonical_valid(gen))
    mu2, s2 = chemnet_stats(canonical_valid(ref))
    return frechet_distance_from_stats(mu1, s1, mu2, s2)


class ReferenceStats:
    """What the metrics need from a reference set (MOSES's test set), computed once.

    ``ReferenceStats(test_smiles)``; ``fcd=False`` skips ChemNet (slow on CPU: about 1 ms a
    molecule). Invalid reference SMILES are dropped and counted in ``n_invalid``.
    """

    def __init__(self, smiles, *, fcd: bool = True):
        smiles = list(smiles)
        Chem = chem()
        mols = [m for m in (get_mol(s) for s in smiles) if m is not None]
        if not mols:
            raise ValueError("the reference set holds no valid molecule")
        self.n_invalid = len(smiles) - len(mols)
        self.canonical = [Chem.MolToSmiles(m) for m in mols]
        self.fps = fingerprints(mols)
        self.frag = fragments(mols)
        self.scaf = scaffolds(mols)
        self.props = {k: np.array([f(m) for m in mols]) for k, f in MOSES_PROPERTIES.items()}
        self.chemnet = chemnet_stats(self.canonical) if fcd else None


def moses_metrics(gen, ref, *, train=None, k=(1000, 10000), fcd: bool = True,
                  name: str = "Test") -> dict:
    """The MOSES table for the generated strings ``gen`` (SMILES; ``None`` = an invalid sample)
    against ``ref`` (a :class:`ReferenceStats` or a list of SMILES); novelty needs ``train``
    Keys follow MOSES: ``valid``, ``unique@1000``, ``FCD/Test``, ``SNN/Test``,
    ``Frag/Test``, ``Scaf/Test``, ``IntDiv``, ``IntDiv2``, ``Filters``, ``logP``, ``SA``,
    ``QED``, ``weight``, ``Novelty``; plus ``n_generated`` and ``n_valid``. ``train`` is
    canonicalised here (MOSES compares with its already canonical training file)."""
    from scipy.stats import wasserstein_distance

    gen = [g if isinstance(g, str) else "" for g in gen]
    if not isinstance(ref, ReferenceStats):
        ref = ReferenceStats(ref, fcd=fcd)
    out = {"n_generated": len(gen), "valid": fraction_valid(gen)}
    valid = canonical_valid(gen)
    out["n_valid"] = len(valid)
    for kk in k:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            out[f"unique@{kk}"] = fraction_unique(valid, kk)
    if not valid:
        return out
    Chem = chem()
    mols = [Chem.MolFromSmiles(s) for s in valid]
    fps = fingerprints(mols)
    if fcd:
        if ref.chemnet is None:
            raise ValueError("the reference statistics were computed with fcd=False")
        if len(valid) >= 2:
            mu, sigma = chemnet_stats(valid)
            out[f"FCD/{name}"] = frechet_distance_from_stats(mu, sigma, *ref.chemnet)
        else:
            out[f"FCD/{name}"] = float("nan")
    out[f"SNN/{name}"] = snn(fps, ref.fps)
    out[f"Frag/{name}"] = cos_similarity(ref.frag, fragments(mols))
    out[f"Scaf/{name}"] = cos_similarity(ref.scaf, scaffolds(mols))
    out["IntDiv"] = internal_diversity(fps, 1)
    out["IntDiv2"] = internal_diversity(fps, 2)
    out["Filters"] = fraction_passes_filters(mols)
    for key, f in MOSES_PROPERTIES.items():
        out[key] = float(wasserstein_distance(ref.props[key], [f(m) for m in mols]))
    if train is not None:
        out["Novelty"] = novelty(valid, canonical_valid(train))
    return out
