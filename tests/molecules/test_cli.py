"""genlearn molecules train / sample / evaluate / optimize, and their errors."""

import csv
import json

import pytest

pytest.importorskip("rdkit")
pytest.importorskip("selfies")

from genlearn.cli import main  # noqa: E402

RNN = ["--param", "hidden=32", "--param", "n_layer=1", "--param", "batch_size=16",
       "--param", "val_fraction=0", "--param", "patience=none", "--epochs", "1"]


def _rows(path):
    with open(path) as fh:
        return list(csv.DictReader(fh))


def test_train_sample_evaluate_optimize(molecules_csv, tmp_path, capsys):
    run = tmp_path / "run"
    assert main(["molecules", "train", str(molecules_csv), "--model", "rnn", "--repr",
                 "selfies", "--out", str(run), "--max-length", "60", *RNN]) == 0
    out = capsys.readouterr().out
    assert "42 read, 40 kept, 2 invalid SMILES" in out  # skipped and counted, never silent
    assert (run / "molecules.json").is_file() and (run / "config.json").is_file()

    new = tmp_path / "new.csv"
    assert main(["molecules", "sample", str(run), "-n", "50", "-o", str(new)]) == 0
    rows = _rows(new)
    assert 0 < len(rows) <= 50 and "valid of 50 draws" in capsys.readouterr().out
    assert main(["molecules", "sample", str(run), "-n", "5", "-o", str(new)]) == 1
    assert "exists; pass --force" in capsys.readouterr().err
    fast = tmp_path / "fast.csv"  # bf16 products, chemistry in a second process
    assert main(["molecules", "sample", str(run), "-n", "50", "-o", str(fast), "--precision",
                 "bf16", "--jobs", "2"]) == 0
    assert 0 < len(_rows(fast)) <= 50
    greedy = tmp_path / "greedy.csv"  # nucleus sampling with p below every symbol: one draw
    assert main(["molecules", "sample", str(run), "-n", "20", "-o", str(greedy), "--top-p",
                 "1e-9"]) == 0
    assert len({tuple(r) for r in _rows(greedy)}) <= 1

    metrics = tmp_path / "m.json"
    assert main(["molecules", "evaluate", str(run), "--test", str(molecules_csv), "-n", "60",
                 "--no-fcd", "--json", str(metrics)]) == 0
    out = capsys.readouterr().out
    assert "SNN/Test" in out and "IntDiv" in out and "Novelty" in out
    m = json.loads(metrics.read_text())
    assert m["n_generated"] == 60 and 0 <= m["valid"] <= 1
    assert (run / "samples.png").stat().st_size > 0

    best = tmp_path / "best.csv"
    assert main(["molecules", "optimize", str(run), "--objective", "qed", "--budget", "20",
                 "--batch-size", "16", "-o", str(best)]) == 0
    assert "20 oracle calls" in capsys.readouterr().out
    scores = [float(r["score"]) for r in _rows(best)]
    assert scores == sorted(scores, reverse=True) and len(scores) == 20
    assert all(float(r["qed"]) == pytest.approx(float(r["score"]), abs=1e-4)
               for r in _rows(best))


def test_train_repr_takes_a_number_of_orders_and_rejects_unknown_names(molecules_csv, tmp_path,
                                                                      capsys):
    run = tmp_path / "run"
    assert main(["molecules", "train", str(molecules_csv), "--model", "ngram", "--repr",
                 "selfies-short:4", "--prep-jobs", "2", "--out", str(run)]) == 0
    assert json.loads((run / "molecules.json").read_text())["representation"] == \
        "selfies-short:4"
    with pytest.raises(SystemExit):  # argparse's usage error, before anything is read
        main(["molecules", "train", str(molecules_csv), "--repr", "inchi", "--out",
              str(tmp_path / "r2")])
    assert "unknown molecule representation 'inchi'" in capsys.readouterr().err
    assert not (tmp_path / "r2").exists()


def test_train_without_the_chem_extra_is_one_line_naming_the_install(molecules_csv, tmp_path,
                                                                     capsys, monkeypatch):
    from genlearn.molecules import _chem

    real = _chem.importlib.import_module

    def without_chem(name):
        if name.split(".")[0] in ("rdkit", "selfies"):
            raise ImportError(f"No module named {name!r}")
        return real(name)

    monkeypatch.setattr(_chem.importlib, "import_module", without_chem)
    for extra in ([], ["--repr", "selfies-short:64"]):  # the --repr check must not raise it
        assert main(["molecules", "train", str(molecules_csv), "--out", str(tmp_path / "r"),
                     *extra]) == 1
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and "pip install genlearn[chem]" in err
    assert not (tmp_path / "r").exists()


@pytest.mark.parametrize("args, message", [
    (["--column", "smi"], "no column 'smi'"),
    (["--max-length", "3"], "no usable molecule"),
])
def test_train_errors(molecules_csv, tmp_path, capsys, args, message):
    code = main(["molecules", "train", str(molecules_csv), "--model", "ngram", "--out",
                 str(tmp_path / "run"), *args])
    assert code == 1 and message in capsys.readouterr().err


def test_train_with_short_selfies_from_the_command_line(molecules_csv, tmp_path, capsys):
    run, new = tmp_path / "run", tmp_path / "new.csv"
    assert main(["molecules", "train", str(molecules_csv), "--model", "ngram", "--repr",
                 "selfies-short", "--out", str(run), "--param", "order=4"]) == 0
    assert json.loads((run / "molecules.json").read_text())["representation"] == "selfies-short"
    assert main(["molecules", "sample", str(run), "-n", "30", "-o", str(new)]) == 0
    assert 0 < len(_rows(new)) <= 30


def test_empty_file_and_unknown_objective(tmp_path, molecules_csv, capsys):
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    assert main(["molecules", "train", str(empty), "--model", "ngram", "--out",
                 str(tmp_path / "r")]) == 1
    assert "is empty" in capsys.readouterr().err
    run = tmp_path / "ng"
    assert main(["molecules", "train", str(molecules_csv), "--model", "ngram", "--out",
                 str(run)]) == 0
    assert main(["molecules", "optimize", str(run), "--objective", "guacamol:nope", "-o",
                 str(tmp_path / "b.csv")]) == 1
    assert "unknown objective 'guacamol:nope'" in capsys.readouterr().err
    assert main(["molecules", "optimize", str(run), "--objective", "qed", "-o",
                 str(tmp_path / "b.csv")]) == 1
    assert "autoregressive model" in capsys.readouterr().err
    assert main(["molecules", "sample", str(tmp_path), "-o", str(tmp_path / "x.csv")]) == 1
    assert "not a molecule generator checkpoint" in capsys.readouterr().err


def test_train_nproc_starts_torchrun_and_only_rank_0_writes(molecules_csv, tmp_path,
                                                             monkeypatch):
    import subprocess

    from genlearn import distributed

    seen = []
    monkeypatch.delenv("WORLD_SIZE", raising=False)
    monkeypatch.setattr(subprocess, "run", lambda cmd, **kw: seen.append(cmd)
                        or subprocess.CompletedProcess(cmd, 0))
    argv = ["molecules", "train", str(molecules_csv), "--model", "ngram", "--nproc", "2",
            "--out", str(tmp_path / "r")]
    assert main(argv) == 0
    assert "--nproc-per-node=2" in seen[0]
    assert seen[0][seen[0].index("genlearn") + 1:] == [a for a in argv if a not in ("--nproc", "2")]
    monkeypatch.setattr(distributed, "rank", lambda: 1)  # another rank under torchrun
    assert main(["molecules", "train", str(molecules_csv), "--model", "ngram",
                 "--out", str(tmp_path / "r")]) == 0
    assert not (tmp_path / "r").exists()  # fitted, nothing written
