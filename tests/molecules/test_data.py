"""genlearn.molecules: tokenizers, vocabulary, reading and cleaning molecule files."""

import builtins
import json
import logging

import numpy as np
import pytest

pytest.importorskip("rdkit")
pytest.importorskip("selfies")

import genlearn.molecules as glm  # noqa: E402
from genlearn.molecules import _chem  # noqa: E402

MOLS = ["CC(=O)Nc1ccc(O)cc1", "c1ccc2ccccc2c1CCc1ccncc1", "CCOC(=O)c1ccccc1",
        "C[C@@H](N)C(=O)O", "Clc1ccc(Br)cc1", "O=C(O)c1ccccc1N"]


def test_smiles_tokens_keep_bracket_atoms_two_letter_elements_and_ring_labels():
    s = "C[C@@H](Cl)c1ccc2[nH]c%12ccBr.[Na+]"
    toks = glm.tokenize_smiles(s)
    assert "".join(toks) == s
    assert toks == ["C", "[C@@H]", "(", "Cl", ")", "c", "1", "c", "c", "c", "2", "[nH]", "c",
                    "%12", "c", "c", "Br", ".", "[Na+]"]


def test_tokenizer_round_trips_on_canonical_smiles():
    for s in MOLS:
        can = glm.canonical(s)
        assert "".join(glm.tokenize_smiles(can)) == can


def test_selfies_round_trip_gives_the_same_molecule():
    rep = glm.get_repr("selfies")
    for s in MOLS:
        can = glm.canonical(s)
        back = rep.to_smiles(rep.tokenize(can))
        assert glm.canonical(back) == can


def test_span_cost_counts_atoms_inside_branches_and_between_ring_bond_ends():
    assert glm.span_cost("CCCC") == 0
    assert glm.span_cost("CC(C)C") == 1
    assert glm.span_cost("CC(C(C)C)C") == 3 + 1          # outer branch 3 atoms, inner 1
    assert glm.span_cost("c1ccccc1") == 4                # 4 atoms between the ring bond's ends
    assert glm.span_cost("C1CC2CCC1C2") == 4 + 3         # ring 1: atoms 0..5, ring 2: 2..6
    assert glm.span_cost("[NH3+]C(Cl)Br") == 1           # bracket atoms and Cl are one atom
    assert glm.span_cost("C%10CC%10") == 1
    with pytest.raises(ValueError, match=r"unbalanced '\)'"):
        glm.span_cost("CC)C")


def test_short_selfies_writes_the_same_molecule_with_shorter_spans_deterministically():
    rep = glm.get_repr("selfies-short")
    other = glm.get_repr("selfies-short")
    shorter = 0
    for s in MOLS + ["CC(c1ccccc1)(c1ccccc1)N1CCN(CCc2ccccc2)CC1"]:
        can = glm.canonical(s)
        w = rep.writing(can)
        assert glm.canonical(w) == can                       # the same molecule
        assert glm.span_cost(w) <= glm.span_cost(can)        # never worse than canonical
        shorter += glm.span_cost(w) < glm.span_cost(can)
        toks = rep.tokenize(can)
        assert toks == other.tokenize(can)                   # the same string every time
        assert glm.canonical(rep.to_smiles(toks)) == can     # plain SELFIES decoding
    assert shorter >= 2
    with pytest.raises(ValueError, match="cannot parse"):
        rep.tokenize("C1CC")


def test_short_selfies_takes_its_number_of_orders_in_its_name():
    rep8, rep64 = glm.get_repr("selfies-short:8"), glm.get_repr("selfies-short:64")
    assert (rep8.n_orders, rep8.name) == (8, "selfies-short:8")
    assert glm.get_repr("selfies-short:32").name == "selfies-short"   # the default's own name
    drug = glm.canonical("CC(c1ccccc1)(c1ccccc1)N1CCN(CCc2ccccc2)CC1")
    # 64 orders include the first 8 (the same seed), so the minimum can only fall
    assert glm.span_cost(rep64.writing(drug)) <= glm.span_cost(rep8.writing(drug))
    for bad, message in [("selfies-short:x", "n_orders must be an integer; got 'x'"),
                         ("selfies-short:0", "n_orders must be an integer >= 1"),
                         ("selfies:4", "'selfies' takes no ':' parameter"),
                         ("inchi:4", "unknown molecule representation 'inchi:4'")]:
        with pytest.raises(ValueError, match=message):
            glm.get_repr(bad)


def test_vocabulary_ids_order_round_trip_and_json():
    toks = [glm.tokenize_smiles(glm.canonical(s)) for s in MOLS]
    v = glm.Vocabulary.build(toks)
    assert v.tokens[:2] == ["<eos>", "<bos>"] and v.tokens[2] == "c"  # most frequent first
    ids = v.encode(toks[0])
    assert ids[-1] == v.eos_id and v.decode(ids) == toks[0]
    assert v.decode(np.r_[v.bos_id, ids]) == toks[0]
    assert v.decode(ids[:-1]) is None            # no end symbol: incomplete, not a molecule
    assert v.decode([2, v.bos_id, 3, 0]) is None  # a special symbol inside
    v2 = glm.Vocabulary.from_dict(json.loads(v.to_json()))
    assert v2 == v
    with pytest.raises(ValueError, match="not in the vocabulary"):
        v.encode(["[Xe]"])


def test_prepare_canonicalises_strips_salts_neutralises_and_counts_every_drop(caplog):
    smiles = ["OCC", "CC(=O)[O-].[Na+]", "C1CC", "", "not a smiles", "c1ccccc1" * 8]
    with caplog.at_level(logging.WARNING):
        d = glm.prepare(smiles, "smiles", max_length=20)
    assert d.smiles == ["CCO", "CC(=O)O"]
    assert d.n_read == 6 and d.n_kept == 2
    assert d.dropped == {"invalid SMILES": 3, "longer than 20 tokens": 1}
    assert "3 invalid SMILES" in d.report() and "3 invalid SMILES" in caplog.text


def test_prepare_in_worker_processes_gives_the_serial_result(monkeypatch):
    smiles = MOLS * 3 + ["C1CC", "CC(=O)[O-].[Na+]", "c1ccccc1" * 8, "CCO"]
    kw = {"max_length": 30, "deduplicate": True}
    one = glm.prepare(smiles, "selfies-short:8", **kw)
    two = glm.prepare(smiles, "selfies-short:8", n_jobs=2, **kw)
    assert (two.smiles, two.tokens, two.dropped, two.n_read) == \
        (one.smiles, one.tokens, one.dropped, one.n_read)
    assert one.dropped == {"duplicates": 12, "invalid SMILES": 1, "longer than 30 tokens": 1}
    assert one.representation == "selfies-short:8"
    calls = []
    real = glm.SelfiesRepr.tokenize
    monkeypatch.setattr(glm.SelfiesRepr, "tokenize",
                        lambda self, s: calls.append(s) or real(self, s))
    glm.prepare(smiles, "selfies", **kw)
    assert len(calls) == len(MOLS) + 3       # each distinct valid molecule once, no duplicate
    calls.clear()
    glm.prepare(smiles, "selfies", max_length=30)
    assert len(calls) == 3 * len(MOLS) + 3   # without deduplicate: every valid molecule
    with pytest.raises(ValueError, match="n_jobs"):
        glm.prepare(smiles, "selfies", n_jobs=0)


def test_prepare_with_nothing_left_is_an_error():
    with pytest.raises(ValueError, match="no usable molecule.*2 invalid"):
        glm.prepare(["C1CC", "xyz"], "selfies")


def test_unknown_representation_is_an_error():
    with pytest.raises(ValueError, match="unknown molecule representation 'inchi'"):
        glm.prepare(["CCO"], "inchi")


def test_read_csv_smi_subset_and_bad_files(tmp_path):
    csv = tmp_path / "m.csv"
    csv.write_text("id,SMILES\n" + "".join(f"{i},{s}\n" for i, s in enumerate(MOLS)))
    assert glm.read_smiles(csv) == MOLS
    sub = glm.read_smiles(csv, subset_n=3, seed=0)
    assert len(sub) == 3 and set(sub) <= set(MOLS)
    assert sub == glm.read_smiles(csv, subset_n=3, seed=0)
    smi = tmp_path / "m.smi"
    smi.write_text("smiles name\n" + "".join(f"{s} mol{i}\n" for i, s in enumerate(MOLS)))
    assert glm.read_smiles(smi) == MOLS
    with pytest.raises(ValueError, match="no column 'smiles'.*id, SMILES"):
        glm.read_smiles(csv, column="smiles")
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    with pytest.raises(ValueError, match="is empty"):
        glm.read_smiles(empty)
    header_only = tmp_path / "h.csv"
    header_only.write_text("SMILES\n")
    with pytest.raises(ValueError, match="holds no molecules"):
        glm.read_smiles(header_only)
    with pytest.raises(ValueError, match="no molecule file"):
        glm.read_smiles(tmp_path / "missing.csv")


def test_missing_chem_extra_names_the_install_command(monkeypatch):
    real_import = builtins.__import__

    def no_rdkit(name, *args, **kwargs):
        if name.startswith("rdkit"):
            raise ImportError("No module named 'rdkit'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_rdkit)
    monkeypatch.setattr(_chem.importlib, "import_module",
                        lambda n: no_rdkit(n, fromlist=["x"]))
    with pytest.raises(glm.MissingExtraError, match=r"pip install genlearn\[chem\]"):
        glm.canonical("CCO")
