"""MoleculeGenerator over the sequence models, checkpoints, and REINVENT fine-tuning."""

import copy

import numpy as np
import pytest
import torch

pytest.importorskip("rdkit")
pytest.importorskip("selfies")

import genlearn.molecules as glm  # noqa: E402
from genlearn.molecules.generator import MoleculeGenerator  # noqa: E402
from genlearn.molecules.objectives import Objective  # noqa: E402
from genlearn.molecules.reinvent import ScaffoldFilter, reinvent  # noqa: E402

from .conftest import MOLECULES  # noqa: E402

TINY_RNN = {"hidden": 32, "n_layer": 1, "epochs": 3, "batch_size": 16, "val_fraction": 0.0,
            "patience": None}


@pytest.mark.parametrize("model, params", [("ngram", {"order": 4}),
                                           ("hmm", {"n_states": 4, "n_iter": 3})])
def test_baselines_sample_selfies_that_are_all_valid_when_complete(model, params):
    gen = MoleculeGenerator(model=model, representation="selfies", max_length=60,
                            model_params=params, seed=0).fit(MOLECULES)
    draws = gen.sample_tokens(50, seed=1)
    smiles = gen.sample(50, seed=1)
    # a SELFIES draw that ended decodes to a molecule, or to nothing (a draw of only
    # branch/ring symbols): never to a string RDKit rejects
    rep = glm.get_repr("selfies")
    for toks, smi in zip(draws, smiles, strict=True):
        if toks is not None and rep.to_smiles(toks):
            assert smi is not None and glm.canonical(smi) == smi
    assert sum(s is not None for s in smiles) > 10
    assert gen.sample(5, seed=3) == gen.sample(5, seed=3)
    with pytest.raises(ValueError, match="top_p needs a neural model"):
        gen.sample(5, top_p=0.9)


def test_short_selfies_generator_trains_samples_valid_molecules_and_loads_back(tmp_path):
    gen = MoleculeGenerator(model="ngram", representation="selfies-short", max_length=60,
                            model_params={"order": 4}, seed=0).fit(MOLECULES)
    rep = glm.get_repr("selfies-short")
    # it was trained on the short writings, not the canonical SELFIES
    first = glm.canonical(MOLECULES[1])
    assert gen.log_prob([first])[0] == pytest.approx(
        gen.model_.log_prob([gen.vocab_.encode(rep.tokenize(first))])[0])
    smiles = gen.sample(50, seed=1)
    assert sum(s is not None for s in smiles) > 10
    assert all(glm.canonical(s) == s for s in smiles if s is not None)
    back = MoleculeGenerator.load(gen.save(tmp_path / "short"))
    assert back.representation == "selfies-short"
    assert back.sample(20, seed=2) == gen.sample(20, seed=2)


def test_log_prob_matches_the_sequence_model_and_rejects_invalid():
    gen = MoleculeGenerator(model="ngram", representation="smiles", model_params={"order": 3},
                            seed=0).fit(MOLECULES)
    can = glm.canonical(MOLECULES[0])
    ids = gen.vocab_.encode(glm.tokenize_smiles(can))
    assert gen.log_prob([MOLECULES[0]])[0] == pytest.approx(gen.model_.log_prob([ids])[0])
    with pytest.raises(ValueError, match="cannot score every molecule"):
        gen.log_prob(["CCO", "C1CC"])


@pytest.fixture(scope="module")
def tiny_rnn():
    torch.manual_seed(0)
    return MoleculeGenerator(model="rnn", representation="selfies", max_length=60,
                             model_params=TINY_RNN, seed=0).fit(MOLECULES)


def test_save_load_round_trip(tmp_path, tiny_rnn):
    gen = tiny_rnn
    gen.save(tmp_path / "run")
    back = MoleculeGenerator.load(tmp_path / "run")
    assert back.vocab_ == gen.vocab_ and back.train_smiles_ == gen.train_smiles_
    assert back.sample(20, seed=4) == gen.sample(20, seed=4)
    assert np.allclose(back.log_prob(MOLECULES[:3]), gen.log_prob(MOLECULES[:3]))


def test_chemistry_in_worker_processes_gives_the_same_molecules(tiny_rnn):
    one = tiny_rnn.sample(700, seed=5, batch_size=300)
    assert tiny_rnn.sample(700, seed=5, batch_size=300, n_jobs=2) == one
    assert any(s is not None for s in one)
    with pytest.raises(ValueError, match="n_jobs"):
        tiny_rnn.sample(5, n_jobs=0)


def test_nucleus_sampling_reaches_the_sampler_and_the_workers(tiny_rnn):
    # top_p below every symbol's probability keeps only the likeliest: every draw is the same
    greedy = tiny_rnn.sample_tokens(50, seed=6, top_p=1e-9)
    assert len({str(t) for t in greedy}) == 1
    assert len({str(t) for t in tiny_rnn.sample_tokens(50, seed=6)}) > 10
    one = tiny_rnn.sample(400, seed=6, top_p=0.5, batch_size=200)
    assert tiny_rnn.sample(400, seed=6, top_p=0.5, batch_size=200, n_jobs=2) == one
    assert one != tiny_rnn.sample(400, seed=6, batch_size=200)
    with pytest.raises(ValueError, match="top_p"):
        tiny_rnn.sample(5, top_p=0.0)


def test_worker_processes_refuse_a_model_off_the_cpu(tiny_rnn):
    gen = copy.copy(tiny_rnn)
    gen.model_ = copy.copy(tiny_rnn.model_)
    gen.model_.device_ = torch.device("cuda")  # refused before anything is drawn
    with pytest.raises(ValueError, match="model is on cuda: use n_jobs=1"):
        gen.sample(10, batch_size=5, n_jobs=2)


def test_molecules_longer_than_the_context_are_refused():
    data = glm.prepare(MOLECULES, "smiles")
    with pytest.raises(ValueError, match="longer than max_length=10"):
        MoleculeGenerator(model="ngram", representation="smiles", max_length=10).fit(data)


def test_reinvent_spends_exactly_its_budget_and_leaves_the_prior_alone(tiny_rnn):
    gen = tiny_rnn
    before = [p.detach().clone() for p in gen.model_.net_.parameters()]
    obj = Objective("qed")
    res = reinvent(gen, obj, budget=25, batch_size=16, seed=0)
    assert res.oracle_calls == obj.calls == len(res.scores) == 25
    for smi, score in res.top(5):  # the recorded scores are the objective's
        assert score == pytest.approx(Objective("qed")([smi])[0])
    assert all(torch.equal(a, b) for a, b in zip(before, gen.model_.net_.parameters(),
                                                  strict=True))
    moved = any(not torch.equal(a, b) for a, b in zip(
        before, res.agent.model_.net_.parameters(), strict=True))
    assert moved
    # a second run from the same prior trains too (the prior's parameters keep their grads)
    again = reinvent(gen, Objective("logp"), budget=10, batch_size=8, seed=1)
    assert again.oracle_calls == 10
    assert all(p.requires_grad for p in gen.model_.net_.parameters())


def test_reinvent_needs_an_autoregressive_model():
    gen = MoleculeGenerator(model="ngram", representation="selfies").fit(MOLECULES)
    with pytest.raises(ValueError, match="autoregressive model"):
        reinvent(gen, Objective("qed"), budget=10)


def test_scaffold_filter_zeroes_repeats_and_full_buckets():
    f = ScaffoldFilter(bucket_size=2, min_score=0.5)
    assert f("c1ccccc1C", 0.9) == 0.9
    assert f("c1ccccc1C", 0.9) == 0.0          # seen before
    assert f("c1ccccc1CC", 0.9) == 0.9         # same scaffold (benzene), bucket now full
    assert f("c1ccccc1CCC", 0.9) == 0.0
    assert f("c1ccccc1CCCC", 0.3) == 0.3       # below min_score: not counted, not filtered
    assert f("C1CCNCC1", 0.9) == 0.9           # another scaffold
