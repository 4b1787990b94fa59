"""Goal-directed objectives (GuacaMol's definitions rebuilt on RDKit) by hand and invariants."""

import numpy as np
import pytest

pytest.importorskip("rdkit")

from rdkit import Chem  # noqa: E402
from rdkit.Chem import QED  # noqa: E402

from genlearn.molecules import objectives as ob  # noqa: E402


def test_rediscovery_of_the_target_scores_one_and_calls_are_counted():
    obj = ob.Objective("guacamol:celecoxib_rediscovery")
    s = obj([ob.CELECOXIB, "CCO", "not a molecule", None])
    assert s[0] == pytest.approx(1.0) and 0 < s[1] < 0.2 and s[2] == 0 and s[3] == 0
    assert obj.calls == 4


def test_isomer_score_by_hand():
    obj = ob.Objective("guacamol:c11h24")
    assert obj(["CCCCCCCCCCC"])[0] == pytest.approx(1.0)   # undecane is C11H24
    # decane C10H22: C off by 1, H off by 2, total off by 3 (sigma 1, 1, 2)
    want = (np.exp(-0.5) * np.exp(-2.0) * np.exp(-0.5 * (3 / 2) ** 2)) ** (1 / 3)
    assert obj(["CCCCCCCCCC"])[0] == pytest.approx(want)


def test_qed_objective_is_rdkit_qed_and_modifiers_behave():
    assert ob.Objective("qed")(["c1ccccc1O"])[0] == pytest.approx(
        QED.qed(Chem.MolFromSmiles("c1ccccc1O")))
    assert ob.min_gaussian(1, 1)(0.5) == 1 and ob.min_gaussian(1, 1)(2) == pytest.approx(
        np.exp(-0.5))
    assert ob.max_gaussian(5, 2)(7) == 1 and ob.clipped(0.8)(0.4) == pytest.approx(0.5)
    assert ob.clipped(0.8)(0.9) == 1.0


def test_every_objective_scores_in_unit_interval():
    for name in ob.OBJECTIVES:
        s = ob.Objective(name)(["CC(=O)Nc1ccc(O)cc1", "Fc1ccc(cc1)C(F)(F)F"])
        assert np.all((s >= 0) & (s <= 1)), name


def test_unknown_objective_is_an_error():
    with pytest.raises(ValueError, match="unknown objective 'guacamol:nope'.*qed"):
        ob.Objective("guacamol:nope")


def test_guacamol_score_is_the_mean_of_top_1_10_100():
    scores = np.linspace(0, 1, 200)
    s = np.sort(scores)[::-1]
    want = (s[0] + s[:10].mean() + s[:100].mean()) / 3
    assert ob.guacamol_score(scores, "guacamol:osimertinib_mpo") == pytest.approx(want)
    assert ob.guacamol_score(scores, "guacamol:celecoxib_rediscovery") == 1.0
    with pytest.raises(ValueError, match="100 distinct"):
        ob.guacamol_score(scores[:50], "guacamol:osimertinib_mpo")


VALSARTAN = "CCCCC(=O)N(Cc1ccc(cc1)c2ccccc2c3nn[nH]n3)[C@@H](C(C)C)C(=O)O"


def test_hop_tasks_on_their_start_molecule_by_hand():
    # the start molecule has both decorations and the scaffold, and its own pharmacophore
    deco = ob.Objective("guacamol:deco_hop")([ob.HOP_START])[0]
    assert deco == pytest.approx((1.0 + 0.0 + 0.0 + 1.0) / 4)  # similarity 1, clipped at 1
    scaf = ob.Objective("guacamol:scaffold_hop")([ob.HOP_START])[0]
    assert scaf == pytest.approx((1.0 + 1.0 + 0.0) / 3)
    # a methyl sulfone instead of the tert-butyl one, by hand from RDKit's own pieces
    from rdkit import DataStructs
    from rdkit.Chem.Pharm2D import Generate, Gobbi_Pharm2D

    other = "CCCOc1cc2ncnc(Nc3ccc4ncsc4c3)c2cc1S(=O)(=O)C"
    fp = [Generate.Gen2DFingerprint(Chem.MolFromSmiles(m), Gobbi_Pharm2D.factory)
          for m in (other, ob.HOP_START)]
    sim = min(DataStructs.TanimotoSimilarity(*fp) / 0.85, 1.0)
    assert 0 < sim < 1
    mol = Chem.MolFromSmiles(other)
    scaffold = mol.HasSubstructMatch(Chem.MolFromSmarts(ob.HOP_SCAFFOLD))
    assert scaffold  # the quinazoline keeps its substituted carbon
    assert ob.Objective("guacamol:deco_hop")([other])[0] == pytest.approx(
        (sim + 0.0 + 0.0 + 1.0) / 4)


def test_substructure_part_and_valsartan_smarts():
    Chem_mol = Chem.MolFromSmiles
    has = ob.substructure("CN(C=O)Cc1ccc(c2ccccc2)cc1")
    assert has(Chem_mol(VALSARTAN)) == 1.0 and has(Chem_mol(ob.SITAGLIPTIN)) == 0.0
    lacks = ob.substructure("CN(C=O)Cc1ccc(c2ccccc2)cc1", present=False)
    assert lacks(Chem_mol(VALSARTAN)) == 0.0 and lacks(Chem_mol(ob.SITAGLIPTIN)) == 1.0
    obj = ob.Objective("guacamol:valsartan_smarts")
    # sitagliptin has the target properties but not the SMARTS: the geometric mean is 0
    assert obj([ob.SITAGLIPTIN])[0] == 0.0
    # valsartan has the SMARTS: its score is the fourth root of the three Gaussians' product
    from rdkit.Chem import Crippen, GraphDescriptors, rdMolDescriptors

    v, s = Chem_mol(VALSARTAN), Chem_mol(ob.SITAGLIPTIN)
    g = [np.exp(-0.5 * ((f(v) - f(s)) / sd) ** 2) for f, sd in
         ((Crippen.MolLogP, 0.2), (rdMolDescriptors.CalcTPSA, 5), (GraphDescriptors.BertzCT, 30))]
    assert obj([VALSARTAN])[0] == pytest.approx(np.prod(g) ** 0.25)
    with pytest.raises(ValueError, match="not a SMARTS"):
        ob.substructure("[C")
