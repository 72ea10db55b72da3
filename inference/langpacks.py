"""Language packs: everything language-specific, one folder per language.

A pack is a folder of JSON files (after spaCy's `spacy/lang/<code>/`); the built-in ones are
`inference/lang/en`, `inference/lang/ur` and `inference/lang/ur_Latn` (code `ur-Latn`):

- `pack.json` (required): `code`, `name`, `script` (`Latn` or `Arab`), `version`;
- `lexicon.json` (required): the indicator cues (`rules.py`);
- `langid.json`: the vocabulary that identifies the language among packs of its script;
- `entities.json`: number words, multipliers, currency and period words, salary, WhatsApp,
  skilled-work and female cues (`entities.py`, `rules.py`);
- `normalize.json`: character folds that belong to the script (`normalize.py`);
- `places.json`: place names in this language (`entities.py`).

The engines (normalize, langid, entities, rules, features) iterate over `packs()`: the
built-in packs, then the folders named in `$NIGEHBAAN_LANG_PACKS` (separated by `os.pathsep`).
`register_language_pack(path)` appends a folder to that variable, so worker processes started
by the batch scorer see the same packs. A new language needs no engine edit.
Every pack has a SHA-256 over its files; trained models store them (`fingerprint.py`).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path

PACKS_ENV = "NIGEHBAAN_LANG_PACKS"
# Folder names under inference/lang/. The order is the lexicon's match order and the order of
# its fingerprint (`rules.lexicon_fingerprint`): keep it.
BUILTIN = ("en", "ur_Latn", "ur")
SCRIPTS = ("Latn", "Arab")
REQUIRED_FILES = ("pack.json", "lexicon.json")
OPTIONAL_FILES = ("langid.json", "entities.json", "normalize.json", "places.json")
MIXED, UNDETERMINED = "mixed", "und"
_CODE_RE = re.compile(r"[a-z]{2,3}(?:-[A-Z][a-z]{3})?")


class LanguagePackError(ValueError):
    """A pack folder is missing a file, or a file does not say what the engines need."""


@dataclass(frozen=True, eq=False)
class LanguagePack:
    """One language's data, read from its folder (`texts` are the files exactly as read)."""

    code: str
    name: str
    script: str
    version: str
    source: str
    builtin: bool
    texts: dict[str, str] = field(repr=False)

    def data(self, file: str) -> dict:
        """A pack file parsed (an absent optional file reads as `{}`)."""
        text = self.texts.get(file)
        return json.loads(text) if text is not None else {}

    @property
    def lexicon(self) -> dict:
        return self.data("lexicon.json")

    @property
    def langid(self) -> dict:
        return self.data("langid.json")

    @property
    def entities(self) -> dict:
        return self.data("entities.json")

    @property
    def sha256(self) -> str:
        """SHA-256 over the pack's file names and contents (what a trained model stores)."""
        digest = hashlib.sha256()
        for name in sorted(self.texts):
            digest.update(name.encode())
            digest.update(b"\0")
            digest.update(self.texts[name].encode("utf-8"))
            digest.update(b"\0")
        return digest.hexdigest()


def _read_pack(folder: Traversable | Path, builtin: bool) -> LanguagePack:
    where = str(folder)
    if not folder.is_dir():
        raise LanguagePackError(
            f"language pack {where}: expected a folder, found none. Fix: pass the folder that "
            "holds pack.json and lexicon.json (see README 'Adding a language')."
        )
    texts = {}
    for name in REQUIRED_FILES + OPTIONAL_FILES:
        f = folder.joinpath(name)
        if f.is_file():
            texts[name] = f.read_text(encoding="utf-8")
        elif name in REQUIRED_FILES:
            raise LanguagePackError(
                f"language pack {where}: expected {name}, found only "
                f"{sorted(p.name for p in folder.iterdir())}. Fix: add {name} "
                "(see README 'Adding a language')."
            )
    try:
        meta = json.loads(texts["pack.json"])
        for name in texts:
            json.loads(texts[name])
    except ValueError as exc:
        raise LanguagePackError(f"language pack {where}: a file is not valid JSON: {exc}") from exc
    code, script = meta.get("code"), meta.get("script")
    if not isinstance(code, str) or not _CODE_RE.fullmatch(code) or code in (MIXED, UNDETERMINED):
        raise LanguagePackError(
            f"language pack {where}: pack.json `code` must be a language code such as 'sd' or "
            f"'ur-Latn' (BCP 47 language[-Script]), found {code!r}. Fix: set `code` in pack.json."
        )
    if script not in SCRIPTS:
        raise LanguagePackError(
            f"language pack {where}: pack.json `script` must be one of {SCRIPTS}, found "
            f"{script!r}. Fix: set `script`; language id reads only these scripts for now."
        )
    return LanguagePack(
        code, meta.get("name", code), script, meta.get("version", f"{code}.v0"), where, builtin, texts
    )


def _builtin_packs() -> list[LanguagePack]:
    root = resources.files("nigehbaan.inference").joinpath("lang")
    return [_read_pack(root.joinpath(name), True) for name in BUILTIN]


_state: dict[str, tuple[LanguagePack, ...]] = {}
_listeners: list[Callable[[], None]] = []


def packs() -> tuple[LanguagePack, ...]:
    """The registered packs: built-in, then those of `$NIGEHBAAN_LANG_PACKS`, in order."""
    current = _state.get("packs")
    if current is None:
        found = _builtin_packs() + [_read_pack(Path(p), False) for p in _env_folders()]
        seen: dict[str, str] = {}
        for p in found:
            if p.code in seen:
                raise LanguagePackError(
                    f"language pack {p.source}: code {p.code!r} is already registered by "
                    f"{seen[p.code]}. Fix: give the pack another code or drop one of the two."
                )
            seen[p.code] = p.source
        current = _state["packs"] = tuple(found)
    return current


def _env_folders() -> list[str]:
    return [p for p in os.environ.get(PACKS_ENV, "").split(os.pathsep) if p.strip()]


def _set_env_folders(folders: list[str]) -> None:
    if folders:
        os.environ[PACKS_ENV] = os.pathsep.join(folders)
    else:
        os.environ.pop(PACKS_ENV, None)


def register_language_pack(path: str | Path) -> LanguagePack:
    """Add the pack in folder `path`; every engine uses it from now on.

    The folder is appended to `$NIGEHBAAN_LANG_PACKS`, so processes started from here (the
    batch scorer's workers) see it too. A model trained without it refuses to load while it is
    registered, unless the model is rules-only (see `fingerprint.py`);
    `unregister_language_pack(code)` removes it again.
    """
    folder = str(Path(path).resolve())
    pack = _read_pack(Path(folder), False)
    before = _env_folders()
    _set_env_folders([*before, folder])
    try:
        _changed()
    except LanguagePackError:
        _set_env_folders(before)
        _changed()
        raise
    return next(p for p in packs() if p.code == pack.code)


def unregister_language_pack(code: str) -> None:
    """Remove the extra pack with this code from `$NIGEHBAAN_LANG_PACKS` (built-ins stay)."""
    sources = {p.source for p in packs() if p.code == code and not p.builtin}
    _set_env_folders([f for f in _env_folders() if str(Path(f)) not in sources])
    _changed()


def reload_packs() -> None:
    """Read the built-in and `$NIGEHBAAN_LANG_PACKS` folders again (after editing one)."""
    _changed()


def on_change(listener: Callable[[], None]) -> None:
    """Call `listener()` whenever the set of packs changes (engines drop their caches)."""
    _listeners.append(listener)


def _changed() -> None:
    _state.clear()
    packs()  # validate now, so a bad pack fails at registration, not mid-scoring
    for listener in _listeners:
        listener()


def lang_classes() -> tuple[str, ...]:
    """Every `lang` a scored ad can carry: the pack codes in sorted order, `mixed`, `und`."""
    return (*sorted(p.code for p in packs()), MIXED, UNDETERMINED)


def pack_fingerprints() -> dict[str, str]:
    """{code: SHA-256 of the pack's files}, in registration order."""
    return {p.code: p.sha256 for p in packs()}
