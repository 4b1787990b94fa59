"""MOSES metrics (genlearn.metrics.molecules) against brute force with RDKit and invariants."""

import warnings
from collections import Counter

import numpy as np
import pytest

pytest.importorskip("rdkit")

from rdkit import Chem, DataStructs  # noqa: E402
from rdkit.Chem import rdFingerprintGenerator  # noqa: E402

from genlearn.metrics import molecules as mm  # noqa: E402
from genlearn.molecules import properties  # noqa: E402

SET = ["CC(=O)Nc1ccc(O)cc1", "c1ccc2ccccc2c1CCc1ccncc1", "CCOC(=O)c1ccccc1",
       "Nc1ccccc1C(=O)O", "CC(C)Cc1ccc(C(C)C(=O)O)cc1", "O=C1CCCN1C1CC1"]
OTHER = ["CCN", "c1ccccc1O", "CC(=O)Nc1ccc(O)cc1", "C1CCC2(CC1)CCc1ccccc12", "CCCCCC"]


def _bitvects(smiles):
    g = rdFingerprintGenerator.GetMorganGenerator(radius=2, fpSize=1024)
    return [g.GetFingerprint(Chem.MolFromSmiles(s)) for s in smiles]


def _fps(smiles):
    return mm.fingerprints([Chem.MolFromSmiles(s) for s in smiles])


def test_validity_uniqueness_novelty_by_hand():
    assert mm.fraction_valid(["CCO", "C1CC", "", None]) == 0.25
    valid = mm.canonical_valid(["OCC", "CCO", "xx", "c1ccccc1"])
    assert valid == ["CCO", "CCO", "c1ccccc1"]
    assert mm.fraction_unique(valid, 2) == 0.5
    assert mm.fraction_unique(valid) == pytest.approx(2 / 3)
    with pytest.warns(UserWarning, match="unique@10"):
        assert mm.fraction_unique(valid, 10) == pytest.approx(2 / 3)
    assert mm.novelty(valid, ["CCO"]) == 0.5


def test_internal_diversity_and_snn_equal_brute_force_tanimoto():
    a, b = _bitvects(SET), _bitvects(OTHER)
    T = np.array([DataStructs.BulkTanimotoSimilarity(x, a) for x in a])
    for p in (1, 2):
        want = 1 - np.mean(np.mean(T ** p, axis=1) ** (1 / p))
        assert mm.internal_diversity(_fps(SET), p) == pytest.approx(want, abs=1e-6)
    nn = [max(DataStructs.BulkTanimotoSimilarity(x, b)) for x in a]
    assert mm.snn(_fps(SET), _fps(OTHER)) == pytest.approx(np.mean(nn), abs=1e-6)
    # small batches give the same answer as one block
    assert np.allclose(mm._agg_tanimoto(_fps(OTHER), _fps(SET), "max", batch=2),
                       mm._agg_tanimoto(_fps(OTHER), _fps(SET), "max"))


def test_fragment_and_scaffold_similarity_by_hand():
    mols = [Chem.MolFromSmiles(s) for s in ["CC(=O)Nc1ccc(O)cc1", "CC(=O)Nc1ccc(O)cc1"]]
    frag = mm.fragments(mols)
    assert frag == Counter({"[1*]C(C)=O": 2, "[16*]c1ccc(O)cc1": 2, "[5*]N[5*]": 2})
    scaf = mm.scaffolds([Chem.MolFromSmiles(s) for s in
                         ["c1ccc2ccccc2c1CCc1ccncc1", "Cc1ccccc1", "c1ccc(Cc2ccccc2)cc1"]])
    # the first is its own scaffold (no side chain); toluene's scaffold, benzene, has one ring
    # only: MOSES keeps scaffolds of at least two rings; the methyl-free diphenylmethane stays
    assert scaf == Counter({Chem.CanonSmiles("c1ccc2ccccc2c1CCc1ccncc1"): 1,
                            "c1ccc(Cc2ccccc2)cc1": 1})
    ref = Counter({"x": 1, "y": 2})
    gen = Counter({"y": 1, "z": 2})
    assert mm.cos_similarity(ref, gen) == pytest.approx(2 / (np.sqrt(5) * np.sqrt(5)))
    assert np.isnan(mm.cos_similarity(ref, Counter()))


@pytest.mark.parametrize("smiles, ok", [
    ("CC(=O)Nc1ccc(O)cc1", True),
    ("CC(=O)[O-]", False),              # charged
    ("C1CCCCCCC1", False),              # ring of 8 atoms
    ("CC[Si](C)C", False),              # element outside C N S O F Cl Br H
    ("CCC=O", False),                   # aldehyde: MCF7
    ("O=C1C(=Cc2ccccc2)SC(=S)N1", False),  # ene-rhodanine: PAINS A
])
def test_filters(smiles, ok):
    assert mm.passes_filters(Chem.MolFromSmiles(smiles)) is ok


def test_a_set_against_itself():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        m = mm.moses_metrics(SET, SET, train=SET, k=(3,))
    assert m["valid"] == 1 and m["unique@3"] == 1 and m["Novelty"] == 0
    assert m["SNN/Test"] == pytest.approx(1) and m["Frag/Test"] == pytest.approx(1)
    assert m["Scaf/Test"] == pytest.approx(1) and m["FCD/Test"] == pytest.approx(0, abs=1e-3)
    for key in ("logP", "SA", "QED", "weight"):
        assert m[key] == pytest.approx(0, abs=1e-9)


def test_fcd_grows_with_distance_and_matches_the_direct_computation():
    ref = mm.ReferenceStats(SET)
    m = mm.moses_metrics(OTHER + ["xx"], ref, train=SET, k=(3,))
    assert m["valid"] == pytest.approx(5 / 6) and m["n_valid"] == 5
    assert m["Novelty"] == pytest.approx(4 / 5)
    assert m["FCD/Test"] > 1
    assert m["FCD/Test"] == pytest.approx(mm.fcd(OTHER, SET), rel=1e-6)


def test_properties_match_rdkit():
    from rdkit.Chem import QED, Descriptors

    mol = Chem.MolFromSmiles("CC(=O)Nc1ccc(O)cc1")
    assert properties.qed(mol) == pytest.approx(QED.qed(mol))
    assert properties.logp(mol) == pytest.approx(Descriptors.MolLogP(mol))
    assert properties.tpsa(mol) == pytest.approx(49.33, abs=0.01)
    assert properties.mol_weight(mol) == pytest.approx(151.165, abs=0.01)
    # paracetamol is easy to make, a crowded polycycle less so
    hard = Chem.MolFromSmiles("C[C@H]1C[C@@]2(O)[C@@H](C1)C1(C)CC[C@]3(C)C(C)(C)C2C13")
    assert 1 <= properties.sa_score(mol) < properties.sa_score(hard) <= 10
