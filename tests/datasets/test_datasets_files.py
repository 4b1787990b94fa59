"""genlearn.datasets.load_file: the user's .npy, .npz, .csv files and folders of images."""

import numpy as np
import pytest
from PIL import Image

from genlearn.datasets import load, load_file


# -- .npy -----------------------------------------------------------------------------------------
@pytest.mark.parametrize("X, domain", [
    (np.array([[0.5, -1.0], [2.0, 3.0]]), "real"),
    (np.array([[0.5, 0.0], [1.0, 0.25]]), "unit"),
    (np.array([[0, 1], [1, 1]], dtype=np.int32), "binary"),
    (np.array([[True, False]]), "binary"),
])
def test_npy_2d_and_domain(tmp_path, X, domain):
    np.save(tmp_path / "data.npy", X)
    data = load_file(tmp_path / "data.npy")
    np.testing.assert_array_equal(data.X, X.astype(np.float64))
    assert data.X.dtype == np.float64 and data.domain == domain
    assert data.name == "data.npy" and data.y is None and data.image_shape is None


def test_npy_images(tmp_path):
    images = np.random.default_rng(0).random((5, 3, 4))
    np.save(tmp_path / "imgs.npy", images)
    data = load_file(str(tmp_path / "imgs.npy"))
    assert data.X.shape == (5, 12) and data.image_shape == (3, 4)
    np.testing.assert_array_equal(data.X.reshape(5, 3, 4), images)
    np.save(tmp_path / "flat.npy", images.reshape(5, 12))
    assert load_file(tmp_path / "flat.npy", image_shape=(4, 3)).image_shape == (4, 3)
    with pytest.raises(ValueError, match="image_shape"):
        load_file(tmp_path / "flat.npy", image_shape=(5, 5))


@pytest.mark.parametrize("array, match", [
    (np.array([[1.0, np.nan]]), "1 NaN or infinite"),
    (np.array([[1.0, np.inf], [-np.inf, 0.0]]), "2 NaN or infinite"),
    (np.zeros((0, 3)), "empty"),
    (np.zeros(4), "1-D"),
    (np.zeros((2, 2, 2, 2)), "shape"),
    (np.array([[1 + 2j]]), "numeric"),
    (np.array([["a", "b"]]), "numeric"),
])
def test_npy_bad_content(tmp_path, array, match):
    path = tmp_path / "bad.npy"
    np.save(path, array)
    with pytest.raises(ValueError, match=match) as info:
        load_file(path)
    assert str(path) in str(info.value)


def test_npy_object_array_is_not_unpickled(tmp_path):
    path = tmp_path / "obj.npy"
    np.save(path, np.array([[1, "x"]], dtype=object), allow_pickle=True)
    with pytest.raises(ValueError, match="never loads pickled data"):
        load_file(path)
    (tmp_path / "fake.npy").write_text("hello")
    with pytest.raises(ValueError, match="fake.npy"):
        load_file(tmp_path / "fake.npy")


# -- .npz -----------------------------------------------------------------------------------------
def test_npz_with_and_without_labels(tmp_path):
    X = np.random.default_rng(0).random((6, 2))
    np.savez(tmp_path / "a.npz", X=X, y=np.array([0, 1, 0, 1, 2, 2]))
    data = load_file(tmp_path / "a.npz")
    np.testing.assert_array_equal(data.X, X)
    assert data.y.dtype == np.int64 and data.y.tolist() == [0, 1, 0, 1, 2, 2]
    np.savez(tmp_path / "b.npz", X)  # stored as arr_0: the only array is taken
    assert load_file(tmp_path / "b.npz").y is None
    np.savez(tmp_path / "c.npz", y=np.arange(6.0), feats=X)  # float labels with whole values
    data = load_file(tmp_path / "c.npz")
    np.testing.assert_array_equal(data.X, X)
    assert data.y.tolist() == list(range(6))


def test_npz_with_several_arrays_is_refused_unless_one_is_chosen(tmp_path):
    from genlearn.datasets import load

    a, b = np.zeros((4, 2)), np.ones((4, 3))
    np.savez(tmp_path / "m.npz", a=a, b=b, y=np.arange(4))
    with pytest.raises(ValueError, match=r"several arrays \('a', 'b'\).*m\.npz:a"):
        load_file(tmp_path / "m.npz")
    np.testing.assert_array_equal(load_file(tmp_path / "m.npz", key="b").X, b)
    data = load(f"{tmp_path / 'm.npz'}:b", split=None)
    np.testing.assert_array_equal(data.X, b)
    assert data.y.tolist() == [0, 1, 2, 3]
    with pytest.raises(ValueError, match="has no array 'c'; it holds 'a', 'b', 'y'"):
        load_file(tmp_path / "m.npz", key="c")
    with pytest.raises(ValueError, match="applies only to .npz"):
        np.save(tmp_path / "one.npy", a)
        load_file(tmp_path / "one.npy", key="a")


def test_absolute_source_resolves_files_and_keeps_names(tmp_path, monkeypatch):
    from genlearn.datasets import absolute_source

    np.savez(tmp_path / "m.npz", a=np.zeros((4, 2)))
    monkeypatch.chdir(tmp_path)
    assert absolute_source("m.npz") == str(tmp_path.resolve() / "m.npz")
    assert absolute_source("m.npz:a") == str(tmp_path.resolve() / "m.npz") + ":a"
    assert absolute_source("digits") == "digits"
    assert absolute_source("no-such-thing") == "no-such-thing"


@pytest.mark.parametrize("arrays, match", [
    (dict(y=np.arange(3)), "no feature array"),
    (dict(X=np.zeros((3, 2)), y=np.array([0.5, 1, 2])), "whole numbers"),
    (dict(X=np.zeros((3, 2)), y=np.arange(4)), r"shape \(3,\)"),
    (dict(X=np.zeros((3, 2)), y=np.array(["a", "b", "c"])), "integers"),
    (dict(X=np.array([[1, None]], dtype=object)), "never loads pickled data"),
])
def test_npz_bad_content(tmp_path, arrays, match):
    path = tmp_path / "bad.npz"
    np.savez(path, **arrays)
    with pytest.raises(ValueError, match=match):
        load_file(path)


# -- .csv -----------------------------------------------------------------------------------------
def test_csv_without_header(tmp_path):
    (tmp_path / "a.csv").write_text("1,2,3\n4,5,6.5\n\n")
    data = load_file(tmp_path / "a.csv")
    np.testing.assert_array_equal(data.X, [[1, 2, 3], [4, 5, 6.5]])
    assert data.y is None and data.domain == "real"


@pytest.mark.parametrize("label", ["y", "label", "Target"])
def test_csv_header_and_label_column(tmp_path, label):
    text = f"\ufeffa,{label},b\n0.1,1,0.2\n0.3,0,0.4\n0.5,1,0.6\n"  # with a byte-order mark
    (tmp_path / "t.csv").write_text(text, encoding="utf-8")
    data = load_file(tmp_path / "t.csv")
    np.testing.assert_allclose(data.X, [[0.1, 0.2], [0.3, 0.4], [0.5, 0.6]])
    assert data.y.tolist() == [1, 0, 1] and data.domain == "unit"


def test_csv_header_without_labels(tmp_path):
    (tmp_path / "h.csv").write_text('"x1","x2"\n1,0\n0,1\n')
    data = load_file(tmp_path / "h.csv")
    assert data.y is None and data.domain == "binary" and data.X.shape == (2, 2)


@pytest.mark.parametrize("text, match", [
    ("", "empty"),
    ("\n  \n", "empty"),
    ("a,b\n", "no data rows"),
    ("1,2\n3,4\n5\n", "line 3: 1 columns where the first row has 2"),
    ("a,b\n1,2\n3,abc\n", r"line 3, column 2: 'abc' is not a number"),
    ("1,,3\n", r"line 1, column 2: an empty cell is not a number"),
    ("1,nan\n", "NaN"),
    ("a,label\n1,0.5\n", "whole numbers"),
])
def test_csv_bad_content(tmp_path, text, match):
    path = tmp_path / "bad.csv"
    path.write_text(text)
    with pytest.raises(ValueError, match=match) as info:
        load_file(path)
    assert str(path) in str(info.value)


# -- other paths ----------------------------------------------------------------------------------
def test_unsupported_or_missing(tmp_path):
    (tmp_path / "data.txt").write_text("1 2 3\n")
    with pytest.raises(ValueError, match="unsupported file type '.txt'"):
        load_file(tmp_path / "data.txt")
    (tmp_path / "mnist.pkl.gz").write_bytes(b"\x1f\x8b")
    with pytest.raises(ValueError, match=r"load\('mnist', path=...\)"):
        load_file(tmp_path / "mnist.pkl.gz")
    with pytest.raises(FileNotFoundError, match="does not exist"):
        load_file(tmp_path / "absent.csv")


# -- image folders --------------------------------------------------------------------------------
def save_gray(path, array):
    Image.fromarray(np.asarray(array, dtype=np.uint8), mode="L").save(path)


def test_image_folder(tmp_path):
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (3, 5, 4))  # H=5, W=4
    for name, img in zip(["b.png", "a.png", "c.bmp"], images, strict=True):
        save_gray(tmp_path / name, img)
    save_gray(tmp_path / "d.gif", images[0])
    (tmp_path / "README.txt").write_text("not an image: ignored")
    data = load_file(tmp_path)
    assert data.X.shape == (4, 20) and data.image_shape == (5, 4) and data.y is None
    assert data.name == tmp_path.name and data.domain == "unit"
    order = [images[1], images[0], images[2], images[0]]  # sorted: a.png, b.png, c.bmp, d.gif
    np.testing.assert_allclose(data.X, np.stack(order).reshape(4, -1) / 255.0)


def test_image_folder_colour_and_jpeg(tmp_path):
    rgb = np.zeros((2, 2, 3), np.uint8)
    rgb[..., 0] = 255  # pure red: luma 0.299
    Image.fromarray(rgb, mode="RGB").save(tmp_path / "red.png")
    Image.fromarray(rgb, mode="RGB").save(tmp_path / "red.jpg", quality=95)
    data = load_file(tmp_path)
    np.testing.assert_allclose(data.X, 0.299, atol=0.02)


def test_image_subfolders_are_classes(tmp_path):
    for cls, value in [("cats", 0), ("dogs", 255)]:
        (tmp_path / cls).mkdir()
        for i in range(2):
            save_gray(tmp_path / cls / f"{i}.png", np.full((3, 3), value))
    data = load("" + str(tmp_path), split=None)
    assert data.y.tolist() == [0, 0, 1, 1] and data.domain == "binary"
    np.testing.assert_array_equal(data.X[:, 0], [0, 0, 1, 1])


def test_image_folder_errors(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match="no images found"):
        load_file(tmp_path / "empty")
    odd = tmp_path / "odd"
    odd.mkdir()
    save_gray(odd / "a.png", np.zeros((4, 4)))
    save_gray(odd / "b.png", np.zeros((4, 5)))
    with pytest.raises(ValueError, match=r"b\.png: image size 5x4 differs from a\.png's 4x4"):
        load_file(odd)
    mixed = tmp_path / "mixed"
    (mixed / "sub").mkdir(parents=True)
    save_gray(mixed / "a.png", np.zeros((2, 2)))
    save_gray(mixed / "sub" / "b.png", np.zeros((2, 2)))
    with pytest.raises(ValueError, match="both directly and in subfolders"):
        load_file(mixed)
    corrupt = tmp_path / "corrupt"
    corrupt.mkdir()
    (corrupt / "x.png").write_text("definitely not a png")
    with pytest.raises(ValueError, match=r"x\.png: cannot read the image"):
        load_file(corrupt)
