"""MNIST (28x28 handwritten digits) from local files, a cache folder, or a one-time download.

Two on-disk forms are understood:

* the four IDX files as distributed by LeCun, Cortes and Burges (gzipped or not), read by the
  small parser :func:`read_idx` (no third-party dependency);
* the classic ``mnist.pkl.gz`` (a pickled ``(train, valid, test)`` tuple). Pickle can run
  arbitrary code, so it is read with :class:`_NumpyOnlyUnpickler`, which resolves nothing but
  the few numpy internals that rebuild arrays and refuses everything else.

Downloads go to a cache folder (``cache_dir``, else ``$GENLEARN_DATA``, else
``~/.cache/genlearn/mnist``); each file is written to a temporary name, its SHA-256 checked
against the constants below, and only then renamed into place, so an interrupted or tampered
download never leaves a file that later loads would trust.
"""

from __future__ import annotations

import gzip
import hashlib
import importlib
import logging
import os
import pickle
import shutil
import tempfile
import urllib.request
from pathlib import Path

import numpy as np

from ._core import Dataset

logger = logging.getLogger(__name__)

# Canonical file names: (images, labels) for the official training and test splits.
TRAIN_FILES = ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz")
TEST_FILES = ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz")
IDX_FILES = TRAIN_FILES + TEST_FILES
PKL_FILE = "mnist.pkl.gz"

# SHA-256 of the gzipped IDX files (sizes 9,912,422 / 28,881 / 1,648,877 / 4,542 bytes). Checked
# against several independent public pins (torchvision's prototype MNIST dataset, Guild AI's
# and Bazel http_file declarations, other projects' download scripts); all agree.
SHA256 = {
    "train-images-idx3-ubyte.gz":
        "440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609",
    "train-labels-idx1-ubyte.gz":
        "3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c",
    "t10k-images-idx3-ubyte.gz":
        "8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6",
    "t10k-labels-idx1-ubyte.gz":
        "f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6",
    # The classic deeplearning.net pickle (50k/10k/10k), checked when found in the cache.
    "mnist.pkl.gz": "f11bb9e41d6c1b6c124aa38fd605497bdcfe2ee08cf7c2bb5a41ab5d759e1416",
}

# yann.lecun.com no longer serves the files reliably; these mirrors host byte-identical copies.
MIRRORS = (
    "https://ossci-datasets.s3.amazonaws.com/mnist/",
    "https://storage.googleapis.com/cvdf-datasets/mnist/",
)
DOWNLOAD_TIMEOUT_S = 30.0

IDX_IMAGES_MAGIC = 2051  # 0x00000803: unsigned bytes, 3 dimensions (n, rows, cols)
IDX_LABELS_MAGIC = 2049  # 0x00000801: unsigned bytes, 1 dimension (n,)


class DatasetNotAvailableError(FileNotFoundError):
    """A data set is neither on disk nor downloadable; the message says where to put it."""


# -- IDX ------------------------------------------------------------------------------------------
def _read_maybe_gzip(path: Path) -> bytes:
    raw = path.read_bytes()
    if raw[:2] != b"\x1f\x8b":  # not gzip: an uncompressed IDX file
        return raw
    try:
        return gzip.decompress(raw)
    except (OSError, EOFError) as exc:  # BadGzipFile is an OSError; truncation is EOFError
        raise ValueError(f"{path}: corrupt or truncated gzip data ({exc}); delete the file and "
                         "fetch it again") from None


def read_idx(path: str | os.PathLike, expected_magic: int) -> np.ndarray:
    """Read one IDX file (gzipped or not) holding unsigned bytes.

    Parameters
    ----------
    path : path-like
        The file, e.g. ``train-images-idx3-ubyte.gz``.
    expected_magic : int
        2051 for an image file (n, rows, cols) or 2049 for a label file (n,).

    Returns
    -------
    numpy.ndarray of uint8
        Shaped by the dimensions in the header.

    Raises
    ------
    ValueError
        Wrong magic number (not an IDX file, or images and labels swapped) or a payload whose
        size disagrees with the header.
    """
    path = Path(path)
    data = _read_maybe_gzip(path)
    if len(data) < 4:
        raise ValueError(f"{path}: too short to be an IDX file ({len(data)} bytes)")
    magic = int.from_bytes(data[:4], "big")
    if magic != expected_magic:
        kind = {IDX_IMAGES_MAGIC: "images", IDX_LABELS_MAGIC: "labels"}.get(expected_magic, "IDX")
        raise ValueError(f"{path}: bad IDX magic number {magic} (expected {expected_magic} for "
                         f"{kind}); the file is not an MNIST {kind} file or is corrupt")
    ndim = data[3]
    header = 4 + 4 * ndim
    if len(data) < header:
        raise ValueError(f"{path}: truncated IDX header")
    dims = tuple(int.from_bytes(data[4 + 4 * i:8 + 4 * i], "big") for i in range(ndim))
    expected = int(np.prod(dims, dtype=np.int64))
    if len(data) - header != expected:
        raise ValueError(f"{path}: IDX header promises {expected} bytes for shape {dims} but the "
                         f"file holds {len(data) - header}; it is truncated or corrupt")
    return np.frombuffer(data, dtype=np.uint8, offset=header).reshape(dims)


def _idx_candidates(folder: Path, name: str) -> list[Path]:
    stem = name.removesuffix(".gz")
    # Unpacking tools sometimes write "train-images.idx3-ubyte"; accept that spelling too.
    return [folder / name, folder / stem, folder / stem.replace("-idx", ".idx")]


def _find_idx(folder: Path, name: str) -> Path | None:
    return next((p for p in _idx_candidates(folder, name) if p.is_file()), None)


def _idx_split(images_path: Path, labels_path: Path):
    images = read_idx(images_path, IDX_IMAGES_MAGIC)
    labels = read_idx(labels_path, IDX_LABELS_MAGIC)
    if images.ndim != 3 or labels.ndim != 1:
        raise ValueError(f"{images_path} / {labels_path}: expected images of shape (n, rows, "
                         f"cols) and labels of shape (n,); got {images.shape} and {labels.shape}")
    if len(images) != len(labels):
        raise ValueError(f"{images_path} holds {len(images)} images but {labels_path} holds "
                         f"{len(labels)} labels; the files do not belong together")
    X = images.reshape(len(images), -1).astype(np.float32)
    X /= np.float32(255.0)  # in place: keeps float32, no float64 temporary
    return X, labels.astype(np.int64), (int(images.shape[1]), int(images.shape[2]))


def _load_idx(paths: dict[str, Path]) -> tuple[Dataset, Dataset]:
    X_tr, y_tr, shape_tr = _idx_split(paths[TRAIN_FILES[0]], paths[TRAIN_FILES[1]])
    X_te, y_te, shape_te = _idx_split(paths[TEST_FILES[0]], paths[TEST_FILES[1]])
    if shape_tr != shape_te:
        raise ValueError(f"MNIST training images are {shape_tr} but test images are {shape_te}")
    logger.debug("read MNIST IDX files from %s", paths[TRAIN_FILES[0]].parent)
    return _pair(X_tr, y_tr, X_te, y_te, shape_tr)


def _pair(X_tr, y_tr, X_te, y_te, image_shape) -> tuple[Dataset, Dataset]:
    return tuple(Dataset(X=X, y=y, name="mnist", image_shape=image_shape, domain="unit")
                 for X, y in ((X_tr, y_tr), (X_te, y_te)))


# -- mnist.pkl.gz ---------------------------------------------------------------------------------
def _numpy_attr(submodule: str, name: str):
    # numpy 2 moved its internals to numpy._core; numpy.core still works there but warns.
    for package in ("numpy._core", "numpy.core"):
        try:
            module = importlib.import_module(f"{package}.{submodule}")
        except ImportError:
            continue
        return getattr(module, name)
    raise ImportError(f"cannot find numpy's {submodule}.{name}")  # pragma: no cover


def _codecs_encode():
    import codecs

    return codecs.encode


# The only globals an array pickle refers to: _reconstruct + ndarray + dtype (protocols 0-4),
# _frombuffer (numpy >= 1.16 with protocol 5), and _codecs.encode (bytes in Python 3 protocol-2
# pickles). None of them can execute code or touch the file system.
_ALLOWED_GLOBALS = {
    ("numpy.core.multiarray", "_reconstruct"): lambda: _numpy_attr("multiarray", "_reconstruct"),
    ("numpy._core.multiarray", "_reconstruct"): lambda: _numpy_attr("multiarray", "_reconstruct"),
    ("numpy.core.numeric", "_frombuffer"): lambda: _numpy_attr("numeric", "_frombuffer"),
    ("numpy._core.numeric", "_frombuffer"): lambda: _numpy_attr("numeric", "_frombuffer"),
    ("numpy", "ndarray"): lambda: np.ndarray,
    ("numpy", "dtype"): lambda: np.dtype,
    ("_codecs", "encode"): _codecs_encode,
}


class UnsafePickleError(ValueError):
    """A pickle refers to something other than the numpy internals that rebuild arrays."""


class _NumpyOnlyUnpickler(pickle.Unpickler):
    """Unpickler that can rebuild numpy arrays and nothing else (no code execution)."""

    def __init__(self, file, *, source: Path):
        super().__init__(file, encoding="latin1")  # latin1: Python 2 pickles store raw bytes
        self._source = source

    def find_class(self, module: str, name: str):
        getter = _ALLOWED_GLOBALS.get((module, name))
        if getter is None:
            raise UnsafePickleError(
                f"{self._source}: genlearn refuses to unpickle {module}.{name}; an MNIST pickle "
                "only needs numpy arrays, so this file is not a genuine mnist.pkl.gz (it may be "
                "malicious). Use the IDX files instead.")
        return getter()


def _check_pickle_part(part, part_name: str, path: Path) -> tuple[np.ndarray, np.ndarray]:
    if not (isinstance(part, tuple | list) and len(part) == 2):
        raise ValueError(f"{path}: the {part_name} entry must be a pair (X, y); got "
                         f"{type(part).__name__}")
    X, y = part
    if not (isinstance(X, np.ndarray) and X.ndim == 2 and np.issubdtype(X.dtype, np.floating)):
        raise ValueError(f"{path}: {part_name} X must be a 2-D float array; got "
                         f"{getattr(X, 'shape', type(X).__name__)} {getattr(X, 'dtype', '')}")
    if not (isinstance(y, np.ndarray) and y.shape == (len(X),)
            and np.issubdtype(y.dtype, np.integer)):
        raise ValueError(f"{path}: {part_name} y must be an integer array of shape ({len(X)},); "
                         f"got {getattr(y, 'shape', type(y).__name__)} {getattr(y, 'dtype', '')}")
    if X.size and (float(X.min()) < 0.0 or float(X.max()) > 1.0 or not np.isfinite(X).all()):
        raise ValueError(f"{path}: {part_name} X must hold intensities in [0, 1]")
    return X.astype(np.float32, copy=False), y.astype(np.int64, copy=False)


def load_mnist_pickle(path: str | os.PathLike) -> tuple[Dataset, Dataset]:
    """Read the classic ``mnist.pkl.gz`` safely.

    The training set is the 50,000 training plus the 10,000 validation images (the official
    60,000); the test set is the official 10,000.

    Raises
    ------
    UnsafePickleError
        (a ValueError) The pickle refers to anything but numpy's array-rebuilding internals.
    ValueError
        The file is not a readable pickle of ``(train, valid, test)`` pairs of arrays.
    """
    path = Path(path)
    with path.open("rb") as raw:
        is_gzip = raw.read(2) == b"\x1f\x8b"
        raw.seek(0)
        stream = gzip.GzipFile(fileobj=raw, mode="rb") if is_gzip else raw
        try:
            obj = _NumpyOnlyUnpickler(stream, source=path).load()
        except UnsafePickleError:
            raise
        except Exception as exc:  # corrupt data can fail in many ways inside the unpickler
            raise ValueError(f"{path}: not a readable MNIST pickle ({type(exc).__name__}: "
                             f"{exc})") from exc
    if not (isinstance(obj, tuple | list) and len(obj) == 3):
        raise ValueError(f"{path}: expected a pickled tuple (train, valid, test); got "
                         f"{type(obj).__name__}")
    names = ("train", "valid", "test")
    parts = [_check_pickle_part(p, n, path) for p, n in zip(obj, names, strict=True)]
    d = parts[0][0].shape[1]
    side = int(round(np.sqrt(d)))
    if side * side != d or any(X.shape[1] != d for X, _ in parts):
        raise ValueError(f"{path}: images must be square and all the same size; got "
                         f"{[X.shape[1] for X, _ in parts]} pixels")
    (X_tr, y_tr), (X_va, y_va), (X_te, y_te) = parts
    logger.debug("read MNIST pickle %s", path)
    return _pair(np.concatenate([X_tr, X_va]), np.concatenate([y_tr, y_va]), X_te, y_te,
                 (side, side))


# -- cache and download ---------------------------------------------------------------------------
def default_cache_dir() -> Path:
    """``$GENLEARN_DATA`` if set, else ``~/.cache/genlearn/mnist``."""
    env = os.environ.get("GENLEARN_DATA")
    return Path(env).expanduser() if env else Path.home() / ".cache" / "genlearn" / "mnist"


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _fetch(url: str, out, timeout: float) -> None:
    """Copy the body of ``url`` into the binary file ``out`` (tests replace this function)."""
    with urllib.request.urlopen(url, timeout=timeout) as response:
        shutil.copyfileobj(response, out)


class _DownloadError(Exception):
    pass


def _download(name: str, folder: Path) -> Path:
    """Fetch ``name`` from the first mirror that serves the expected bytes; atomic rename."""
    folder.mkdir(parents=True, exist_ok=True)
    failures = []
    for mirror in MIRRORS:
        url = mirror + name
        fd, tmp_name = tempfile.mkstemp(dir=folder, prefix=f".{name}.", suffix=".part")
        tmp = Path(tmp_name)
        try:
            logger.info("downloading %s", url)
            with os.fdopen(fd, "wb") as out:
                _fetch(url, out, DOWNLOAD_TIMEOUT_S)
            digest = _sha256(tmp)
            if digest != SHA256[name]:
                failures.append(f"{url}: SHA-256 mismatch (got {digest}, expected "
                                f"{SHA256[name]})")
                continue
            os.replace(tmp, folder / name)  # atomic: readers never see a partial file
            return folder / name
        except Exception as exc:  # URLError, timeouts, HTTP errors, IncompleteRead, ...
            failures.append(f"{url}: {type(exc).__name__}: {exc}")
        finally:
            tmp.unlink(missing_ok=True)  # gone already after a successful rename
    raise _DownloadError("; ".join(failures))


def _not_available(folder: Path, reason: str) -> DatasetNotAvailableError:
    return DatasetNotAvailableError(
        f"MNIST is not available: no usable copy in {folder} and {reason}. Put the four files "
        f"{', '.join(IDX_FILES)} (or the single file {PKL_FILE}) in {folder} (choose another "
        "folder with cache_dir= or the GENLEARN_DATA environment variable), or pass path= "
        "pointing to a folder or file that holds them.")


def _cached_idx(folder: Path, problems: list[str]) -> dict[str, Path]:
    """The usable IDX files in the cache: gzipped ones must match their SHA-256."""
    found = {}
    for name in IDX_FILES:
        gz = folder / name
        if gz.is_file():
            digest = _sha256(gz)
            if digest == SHA256[name]:
                found[name] = gz
            else:
                logger.warning("ignoring %s: its SHA-256 %s is not the expected %s", gz, digest,
                               SHA256[name])
                problems.append(f"{gz} has the wrong SHA-256")
            continue
        # Uncompressed copies a user unpacked here cannot be hash-checked (the hashes are of
        # the .gz files); they are validated structurally when read.
        plain = _find_idx(folder, name)
        if plain is not None:
            found[name] = plain
    return found


def _load_from_path(path: Path) -> tuple[Dataset, Dataset]:
    if not path.exists():
        raise FileNotFoundError(f"MNIST path {path} does not exist; pass a folder holding "
                                f"{', '.join(IDX_FILES)} or {PKL_FILE}, or that file itself")
    if path.is_file():
        if any(path in _idx_candidates(path.parent, n) for n in IDX_FILES):
            raise ValueError(f"{path} is a single IDX file; pass the folder holding all four "
                             f"({', '.join(IDX_FILES)})")
        return load_mnist_pickle(path)
    found = {name: _find_idx(path, name) for name in IDX_FILES}
    if all(found.values()):
        return _load_idx(found)
    if (path / PKL_FILE).is_file():
        return load_mnist_pickle(path / PKL_FILE)
    missing = [name for name, p in found.items() if p is None]
    raise DatasetNotAvailableError(
        f"{path} holds neither all four MNIST IDX files (missing: {', '.join(missing)}) nor "
        f"{PKL_FILE}; put them there or point path= at the right folder or file")


def load_mnist(path: str | os.PathLike | None = None, cache_dir: str | os.PathLike | None = None,
               download: bool = True) -> tuple[Dataset, Dataset]:
    """MNIST's official split: 60,000 training and 10,000 test images, 28x28.

    Parameters
    ----------
    path : path-like, optional
        A folder holding the four IDX files (``train-images-idx3-ubyte.gz``,
        ``train-labels-idx1-ubyte.gz``, ``t10k-images-idx3-ubyte.gz``,
        ``t10k-labels-idx1-ubyte.gz``, or their uncompressed versions) or ``mnist.pkl.gz``, or
        the ``mnist.pkl.gz`` file itself. Files given here are validated structurally but not
        hash-checked.
    cache_dir : path-like, optional
        Where to look for (and download to) the files when ``path`` is None. Default:
        ``$GENLEARN_DATA``, else ``~/.cache/genlearn/mnist``. Cached ``.gz`` files must match
        their published SHA-256.
    download : bool, default True
        Fetch the four IDX files from a public mirror when the cache has no usable copy.

    Returns
    -------
    (Dataset, Dataset)
        Train and test: ``X`` float32 (n, 784) in [0, 1], ``y`` int64, ``image_shape=(28, 28)``,
        ``domain="unit"``.

    Raises
    ------
    DatasetNotAvailableError
        (a FileNotFoundError) No usable copy and no download (offline, or ``download=False``);
        the message names the files and the folder to put them in.
    ValueError
        A file is corrupt, not MNIST, or an unsafe pickle.
    """
    if path is not None:
        return _load_from_path(Path(path).expanduser())
    folder = Path(cache_dir).expanduser() if cache_dir is not None else default_cache_dir()
    problems: list[str] = []
    found = _cached_idx(folder, problems)
    if len(found) == len(IDX_FILES):
        return _load_idx(found)
    pkl = folder / PKL_FILE
    if pkl.is_file():
        if _sha256(pkl) == SHA256[PKL_FILE]:
            return load_mnist_pickle(pkl)
        logger.warning("ignoring %s: its SHA-256 is not the expected %s", pkl, SHA256[PKL_FILE])
        problems.append(f"{pkl} has the wrong SHA-256 (pass it with path= to use it anyway)")
    note = f" ({'; '.join(problems)})" if problems else ""
    if not download:
        raise _not_available(folder, f"downloading is switched off (download=False){note}")
    try:
        for name in IDX_FILES:
            if name not in found:
                found[name] = _download(name, folder)
    except (_DownloadError, OSError) as exc:  # OSError: the cache folder cannot be created
        raise _not_available(folder, f"the download failed{note}: {exc}") from None
    return _load_idx(found)
