"""``genlearn info CHECKPOINT``: what a checkpoint holds (model, data, epochs, hyperparameters)."""

from __future__ import annotations

import json

from ._common import add_device_flag, load_checkpoint, say


def add_parser(subparsers) -> None:
    p = subparsers.add_parser("info", help="describe a checkpoint")
    p.add_argument("checkpoint")
    p.add_argument("--json", action="store_true", help="print the config as JSON")
    add_device_flag(p)
    p.set_defaults(func=cmd_info)


def cmd_info(args) -> int:
    cfg, model = load_checkpoint(args.checkpoint, args.device)  # loading checks the weights
    state = cfg["state"]
    if args.json:
        say(json.dumps({k: v for k, v in cfg.items() if k != "state"}, indent=2))
        return 0
    say(f"{cfg['class']} ({cfg['model']}) checkpoint {args.checkpoint}")
    say(f"  genlearn {cfg['genlearn_version']}, format version {cfg['format_version']}")
    say(f"  data shape {tuple(cfg.get('data_shape') or ())}, trained on {cfg.get('data', {})}")
    if "epochs_trained_" in state:
        say(f"  epochs trained {state['epochs_trained_']}")
    history = state.get("history_") or []
    if history:
        last = {k: round(v, 4) if isinstance(v, float) else v for k, v in history[-1].items()}
        say(f"  last epoch {last}")
    net = getattr(model, "net_", None)
    if net is not None and hasattr(net, "parameters"):
        say(f"  parameters {sum(p.numel() for p in net.parameters()):,}")
    say("  hyperparameters:")
    for key, value in cfg["params"].items():
        say(f"    {key} = {value}")
    return 0
