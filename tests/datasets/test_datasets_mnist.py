"""genlearn.datasets.mnist: IDX parsing, the safe pickle reader, the cache and the download.

Everything runs on small synthetic files written here; the network is blocked for every test.
"""

import gzip
import hashlib
import io
import os
import pickle
import urllib.error
import urllib.request
from pathlib import Path

import numpy as np
import pytest

from genlearn.datasets import DatasetNotAvailableError, UnsafePickleError, load, load_mnist
from genlearn.datasets import mnist as mnist_module
from genlearn.datasets.mnist import IDX_FILES, read_idx

SHARED_PKL = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "mnist.pkl.gz"


@pytest.fixture(autouse=True)
def no_network(monkeypatch, tmp_path):
    """Fail loudly on any real network access, and never touch the user's own cache."""

    def refuse(url, *args, **kwargs):
        raise urllib.error.URLError(f"network disabled in tests ({url})")

    monkeypatch.setattr(urllib.request, "urlopen", refuse)
    monkeypatch.setenv("GENLEARN_DATA", str(tmp_path / "env-cache"))


# -- synthetic files ------------------------------------------------------------------------------
def idx_bytes(array: np.ndarray) -> bytes:
    array = np.asarray(array, dtype=np.uint8)
    header = bytes([0, 0, 0x08, array.ndim]) + b"".join(
        int(s).to_bytes(4, "big") for s in array.shape)
    return header + array.tobytes()


def make_mnist(n_train=20, n_test=8, side=28, seed=0):
    rng = np.random.default_rng(seed)
    return {
        "train-images-idx3-ubyte.gz": rng.integers(0, 256, (n_train, side, side), dtype=np.uint8),
        "train-labels-idx1-ubyte.gz": rng.integers(0, 10, n_train, dtype=np.uint8),
        "t10k-images-idx3-ubyte.gz": rng.integers(0, 256, (n_test, side, side), dtype=np.uint8),
        "t10k-labels-idx1-ubyte.gz": rng.integers(0, 10, n_test, dtype=np.uint8),
    }


def gz_files(arrays) -> dict[str, bytes]:
    return {name: gzip.compress(idx_bytes(a)) for name, a in arrays.items()}


def write_idx_folder(folder: Path, arrays, compressed=True) -> dict[str, bytes]:
    folder.mkdir(parents=True, exist_ok=True)
    files = gz_files(arrays)
    for name, data in files.items():
        if compressed:
            (folder / name).write_bytes(data)
        else:
            (folder / name.removesuffix(".gz")).write_bytes(gzip.decompress(data))
    return files


def pin_hashes(monkeypatch, files: dict[str, bytes]):
    for name, data in files.items():
        monkeypatch.setitem(mnist_module.SHA256, name, hashlib.sha256(data).hexdigest())


def check_against(arrays, train, test):
    images = arrays["train-images-idx3-ubyte.gz"]
    assert train.X.dtype == np.float32 and train.y.dtype == np.int64
    assert train.X.shape == (len(images), images[0].size)
    np.testing.assert_allclose(train.X, images.reshape(len(images), -1) / 255.0, rtol=1e-6)
    np.testing.assert_array_equal(train.y, arrays["train-labels-idx1-ubyte.gz"])
    np.testing.assert_array_equal(test.y, arrays["t10k-labels-idx1-ubyte.gz"])
    assert train.image_shape == test.image_shape == images.shape[1:]
    assert train.domain == test.domain == "unit" and train.name == "mnist"


# -- IDX ------------------------------------------------------------------------------------------
@pytest.mark.parametrize("compress", [True, False])
def test_read_idx_round_trip(tmp_path, compress):
    images = np.arange(2 * 3 * 4, dtype=np.uint8).reshape(2, 3, 4)
    raw = idx_bytes(images)
    path = tmp_path / "x.idx"
    path.write_bytes(gzip.compress(raw) if compress else raw)
    out = read_idx(path, 2051)
    assert out.shape == (2, 3, 4) and out.dtype == np.uint8
    np.testing.assert_array_equal(out, images)
    labels = tmp_path / "y.idx"
    labels.write_bytes(idx_bytes(np.array([3, 1, 4])))
    np.testing.assert_array_equal(read_idx(labels, 2049), [3, 1, 4])


def test_read_idx_rejects_bad_magic_and_sizes(tmp_path):
    labels = tmp_path / "labels"
    labels.write_bytes(idx_bytes(np.array([1, 2, 3])))
    with pytest.raises(ValueError, match="bad IDX magic number 2049 .*expected 2051"):
        read_idx(labels, 2051)  # images and labels swapped
    junk = tmp_path / "junk"
    junk.write_bytes(b"\x12\x34\x56\x78" + bytes(100))
    with pytest.raises(ValueError, match="magic"):
        read_idx(junk, 2051)
    short = tmp_path / "short"
    short.write_bytes(idx_bytes(np.zeros((4, 3, 3)))[:-5])
    with pytest.raises(ValueError, match="truncated or corrupt"):
        read_idx(short, 2051)
    broken = tmp_path / "broken.gz"
    broken.write_bytes(gzip.compress(idx_bytes(np.zeros((4, 3, 3))))[:-10])
    with pytest.raises(ValueError, match="gzip"):
        read_idx(broken, 2051)


@pytest.mark.parametrize("compressed", [True, False])
def test_load_idx_folder(tmp_path, compressed):
    arrays = make_mnist()
    write_idx_folder(tmp_path / "m", arrays, compressed=compressed)
    train, test = load_mnist(path=tmp_path / "m")
    check_against(arrays, train, test)
    assert (len(train), len(test)) == (20, 8)


def test_load_through_load_splits_and_binarizes(tmp_path):
    arrays = make_mnist()
    write_idx_folder(tmp_path, arrays)
    train, test = load("mnist", path=tmp_path)  # split="auto" = the official split for MNIST
    assert (len(train), len(test)) == (20, 8)
    assert load("mnist", path=tmp_path, split="official")[1].X.shape == (8, 784)
    full = load("mnist", path=tmp_path, split=None)
    assert len(full) == 28 and full.X.dtype == np.float32
    np.testing.assert_array_equal(full.X[:20], train.X)
    a, b = load("mnist", path=tmp_path, split=0.5, seed=0)
    assert (len(a), len(b)) == (14, 14)
    btrain, btest = load("mnist", path=tmp_path, binarize=True)
    np.testing.assert_array_equal(btrain.X, (train.X > 0.5).astype(np.float32))
    np.testing.assert_array_equal(btest.X, (test.X > 0.5).astype(np.float32))
    assert btrain.domain == btest.domain == "binary" and btrain.X.dtype == np.float32
    s1 = load("mnist", path=tmp_path, binarize="stochastic", seed=5)
    s2 = load("mnist", path=tmp_path, binarize="stochastic", seed=5)
    np.testing.assert_array_equal(s1[1].X, s2[1].X)


def test_incomplete_or_inconsistent_idx_folder(tmp_path):
    arrays = make_mnist()
    write_idx_folder(tmp_path / "a", arrays)
    (tmp_path / "a" / "t10k-labels-idx1-ubyte.gz").unlink()
    with pytest.raises(DatasetNotAvailableError, match="missing: t10k-labels-idx1-ubyte.gz"):
        load_mnist(path=tmp_path / "a")
    arrays["t10k-labels-idx1-ubyte.gz"] = arrays["t10k-labels-idx1-ubyte.gz"][:5]
    write_idx_folder(tmp_path / "b", arrays)
    with pytest.raises(ValueError, match="8 images but .* 5 labels"):
        load_mnist(path=tmp_path / "b")
    with pytest.raises(FileNotFoundError, match="does not exist"):
        load_mnist(path=tmp_path / "nowhere")
    with pytest.raises(ValueError, match="single IDX file"):
        load_mnist(path=tmp_path / "b" / "t10k-labels-idx1-ubyte.gz")


# -- mnist.pkl.gz ---------------------------------------------------------------------------------
def write_pickle(path: Path, obj, protocol=2):
    with gzip.open(path, "wb") as fh:
        pickle.dump(obj, fh, protocol=protocol)


def pickled_splits(seed=0):
    rng = np.random.default_rng(seed)
    part = lambda n: (rng.random((n, 784), dtype=np.float32), rng.integers(0, 10, n))  # noqa: E731
    return part(6), part(3), part(4)


@pytest.mark.parametrize("protocol", [2, 3, 4, 5])
def test_pickle_round_trip(tmp_path, protocol):
    (Xt, yt), (Xv, yv), (Xs, ys) = splits = pickled_splits()
    write_pickle(tmp_path / "mnist.pkl.gz", splits, protocol)
    for where in (tmp_path / "mnist.pkl.gz", tmp_path):  # the file, or a folder holding it
        train, test = load_mnist(path=where)
        np.testing.assert_array_equal(train.X, np.concatenate([Xt, Xv]))  # train + valid
        np.testing.assert_array_equal(train.y, np.concatenate([yt, yv]))
        np.testing.assert_array_equal(test.X, Xs)
        assert train.X.dtype == np.float32 and test.y.dtype == np.int64
        assert train.image_shape == (28, 28) and train.domain == "unit"


class _RunsCommand:
    """Unpickling this would run a shell command that creates ``marker``."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


class _CallsEval:
    def __reduce__(self):
        return (eval, ("__import__('os').getcwd()",))


def test_malicious_pickle_is_refused_and_not_executed(tmp_path):
    marker = tmp_path / "pwned"
    X = np.zeros((2, 784), np.float32)
    evil = ((X, np.zeros(2, np.int64)), _RunsCommand(marker), (X, np.zeros(2, np.int64)))
    write_pickle(tmp_path / "mnist.pkl.gz", evil)
    with pytest.raises(UnsafePickleError, match=r"refuses to unpickle (posix|nt|os)\.system"):
        load_mnist(path=tmp_path / "mnist.pkl.gz")
    assert not marker.exists()
    write_pickle(tmp_path / "eval.pkl.gz", _CallsEval(), protocol=4)
    with pytest.raises(ValueError, match=r"refuses to unpickle builtins\.eval"):
        load_mnist(path=tmp_path / "eval.pkl.gz")


def test_bad_pickles(tmp_path):
    write_pickle(tmp_path / "dict.pkl.gz", {"X": np.zeros((2, 784))})
    with pytest.raises(ValueError, match=r"expected a pickled tuple \(train, valid, test\)"):
        load_mnist(path=tmp_path / "dict.pkl.gz")
    (train, valid, test) = pickled_splits()
    write_pickle(tmp_path / "range.pkl.gz", (train, valid, (test[0] * 255, test[1])))
    with pytest.raises(ValueError, match=r"test X must hold intensities in \[0, 1\]"):
        load_mnist(path=tmp_path / "range.pkl.gz")
    (tmp_path / "garbage.pkl.gz").write_bytes(gzip.compress(b"not a pickle at all"))
    with pytest.raises(ValueError, match="not a readable MNIST pickle"):
        load_mnist(path=tmp_path / "garbage.pkl.gz")


# -- cache, offline and download ------------------------------------------------------------------
def test_cache_is_used_when_hashes_match(tmp_path, monkeypatch):
    arrays = make_mnist()
    files = write_idx_folder(tmp_path / "cache", arrays)
    pin_hashes(monkeypatch, files)
    check_against(arrays, *load_mnist(cache_dir=tmp_path / "cache", download=False))
    monkeypatch.setenv("GENLEARN_DATA", str(tmp_path / "cache"))  # the env var finds it too
    check_against(arrays, *load("mnist", download=False))


def test_cached_file_with_wrong_hash_is_not_trusted(tmp_path):
    write_idx_folder(tmp_path, make_mnist())  # real constants: synthetic files cannot match
    with pytest.raises(DatasetNotAvailableError, match="wrong SHA-256"):
        load_mnist(cache_dir=tmp_path, download=False)


def test_cached_pickle_is_hash_checked(tmp_path, monkeypatch):
    write_pickle(tmp_path / "mnist.pkl.gz", pickled_splits())
    with pytest.raises(DatasetNotAvailableError, match="mnist.pkl.gz has the wrong SHA-256"):
        load_mnist(cache_dir=tmp_path, download=False)
    digest = hashlib.sha256((tmp_path / "mnist.pkl.gz").read_bytes()).hexdigest()
    monkeypatch.setitem(mnist_module.SHA256, "mnist.pkl.gz", digest)
    train, test = load_mnist(cache_dir=tmp_path, download=False)
    assert (len(train), len(test)) == (9, 4)


def _assert_helpful(message: str, folder: Path):
    for name in IDX_FILES:
        assert name in message
    assert "mnist.pkl.gz" in message and str(folder) in message and "path=" in message


def test_offline_error_names_files_and_folder(tmp_path):
    cache = tmp_path / "cache"
    with pytest.raises(DatasetNotAvailableError) as info:
        load("mnist", cache_dir=cache)  # the autouse fixture makes every urlopen fail
    assert isinstance(info.value, FileNotFoundError)
    message = str(info.value)
    _assert_helpful(message, cache)
    assert "download failed" in message and "ossci-datasets" in message
    assert "network disabled" in message
    assert not any(cache.iterdir())  # no partial downloads left behind


def test_download_false_error_and_default_folders(tmp_path, monkeypatch):
    with pytest.raises(DatasetNotAvailableError, match="download=False") as info:
        load_mnist(download=False)
    _assert_helpful(str(info.value), tmp_path / "env-cache")  # $GENLEARN_DATA
    assert not (tmp_path / "env-cache").exists()  # nothing created when not downloading
    monkeypatch.delenv("GENLEARN_DATA")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    with pytest.raises(DatasetNotAvailableError) as info:
        load_mnist(download=False)
    _assert_helpful(str(info.value), tmp_path / "home" / ".cache" / "genlearn" / "mnist")


def test_download_through_urlopen(tmp_path, monkeypatch):
    arrays = make_mnist(seed=1)
    files = gz_files(arrays)
    pin_hashes(monkeypatch, files)
    calls = []

    def fake_urlopen(url, timeout=None):
        calls.append(url)
        assert timeout and timeout <= 60
        if "ossci-datasets" in url:  # the first mirror is down: the second must be tried
            raise urllib.error.URLError("mirror down")
        return io.BytesIO(files[url.rsplit("/", 1)[1]])

    monkeypatch.setattr(urllib.request, "urlopen", fake_urlopen)
    cache = tmp_path / "cache"
    check_against(arrays, *load_mnist(cache_dir=cache))
    assert len(calls) == 8
    assert sorted(p.name for p in cache.iterdir()) == sorted(IDX_FILES)  # no temporary files
    for name, data in files.items():
        assert (cache / name).read_bytes() == data
    check_against(arrays, *load_mnist(cache_dir=cache))  # second time: from the cache
    assert len(calls) == 8


def test_download_through_fetch(tmp_path, monkeypatch):
    arrays = make_mnist(seed=2)
    files = gz_files(arrays)
    pin_hashes(monkeypatch, files)
    monkeypatch.setattr(mnist_module, "_fetch",
                        lambda url, out, timeout: out.write(files[url.rsplit("/", 1)[1]]))
    check_against(arrays, *load_mnist(cache_dir=tmp_path / "c"))


def test_hash_mismatch_leaves_nothing_behind(tmp_path, monkeypatch):
    files = gz_files(make_mnist())
    # The expected hashes stay the real ones, so every synthetic "download" is rejected.
    monkeypatch.setattr(mnist_module, "_fetch",
                        lambda url, out, timeout: out.write(files[url.rsplit("/", 1)[1]]))
    cache = tmp_path / "cache"
    with pytest.raises(DatasetNotAvailableError, match="SHA-256 mismatch") as info:
        load_mnist(cache_dir=cache)
    _assert_helpful(str(info.value), cache)
    assert list(cache.iterdir()) == []


def test_interrupted_download_leaves_nothing_behind(tmp_path, monkeypatch):
    def half_then_fail(url, out, timeout):
        out.write(b"\x1f\x8b partial")
        raise TimeoutError("read timed out")

    monkeypatch.setattr(mnist_module, "_fetch", half_then_fail)
    with pytest.raises(DatasetNotAvailableError, match="read timed out"):
        load_mnist(cache_dir=tmp_path / "cache")
    assert list((tmp_path / "cache").iterdir()) == []


# -- the real file, where this checkout has it ----------------------------------------------------
@pytest.mark.skipif(not SHARED_PKL.is_file(), reason="no ../shared/data/mnist.pkl.gz here")
def test_real_mnist_pickle():
    # Through the cache path, so the published SHA-256 constant is checked against the file.
    train, test = load_mnist(cache_dir=SHARED_PKL.parent, download=False)
    assert train.X.shape == (60_000, 784) and test.X.shape == (10_000, 784)
    assert train.X.dtype == np.float32 and 0.0 <= train.X.min() and train.X.max() <= 1.0
    assert set(np.unique(test.y).tolist()) == set(range(10))
