"""The user's own data: ``.npy``, ``.npz``, ``.csv`` files and folders of images.

Every reader ends in :func:`_finish`, which checks what all of them need (numeric, finite,
non-empty, integer labels) and infers the domain, so the rules are the same whatever the format.
"""

from __future__ import annotations

import logging
import os
import zipfile
from pathlib import Path

import numpy as np

from ._core import Dataset, infer_domain

logger = logging.getLogger(__name__)

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".gif")
LABEL_COLUMNS = ("y", "label", "target")


def _finish(path: Path, X, y=None, image_shape=None) -> Dataset:
    """Validate arrays read from ``path`` and wrap them in a :class:`Dataset`."""
    X = np.asarray(X)
    if X.dtype.kind not in "biuf":  # bool, signed, unsigned, float: no objects, strings, complex
        raise ValueError(f"{path}: data must be numeric (int, float or bool); got dtype "
                         f"{X.dtype}")
    if X.ndim == 3 and image_shape is None:  # (n, H, W) images
        image_shape = (int(X.shape[1]), int(X.shape[2]))
    if X.ndim == 3:
        X = X.reshape(X.shape[0], -1)
    if X.ndim == 1:
        raise ValueError(f"{path}: data is 1-D with {X.shape[0]} values; save it as a 2-D "
                         "(n_samples, n_features) array (X.reshape(-1, 1) for one feature)")
    if X.ndim != 2:
        raise ValueError(f"{path}: expected a 2-D (n, d) array or 3-D (n, H, W) images; got "
                         f"shape {X.shape}")
    if X.shape[0] == 0 or X.shape[1] == 0:
        raise ValueError(f"{path}: the data is empty (shape {X.shape})")
    X = X.astype(np.float64)
    bad = int(np.count_nonzero(~np.isfinite(X)))
    if bad:
        raise ValueError(f"{path}: the data contains {bad} NaN or infinite value(s); missing "
                         "values are not supported, so remove or impute them first")
    if image_shape is not None:
        image_shape = tuple(int(s) for s in image_shape)
        if len(image_shape) != 2 or image_shape[0] * image_shape[1] != X.shape[1]:
            raise ValueError(f"{path}: image_shape {image_shape} does not fit {X.shape[1]} "
                             "features per row")
    if y is not None:
        y = _check_labels(path, y, X.shape[0])
    return Dataset(X=X, y=y, name=path.name, image_shape=image_shape, domain=infer_domain(X))


def _check_labels(path: Path, y, n: int) -> np.ndarray:
    y = np.asarray(y)
    if y.shape != (n,):
        raise ValueError(f"{path}: labels y must have shape ({n},) to match X; got {y.shape}")
    if y.dtype.kind not in "biuf":
        raise ValueError(f"{path}: labels y must be integers; got dtype {y.dtype}")
    if y.dtype.kind == "f" and not (np.isfinite(y).all() and np.all(y == np.round(y))):
        raise ValueError(f"{path}: labels y must be whole numbers (class indices); found "
                         "fractional or non-finite values")
    return y.astype(np.int64)


# -- readers --------------------------------------------------------------------------------------
# np.load reports unreadable input in several ways: object arrays or a non-numpy file that it
# would have to unpickle (ValueError), a broken zip (BadZipFile), truncation (EOFError, OSError).
_NPY_ERRORS = (ValueError, OSError, EOFError, zipfile.BadZipFile)


def _read_npy(path: Path):
    try:
        X = np.load(path, allow_pickle=False)
    except _NPY_ERRORS as exc:
        raise ValueError(f"{path}: not a readable numeric .npy file ({exc}); genlearn never "
                         "loads pickled data, so save a numeric array with numpy.save") from None
    return X, None


def _read_npz(path: Path, key: str | None = None):
    try:
        with np.load(path, allow_pickle=False) as archive:
            arrays = {name: archive[name] for name in archive.files}
    except _NPY_ERRORS as exc:
        raise ValueError(f"{path}: not a readable numeric .npz file ({exc}); genlearn never "
                         "loads pickled data, so save numeric arrays with numpy.savez") from None
    if key is not None:
        if key not in arrays:
            raise ValueError(f"{path}: the .npz archive has no array {key!r}; it holds "
                             f"{', '.join(map(repr, arrays)) or 'none'}")
        x_key = key
    elif "X" in arrays:
        x_key = "X"
    else:
        features = [name for name in arrays if name != "y"]
        if not features:
            raise ValueError(f"{path}: the .npz archive holds no feature array; store the "
                             "features under the key 'X' (and labels, if any, under 'y')")
        if len(features) > 1:
            raise ValueError(f"{path}: the .npz archive holds several arrays "
                             f"({', '.join(map(repr, features))}) and none is called 'X'; "
                             f"choose one as {path.name}:{features[0]}, or store the features "
                             "under 'X'")
        x_key = features[0]
    y = arrays.get("y") if x_key != "y" else None
    logger.debug("%s: features from %r%s", path, x_key, "" if y is None else ", labels from 'y'")
    return arrays[x_key], y


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _clean(cell: str) -> str:
    return cell.strip().strip('"').strip("'")


def _csv_problem(path: Path, lines: list[str], start: int, n_columns: int) -> ValueError | None:
    """The first ragged row or non-numeric cell, located by 1-based file line and column."""
    for lineno, line in enumerate(lines[start:], start=start + 1):
        if not line.strip():
            continue
        cells = line.split(",")
        if len(cells) != n_columns:
            return ValueError(f"{path}, line {lineno}: {len(cells)} columns where the first row "
                              f"has {n_columns}; every row needs the same number of values")
        for col, cell in enumerate(cells, start=1):
            if not _is_number(_clean(cell)):
                what = "an empty cell" if not cell.strip() else f"{cell.strip()!r}"
                return ValueError(f"{path}, line {lineno}, column {col}: {what} is not a number; "
                                  "the CSV must be numeric (missing values are not supported)")
    return None


def _read_csv(path: Path):
    # utf-8-sig drops the byte-order mark that spreadsheet programs like to write.
    with path.open(encoding="utf-8-sig") as fh:
        lines = fh.read().splitlines()
    first = next((i for i, line in enumerate(lines) if line.strip()), None)
    if first is None:
        raise ValueError(f"{path}: the file is empty")
    cells = [_clean(c) for c in lines[first].split(",")]
    # A header has a word in it; a row of numbers with a gap is data (and fails below).
    header = cells if any(c and not _is_number(c) for c in cells) else None
    start = first + 1 if header is not None else first
    if not any(line.strip() for line in lines[start:]):
        raise ValueError(f"{path}: the file has a header but no data rows")
    try:
        # numpy's C parser is fast on large files; its messages are replaced below by ones
        # that give the file's own line numbers.
        data = np.loadtxt(lines[start:], delimiter=",", dtype=np.float64, ndmin=2,
                          comments=None, quotechar='"')
    except ValueError as exc:
        problem = _csv_problem(path, lines, start, len(cells))
        raise (problem or ValueError(f"{path}: not a numeric CSV table ({exc})")) from None
    if data.shape[1] != len(cells):
        raise ValueError(f"{path}: the first row has {len(cells)} columns but the data rows have "
                         f"{data.shape[1]}")
    y = None
    if header is not None:
        lowered = [h.lower() for h in header]
        label = next((i for i, h in enumerate(lowered) if h in LABEL_COLUMNS), None)
        if label is not None:
            logger.debug("%s: column %r holds the labels", path, header[label])
            y = data[:, label]
            data = np.delete(data, label, axis=1)
    return data, y


def _image_files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir()
                  if p.is_file() and not p.name.startswith(".")
                  and p.suffix.lower() in IMAGE_EXTENSIONS)


def _read_image(path: Path) -> np.ndarray:
    try:
        from PIL import Image
    except ImportError:  # pragma: no cover - Pillow ships with matplotlib
        raise ImportError("reading image folders needs Pillow: pip install pillow") from None
    try:
        with Image.open(path) as img:
            if img.mode.startswith("I;16") or img.mode == "I":  # 16-bit grayscale
                arr = np.asarray(img, dtype=np.float64) / 65535.0
            elif img.mode == "F":  # floating point grayscale, taken as already in [0, 1]
                arr = np.asarray(img, dtype=np.float64)
            else:  # palette, RGB(A), CMYK...: ITU-R 601-2 luma, 8 bits
                arr = np.asarray(img.convert("L"), dtype=np.float64) / 255.0
    except (OSError, ValueError) as exc:  # PIL.UnidentifiedImageError is an OSError
        raise ValueError(f"{path}: cannot read the image ({exc})") from None
    return arr


def _read_image_folder(folder: Path):
    top = _image_files(folder)
    subfolders = sorted(p for p in folder.iterdir() if p.is_dir() and not p.name.startswith("."))
    classes = [(d, _image_files(d)) for d in subfolders]
    classes = [(d, files) for d, files in classes if files]
    if top and classes:
        raise ValueError(f"{folder}: holds images both directly and in subfolders "
                         f"({', '.join(d.name for d, _ in classes)}); put all images in "
                         "subfolders (one per class) or none")
    if not top and not classes:
        raise ValueError(f"{folder}: no images found (looked for {', '.join(IMAGE_EXTENSIONS)} "
                         "files in it and in its subfolders)")
    files = top or [f for _, fs in classes for f in fs]
    y = None if top else np.concatenate([np.full(len(fs), k) for k, (_, fs) in
                                         enumerate(classes)])
    if classes:
        logger.info("%s: %d classes from subfolders: %s", folder, len(classes),
                    ", ".join(d.name for d, _ in classes))
    images = []
    for path in files:
        arr = _read_image(path)
        if images and arr.shape != images[0].shape:
            raise ValueError(f"{path}: image size {arr.shape[1]}x{arr.shape[0]} differs from "
                             f"{files[0].name}'s {images[0].shape[1]}x{images[0].shape[0]}; all "
                             "images must share one size")
        images.append(arr)
    return np.stack(images), y


# -- public ---------------------------------------------------------------------------------------
_READERS = {".npy": _read_npy, ".npz": _read_npz, ".csv": _read_csv}


def load_file(path: str | os.PathLike, *, image_shape: tuple[int, int] | None = None,
              key: str | None = None) -> Dataset:
    """Load the user's data from a file or a folder of images.

    Parameters
    ----------
    path : path-like
        * ``.npy``: a 2-D (n, d) array, or 3-D (n, H, W) images (flattened, ``image_shape``
          set to (H, W)).
        * ``.npz``: features under key ``"X"`` (or ``key``, or the only other array; several
          other arrays are an error that lists them), optional labels ``"y"``.
        * ``.csv``: numbers separated by commas; an optional header row is detected, and a
          column named ``y``, ``label`` or ``target`` becomes the labels.
        * a folder of ``.png``/``.jpg``/``.jpeg``/``.bmp``/``.gif`` images, all one size, read
          in file-name order and converted to grayscale in [0, 1] (GIFs: first frame). If the
          images sit in subfolders, each subfolder is a class and ``y`` is the index of its
          name in sorted order.
        Pickled data is never read.
    image_shape : (int, int), optional
        ``(H, W)`` of each row when a 2-D file holds flattened images.
    key : str, optional
        The array of an ``.npz`` file that holds the features (``load("f.npz:KEY")`` too).

    Returns
    -------
    Dataset
        ``X`` float64, ``y`` int64 or None, ``name`` the file or folder name, ``domain``
        ``"binary"`` (all values 0 or 1), ``"unit"`` (all in [0, 1]) or ``"real"``.

    Raises
    ------
    FileNotFoundError
        ``path`` does not exist.
    ValueError
        Unsupported extension, empty, non-numeric, NaN/inf, ragged rows, mixed image sizes, or
        labels that are not whole numbers; the message names the file.
    """
    path = Path(path).expanduser()
    if not path.exists():
        raise FileNotFoundError(f"data file or folder {path} does not exist")
    if path.is_dir():
        X, y = _read_image_folder(path)
    else:
        reader = _READERS.get(path.suffix.lower())
        if reader is None:
            hint = (" (for MNIST files use load('mnist', path=...))"
                    if path.name.endswith((".gz", ".pkl", "ubyte")) else "")
            raise ValueError(f"{path}: unsupported file type {path.suffix or '(none)'!r}; use "
                             f".npy, .npz, .csv or a folder of images{hint}")
        if path.stat().st_size == 0:
            raise ValueError(f"{path}: the file is empty")
        if key is not None and reader is not _read_npz:
            raise ValueError(f"{path}: key={key!r} applies only to .npz files")
        X, y = reader(path, key) if reader is _read_npz else reader(path)
    return _finish(path, X, y, image_shape)
