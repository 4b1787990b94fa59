"""Character vocabularies, reading, splitting and chunking text; an n-gram end to end on text."""

import json

import numpy as np
import pytest

from genlearn.apps.text import Vocabulary, chunk, read_text, split_text
from genlearn.models.ngram import NGram

TEXT = "the cat sat on the mat.\nthe dog ate the hat!\n"


def test_ids_by_frequency_ties_by_code_point():
    vocab = Vocabulary.build("bbaacd a")
    # counts: a 3, b 2, then c, d, " " once each -> by code point: " " (32), c, d
    assert vocab.chars == ["a", "b", " ", "c", "d"]
    assert vocab.tokens[0] == "<unk>" and len(vocab) == 6
    np.testing.assert_array_equal(vocab.encode("abcd "), [1, 2, 4, 5, 3])
    assert Vocabulary.build("bbaacd a") == vocab  # deterministic


def test_round_trip_and_unknown_characters():
    vocab = Vocabulary.build(TEXT)
    ids = vocab.encode(TEXT)
    assert ids.dtype == np.int64 and ids.shape == (len(TEXT),) and ids.min() >= 1
    assert vocab.decode(ids) == TEXT
    assert vocab.chars[0] == " "  # the most frequent character gets id 1
    out = vocab.encode("the zoo é")
    assert out[4] == 0 and out[-1] == 0 and out[5] > 0  # z and é are not in the text
    assert vocab.decode(out) == "the \ufffdoo \ufffd"
    custom = Vocabulary.build(TEXT, unk_char="?")
    assert custom.decode(custom.encode("zoo")) == "?oo"


def test_min_count_and_max_size():
    vocab = Vocabulary.build("aaabbc", min_count=2)
    assert vocab.chars == ["a", "b"] and vocab.encode("c")[0] == 0
    small = Vocabulary.build(TEXT, max_size=4)
    assert len(small) == 4 and small.chars == Vocabulary.build(TEXT).chars[:3]
    with pytest.raises(ValueError, match="min_count"):
        Vocabulary.build(TEXT, min_count=0)
    with pytest.raises(ValueError, match="max_size"):
        Vocabulary.build(TEXT, max_size=1)
    with pytest.raises(ValueError, match="empty"):
        Vocabulary.build("")


def test_json_round_trip():
    vocab = Vocabulary.build(TEXT + "\t€😀", unk_char="#")
    back = Vocabulary.from_json(json.loads(json.dumps(vocab.to_json())))
    assert back == vocab and back.unk_char == "#"
    np.testing.assert_array_equal(back.encode(TEXT + "😀"), vocab.encode(TEXT + "😀"))
    with pytest.raises(ValueError, match="not a genlearn vocabulary"):
        Vocabulary.from_json({"chars": ["a"]})
    with pytest.raises(ValueError, match="distinct"):
        Vocabulary(["a", "b", "a"])


def test_decode_rejects_bad_ids():
    vocab = Vocabulary.build("abc")
    with pytest.raises(ValueError, match="id 4 is outside this vocabulary of 4"):
        vocab.decode([1, 4])
    with pytest.raises(ValueError, match="integers"):
        vocab.decode([1.5])


def test_read_text(tmp_path):
    good = tmp_path / "good.txt"
    good.write_bytes(b"\xef\xbb\xbfline one\r\nline two\rthree\n")
    assert read_text(good) == "line one\nline two\nthree\n"
    bad = tmp_path / "bad.txt"
    bad.write_bytes(b"ab\xffcd")
    with pytest.raises(ValueError, match=r"bad\.txt is not valid UTF-8: byte 0xff at byte off"
                                         r"set 2"):
        read_text(bad)
    empty = tmp_path / "empty.txt"
    empty.write_bytes(b"")
    with pytest.raises(ValueError, match="empty"):
        read_text(empty)


def test_split_and_chunk():
    ids = np.arange(1000)
    train, test = split_text(ids)
    assert len(train) == 900 and len(test) == 100
    np.testing.assert_array_equal(np.concatenate([train, test]), ids)  # contiguous, in order
    assert split_text("abcdefghij", 0.7) == ("abcdefg", "hij")
    with pytest.raises(ValueError, match="train_fraction"):
        split_text(ids, 1.0)
    with pytest.raises(ValueError, match="empty"):
        split_text([1], 0.5)
    parts = chunk(ids, 64)
    assert [len(p) for p in parts] == [64] * 15 + [40]
    np.testing.assert_array_equal(np.concatenate(parts), ids)
    with pytest.raises(ValueError, match="length"):
        chunk(ids, 0)


def test_ngram_on_text_end_to_end():
    text = TEXT * 20
    vocab = Vocabulary.build(text)
    train, test = split_text(vocab.encode(text), 0.8)
    model = NGram(order=8, n_symbols=len(vocab), verbose=False).fit([train])
    assert model.bits_per_symbol([test]) < 1.0  # repeated text is easy to predict
    prompt = vocab.encode("the c")
    out = vocab.decode(model.sample(1, 20, seed=0, prompt=prompt, temperature=1e-3)[0])
    assert out == "at sat on the mat.\nt"  # near-argmax continues the training text
    model.fit(chunk(train, 50))  # many shorter sequences work too
    assert np.isfinite(model.score(chunk(test, 50)))


# -- genlearn text train / generate ------------------------------------------------------------
@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    path = tmp_path_factory.mktemp("text") / "corpus.txt"
    path.write_text(TEXT * 30 + "zebra\n", encoding="utf-8")  # "z" only in the held-out part
    return path


@pytest.mark.parametrize("model", ["hmm", "ngram"])
def test_text_train_and_generate_from_the_cli(model, corpus, tmp_path, capsys):
    from genlearn.apps.text import load_text_model
    from genlearn.cli import main

    out = tmp_path / model
    assert main(["text", "train", str(corpus), "--model", model, "--states", "6", "--iters",
                 "15", "--seq-len", "40", "--out", str(out), "-q"]) == 0
    printed = capsys.readouterr().out
    bits = float(printed.split("held-out bits per character: ")[1].split()[0])
    assert 0 < bits < np.log2(len(set(TEXT)) + 1)  # better than uniform, and finite with "z"
    if model == "hmm":
        assert "5-gram Kneser-Ney baseline" in printed
    fitted, vocab = load_text_model(out)
    assert len(vocab) == fitted.n_symbols_ == len(set(TEXT)) + 1  # + the unknown slot
    assert vocab.encode("z")[0] == 0
    assert main(["text", "generate", str(out), "--length", "30", "--prompt", "the ",
                 "--seed", "3", "--temperature", "0.7", "-n", "2"]) == 0
    lines = [ln for ln in capsys.readouterr().out.split("\n") if ln.startswith("the ")]
    assert len(lines) >= 2
    assert set("".join(lines)) <= set(TEXT) | {"\ufffd"}
    again = main(["text", "train", str(corpus), "--model", model, "--out", str(out), "-q"])
    assert again == 1 and "--force" in capsys.readouterr().err


def test_text_generate_refuses_a_model_without_vocabulary(tmp_path, capsys):
    from genlearn.cli import main
    from genlearn.models.hmm import HMM

    HMM(n_states=2, n_iter=2, verbose=False, device="cpu").fit([np.array([0, 1, 1, 0])]).save(
        tmp_path / "plain")
    assert main(["text", "generate", str(tmp_path / "plain")]) == 1
    assert "not a text model" in capsys.readouterr().err


@pytest.mark.parametrize("model", ["hmm", "ngram"])
def test_text_checkpoint_generates_in_a_fresh_process(model, corpus, tmp_path):
    """The registry must know both text models without the text app imported first."""
    import subprocess
    import sys

    from genlearn.apps.text import train_text

    out = tmp_path / model
    train_text(corpus, model=model, states=4, n_iter=3, out=out, verbose=False, device="cpu")
    res = subprocess.run([sys.executable, "-m", "genlearn.cli", "text", "generate", str(out),
                          "--length", "10", "--seed", "0"], capture_output=True, text=True)
    assert res.returncode == 0, res.stderr
    assert len(res.stdout.rstrip("\n")) == 10
