"""Optimizer state for snapshots and checkpoints, shared by the gradient-trained models.

``flatten_optimizer`` splits a torch optimizer state dict into JSON-able metadata and named
tensors (safetensors holds the tensors; no pickle), ``unflatten_optimizer`` puts it back, and
``clone_optimizer_state`` takes the in-memory copy the training loop restores on a bad step.
"""

from __future__ import annotations

import torch


def clone_optimizer_state(state: dict) -> dict:
    """Deep copy of an optimizer state dict (tensors cloned)."""
    return {
        "state": {i: {k: v.clone() if torch.is_tensor(v) else v for k, v in s.items()}
                  for i, s in state["state"].items()},
        "param_groups": [dict(g) for g in state["param_groups"]],
    }


def flatten_optimizer(state: dict) -> tuple[dict, dict[str, torch.Tensor]]:
    """Split an optimizer state dict into JSON metadata and named tensors (for safetensors)."""
    tensors, kinds = {}, {}
    for i, s in state["state"].items():
        for k, v in s.items():
            if torch.is_tensor(v):
                tensors[f"optim.{i}.{k}"] = v
            else:
                kinds.setdefault(str(i), {})[k] = v
    return {"param_groups": state["param_groups"], "scalars": kinds}, tensors


def unflatten_optimizer(meta: dict, tensors: dict) -> dict:
    """The inverse of :func:`flatten_optimizer`: a state dict for ``load_state_dict``."""
    state: dict[int, dict] = {}
    for name, v in tensors.items():
        if name.startswith("optim."):
            _, i, k = name.split(".", 2)
            state.setdefault(int(i), {})[k] = v
    for i, scalars in meta.get("scalars", {}).items():
        state.setdefault(int(i), {}).update(scalars)
    groups = [dict(g) for g in meta["param_groups"]]
    for g in groups:
        if "betas" in g:
            g["betas"] = tuple(g["betas"])
    return {"state": state, "param_groups": groups}
