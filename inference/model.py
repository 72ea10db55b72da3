"""Model directories: the contract, loading with checks, and prediction.

A model directory holds `contract.json` (labels, versions, thresholds, calibration, metrics,
training config) beside its weights (`linear.safetensors`, and for a stacked model
`head.safetensors` plus the name of the encoder to build). Loading compares the contract
with this code and refuses a mismatch with a message that says what to do (style.md #2).

Kinds:
- `rules`: no trained weights; indicator probabilities and risk from documented rule weights.
- `linear`: logistic regressions (risk + 18 indicators) on `inference.features`.
- `stack`: the linear model plus a head on multilingual sentence embeddings, combined per
  label by weights fitted on the dev split.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from nigehbaan.inference.calibration import CALIBRATION_METHODS, calibrate_logit
from nigehbaan.inference.errors import ModelContractError
from nigehbaan.inference.features import FEATURES_VERSION, AdAnalysis, feature_matrix, n_features
from nigehbaan.inference.fingerprint import (
    extra_packs_hint,
    feature_fingerprints,
    fingerprint_problems,
)
from nigehbaan.inference.labels import BANDS, INDICATORS, LABEL_SCHEMA_VERSION, TEXT_KINDS
from nigehbaan.inference.normalize import NORMALIZER_VERSION
from nigehbaan.inference.priority import severity_table
from nigehbaan.inference.rules import lexicon_fingerprint
from safetensors.numpy import load_file, save_file

CONTRACT_FILE = "contract.json"
TARGETS = ("risk", *INDICATORS)  # model output order: column 0 is the ad-level risk
BUNDLED_MODELS = ("default", "fast", "rules")  # shipped in the package as nigehbaan.models
KINDS = ("rules", "linear", "stack")

# Rules-only weights: an indicator's share of the risk logit when its rule fires.
_RULE_RISK_WEIGHT = {
    **dict.fromkeys(
        ["minor_targeted", "organ_trade", "irregular_route", "sexual_services",
         "document_retention", "debt_bondage", "marriage_abroad", "restricted_freedom"], 2.2),
    **dict.fromkeys(
        ["upfront_fee", "unlicensed_overseas", "unrealistic_pay", "gender_age_targeting"], 1.4),
}


def _sigmoid(z: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-np.clip(z, -30, 30)))


@dataclass
class Contract:
    """What a model promises: its outputs, the code versions it needs, its thresholds."""

    name: str
    version: str
    kind: str
    labels: list[str] = field(default_factory=lambda: list(INDICATORS))
    label_schema: str = LABEL_SCHEMA_VERSION
    normalizer: str = NORMALIZER_VERSION
    features: str = FEATURES_VERSION
    lexicon: dict = field(default_factory=lexicon_fingerprint)
    # Hashes of the normaliser tables, feature settings, entity resources and language packs
    # (inference/fingerprint.py); an old contract without them loads with a warning.
    fingerprints: dict = field(default_factory=feature_fingerprints)
    band_thresholds: dict = field(default_factory=lambda: {"high": 0.7, "medium": 0.4})
    indicator_thresholds: dict = field(default_factory=lambda: dict.fromkeys(INDICATORS, 0.5))
    calibration: dict = field(default_factory=lambda: {"method": "none"})
    encoder: dict = field(default_factory=dict)
    # "text_kind": the risk is P(ad) x P(risky ad), so a warning or news item about trafficking
    # is not scored as a trafficking ad (needs a text-kind head); None: the risk as fitted.
    risk_gate: str | None = None
    # Indicator severities for the triage `priority` (inference/priority.py), overriding the
    # default table for the ids given; None (old contracts too): the default table.
    severity: dict | None = None
    # The span model (inference/spans.py): labels, token thresholds, file; {} for none.
    spans: dict = field(default_factory=dict)
    # {indicator: threshold} an indicator without evidence must reach (higher than
    # indicator_thresholds: ungrounded judgements are less precise); {}: no such rule.
    ungrounded_thresholds: dict = field(default_factory=dict)
    metrics: dict = field(default_factory=dict)
    training: dict = field(default_factory=dict)

    def check(self, where: Path) -> None:
        """Refuse a model this code cannot run faithfully (expected / found / fix)."""
        if self.kind not in KINDS:
            raise ModelContractError(
                f"{where}: unknown model kind {self.kind!r}; expected one of {KINDS}. "
                "Fix: upgrade nigehbaan or use a model trained by this version."
            )
        problems = []
        if self.labels != list(INDICATORS) or self.label_schema != LABEL_SCHEMA_VERSION:
            problems.append(f"labels {self.label_schema} (this code: {LABEL_SCHEMA_VERSION})")
        if self.normalizer != NORMALIZER_VERSION:
            problems.append(f"normaliser {self.normalizer} (this code: {NORMALIZER_VERSION})")
        if self.features != FEATURES_VERSION:
            problems.append(f"features {self.features} (this code: {FEATURES_VERSION})")
        current = lexicon_fingerprint()
        if self.kind != "rules" and self.lexicon.get("sha256") != current["sha256"]:
            problems.append(
                f"lexicon {self.lexicon.get('version')} sha256 {str(self.lexicon.get('sha256'))[:12]}"
                f" (this code: {current['version']} sha256 {current['sha256'][:12]})"
            )
        if self.kind != "rules":  # a rules-only model is not fitted: any packs and data will do
            if self.fingerprints:
                problems.extend(fingerprint_problems(self.fingerprints))
            else:
                logging.getLogger(__name__).warning(
                    "model %s has no fingerprints in its contract (made before they existed): "
                    "its features cannot be checked against this code's data", where
                )
        if self.calibration.get("method", "none") not in CALIBRATION_METHODS:
            raise ModelContractError(
                f"{where}: unknown calibration method {self.calibration.get('method')!r}; "
                f"expected one of {CALIBRATION_METHODS}. Fix: upgrade nigehbaan or retrain."
            )
        try:
            severity_table(self.severity)
        except ValueError as exc:
            raise ModelContractError(
                f"{where}: {exc} (found in contract.json). Fix: correct or remove its "
                "`severity` field (see inference/priority.py for the default table)."
            ) from exc
        if self.spans:
            from nigehbaan.inference.spans import check_spans_contract

            check_spans_contract(self.spans, where)
        if problems:
            raise ModelContractError(
                f"model {where} was built for " + "; ".join(problems) + ". Fix: retrain it with "
                "`nigehbaan train --config ...` on this version, or install the nigehbaan "
                "version it was trained with." + extra_packs_hint()
            )

    def save(self, folder: Path) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        (folder / CONTRACT_FILE).write_text(
            json.dumps(self.__dict__, ensure_ascii=False, indent=2) + "\n", encoding="utf-8"
        )


class Model:
    """A loaded model: `predict(analyses)` gives an (n, 19) array of probabilities."""

    def __init__(self, contract: Contract, folder: Path | None = None, arrays: dict | None = None):
        self.contract = contract
        # Severities of the triage priority: the default table with the contract's overrides.
        self.severity = severity_table(contract.severity)
        self.folder = folder
        self.arrays = arrays or {}
        self._encoder = None
        if contract.kind in ("linear", "stack"):
            # Stored compactly (the training columns seen twice or more, float16); expanded once
            # here into a dense (features x targets) matrix: a sparse-times-dense product is
            # several times faster than sparse-times-sparse, for ~40 MB per process.
            rows, W = self.arrays["W_rows"], self.arrays["W"].astype(np.float32)
            self.W = np.zeros((n_features(), len(TARGETS)), dtype=np.float32)
            self.W[rows] = W
            self.b = self.arrays["b"].astype(np.float32)
        self.span_arrays = {k: self.arrays[k] for k in ("span_W", "span_b") if k in self.arrays}
        self.Wk = None
        if "kind_W" in self.arrays:  # a text-kind head: ad / warning / news / other
            self.Wk = np.zeros((n_features(), len(TEXT_KINDS)), dtype=np.float32)
            self.Wk[self.arrays["kind_rows"]] = self.arrays["kind_W"].astype(np.float32)
            self.bk = self.arrays["kind_b"].astype(np.float32)

    @property
    def info(self) -> dict:
        c = self.contract
        out = {
            "name": c.name,
            "version": c.version,
            "kind": c.kind,
            "lexicon": c.lexicon.get("version"),
            "lexicon_sha256": c.lexicon.get("sha256", "")[:12],
        }
        if c.kind == "stack":
            from nigehbaan.inference.encoder import precision

            out["encoder_precision"] = precision(c.encoder)
        return out

    def logits(self, analyses: list[AdAnalysis], X=None, emb=None) -> np.ndarray:
        """Raw per-target logits before calibration, (n, 19). `X`: the analyses' feature
        matrix when the caller has it already; `emb`: their embeddings, likewise."""
        if self.contract.kind == "rules":
            return _rule_logits(analyses)
        return self.combine(self.part_logits(analyses, X, emb))

    def combine(self, parts: dict[str, np.ndarray]) -> np.ndarray:
        """The model's logits from its `part_logits`: the stacking for a stack, else linear."""
        if self.contract.kind == "stack":
            s = self.arrays
            return s["stack_lin"] * parts["linear"] + s["stack_head"] * parts["head"] + s["stack_bias"]
        return parts["linear"]

    def part_logits(self, analyses: list[AdAnalysis], X=None, emb=None) -> dict[str, np.ndarray]:
        """The logits (n, 19) of each part before stacking: `linear` (n-grams + rule
        features) and, for a stack, `head` (the encoder head alone); for model comparisons."""
        X = feature_matrix(analyses) if X is None else X
        out = {"linear": np.asarray(X @ self.W) + self.b}
        if self.contract.kind == "stack":
            from nigehbaan.inference.encoder import bind_spec, embed

            # bind_spec: a fine-tuned encoder is stored inside the model directory.
            spec = bind_spec(self.contract.encoder, self.folder)
            if emb is None:
                emb = embed([a.norm_text for a in analyses], spec)
            out["head"] = emb @ self.arrays["H"] + self.arrays["h"]
        return out

    def predict(self, analyses: list[AdAnalysis], X=None) -> np.ndarray:
        """Calibrated probabilities: column 0 risk, then the 18 indicators."""
        return self.predict_with_kinds(analyses, X)[0]

    def predict_with_evidence(self, analyses: list[AdAnalysis], X=None) -> tuple:
        """`predict_with_kinds` plus, for a model with a span head, each ad's token
        probabilities (inference/spans.py), from one encoder pass; else None."""
        if not self.span_arrays or not analyses:
            return (*self.predict_with_kinds(analyses, X), None)
        from nigehbaan.inference.encoder import bind_spec
        from nigehbaan.inference.spans import encode

        spec = bind_spec(self.contract.encoder, self.folder)
        emb, tokens = encode([a.norm_text for a in analyses], spec, self.span_arrays)
        return (*self.predict_with_kinds(analyses, X, emb), tokens)

    def predict_with_kinds(
        self, analyses: list[AdAnalysis], X=None, emb=None
    ) -> tuple[np.ndarray, np.ndarray | None]:
        """`predict` and `text_kinds` from one feature matrix (what scoring calls). With the
        contract's `risk_gate` "text_kind", the risk is the calibrated risk of an ad times the
        probability that the text is an ad at all."""
        if not analyses:
            return np.zeros((0, len(TARGETS))), None
        if self.contract.kind != "rules" and X is None:
            X = feature_matrix(analyses)
        z = self.logits(analyses, X, emb)
        cal = self.contract.calibration
        z[:, 0] = calibrate_logit(z[:, 0], cal)
        P = _sigmoid(z)
        K = self.text_kinds(analyses, X) if self.Wk is not None else None
        if self.contract.risk_gate == "text_kind" and K is not None:
            P[:, 0] *= K[:, TEXT_KINDS.index("ad")]
        return P, K

    def text_kinds(self, analyses: list[AdAnalysis], X=None) -> np.ndarray | None:
        """(n, 4) probabilities over TEXT_KINDS (ad, warning, news, other), or None for a model
        without a text-kind head (the rules model, models trained before it existed)."""
        if self.Wk is None:
            return None
        X = feature_matrix(analyses) if X is None else X
        z = np.asarray(X @ self.Wk) + self.bk
        z -= z.max(axis=1, keepdims=True)
        e = np.exp(z)
        return e / e.sum(axis=1, keepdims=True)

    def band(self, risk: float) -> str:
        t = self.contract.band_thresholds
        return BANDS[0] if risk >= t["high"] else BANDS[1] if risk >= t["medium"] else BANDS[2]


def _rule_logits(analyses: list[AdAnalysis]) -> np.ndarray:
    """Rules-only scores (kind `rules`): documented weights, not fitted, not calibrated."""
    out = np.full((len(analyses), len(TARGETS)), -3.0)
    for r, a in enumerate(analyses):
        risk = -3.5
        fired = 0
        for j, ind in enumerate(INDICATORS, start=1):
            hits = [h for h in a.hits if h.indicator == ind and not h.negated]
            if not hits:
                continue
            strong = any(h.multiword for h in hits)
            out[r, j] = 2.2 if strong else 0.4
            if strong:
                fired += 1
                risk += _RULE_RISK_WEIGHT.get(ind, 0.6)
        risk += 0.4 * max(fired - 2, 0)  # combinations matter more than any single cue
        out[r, 0] = risk
    return out


def save_model(folder: Path, contract: Contract, arrays: dict[str, np.ndarray]) -> None:
    """Write contract.json and the weights (safetensors only, never pickle)."""
    folder = Path(folder)
    contract.save(folder)
    lin = {k: v for k, v in arrays.items() if not k.startswith(("H", "h", "span_"))}
    if "span_W" in arrays:
        from nigehbaan.inference.spans import save_span_arrays

        save_span_arrays(folder, arrays["span_W"], arrays["span_b"])
    head = {k: v for k, v in arrays.items() if k in ("H", "h")}
    if lin:
        save_file({k: np.ascontiguousarray(v) for k, v in lin.items()}, str(folder / "linear.safetensors"))
    if head:
        save_file({k: np.ascontiguousarray(v) for k, v in head.items()}, str(folder / "head.safetensors"))


def bundled_model_dir(name: str = "default") -> Path:
    """The directory of a bundled model, found through importlib.resources so that a checkout,
    an editable install and an installed wheel all resolve it (models/ installs as
    `nigehbaan.models`)."""
    from importlib.resources import files

    if name not in BUNDLED_MODELS:
        raise ModelContractError(
            f"no bundled model {name!r}: expected one of {', '.join(BUNDLED_MODELS)}."
        )
    return Path(str(files("nigehbaan.models") / name))


def resolve_model_dir(name_or_path: str | Path | None = None) -> Path:
    """What `--model` means: nothing -> the bundled default; a bundled model's name (`default`,
    `fast`, `rules`) -> that model; anything else -> a directory (write `./fast` for a local
    folder that shares a bundled name)."""
    if name_or_path is None or str(name_or_path) == "":
        return bundled_model_dir("default")
    if isinstance(name_or_path, str) and name_or_path in BUNDLED_MODELS:
        return bundled_model_dir(name_or_path)
    folder = Path(name_or_path)
    if not folder.exists():
        raise ModelContractError(
            f"no model at {str(name_or_path)!r}: expected the name of a bundled model "
            f"({', '.join(BUNDLED_MODELS)}) or a model directory with {CONTRACT_FILE}; found "
            "neither. Fix: pass --model fast (or default, rules), or a directory written by "
            "`nigehbaan train`."
        )
    return folder


def load_model(folder: str | Path | None = None) -> Model:
    """Load and check a model: a bundled model's name or a directory (see
    `resolve_model_dir`; default: the bundled `default`)."""
    folder = resolve_model_dir(folder)
    path = folder / CONTRACT_FILE
    if not path.is_file():
        raise ModelContractError(
            f"no model at {folder}: expected {CONTRACT_FILE} there. Fix: pass --model with a "
            "directory written by `nigehbaan train`, or omit it to use the bundled model."
        )
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        data.setdefault("fingerprints", {})  # an old contract: not today's, but none at all
        contract = Contract(**data)
    except (ValueError, TypeError) as exc:
        raise ModelContractError(f"{path} is not a valid model contract: {exc}") from exc
    contract.check(folder)
    if contract.kind == "stack":
        from nigehbaan.inference.extras import require

        require("encoder", f"the {folder.name} model", "or use --model fast")
    arrays: dict[str, np.ndarray] = {}
    for name in ("linear.safetensors", "head.safetensors"):
        if (folder / name).is_file():
            arrays.update(load_file(str(folder / name)))
    if contract.spans:
        from nigehbaan.inference.spans import load_span_arrays

        arrays.update(load_span_arrays(folder, contract.spans))
    if contract.kind in ("linear", "stack") and "W_rows" not in arrays:
        raise ModelContractError(f"{folder}: kind {contract.kind} needs linear.safetensors")
    return Model(contract, folder, arrays)
