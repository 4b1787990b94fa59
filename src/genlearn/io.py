"""Checkpoints: a folder with ``config.json`` and ``weights.safetensors``. Never pickle.

``config.json`` holds the registry name, the hyperparameters, the data shape, the genlearn
version, the format version, the SHA-256 of the weights file and the model's JSON-able fitted
state; ``weights.safetensors`` holds the tensors. A folder is written next to its destination
and renamed into place (or, for an existing checkpoint, its two files replaced one by one with
the old ones restored on error; a process killed between the two renames leaves the new
config in a work folder, which :func:`read_config` finds), so a crash or Ctrl-C never leaves a
half-written checkpoint and never moves or deletes a file that genlearn did not write. One
process writes a checkpoint folder at a time (:func:`checkpoint_lock`).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from . import registry
from ._version import __version__

log = logging.getLogger(__name__)

FORMAT = "genlearn-checkpoint"
FORMAT_VERSION = 1
CONFIG = "config.json"
WEIGHTS = "weights.safetensors"


class CheckpointError(ValueError):
    """A folder is not a valid genlearn checkpoint, or does not match its config."""


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _jsonable(value):
    if isinstance(value, tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, list):
        return [_jsonable(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if hasattr(value, "item") and getattr(value, "ndim", 1) == 0:  # numpy / torch scalars
        return value.item()
    if hasattr(value, "tolist"):
        return value.tolist()
    return value


def _fsync_file(path: Path) -> None:
    with open(path, "rb") as f:
        os.fsync(f.fileno())


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


@contextmanager
def atomic_path(path) -> Iterator[Path]:
    """Yield a temporary file path beside ``path``; rename it into place only on success.

    A failure or Ctrl-C while writing removes the temporary file and leaves ``path`` as it was.
    """
    path = Path(path)
    if path.is_dir():
        raise IsADirectoryError(21, f"cannot write {path}: it is a folder")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=path.suffix, dir=path.parent)
    except OSError as exc:
        raise _named(exc, f"cannot write {path}") from None
    os.close(fd)
    os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600; give the file the usual mode
    try:
        yield Path(tmp)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _named(exc: OSError, what: str) -> OSError:
    """``exc`` again, with a message that names what we were doing instead of a temp file."""
    reason = exc.strerror or str(exc)
    if isinstance(exc, (FileExistsError, NotADirectoryError)):
        reason = "a part of the path is a file, not a folder"
    return type(exc)(exc.errno, f"{what}: {reason}")


def is_checkpoint(path) -> bool:
    """True when ``path`` is a folder that holds a genlearn ``config.json``."""
    cfg = Path(path) / CONFIG
    if not cfg.is_file():
        return False
    try:
        return json.loads(cfg.read_text()).get("format") == FORMAT
    except (OSError, ValueError):
        return False


def save(model, path, *, data: dict | None = None) -> Path:
    """Write ``model`` to the folder ``path`` and return the path.

    A new folder is written beside its destination and renamed into place. An existing genlearn
    checkpoint is updated file by file inside its folder (the weights, then the config that
    holds their SHA-256), so the other files there -- sample grids, the user's notes -- are
    never moved; an error or Ctrl-C puts the old weights back. A symlink to a checkpoint folder
    is written through (the link stays a link). An existing folder that is not a checkpoint and
    is not empty is refused, so a typo cannot wipe unrelated files. Two processes saving to one
    folder are serialised by :func:`checkpoint_lock`. ``data`` (JSON-able) records how the
    training data were made, so ``genlearn evaluate`` can rebuild the same held-out split.
    """
    model._check_fitted()
    path = Path(path)
    if path.is_symlink():
        path = path.resolve()
    if path.exists() and not path.is_dir():
        raise CheckpointError(f"cannot save a checkpoint to {path}: it is a file, not a folder")
    with checkpoint_lock(path):
        if path.is_dir() and any(path.iterdir()) and not is_checkpoint(path):
            raise CheckpointError(f"refusing to write a checkpoint into {path}: the folder "
                                  "exists, is not empty and is not a genlearn checkpoint")
        meta, tensors = model._get_state()
        if path.is_dir():
            _update_in_place(model, meta, tensors, path, data)
        else:
            tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.tmp-", dir=path.parent))
            os.chmod(tmp, 0o777 & ~_umask())  # mkdtemp makes 0700; give the usual mode
            try:
                _write_files(model, meta, tensors, tmp, data)
                os.rename(tmp, path)
            except BaseException:
                shutil.rmtree(tmp, ignore_errors=True)  # holds only the two files written here
                raise
    log.info("saved %s checkpoint to %s", model._registry_name, path)
    return path


def _write_files(model, meta: dict, tensors: dict, folder: Path, data: dict | None) -> None:
    """Write ``weights.safetensors`` then ``config.json`` (with the weights' SHA-256)."""
    from safetensors.torch import save_file

    tensors = {k: v.detach().to("cpu").contiguous().clone() for k, v in tensors.items()}
    save_file(tensors, str(folder / WEIGHTS), metadata={"format": FORMAT})
    _fsync_file(folder / WEIGHTS)
    config = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "genlearn_version": __version__,
        "model": model._registry_name,
        "class": type(model).__name__,
        "params": _jsonable(model.get_params(deep=False)),
        "data_shape": _jsonable(model.data_shape),
        "weights_sha256": _sha256(folder / WEIGHTS),
        "state": _jsonable(meta),
    }
    if data is not None:
        config["data"] = _jsonable(data)
    (folder / CONFIG).write_text(json.dumps(config, indent=2, allow_nan=True) + "\n")
    _fsync_file(folder / CONFIG)


def _update_in_place(model, meta, tensors, path: Path, data) -> None:
    """Replace the two checkpoint files in the folder ``path``; put the old ones back on error.

    The new files are written to a temporary folder inside ``path`` (same file system, so the
    renames are atomic). The old weights are kept by a hard link (or a copy) until the config
    is in place; on any error the old weights return, so the folder holds the old checkpoint,
    whole, and every other file in it untouched."""
    for stale in _work_folders(path):  # left by a killed save (we hold the lock)
        shutil.rmtree(stale, ignore_errors=True)
    work = Path(tempfile.mkdtemp(prefix=_WORK_PREFIX, dir=path))
    try:
        _write_files(model, meta, tensors, work, data)
        old_weights = path / WEIGHTS
        kept = work / "previous-weights"
        had_weights = old_weights.is_file() and not old_weights.is_symlink()
        if had_weights:
            try:
                os.link(old_weights, kept)
            except OSError:  # no hard links on this file system
                shutil.copy2(old_weights, kept)
        os.replace(work / WEIGHTS, path / WEIGHTS)
        try:
            os.replace(work / CONFIG, path / CONFIG)
        except BaseException:
            if had_weights:
                os.replace(kept, old_weights)  # the old config matches the old weights again
            raise
    finally:
        shutil.rmtree(work, ignore_errors=True)  # holds only files written here


# -- one writer per checkpoint folder ---------------------------------------------------------
_held_locks: dict[str, int] = {}  # lock file -> depth, so a holder may save again (re-entrant)


def _lock_file(path: Path) -> Path:
    path = Path(os.path.abspath(path))
    return path.parent / f".{path.name}.lock"


@contextmanager
def checkpoint_lock(path) -> Iterator[None]:
    """Hold the write lock of the checkpoint folder ``path`` (re-entrant within a process).

    The lock is ``flock`` on a file ``.NAME.lock`` beside the folder: the kernel drops it when
    its process dies, so a killed run leaves no stale lock, only the file, which the next
    holder reuses and deletes. A second writer gets a :class:`CheckpointError` at once."""
    path = Path(path)
    if path.is_symlink():
        path = path.resolve()
    lock = _lock_file(path)
    key = str(lock)
    if key in _held_locks:
        _held_locks[key] += 1
        try:
            yield
        finally:
            _held_locks[key] -= 1
        return
    try:
        lock.parent.mkdir(parents=True, exist_ok=True)
        fd = _acquire(lock, path)
    except OSError as exc:
        raise _named(exc, f"cannot write the checkpoint {path}") from None
    _held_locks[key] = 1
    try:
        yield
    finally:
        del _held_locks[key]
        _release(lock, fd)


def _acquire(lock: Path, path: Path) -> int:
    try:
        import fcntl
    except ImportError:  # pragma: no cover - not POSIX: no lock (documented limitation)
        return -1
    while True:
        fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o666 & ~_umask())
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise CheckpointError(f"another process is writing the checkpoint {path} (lock "
                                  f"{lock}); wait for it to finish or choose another folder") \
                from None
        # The previous holder deletes the file when it lets go: make sure we locked the file
        # that is still there, not the one it just unlinked.
        try:
            same = os.path.samestat(os.fstat(fd), os.stat(lock))
        except FileNotFoundError:
            same = False
        if same:
            os.ftruncate(fd, 0)
            os.write(fd, f"{os.getpid()}\n".encode())
            return fd
        os.close(fd)


def _release(lock: Path, fd: int) -> None:
    if fd < 0:  # pragma: no cover
        return
    try:
        lock.unlink(missing_ok=True)  # still holding it: nobody else can be using this file
    finally:
        os.close(fd)


def read_config(path) -> dict:
    """Read and check ``config.json`` of the checkpoint folder ``path``.

    A save killed between its two renames (weights in place, config not yet) left the new
    config in the folder's ``.genlearn-save-*`` work folder: that config, which matches the
    weights, is returned (with a warning); the next save tidies the work folder away."""
    path = Path(path)
    if not path.exists():
        raise CheckpointError(f"no checkpoint at {path}: the path does not exist")
    if not path.is_dir():
        raise CheckpointError(f"{path} is not a genlearn checkpoint: expected a folder with "
                              f"{CONFIG} and {WEIGHTS}")
    cfg_path = path / CONFIG
    if not cfg_path.is_file():
        raise CheckpointError(f"{path} is not a genlearn checkpoint: it has no {CONFIG}")
    cfg = _parse_config(cfg_path, path)
    interrupted = _work_folders(path)
    if interrupted and (path / WEIGHTS).is_file():
        sha = _sha256(path / WEIGHTS)
        if sha != cfg["weights_sha256"]:
            for work in interrupted:
                try:
                    newer = _parse_config(work / CONFIG, path)
                except CheckpointError:
                    continue
                if newer["weights_sha256"] == sha:
                    log.warning("%s: a save was interrupted before its config was renamed into "
                                "place; using the config it left in %s", path, work.name)
                    return newer
    return cfg


_WORK_PREFIX = ".genlearn-save-"
_WORK_FILES = {CONFIG, WEIGHTS, "previous-weights"}


def _work_folders(path: Path) -> list[Path]:
    """Work folders that an interrupted save left in ``path`` (only genlearn's own names)."""
    return sorted(d for d in path.glob(_WORK_PREFIX + "*") if d.is_dir() and not d.is_symlink()
                  and {f.name for f in d.iterdir()} <= _WORK_FILES)


def _parse_config(cfg_path: Path, path: Path) -> dict:
    try:
        cfg = json.loads(cfg_path.read_text())
    except (OSError, UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise CheckpointError(f"{cfg_path} is not valid JSON: {exc}") from None
    if not isinstance(cfg, dict) or cfg.get("format") != FORMAT:
        raise CheckpointError(f"{path} is not a genlearn checkpoint: {CONFIG} lacks "
                              f"\"format\": \"{FORMAT}\"")
    version = cfg.get("format_version")
    if not isinstance(version, int):
        raise CheckpointError(f"{cfg_path} has no valid format_version")
    if version > FORMAT_VERSION:
        raise CheckpointError(f"{path} uses checkpoint format version {version}, newer than this "
                              f"genlearn {__version__} reads ({FORMAT_VERSION}); upgrade genlearn")
    for key, kind in (("model", str), ("params", dict), ("weights_sha256", str),
                      ("state", dict)):
        if key not in cfg:
            raise CheckpointError(f"{cfg_path} is missing the field {key!r}")
        if not isinstance(cfg[key], kind):
            raise CheckpointError(f"{cfg_path}: the field {key!r} should be a {kind.__name__}, "
                                  f"not {type(cfg[key]).__name__}")
    return cfg


def _params_from_json(cls, params: dict) -> dict:
    """JSON turns tuples into lists; give back tuples where the constructor's default is one
    or the class names the parameter in ``_tuple_params`` (a tuple whose default is None)."""
    defaults = cls().get_params(deep=False)  # the constructor only stores its arguments
    out = {}
    for name, value in params.items():
        if name not in defaults:
            raise CheckpointError(f"checkpoint hyperparameter {name!r} is unknown to "
                                  f"{cls.__name__} in this genlearn version")
        default = defaults[name]
        if isinstance(value, list) and (isinstance(default, tuple)
                                        or name in getattr(cls, "_tuple_params", ())):
            value = tuple(value)
        out[name] = value
    return out


def _gpu_missing(device) -> str | None:
    """Why ``device`` cannot be used on this machine, or None when it can (or is not a GPU)."""
    import torch

    if not isinstance(device, str) or device in ("cpu", "auto"):
        return None
    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError):
        return None  # not a device name at all: the model's own check names it
    if dev.type == "cuda":
        if not torch.cuda.is_available():
            return "PyTorch sees no CUDA GPU on this machine"
        if dev.index is not None and dev.index >= torch.cuda.device_count():
            return f"this machine has {torch.cuda.device_count()} CUDA GPU(s)"
    elif dev.type == "mps" and not torch.backends.mps.is_available():
        return "PyTorch sees no MPS device on this machine"
    return None


def _choose_device(cls, saved, device, path: Path):
    """The device to build the model on: ``device`` when given (an error if it is missing),
    else the saved one, or the CPU when the saved one is a GPU this machine lacks."""
    if device is not None:
        why = _gpu_missing(device)
        if why is not None:
            raise CheckpointError(f"cannot load {path} onto device {device!r}: {why}; use "
                                  "--device cpu (device='cpu')")
        return device
    why = _gpu_missing(saved)
    if why is None:
        return saved
    log.warning("%s was saved on device %r but %s: loading it onto the CPU", path, saved, why)
    return "cpu"


def load(path, *, device: str | None = None):
    """Load a checkpoint folder written by ``model.save``; ``device`` overrides the saved one.

    A checkpoint saved on a GPU loads onto the CPU (with a warning) on a machine without one;
    asking for a missing GPU with ``device`` is an error that says so. Raises
    :class:`CheckpointError` (a ``ValueError``) for a folder that is not a genlearn checkpoint,
    a newer format version, or a weights file that does not match its config.
    """
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    path = Path(path)
    cfg = read_config(path)
    cls = registry.get(cfg["model"])
    weights = path / WEIGHTS
    if not weights.is_file():
        raise CheckpointError(f"{path} has {CONFIG} but no {WEIGHTS}")
    if _sha256(weights) != cfg["weights_sha256"]:
        raise CheckpointError(f"{weights} does not match its {CONFIG} (SHA-256 differs): the "
                              "file was altered or comes from another checkpoint")
    params = _params_from_json(cls, cfg["params"])
    if "device" in params or device is not None:
        chosen = _choose_device(cls, params.get("device"), device, path)
        if "device" in params:
            params["device"] = chosen
    try:
        model = cls(**params)
        model._validate_params()
    except (TypeError, ValueError) as exc:
        raise CheckpointError(f"{path}: {CONFIG} holds hyperparameters this genlearn refuses: "
                              f"{exc}") from None
    try:
        tensors = load_file(str(weights), device="cpu")
    except (SafetensorError, OSError, ValueError) as exc:
        raise CheckpointError(f"{weights} could not be read: {exc}") from None
    try:
        model._set_state(cfg["state"], tensors)
    except (KeyError, IndexError, AttributeError, RuntimeError, ValueError, TypeError) as exc:
        raise CheckpointError(f"{path}: the weights and fitted state do not fit the model "
                              f"described by its config: {exc!r}") from None
    return model
