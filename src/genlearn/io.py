"""Checkpoints: a folder with ``config.json`` and ``weights.safetensors``. Never pickle.

``config.json`` holds the registry name, the hyperparameters, the data shape, the genlearn
version, the format version, the SHA-256 of the weights file and the model's JSON-able fitted
state; ``weights.safetensors`` holds the tensors. A folder is written next to its destination
and renamed into place, so a crash or Ctrl-C never leaves a half-written checkpoint.
"""

from __future__ import annotations

import hashlib
import inspect
import json
import logging
import os
import shutil
import tempfile
import uuid
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
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=path.suffix, dir=path.parent)
    os.close(fd)
    os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600; give the file the usual mode
    try:
        yield Path(tmp)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


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
    """Write ``model`` to the folder ``path`` atomically and return the path.

    An existing genlearn checkpoint there is replaced (other files in the folder, such as
    sample grids, are kept); an existing folder that is not a checkpoint and is not empty is
    refused, so a typo cannot wipe unrelated files. ``data`` (JSON-able) records how the
    training data were made, so ``genlearn evaluate`` can rebuild the same held-out split.
    """
    from safetensors.torch import save_file

    model._check_fitted()
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise CheckpointError(f"cannot save a checkpoint to {path}: it is a file, not a folder")
    if path.is_dir() and any(path.iterdir()) and not is_checkpoint(path):
        raise CheckpointError(f"refusing to write a checkpoint into {path}: the folder exists, "
                              "is not empty and is not a genlearn checkpoint")
    parent = path.parent if str(path.parent) else Path(".")
    parent.mkdir(parents=True, exist_ok=True)
    meta, tensors = model._get_state()
    tensors = {k: v.detach().to("cpu").contiguous().clone() for k, v in tensors.items()}
    tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.tmp-", dir=parent))
    os.chmod(tmp, 0o777 & ~_umask())  # mkdtemp makes 0700; the checkpoint gets the usual mode
    try:
        save_file(tensors, str(tmp / WEIGHTS), metadata={"format": FORMAT})
        _fsync_file(tmp / WEIGHTS)
        config = {
            "format": FORMAT,
            "format_version": FORMAT_VERSION,
            "genlearn_version": __version__,
            "model": model._registry_name,
            "class": type(model).__name__,
            "params": _jsonable(model.get_params(deep=False)),
            "data_shape": _jsonable(model.data_shape),
            "weights_sha256": _sha256(tmp / WEIGHTS),
            "state": _jsonable(meta),
        }
        if data is not None:
            config["data"] = _jsonable(data)
        (tmp / CONFIG).write_text(json.dumps(config, indent=2, allow_nan=True) + "\n")
        _fsync_file(tmp / CONFIG)
        if path.exists():
            old = parent / f".{path.name}.old-{uuid.uuid4().hex[:8]}"
            for item in path.iterdir():  # keep pictures and notes that sit beside the weights
                if item.name not in (CONFIG, WEIGHTS) and not (tmp / item.name).exists():
                    os.rename(item, tmp / item.name)
            os.rename(path, old)
            os.rename(tmp, path)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.rename(tmp, path)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    log.info("saved %s checkpoint to %s", model._registry_name, path)
    return path


def read_config(path) -> dict:
    """Read and check ``config.json`` of the checkpoint folder ``path``."""
    path = Path(path)
    if not path.exists():
        raise CheckpointError(f"no checkpoint at {path}: the path does not exist")
    if not path.is_dir():
        raise CheckpointError(f"{path} is not a genlearn checkpoint: expected a folder with "
                              f"{CONFIG} and {WEIGHTS}")
    cfg_path = path / CONFIG
    if not cfg_path.is_file():
        raise CheckpointError(f"{path} is not a genlearn checkpoint: it has no {CONFIG}")
    try:
        cfg = json.loads(cfg_path.read_text())
    except (OSError, UnicodeDecodeError, ValueError) as exc:
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
    for key in ("model", "params", "weights_sha256", "state"):
        if key not in cfg:
            raise CheckpointError(f"{cfg_path} is missing the field {key!r}")
    return cfg


def _params_from_json(cls, params: dict) -> dict:
    """JSON turns tuples into lists; give back tuples where the constructor's default is one."""
    sig = inspect.signature(cls.__init__).parameters
    out = {}
    for name, value in params.items():
        if name not in sig:
            raise CheckpointError(f"checkpoint hyperparameter {name!r} is unknown to "
                                  f"{cls.__name__} in this genlearn version")
        default = sig[name].default
        if isinstance(value, list) and isinstance(default, tuple):
            value = tuple(value)
        out[name] = value
    return out


def load(path, *, device: str | None = None):
    """Load a checkpoint folder written by ``model.save``; ``device`` overrides the saved one.

    Raises :class:`CheckpointError` (a ``ValueError``) for a folder that is not a genlearn
    checkpoint, a newer format version, or a weights file that does not match its config.
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
    if device is not None:
        params["device"] = device
    model = cls(**params)
    try:
        tensors = load_file(str(weights), device="cpu")
    except (SafetensorError, OSError, ValueError) as exc:
        raise CheckpointError(f"{weights} could not be read: {exc}") from None
    try:
        model._set_state(cfg["state"], tensors)
    except (KeyError, RuntimeError, ValueError, TypeError) as exc:
        raise CheckpointError(f"{path}: the weights do not fit the model described by its "
                              f"config: {exc}") from None
    return model
