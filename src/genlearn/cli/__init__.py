"""The ``genlearn`` command line: one module per command group.

    genlearn train vae --data digits --binarize --epochs 200 --out runs/vae
    genlearn sample runs/vae -n 64 -o grid.png
    genlearn evaluate runs/vae --data digits
    genlearn info runs/vae
    genlearn compare --data digits --models vae,gan,rbm,hmm --budget 120s --out reports/digits

Every group is a module ``genlearn.cli.<group>`` with ``add_parser(subparsers)``, which adds its
sub-command(s) and sets ``func`` (taking the parsed arguments, returning an exit code) on each.
The application groups (text, molecules, music, augment) are imported when their module exists,
so each can land on its own; they import their heavy extras inside the command functions so
``genlearn --help`` works without them. A command raises ``ValueError`` (or ``CheckpointError``,
``OSError``) for bad input and :func:`main` prints its first line; it never prints tracebacks
or calls ``sys.exit`` itself. Helpers a group may share live in ``cli/_common.py``: ``say``
(flushed output), ``seed_arg`` (argparse type: a seed in [0, 2**32)), ``add_device_flag`` and
``load_checkpoint(path, device)``, ``read_config_file`` (JSON/YAML), and ``io.checkpoint_lock``
for a command that writes a checkpoint folder.

Every model's hyperparameters become flags (``--latent-dim 16``, ``--hidden 256,256``) or come
from a JSON/YAML file (``--config cfg.yaml``); flags win. Errors print one line on stderr and
exit 1; ``--debug`` shows the traceback instead.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import os
import sys

from .._version import __version__

# The command groups, in the order ``genlearn --help`` lists them. The core groups always exist;
# an application group is skipped while its module has not landed.
CORE_GROUPS = ("train", "sample", "evaluate", "info", "compare")
APP_GROUPS = ("text", "molecules", "music", "augment")


def _group_module(name: str):
    """``genlearn.cli.<name>``, or None when that module does not exist (yet)."""
    module = f"{__name__}.{name}"
    try:
        return importlib.import_module(module)
    except ModuleNotFoundError as exc:
        if exc.name == module:  # the group itself is missing, not something it imports
            return None
        raise


class _Parser(argparse.ArgumentParser):
    """argparse with one-line usage errors (a sub-command's usage lists every hyperparameter
    flag: sixteen lines before the one that says what is wrong). Sub-parsers inherit it."""

    def error(self, message):
        self.exit(2, f"genlearn: error: {message} (see {self.prog} --help)\n")


def build_parser() -> argparse.ArgumentParser:
    from .. import models  # noqa: F401  (registers every family)

    parser = _Parser(prog="genlearn", description="Generative learning: train "
                                     "models, draw samples, measure log-likelihoods.")
    parser.add_argument("--version", action="version", version=f"genlearn {__version__}")
    parser.add_argument("--debug", action="store_true", help="show tracebacks on errors")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in CORE_GROUPS + APP_GROUPS:
        module = _group_module(name)
        if module is not None:
            module.add_parser(sub)
    return parser


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def _quiet_broken_pipe() -> None:
    """The reader of our output went away (``genlearn info RUN | head -1``): stop quietly.

    Python would report the pipe again when it flushes stdout at exit; pointing stdout at
    /dev/null first stops that (the recipe in Python's signal documentation)."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):  # stdout is not a real file (tests capture it)
        pass


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    args.argv = list(sys.argv[1:] if argv is None else argv)  # train --nproc reruns it
    logging.basicConfig(level=logging.INFO if args.debug else logging.WARNING,
                        format="genlearn: %(message)s")
    try:
        return args.func(args)
    except BrokenPipeError:
        _quiet_broken_pipe()
        return 1
    except KeyboardInterrupt:
        if args.debug:
            raise
        print("genlearn: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # one clear line, unless --debug
        if args.debug:
            raise
        print(f"genlearn: error: {_one_line(exc)}", file=sys.stderr)
        return 1
