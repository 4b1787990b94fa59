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


def test_text_checkpoint_generates_in_a_fresh_process(corpus, tmp_path):
    """The registry must know the text models without the text app imported first (one
    process for all four: importing torch is slow on a busy machine)."""
    import subprocess
    import sys

    from genlearn.apps.text import train_text

    runs = []
    for model in ("hmm", "ngram", "transformer", "rnn"):
        runs.append(str(tmp_path / model))
        train_text(corpus, model=model, states=4, n_iter=3, epochs=1, n_layer=1, n_head=1,
                   n_embd=8, hidden=8, block_size=8, seq_len=32, out=runs[-1], verbose=False,
                   device="cpu", baseline=False)
    code = ("import sys; from genlearn.cli import main; sys.exit(max(main(['text', 'generate', "
            "r, '--length', '10', '--seed', '0']) for r in sys.argv[1:]))")
    res = subprocess.run([sys.executable, "-c", code, *runs], capture_output=True, text=True)
    assert res.returncode == 0, res.stderr
    # each prints exactly 10 characters (they may include newlines) and a newline
    assert len(res.stdout) == 4 * 11 and set(res.stdout) <= set(TEXT) | {"\ufffd"}


# -- neural text models, BPE, bad input (issue 11) ---------------------------------------------
TINY_NET = ["--epochs", "4", "--lr", "1e-2", "--n-layer", "1", "--n-head", "2", "--n-embd", "16",
            "--hidden", "16", "--block-size", "16", "--batch-size", "16", "--seq-len", "64",
            "--device", "cpu", "-q"]


@pytest.fixture(autouse=False)
def one_thread():
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.mark.parametrize("model", ["transformer", "rnn"])
def test_neural_text_train_and_generate(model, corpus, tmp_path, capsys, one_thread):
    from genlearn.cli import main
    from genlearn.text import iter_generate, load_text_model

    out = tmp_path / model
    assert main(["text", "train", str(corpus), "--model", model, "--out", str(out),
                 *TINY_NET]) == 0
    printed = capsys.readouterr().out
    bits = float(printed.split("held-out bits per character: ")[1].split()[0])
    assert 0 < bits < np.log2(len(set(TEXT)) + 1)
    assert "5-gram Kneser-Ney baseline" in printed
    fitted, tok = load_text_model(out)
    assert fitted.epochs_trained_ == 4 and not fitted.end_symbol
    # the held-out figure is the exact total over the held-out characters
    text = corpus.read_text()
    test_txt = text[int(round(len(text) * 0.9)):]
    expect = -fitted.log_prob([tok.encode(test_txt)])[0] / len(test_txt) / np.log(2)
    assert bits == pytest.approx(expect, abs=1e-4)
    assert main(["text", "generate", str(out), "--length", "25", "--prompt", "the ",
                 "--seed", "3", "--temperature", "0.8", "--top-p", "0.95", "-n", "2"]) == 0
    printed = capsys.readouterr().out
    pieces = list(iter_generate(out, prompt="the ", length=25, seed=3, temperature=0.8,
                                top_p=0.95))
    assert len(pieces) > 1  # printed as it is generated, not at the end
    first = "the " + "".join(pieces) + "\n"
    assert printed.startswith(first) and printed[len(first):].startswith("the ")
    assert set(printed) <= set(TEXT)
    # resume continues the periodic checkpoint up to more epochs
    assert main(["text", "train", str(corpus), "--model", model, "--out", str(out),
                 "--resume", *TINY_NET, "--epochs", "5"]) == 0
    assert load_text_model(out)[0].epochs_trained_ == 5


def test_bpe_tokenizer_round_trip_and_json():
    from genlearn.text import BPETokenizer, tokenizer_from_json

    text = (TEXT * 30) + "naïve café ✓\n"
    tok = BPETokenizer.train(text, vocab_size=300)
    assert 256 < len(tok) <= 300  # fewer when the text runs out of pairs to merge
    for s in (text, "zebra ünïcödé 🐍\n", ""):
        assert tok.decode(tok.encode(s)) == s  # byte level: nothing is unknown
    assert len(tok.encode(TEXT)) < len(TEXT)  # merges shorten the text
    back = tokenizer_from_json(json.loads(json.dumps(tok.to_json())))
    assert back == tok and np.array_equal(back.encode(text), tok.encode(text))
    with pytest.raises(ValueError, match="vocab_size"):
        BPETokenizer.train(text, vocab_size=100)
    with pytest.raises(ValueError, match="not a genlearn tokenizer"):
        tokenizer_from_json({"type": "pickle"})


def test_bpe_text_model_reports_bits_per_character(corpus, tmp_path, one_thread):
    from genlearn.text import generate_text, load_text_model, train_text

    out = tmp_path / "bpe"
    report = train_text(corpus, model="transformer", tokenizer="bpe", vocab_size=280, out=out,
                        epochs=1, n_layer=1, n_head=2, n_embd=16, block_size=16, seq_len=64,
                        device="cpu", verbose=False)
    model, tok = load_text_model(out)
    assert type(tok).__name__ == "BPETokenizer" and model.n_symbols_ == len(tok) <= 280
    assert report["train_tokens"] < report["train_characters"]
    text = corpus.read_text()
    test_txt = text[int(round(len(text) * 0.9)):]
    nats = -model.log_prob([tok.encode(test_txt)])[0]
    assert report["bits_per_char"] == pytest.approx(nats / len(test_txt) / np.log(2), abs=1e-6)
    assert "ngram5_bits_per_char" in report
    out_text = generate_text(out, length=12, prompt="the", seed=1)[0]
    assert isinstance(out_text, str) and out_text


def test_docs_corpus_by_name(tmp_path, one_thread):
    from genlearn.text import docs_corpus, train_text

    assert len(docs_corpus(5000)) == 5000
    report = train_text(data="docs", chars=3000, model="ngram", out=tmp_path / "d",
                        verbose=False)
    assert report["corpus"] == "data:docs" and report["characters"] == 3000
    with pytest.raises(ValueError, match="not both"):
        train_text(tmp_path / "x.txt", data="docs", out=tmp_path / "e")
    with pytest.raises(ValueError, match="unknown corpus"):
        train_text(data="wikipedia", out=tmp_path / "e")


def test_text_bad_input(corpus, tmp_path, capsys, one_thread):
    from genlearn.cli import main
    from genlearn.text import iter_generate, train_text

    empty = tmp_path / "empty.txt"
    empty.write_text("")
    assert main(["text", "train", str(empty), "--out", str(tmp_path / "e"), "-q"]) == 1
    assert "empty" in capsys.readouterr().err
    out = tmp_path / "m"
    train_text(corpus, model="transformer", out=out, epochs=1, n_layer=1, n_head=1, n_embd=8,
               block_size=8, seq_len=32, device="cpu", verbose=False, baseline=False)
    for flags, message in ((["--top-p", "1.5"], "top_p"), (["--top-p", "0"], "top_p"),
                           (["--temperature", "0"], "temperature"),
                           (["--length", "0"], "length"), (["--top-k", "0"], "top_k")):
        assert main(["text", "generate", str(out), *flags]) == 1, flags
        assert message in capsys.readouterr().err
    # a prompt with characters the vocabulary lacks: read as the unknown slot, said once
    with pytest.warns(UserWarning, match=r"2 character\(s\)") as seen:
        "".join(iter_generate(out, prompt="the zoo Q", length=5, seed=0))
    assert len(seen) == 1
    # a context longer than the window slides (documented): a long prompt still works
    assert "".join(iter_generate(out, prompt=TEXT * 3, length=5, seed=0))
    # a tokenizer file that does not match the checkpoint
    from genlearn.text import Vocabulary

    other = tmp_path / "other.json"
    other.write_text(json.dumps(Vocabulary.build("xyz").to_json()))
    with pytest.raises(ValueError, match="does not match"):
        "".join(iter_generate(out, tokenizer_file=other, length=3))
    assert main(["text", "generate", str(out), "--tokenizer", str(other)]) == 1
    assert "does not match" in capsys.readouterr().err
    assert main(["text", "train", str(corpus), "--out", str(tmp_path / "none"), "--resume",
                 "-q"]) == 1
    assert "no checkpoint" in capsys.readouterr().err
    # a tokenizer file that is not one, and one whose size is not the model's
    broken = tmp_path / "broken.json"
    broken.write_text("{not json")
    with pytest.raises(ValueError, match="tokenizer file"):
        "".join(iter_generate(out, tokenizer_file=broken, length=3))
    from genlearn.models.transformer import Transformer

    plain = tmp_path / "plain"  # a checkpoint saved without a tokenizer
    Transformer(n_layer=1, n_head=1, n_embd=8, block_size=8, epochs=1, verbose=False,
                device="cpu", end_symbol=False).fit([np.arange(5)] * 3).save(plain)
    with pytest.raises(ValueError, match="not a text model"):
        "".join(iter_generate(plain, length=3))
    with pytest.raises(ValueError, match="do not belong together"):
        "".join(iter_generate(plain, tokenizer_file=other, length=3))  # 4 symbols, not 5
    five = tmp_path / "five.json"
    five.write_text(json.dumps(Vocabulary.build("abcd").to_json()))
    assert "".join(iter_generate(plain, tokenizer_file=five, length=3, seed=0))
