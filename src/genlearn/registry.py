"""Name -> model class registry.

The command line, :func:`genlearn.load` and the tests find models here, so adding a family is
one decorator on its class and no ``if name == ...`` chain anywhere.
"""

from __future__ import annotations

_MODELS: dict[str, type] = {}


def register(name: str):
    """Class decorator: make ``cls`` reachable as ``name`` (e.g. ``"vae"``)."""

    def wrap(cls: type) -> type:
        key = name.lower()
        if key in _MODELS and _MODELS[key] is not cls:
            raise ValueError(f"model name {key!r} is already registered to {_MODELS[key].__name__}")
        from .base import check_capabilities

        check_capabilities(cls)  # a registered model declares what it can do
        _MODELS[key] = cls
        cls._registry_name = key
        return cls

    return wrap


def get(name: str) -> type:
    """The class registered under ``name``; a ``ValueError`` lists the known names otherwise."""
    key = str(name).lower()
    try:
        return _MODELS[key]
    except KeyError:
        known = ", ".join(sorted(_MODELS)) or "none"
        raise ValueError(f"unknown model {name!r}; known models: {known}") from None


def names() -> list[str]:
    """Registered model names, sorted."""
    return sorted(_MODELS)
