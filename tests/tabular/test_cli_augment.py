import json

import pandas as pd
import pytest

from genlearn.cli import main

from .conftest import make_table


def test_augment_then_evaluate(tmp_path, capsys):
    data = tmp_path / "data.csv"
    make_table(150)[["x", "age", "income", "color", "flag", "y"]].to_csv(data, index=False)
    out = tmp_path / "synth.csv"
    assert main(["augment", str(data), "--target", "y", "--rows", "80", "--balance",
                 "--model", "copula", "-o", str(out), "--save", str(tmp_path / "ck")]) == 0
    synth = pd.read_csv(out)
    assert len(synth) == 80 and (synth["y"].value_counts() == 40).all()
    assert (tmp_path / "ck" / "config.json").exists()
    assert main(["augment", str(data), "--rows", "5", "--model", "copula", "-o", str(out)]) == 1
    assert "exists; pass --force" in capsys.readouterr().err
    rep = tmp_path / "report"
    assert main(["augment", "evaluate", str(data), str(out), "--target", "y", "--report",
                 str(rep)]) == 0
    metrics = json.loads((rep / "metrics.json").read_text())
    assert {"column_shapes", "pair_trends", "detection", "privacy", "tstr"} <= set(metrics)
    assert (rep / "hist_x.png").exists() and (rep / "hist_color.png").exists()
    assert (rep / "correlation_difference.png").exists() and (rep / "report.md").exists()
    assert "30% stratified split" in (rep / "report.md").read_text()
    smooth = tmp_path / "smooth.csv"
    assert main(["augment", str(data), "--min-leaf", "10", "--smoothing", "1", "--rows", "60",
                 "-o", str(smooth), "--save", str(tmp_path / "ck2")]) == 0
    cfg = json.loads((tmp_path / "ck2" / "config.json").read_text())
    assert cfg["params"]["min_leaf"] == 10 and cfg["params"]["smoothing"] == 1.0
    assert len(pd.read_csv(smooth)) == 60


def test_augment_errors(tmp_path, capsys):
    data = tmp_path / "data.csv"
    make_table(40)[["x", "y"]].assign(one="a").to_csv(data, index=False)
    out = str(tmp_path / "s.csv")
    assert main(["augment", str(data), "--target", "one", "-o", out]) == 1
    assert "has 1 class(es)" in capsys.readouterr().err
    assert main(["augment", str(data), "--model", "copula", "--condition", "Status=bad",
                 "-o", out]) == 1
    assert "unknown column 'Status'" in capsys.readouterr().err
    other = tmp_path / "other.csv"
    pd.DataFrame({"x": [1.0, 2.0], "z": ["a", "b"]}).to_csv(other, index=False)
    assert main(["augment", "evaluate", str(data), str(other)]) == 1
    assert "missing ['y', 'one'], unexpected ['z']" in capsys.readouterr().err
    assert main(["augment", str(data), "--model", "copula", "--smoothing", "1", "-o", out]) == 1
    assert "apply to model='cart' only" in capsys.readouterr().err
    latin = tmp_path / "latin.csv"
    latin.write_bytes("a,b\n\xe9,1\n\xe8,2\n".encode("latin-1"))
    assert main(["augment", str(latin), "-o", out]) == 1
    assert "is not UTF-8" in capsys.readouterr().err


def test_augment_images(tmp_path, capsys):
    import numpy as np
    from sklearn.datasets import load_digits

    d = load_digits()
    idx = np.concatenate([np.flatnonzero(d.target == c)[:6] for c in (0, 1, 2)])
    src = tmp_path / "d.npz"
    np.savez(src, X=d.data[idx] / 16.0, y=d.target[idx])
    out = tmp_path / "aug.npz"
    assert main(["augment", "images", str(src), "--per-class", "4", "--epochs", "2",
                 "-o", str(out)]) == 0
    with np.load(out) as a:  # 18 real, 4 x 18 shifted, 3 x 4 interpolated
        assert a["X"].shape == (18 * 5 + 12, 64) and a["synthetic"].sum() == 12
        assert a["shifted"].sum() == 72 and not (a["shifted"] & a["synthetic"]).any()
        assert not a["transformed"].any()
        np.testing.assert_array_equal(a["X"][:18], d.data[idx] / 16.0)
        assert np.array_equal(a["y"][90:], np.repeat([0, 1, 2], 4))
        assert np.all((a["X"] >= 0) & (a["X"] <= 1))
    assert main(["augment", "images", str(src), "--per-class", "3", "--epochs", "2",
                 "--method", "sample", "--no-shifts", "-o", str(out), "--force"]) == 0
    with np.load(out) as a:
        assert a["X"].shape == (18 + 9, 64) and a["synthetic"].sum() == 9
    assert main(["augment", "images", str(src), "--per-class", "2", "--transforms", "affine",
                 "thickness", "--copies", "3", "-o", str(out), "--force"]) == 0
    with np.load(out) as a:  # 18 real, 72 shifted, 2 x 3 x 18 transformed, 3 x 2 morphs
        assert a["X"].shape == (90 + 108 + 6, 64)
        np.testing.assert_array_equal(a["shifted"], (np.arange(204) >= 18) & (np.arange(204) < 90))
        np.testing.assert_array_equal(a["transformed"],
                                      (np.arange(204) >= 90) & (np.arange(204) < 198))
        np.testing.assert_array_equal(a["synthetic"], np.arange(204) >= 198)
        np.testing.assert_array_equal(a["y"][90:198], np.tile(d.target[idx], 6))
        assert np.all((a["X"] >= 0) & (a["X"] <= 1))
    with pytest.raises(SystemExit):
        main(["augment", "images", str(src), "--transforms", "blur", "-o",
              str(tmp_path / "z.npz")])
    assert "invalid choice: 'blur'" in capsys.readouterr().err
    assert not (tmp_path / "z.npz").exists()
    assert main(["augment", "images", str(src), "--model", "cart", "-o",
                 str(tmp_path / "x.npz")]) == 1
    assert "does not make images" in capsys.readouterr().err
    np.savez(src, X=d.data[:5] / 16.0, y=np.zeros(5, int))
    assert main(["augment", "images", str(src), "-o", str(tmp_path / "y.npz")]) == 1
    assert "1 class(es)" in capsys.readouterr().err


def digits_npz(tmp_path, classes, per):
    """``per`` digits of each of ``classes`` in ``tmp_path/d.npz`` (X in [0, 1], y)."""
    import numpy as np
    from sklearn.datasets import load_digits

    d = load_digits()
    idx = np.concatenate([np.flatnonzero(d.target == c)[:per] for c in classes])
    src, out = tmp_path / "d.npz", tmp_path / "aug.npz"
    np.savez(src, X=d.data[idx] / 16.0, y=d.target[idx])
    return d, idx, src, out


def test_augment_images_vae_interpolations(tmp_path):
    import numpy as np

    d, idx, src, out = digits_npz(tmp_path, (3, 4), 5)
    assert main(["augment", "images", str(src), "--per-class", "2", "--epochs", "2",
                 "--method", "interpolate", "-o", str(out)]) == 0
    with np.load(out) as a:  # 10 real, 40 shifted, 2 x 2 decoded interpolations
        assert a["X"].shape == (54, 64) and a["synthetic"].sum() == 4
        assert np.array_equal(a["y"][50:], [3, 3, 4, 4])


def test_augment_images_gan_with_classic_copies(tmp_path):
    import numpy as np

    d, idx, src, out = digits_npz(tmp_path, (5, 6), 4)
    assert main(["augment", "images", str(src), "--model", "gan", "--epochs", "1",
                 "--per-class", "3", "--transforms", "rotate", "--copies", "2",
                 "-o", str(out)]) == 0
    with np.load(out) as a:  # 8 real, 2 x 8 rotated, 2 x 3 from the GAN
        assert a["X"].shape == (8 + 16 + 6, 64)
        np.testing.assert_array_equal(a["transformed"], (np.arange(30) >= 8) & (np.arange(30) < 24))
        np.testing.assert_array_equal(a["synthetic"], np.arange(30) >= 24)
        assert not a["shifted"].any()
        np.testing.assert_array_equal(a["y"][8:24], np.tile(d.target[idx], 2))
    # no generated images: only the classic copies (and no GAN is fitted)
    assert main(["augment", "images", str(src), "--model", "gan", "--per-class", "0",
                 "--transforms", "thickness", "--copies", "1", "-o", str(out), "--force"]) == 0
    with np.load(out) as a:
        assert a["X"].shape == (16, 64) and a["transformed"].sum() == 8 and not a["synthetic"].any()
    np.savez(src, X=d.data[idx], y=d.target[idx])  # grey levels 0-16, not divided
    assert main(["augment", "images", str(src), "--model", "gan", "--per-class", "0",
                 "--transforms", "rotate", "-o", str(tmp_path / "bad.npz")]) == 1
    assert not (tmp_path / "bad.npz").exists()


def test_augment_images_flat_rows_of_a_non_square_shape(tmp_path, capsys):
    import numpy as np

    d, idx, src, out = digits_npz(tmp_path, (0, 1), 4)
    narrow = (d.data[idx] / 16.0).reshape(-1, 8, 8)[:, :, 1:].reshape(len(idx), 56)  # 8x7
    np.savez(src, X=narrow, y=d.target[idx])
    assert main(["augment", "images", str(src), "-o", str(out)]) == 1
    assert "rows of 56 pixels, not a square; pass --image-shape H W" in capsys.readouterr().err
    assert main(["augment", "images", str(src), "--image-shape", "7", "7", "-o", str(out)]) == 1
    assert "--image-shape 7 7 is 49 pixels; the rows in" in capsys.readouterr().err
    assert main(["augment", "images", str(src), "--image-shape", "-8", "-7", "-o", str(out)]) == 1
    assert "--image-shape needs a positive height and width; got -8 -7" in capsys.readouterr().err
    cube = tmp_path / "cube.npz"  # (n, H, W) already: a different --image-shape is refused
    np.savez(cube, X=narrow.reshape(-1, 8, 7), y=d.target[idx])
    assert main(["augment", "images", str(cube), "--image-shape", "7", "8", "-o", str(out)]) == 1
    assert "are 8x7, not 7x8; --image-shape is for flat rows" in capsys.readouterr().err
    assert not out.exists()
    assert main(["augment", "images", str(src), "--image-shape", "8", "7", "--per-class", "2",
                 "--transforms", "elastic", "--copies", "1", "-o", str(out)]) == 0
    with np.load(out) as a:  # flat rows in, flat rows out: 8 real, 32 shifted, 8 elastic, 4
        assert a["X"].shape == (8 + 32 + 8 + 4, 56)
        np.testing.assert_array_equal(a["X"][:8], narrow)
        # a one-pixel shift of an 8x7 image, not of a 7x8 one: right or left along rows of 7
        shifted = a["X"][8:40].reshape(4, 8, 8, 7)
        assert any(np.array_equal(s[:, :, 1:], narrow.reshape(8, 8, 7)[:, :, :-1]) for s in shifted)
    assert main(["augment", "images", str(src), "--model", "gan", "--per-class", "1",
                 "--epochs", "1", "--image-shape", "8", "7", "--transforms", "affine", "-o",
                 str(out), "--force"]) == 0
    with np.load(out) as a:  # 8 real, 10 x 8 affine, one from the GAN per class
        assert a["X"].shape == (8 + 80 + 2, 56) and a["transformed"].sum() == 80
        assert a["synthetic"].sum() == 2


def test_augment_images_preview(tmp_path, capsys, monkeypatch):
    import numpy as np
    from PIL import Image

    from genlearn import viz
    from genlearn.cli.augment import _preview_rows
    from genlearn.viz import save_image_grid

    d, idx, src, out = digits_npz(tmp_path, (0, 1, 2), 3)
    png = tmp_path / "added.png"
    drawn = {}

    def grid(images, path, **kw):  # what the CLI draws, then the real picture
        drawn.update(images=images, path=path, **kw)
        return save_image_grid(images, path, **kw)

    monkeypatch.setattr(viz, "save_image_grid", grid)
    assert main(["augment", "images", str(src), "--per-class", "2", "--transforms", "elastic",
                 "--copies", "1", "--preview", str(png), "-o", str(out)]) == 0
    assert png.exists() and Image.open(png).size[0] > 0
    assert drawn["path"] == png and drawn["ncols"] == 3 and drawn["images"].shape == (12, 8, 8)
    assert drawn["title"].startswith("real, shifted, transformed, generated")
    # the grid holds, per kind, the last image of that kind of each class
    with np.load(out) as a:
        X, y = a["X"].reshape(-1, 8, 8), a["y"]
        kinds = {"real": np.arange(len(X)) < 9, "shifted": a["shifted"],
                 "transformed": a["transformed"], "generated": a["synthetic"]}
    rows = _preview_rows(X, y, kinds)
    assert len(rows) == 4 and all(r.shape == (3, 8, 8) for r in rows)
    np.testing.assert_array_equal(np.concatenate(rows), drawn["images"])
    np.testing.assert_array_equal(rows[0][1], d.data[idx][5].reshape(8, 8) / 16.0)  # last 1
    np.testing.assert_array_equal(rows[3][2], X[-1])                                # last morph
    none = {"real": kinds["real"], "empty": np.zeros(len(X), bool)}
    assert len(_preview_rows(X, y, none)) == 1  # a kind with no image has no row
    gaps = _preview_rows(X, y, {"some": np.arange(len(X)) < 3})  # class 0 only
    assert gaps[0][0].any() and not gaps[0][1:].any()            # blanks for the others
    # checked before any work: an existing picture without --force, a name that is not .png,
    # a folder, a path through a file; nothing is written then
    out2 = tmp_path / "b.npz"
    assert main(["augment", "images", str(src), "--preview", str(png), "-o", str(out2)]) == 1
    assert f"{png} exists; pass --force" in capsys.readouterr().err
    assert main(["augment", "images", str(src), "--preview", str(tmp_path / "p.jpg"),
                 "-o", str(out2)]) == 1
    assert "--preview writes a PNG" in capsys.readouterr().err
    (tmp_path / "dir.png").mkdir()
    assert main(["augment", "images", str(src), "--preview", str(tmp_path / "dir.png"),
                 "--force", "-o", str(out2)]) == 1
    assert "dir.png is a folder; name a file" in capsys.readouterr().err
    assert main(["augment", "images", str(src), "--preview", str(out / "p.png"),
                 "-o", str(out2)]) == 1
    assert f"cannot be written: {out} is a file" in capsys.readouterr().err
    assert main(["augment", "images", str(src), "-o", str(tmp_path / "dir.png"), "--force"]) == 1
    err = capsys.readouterr().err
    assert "-o/--out" in err and "dir.png is a folder; name a file" in err
    assert not out2.exists()


def test_augment_images_gan_checks_the_images_before_training(tmp_path, capsys, monkeypatch):
    import numpy as np

    import genlearn as gl

    def no_gan(*args, **kwargs):
        raise AssertionError("the GAN was built before the images were checked")

    monkeypatch.setattr(gl, "GAN", no_gan)
    d, idx, src, out = digits_npz(tmp_path, (5, 6), 3)
    np.savez(src, X=d.data[idx], y=d.target[idx])  # grey levels 0-16, not divided
    assert main(["augment", "images", str(src), "--model", "gan", "--per-class", "2",
                 "-o", str(out)]) == 1
    assert "pixel values in [0, 1]" in capsys.readouterr().err
    np.savez(src, X=np.linspace(0, 1, 6), y=np.array([0, 1] * 3))  # not images at all
    assert main(["augment", "images", str(src), "--model", "gan", "--per-class", "0",
                 "--preview", str(tmp_path / "p.png"), "-o", str(out)]) == 1
    assert "must hold images as (n, H*W) or (n, H, W); got shape (6,)" in capsys.readouterr().err
    assert not out.exists() and not (tmp_path / "p.png").exists()
