"""``genlearn augment``: synthetic rows for a CSV table, and a report on how good they are.

    genlearn augment data.csv --target Status --rows 10000 -o synthetic.csv
    genlearn augment data.csv --target Status --rows 2000 --balance -o balanced.csv
    genlearn augment evaluate data.csv synthetic.csv --target Status --report reports/credit
    genlearn augment images digits.npz --per-class 50 -o augmented.npz   # arrays X and y

The first form fits a :class:`genlearn.TabularSynthesizer` (``--model vae|gan|copula|cart``) and
writes ``--rows`` synthetic rows (``--balance``: the same number for each target class;
``--condition COL=VALUE``: only rows with that level). The second writes the report of
:mod:`genlearn.tabular.report`; TSTR is scored on ``--test`` when given, otherwise on a 30%
stratified split of the real table (whose rows the synthesizer may have seen: the report says so).
The third reads labelled images (an ``.npz`` with arrays ``X``, values in [0, 1], and integer
``y``) and writes the real images, their ±1-pixel shifts (``--no-shifts``: none), ``--copies``
random copies of each per classic ``--transforms`` (rotate, affine, thickness, elastic; none by
default, ``affine thickness elastic`` measured best on digits) and ``--per-class`` generated
ones per class, in that order, with ``synthetic`` (generated), ``shifted`` and ``transformed``
flags per row (``--image-shape H W`` for flat rows of non-square images; ``--preview PNG``
draws one added image of each kind and class):
:class:`genlearn.augment.ImageAugmenter` (``--method morph``, the default: morphs between two
labelled images of a class along the smooth deformations that carry one onto the other;
``--method interpolate``: a conditional VAE on the real and shifted images decodes latent
interpolations between two labelled images of a class; ``--method sample``: its prior draws);
``--model gan`` samples a conditional ``gl.GAN`` instead. Measured on digits
(benchmarks/README.md) before relying on it.
"""

from __future__ import annotations

from ..augment.classic import TRANSFORMS
from ._common import output_file, say

MODELS = ("vae", "gan", "copula", "cart")


def add_parser(subparsers) -> None:
    p = subparsers.add_parser(
        "augment", help="synthetic rows for a CSV table (or: augment evaluate REAL SYNTH)",
        description="genlearn augment DATA.csv -o OUT.csv [options]  |  genlearn augment "
                    "evaluate REAL.csv SYNTHETIC.csv [--target COL] [--report DIR]")
    p.add_argument("inputs", nargs="+", metavar="DATA",
                   help="the real CSV; or 'evaluate REAL.csv SYNTHETIC.csv'")
    p.add_argument("--target", help="the class column (checked; used by --balance and TSTR)")
    p.add_argument("--rows", type=int, default=None, help="rows to write (default: as many "
                   "as the real table)")
    p.add_argument("-o", "--out", help="the synthetic CSV to write")
    p.add_argument("--force", action="store_true", help="overwrite --out if it exists")
    p.add_argument("--model", choices=MODELS, default=None,
                   help="tables: cart (default: best measured TSTR, seconds to fit), vae, gan, "
                        "copula; images: vae (default: --method) or gan")
    p.add_argument("--per-class", type=int, default=100, help="images: generated per class")
    p.add_argument("--method", choices=("morph", "interpolate", "sample"), default="morph",
                   help="images: morphs between two same-class images (default; no network), "
                        "or a conditional VAE's latent interpolations or prior samples")
    p.add_argument("--no-shifts", action="store_true",
                   help="images: neither fit on nor add the ±1-pixel shifts")
    p.add_argument("--transforms", nargs="+", default=[], choices=sorted(TRANSFORMS),
                   help="images: classic transforms whose random copies are added too "
                        "(measured best on digits: affine thickness elastic)")
    p.add_argument("--image-shape", nargs=2, type=int, metavar=("H", "W"), default=None,
                   help="images: the height and width of each flat row of X (default: X's own "
                        "(n, H, W) shape, or a square)")
    p.add_argument("--preview", default=None, metavar="PNG",
                   help="images: also write a picture of what was added, one row per kind "
                        "(real, shifted, transformed, generated), a column for each of the "
                        "first 10 classes")
    p.add_argument("--copies", type=int, default=10,
                   help="images: copies of each image per --transforms entry (default 10)")
    p.add_argument("--epochs", type=int, default=300, help="training epochs of a VAE or GAN "
                   "(tables; images with --method interpolate|sample or --model gan)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--balance", action="store_true",
                   help="the same number of rows for every class of --target")
    p.add_argument("--condition", action="append", default=[], metavar="COL=VALUE",
                   help="only rows with this level (repeatable)")
    p.add_argument("--min-leaf", type=int, default=5,
                   help="cart: fewest training rows per tree leaf (default 5)")
    p.add_argument("--smoothing", type=float, default=0.0,
                   help="cart: kernel noise on numbers, in leaf bandwidths (default 0); "
                        "--min-leaf 50 --smoothing 1 kept the distance to the closest training "
                        "row at or above a real hold-out's in benchmarks/README.md")
    p.add_argument("--save", metavar="DIR", help="also save the fitted synthesizer here")
    p.add_argument("--test", metavar="CSV", help="evaluate: real hold-out rows for TSTR")
    p.add_argument("--report", metavar="DIR", default="reports/augment",
                   help="evaluate: the report folder (default reports/augment)")
    p.set_defaults(func=cmd_augment)


def cmd_augment(args) -> int:
    if args.inputs[0] == "images":
        if len(args.inputs) != 2:
            raise ValueError("usage: genlearn augment images DATA.npz -o OUT.npz")
        return _images(args, args.inputs[1])
    if args.inputs[0] == "evaluate":
        if len(args.inputs) != 3:
            raise ValueError("usage: genlearn augment evaluate REAL.csv SYNTHETIC.csv")
        return _evaluate(args, *args.inputs[1:])
    if len(args.inputs) != 1:
        raise ValueError(f"expected one CSV to learn from; got {len(args.inputs)}: "
                         f"{args.inputs} (to compare two tables: genlearn augment evaluate ...)")
    return _generate(args, args.inputs[0])


def _parse_conditions(items: list[str], df) -> dict:
    out = {}
    for item in items:
        if "=" not in item:
            raise ValueError(f"--condition must look like COL=VALUE; got {item!r}")
        col, value = item.split("=", 1)
        if col in df.columns and df[col].dtype == bool:
            value = {"True": True, "False": False}.get(value, value)
        elif col in df.columns and df[col].dtype.kind in "iu":
            value = int(value)
        out[col] = value
    return out


def _check_target(df, target: str):
    if target not in df.columns:
        raise ValueError(f"--target {target!r} is not a column of the table (columns: "
                         f"{list(map(str, df.columns))[:10]})")
    levels = df[target].dropna().unique()
    if len(levels) < 2:
        raise ValueError(f"--target {target!r} has {len(levels)} class(es); it needs at least "
                         "two")
    return sorted(levels, key=str)


def _generate(args, data: str) -> int:
    import pandas as pd

    from ..io import atomic_path
    from ..tabular import TabularSynthesizer, read_table

    if not args.out:
        raise ValueError("-o/--out is required: the synthetic CSV to write")
    out = output_file(args.out, args.force)
    df = read_table(data, name=data)
    conditions = _parse_conditions(args.condition, df)
    classes = _check_target(df, args.target) if args.target else None
    if args.balance and not args.target:
        raise ValueError("--balance needs --target")
    rows = args.rows if args.rows is not None else len(df)
    if rows < 1:
        raise ValueError(f"--rows must be a positive integer; got {rows}")
    syn = TabularSynthesizer(model=args.model or "cart", epochs=args.epochs, seed=args.seed,
                             min_leaf=args.min_leaf, smoothing=args.smoothing)
    say(f"fitting a {syn.model} synthesizer on {data} ({len(df)} rows, {df.shape[1]} columns)")
    syn.fit(df)
    if args.balance:
        per = [rows // len(classes) + (i < rows % len(classes)) for i in range(len(classes))]
        parts = [syn.sample(k, conditions={**conditions, args.target: c})
                 for k, c in zip(per, classes, strict=True) if k]
        synth = pd.concat(parts, ignore_index=True)
    else:
        synth = syn.sample(rows, conditions=conditions or None)
    with atomic_path(out) as tmp:
        synth.to_csv(tmp, index=False)
    if args.save:
        syn.save(args.save)
    say(f"wrote {len(synth)} synthetic rows to {out}")
    return 0


def _evaluate(args, real_path: str, synth_path: str) -> int:
    from sklearn.model_selection import train_test_split

    from ..metrics.tabular import check_same_columns
    from ..tabular import read_table
    from ..tabular.report import write_report

    real = read_table(real_path, name=real_path)
    synth = check_same_columns(real, read_table(synth_path, name=synth_path))
    test, note = None, ""
    if args.test:
        test = read_table(args.test, name=args.test)
    elif args.target:
        _check_target(real, args.target)
        real, test = train_test_split(real, test_size=0.3, random_state=args.seed,
                                      stratify=real[args.target])
        note = ("TSTR and privacy use a 30% stratified split of the real table as the test "
                "set; if the synthesizer was fitted on the whole table it saw those rows, so "
                "pass --test with rows it did not see for an honest figure.")
    metrics = write_report(real.reset_index(drop=True), synth, args.report, target=args.target,
                           test=None if test is None else test.reset_index(drop=True),
                           seed=args.seed, test_note=note)
    say(f"column shapes {metrics['column_shapes']['score']:.3f}, pair trends "
        f"{metrics['pair_trends']['score']:.3f}, detection accuracy "
        f"{metrics['detection']['accuracy']:.3f}")
    if "tstr" in metrics:
        ts = metrics["tstr"]
        say(f"TSTR ROC AUC {ts['synthetic']['roc_auc']:.3f} (trained on real: "
            f"{ts['real']['roc_auc']:.3f})")
    say(f"report written to {args.report}")
    return 0


def _images(args, path: str) -> int:
    import numpy as np

    import genlearn as gl

    from ..io import atomic_path

    model = args.model or "vae"
    if model not in ("vae", "gan"):
        raise ValueError(f"--model {model} does not make images; use vae or gan")
    if not args.out:
        raise ValueError("-o/--out is required: the .npz to write")
    out = output_file(args.out, args.force)
    preview = output_file(args.preview, args.force, "--preview") if args.preview else None
    if preview is not None and preview.suffix.lower() != ".png":
        raise ValueError(f"--preview writes a PNG; got {preview}")
    if args.per_class < 0:
        raise ValueError(f"--per-class must be >= 0 (0: no generated images); got "
                         f"{args.per_class}")
    if args.copies < 0:
        raise ValueError(f"--copies must be >= 0; got {args.copies}")
    try:
        with np.load(path, allow_pickle=False) as data:
            X, y = np.asarray(data["X"], dtype=np.float64), np.asarray(data["y"])
    except (OSError, ValueError) as exc:
        raise ValueError(f"{path} is not an .npz of arrays X and y: {exc}") from None
    except KeyError as exc:
        raise ValueError(f"{path} has no array {exc}; expected X (images) and y (labels)") from None
    X, layout, shape = _image_layout(X, args.image_shape, path)
    classes = np.unique(y)
    if len(classes) < 2:
        raise ValueError(f"y has {len(classes)} class(es); conditional augmentation needs two")
    what = "morphs between same-class images" if model == "vae" and args.method == "morph" \
        else f"a conditional {model}"
    say(f"{what}: {len(X)} images of {len(classes)} classes")
    from ..augment import ImageAugmenter

    if model == "vae":
        from ..augment.images import SHIFTS

        aug = ImageAugmenter(args.method, args.per_class, shifts=not args.no_shifts,
                             epochs=args.epochs, seed=args.seed, transforms=args.transforms,
                             copies=args.copies).fit(X, y)
        images, labels, synthetic = aug.augment(X, y)
        images = images.reshape(len(images), *layout)
        n_shifted = 0 if args.no_shifts else len(SHIFTS) * len(X)
    else:
        # X and its classic copies, checked as images before the GAN is trained
        classic = ImageAugmenter(per_class=0, shifts=False, transforms=args.transforms,
                                 copies=args.copies, seed=args.seed).fit(X, y)
        real, labels, _ = classic.augment(X, y)
        real = real.reshape(len(real), *layout)
        new = np.repeat(classes, args.per_class)
        fake = np.zeros((0, *layout))
        if len(new):
            gen = gl.GAN(epochs=args.epochs, seed=args.seed, verbose=False,
                         device="cpu").fit(X, y)
            fake = gen.sample(len(new), y=new, seed=args.seed).reshape(len(new), *layout)
        images = np.concatenate([real, fake])
        labels = np.concatenate([labels, new])
        synthetic = np.r_[np.zeros(len(real), bool), np.ones(len(new), bool)]
        n_shifted = 0
    n_transformed = len(args.transforms) * args.copies * len(X)
    shifted, transformed = np.zeros(len(images), bool), np.zeros(len(images), bool)
    shifted[len(X):len(X) + n_shifted] = True
    transformed[len(X) + n_shifted:len(X) + n_shifted + n_transformed] = True
    if preview is not None:  # first: a picture that fails leaves no .npz behind
        from .. import viz

        kinds = {"real": np.arange(len(images)) < len(X), "shifted": shifted,
                 "transformed": transformed, "generated": synthetic}
        rows = _preview_rows(images.reshape(len(images), *shape), labels, kinds)
        title = ", ".join(k for k, f in kinds.items() if f.any()) + ": a row each, a class a column"
        viz.save_image_grid(np.concatenate(rows), preview, ncols=len(rows[0]), title=title)
    with atomic_path(out) as tmp, open(tmp, "wb") as f:
        np.savez(f, X=images, y=labels, synthetic=synthetic, shifted=shifted,
                 transformed=transformed)
    say(f"wrote {len(X)} real, {n_shifted} shifted, {n_transformed} transformed and "
        f"{int(synthetic.sum())} generated images to {out}"
        + (f", and a picture of them to {preview}" if preview is not None else ""))
    return 0


def _image_layout(X, image_shape, path):
    """``(X as (n, H, W) or flat square rows, the layout to write back, (H, W))``, checked:
    ``--image-shape`` for flat rows of non-square images, agreeing with an (n, H, W) array."""
    import numpy as np

    if X.ndim not in (2, 3):
        raise ValueError(f"X in {path} must hold images as (n, H*W) or (n, H, W); got shape "
                         f"{X.shape}")
    layout = X.shape[1:]  # what is written back: flat rows stay flat
    if image_shape:
        H, W = image_shape
        if H < 1 or W < 1:
            raise ValueError(f"--image-shape needs a positive height and width; got {H} {W}")
        if X.ndim == 3 and layout != (H, W):
            raise ValueError(f"the images in {path} are {layout[0]}x{layout[1]}, not {H}x{W}; "
                             f"--image-shape is for flat rows (leave it out)")
        if X.ndim == 2 and layout[0] != H * W:
            raise ValueError(f"--image-shape {H} {W} is {H * W} pixels; the rows in {path} "
                             f"have {layout[0]}")
        X = X.reshape(len(X), H, W)
    elif X.ndim == 2:
        side = round(np.sqrt(X.shape[1]))
        if side * side != X.shape[1]:
            raise ValueError(f"the images in {path} are rows of {X.shape[1]} pixels, not a "
                             f"square; pass --image-shape H W (or store X as (n, H, W))")
        return X, layout, (side, side)
    return X, layout, X.shape[1:]


def _preview_rows(images, labels, kinds: dict, max_classes: int = 10) -> list:
    """One row per kind of image present: the last image of that kind in each of the first
    ``max_classes`` classes (a blank where a class has none)."""
    import numpy as np

    classes = np.unique(labels)[:max_classes]
    rows = []
    for flags in kinds.values():
        if not flags.any():
            continue
        row = np.zeros((len(classes), *images.shape[1:]))
        for c, label in enumerate(classes):
            where = np.flatnonzero(flags & (labels == label))
            if len(where):
                row[c] = images[where[-1]]
        rows.append(row)
    return rows
