"""Fingerprints of everything that shapes a model's features, stored in its contract.

Hand-typed versions (`FEATURES_VERSION`, `NORMALIZER_VERSION`) only change when someone
remembers to bump them; a hash changes whenever the data does. A trained model's contract
(`contract.json`, key `fingerprints`) stores, at training time:

- `normalizer_tables`: the normaliser's own tables (dropped characters, shared folds,
  look-alike letters, emoji words, leetspeak);
- `feature_code`: the feature settings (`features.feature_spec()`) and the versions and
  thresholds of language id, entity extraction and the rules;
- `entity_resources`: `resources/money.json` and `resources/places.json`;
- `lang_packs`: one hash per registered language pack (all its files: lexicon, language-id
  words, entity words, folds, places), keyed by code, in registration order.

Loading a fitted model (`linear`, `stack`) refuses any difference (`Contract.check`). A
rules-only model is not fitted, so it runs with whatever packs are registered: that is how a
new language is scored before a model is trained on it. A model trained with extra packs
registered stores their hashes too and needs them registered again to load.
"""

from __future__ import annotations

import hashlib
import json
from importlib import resources

from nigehbaan.inference import entities, features, langid, normalize, rules
from nigehbaan.inference.langpacks import BUILTIN, pack_fingerprints, packs

ENTITY_RESOURCES = ("money.json", "places.json")
KEYS = ("normalizer_tables", "feature_code", "entity_resources", "lang_packs")


def _sha(obj) -> str:
    text = obj if isinstance(obj, str) else json.dumps(obj, ensure_ascii=False, sort_keys=True)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def normalizer_tables() -> dict:
    """The normaliser's own tables (a pack's folds are part of the pack's hash)."""
    return {
        "version": normalize.NORMALIZER_VERSION,
        "drop": sorted(normalize._DROP),
        "fold": normalize._BASE_FOLD,
        "homoglyphs": normalize._HOMOGLYPHS,
        "emoji": normalize._EMOJI_WORDS,
        "leet": normalize._LEET,
    }


def feature_code() -> dict:
    """Settings of the code that turns an ad into features, besides the data files."""
    return {
        "features": features.feature_spec(),
        "langid": [
            langid.LANGID_VERSION,
            langid.UR_SCRIPT_SHARE,
            langid.MIXED_SCRIPT_SHARE,
            langid.MIN_LETTERS_UNKNOWN_WORDS,
        ],
        "entities": entities.ENTITIES_VERSION,
        "rules": [rules.LEXICON_VERSION, rules.UNREALISTIC_PKR_PER_MONTH],
    }


def feature_fingerprints() -> dict:
    """The fingerprints of this code with the packs registered now (see the module docstring)."""
    folder = resources.files("nigehbaan.inference").joinpath("resources")
    return {
        "normalizer_tables": _sha(normalizer_tables()),
        "feature_code": _sha(feature_code()),
        "entity_resources": {
            name: _sha(folder.joinpath(name).read_text(encoding="utf-8")) for name in ENTITY_RESOURCES
        },
        "lang_packs": pack_fingerprints(),
    }


def _short(value) -> str:
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}: {str(v)[:12]}" for k, v in value.items()) + "}"
    return str(value)[:12]


def fingerprint_problems(stored: dict, current: dict | None = None) -> list[str]:
    """What differs between a contract's fingerprints and this code's (empty: all match)."""
    current = current or feature_fingerprints()
    problems = []
    for key in KEYS:
        want, have = stored.get(key), current[key]
        if key == "lang_packs" and want != have:
            if list(want or {}) != list(have):
                problems.append(
                    f"language packs {', '.join(want or {}) or 'none'} (this code: "
                    f"{', '.join(have)})"
                )
            for code in want or {}:
                if code in have and want[code] != have[code]:
                    problems.append(
                        f"language pack {code} sha256 {want[code][:12]} (this code: {have[code][:12]})"
                    )
        elif want != have:
            problems.append(f"{key.replace('_', ' ')} sha256 {_short(want)} (this code: {_short(have)})")
    return problems


def extra_packs_hint() -> str:
    """A sentence for the fix when packs beyond the built-in ones are registered, else ''."""
    builtin = len(BUILTIN)
    extra = packs()[builtin:]
    if not extra:
        return ""
    names = ", ".join(f"{p.code} ({p.source})" for p in extra)
    return (
        f" Extra language packs are registered: {names}. A trained model runs only with the "
        "packs it was trained with: unregister them (unset NIGEHBAAN_LANG_PACKS), score with "
        "the rules-only model (--model models/rules), or train a model with them."
    )
