import pytest

# 40 small drug-like molecules (a few MOSES-style, a few textbook drugs): enough for tiny models
MOLECULES = """CC(=O)Nc1ccc(O)cc1 CC(C)Cc1ccc(C(C)C(=O)O)cc1 CCOC(=O)c1ccccc1 Nc1ccccc1C(=O)O
O=C1CCCN1C1CC1 CN1CCN(c2ccccc2)CC1 COc1ccc(CC(N)=O)cc1 Cc1ccc(S(N)(=O)=O)cc1 OCCN1CCOCC1
CC(C)NCC(O)c1ccc(O)cc1 c1ccc2[nH]ccc2c1 CCN(CC)C(=O)c1ccccc1 O=C(O)c1ccncc1 Clc1ccc(Br)cc1
CC1=CC(=O)c2ccccc2C1=O CCCCc1ccc(O)cc1 COC(=O)C1CCCN1 Fc1ccc(C(=O)N2CCCC2)cc1 CC(=O)OCC
NC(=O)c1cccnc1 CSc1ccc(N)cc1 O=C1NC(=O)c2ccccc21 CC(C)(C)OC(=O)N1CCCC1 Oc1ccc(Cl)cc1Cl
CCOc1ccccc1C(N)=O Cc1ncc(CO)c(C)n1 O=S(=O)(N1CCCC1)c1ccccc1 CN(C)CCc1c[nH]c2ccccc12
COc1ccc2c(c1)CCN2 CC(=O)c1ccc(F)cc1 N#Cc1ccc(N2CCOCC2)cc1 O=C(Nc1ccccc1)c1ccco1
Cc1cc(C)n(-c2ccccc2)n1 OC1CCN(Cc2ccccc2)CC1 CCc1nc2ccccc2[nH]1 O=C(O)CCc1ccccc1
CC(N)Cc1ccccc1 Cn1cnc2c1c(=O)n(C)c(=O)n2C COc1cc(C=O)ccc1O c1ccc(-c2ccncc2)cc1""".split()


@pytest.fixture
def molecules_csv(tmp_path):
    path = tmp_path / "mols.csv"
    path.write_text("SMILES,id\n" + "".join(f"{s},{i}\n" for i, s in enumerate(MOLECULES))
                    + "C1CC,bad1\nnot_a_molecule,bad2\n")
    return path
