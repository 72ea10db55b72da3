"""The span model: evidence from the encoder, not only from rules (issue 13).

A token tagger over the encoder's last hidden states: for each of the 18 indicators,
P(token inside an evidence span of that indicator) = sigmoid(hidden @ span_W + span_b), one
linear layer (`spans.safetensors`: `span_W` (hidden, 18), `span_b` (18,)). The encoder is the
model's own (`contract.encoder`, bound to the model directory by `bind_spec`), so a
fine-tuned encoder stored in the model directory works unchanged.

The encoder reads what the stack's head reads: the spec's prefix + `AdAnalysis.norm_text`, up
to the spec's `max_length` tokens (evidence past that point comes from rules only). Token
offsets (from the fast tokenizer) are normalised-text offsets; tokens at or above the
indicator's token threshold are merged when contiguous, snapped outwards to word boundaries,
and mapped to ORIGINAL offsets with the normaliser's offset map (`Normalized.to_original`,
as rule hits are), so `text[start:end] == evidence text` always holds.

`encode` runs the encoder once per ad and gives both the pooled embedding (bitwise what
`encoder.embed` gives: same tokens, same shape-stable padding, same pooling) and the token
probabilities, so a span model costs no second encoder pass at scoring time.

Contract (`contract.spans`, empty for a model without a span head): `version`, `labels` (the
indicator order of the columns; refused when it is not this code's), `encoder` ("contract"
- the model's own encoder spec), `file`, `token_thresholds` {indicator: t}. Grounding: see
`ground_indicators`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from nigehbaan.inference.errors import ModelContractError
from nigehbaan.inference.labels import INDICATORS

SPANS_VERSION = "nigehbaan.spans.v1"
SPANS_FILE = "spans.safetensors"
# Evidence scores: a rule hit is a match of a documented lexicon/entity rule, not a
# probability; it is reported as 1.0 (the rule fired). A model span carries the highest token
# probability inside it.
RULE_EVIDENCE_SCORE = 1.0


@dataclass
class TokenOutput:
    """One ad's token probabilities `P` (tokens, 18) and normalised-text `offsets` (tokens, 2)."""

    P: np.ndarray
    offsets: np.ndarray


def check_spans_contract(spans: dict, where) -> None:
    """Refuse a span model built for another label set or span recipe (expected/found/fix)."""
    if not spans:
        return
    if spans.get("version") != SPANS_VERSION:
        raise ModelContractError(
            f"model {where}: span model version {spans.get('version')!r}, this code reads "
            f"{SPANS_VERSION!r}. Fix: retrain it with `nigehbaan train --config ...` "
            "(span_head: true) on this version."
        )
    if list(spans.get("labels") or []) != list(INDICATORS):
        found = list(spans.get("labels") or [])
        raise ModelContractError(
            f"model {where}: its span model was built for another label set: expected the "
            f"{len(INDICATORS)} indicators {list(INDICATORS)}, found {len(found)}: {found}. "
            "Fix: retrain it with `nigehbaan train --config ...` (span_head: true) on this "
            "version, or drop `spans` from contract.json and spans.safetensors to score "
            "without model evidence."
        )


def load_span_arrays(folder: Path, spans: dict) -> dict[str, np.ndarray]:
    from safetensors.numpy import load_file

    path = Path(folder) / spans.get("file", SPANS_FILE)
    if not path.is_file():
        raise ModelContractError(
            f"model {folder}: its contract names a span model, expected {path}; found none. "
            "Fix: copy the whole model directory, or retrain it."
        )
    arrays = load_file(str(path))
    W = arrays.get("span_W")
    if W is None or W.shape[1] != len(INDICATORS):
        raise ModelContractError(
            f"model {folder}: {path.name} should hold span_W (hidden, {len(INDICATORS)}); found "
            f"{None if W is None else W.shape}. Fix: retrain it."
        )
    return arrays


def save_span_arrays(folder: Path, W: np.ndarray, b: np.ndarray) -> None:
    from safetensors.numpy import save_file

    save_file({"span_W": np.ascontiguousarray(W, dtype=np.float32),
               "span_b": np.ascontiguousarray(b, dtype=np.float32)}, str(Path(folder) / SPANS_FILE))


# --------------------------------------------------------------------------- encoding


def hidden_states(texts: list[str], spec: dict) -> tuple[np.ndarray, list[np.ndarray], list[np.ndarray]]:
    """One encoder pass: (pooled embeddings (n, hidden) as `encoder.embed` gives them, per-ad
    last hidden states (tokens, hidden) float32, per-ad offsets (tokens, 2) into each text).

    Special tokens and the prefix are dropped from the token lists. Batching is
    `encoder.shape_stable_batches`, as for `encoder._encode`, so an ad's states do not depend on
    its batch."""
    import torch
    from nigehbaan.inference.encoder import (
        get_encoder,
        mean_pool,
        resolve_spec,
        shape_stable_batches,
    )

    spec = resolve_spec(spec)
    model, tok = get_encoder(spec)
    hidden = model.config.hidden_size
    n = len(texts)
    pooled = np.zeros((n, hidden), dtype=np.float32)
    states: list[np.ndarray] = [np.zeros((0, hidden), dtype=np.float32)] * n
    offsets: list[np.ndarray] = [np.zeros((0, 2), dtype=np.int64)] * n
    if not n:
        return pooled, states, offsets
    prefix, max_length = spec["prefix"], int(spec["max_length"])
    enc = tok([prefix + t for t in texts], truncation=True, max_length=max_length,
              padding=False, return_offsets_mapping=True, return_special_tokens_mask=True)
    ids = enc["input_ids"]
    with torch.inference_mode():
        for idx, batch in shape_stable_batches(ids, spec, tok, model.device):
            h = model(**batch).last_hidden_state
            pooled[idx] = mean_pool(h, batch["attention_mask"]).cpu().numpy()
            hf = h.float().cpu().numpy()
            for r, i in enumerate(idx):
                off = np.asarray(enc["offset_mapping"][i], dtype=np.int64).reshape(-1, 2)
                keep = (np.asarray(enc["special_tokens_mask"][i]) == 0) & (off[:, 1] > len(prefix))
                keep &= off[:, 1] > off[:, 0]
                states[i] = hf[r, : len(ids[i])][keep]
                offsets[i] = np.clip(off[keep] - len(prefix), 0, None)
    return pooled, states, offsets


def token_probs(states: np.ndarray, arrays: dict) -> np.ndarray:
    z = states @ arrays["span_W"] + arrays["span_b"]
    return 1.0 / (1.0 + np.exp(-np.clip(z, -30, 30)))


def encode(norm_texts: list[str], spec: dict, arrays: dict) -> tuple[np.ndarray, list[TokenOutput]]:
    """Pooled embeddings and each ad's token probabilities, from one encoder pass."""
    pooled, states, offsets = hidden_states(norm_texts, spec)
    return pooled, [TokenOutput(token_probs(s, arrays), o) for s, o in zip(states, offsets, strict=True)]


# --------------------------------------------------------------------------- spans


def _is_word(ch: str) -> bool:
    return ch.isalnum() or ch == "_"


def token_spans(norm_text: str, out: TokenOutput, j: int, threshold: float) -> list[tuple[int, int, float]]:
    """Normalised-text spans (start, end, score) of indicator column `j`: tokens at or above
    `threshold`, contiguous ones merged (only white space between them), snapped outwards to
    word boundaries; score = the highest token probability inside."""
    hot = np.flatnonzero(out.P[:, j] >= threshold) if len(out.P) else []
    merged: list[list] = []
    for t in hot:
        s, e = int(out.offsets[t, 0]), int(out.offsets[t, 1])
        s, e = min(s, len(norm_text)), min(e, len(norm_text))
        p = float(out.P[t, j])
        if merged and merged[-1][3] == t - 1 and not norm_text[merged[-1][1] : s].strip():
            merged[-1][1], merged[-1][2], merged[-1][3] = max(e, merged[-1][1]), max(p, merged[-1][2]), t
        else:
            merged.append([s, e, p, t])
    spans = []
    for s, e, p, _ in merged:
        while s > 0 and _is_word(norm_text[s - 1]) and s < len(norm_text) and _is_word(norm_text[s]):
            s -= 1
        while e < len(norm_text) and e > 0 and _is_word(norm_text[e]) and _is_word(norm_text[e - 1]):
            e += 1
        while s < e and norm_text[s].isspace():
            s += 1
        while e > s and norm_text[e - 1].isspace():
            e -= 1
        if e > s:
            if spans and s <= spans[-1][1]:  # snapping made two spans touch: one span
                spans[-1] = (spans[-1][0], max(e, spans[-1][1]), max(p, spans[-1][2]))
            else:
                spans.append((s, e, p))
    return spans


def model_evidence(text: str, norm, out: TokenOutput, j: int, threshold: float) -> list[dict]:
    """Evidence items of indicator column `j` in ORIGINAL offsets of `text` (`norm` is
    `normalize(text[:MAX_ANALYSED_CHARS])`, whose `original` is a prefix of `text`)."""
    items = []
    for s, e, p in token_spans(norm.text, out, j, threshold):
        start, end = norm.to_original(s, e)
        if end > start and text[start:end].strip():
            items.append({"start": start, "end": end, "text": text[start:end], "source": "model",
                          "score": round(p, 4)})
    return items


def merge_evidence(rule: list[dict], model: list[dict]) -> list[dict]:
    """The evidence an indicator shows: its rule hits when a rule found any; else the one
    highest-scoring model span. Measured on the default model's dev and gold sets (corpus v4),
    adding every model span beside the rule hits kept the same coverage but halved span
    precision (gold 0.37 against 0.75 for this rule; recall 0.83 against 0.70): the model
    grounds what the rules cannot, and one span is what it marks best."""
    if rule:
        return sorted(rule, key=lambda e: (e["start"], e["end"]))
    return sorted(model, key=lambda e: (-e["score"], e["start"]))[:1]


def ground_indicators(text: str, analysis, probs, contract, tokens: TokenOutput | None = None,
                      norm=None) -> list[dict]:
    """The scored row's `indicators`: those at or above their threshold, each with its
    evidence (its rule hits, else the best model span when the model has a span head), `grounded` (at
    least one evidence item) and, for a contract with `ungrounded_thresholds`, an indicator
    without evidence kept only at or above that higher threshold. Highest score first.

    `tokens`: the ad's `TokenOutput` (None: rules only); `norm`: its `Normalized` (default: the
    analysis's own; computed here only for an analysis built without one)."""
    thresholds = contract.indicator_thresholds
    ungrounded = getattr(contract, "ungrounded_thresholds", None) or {}
    token_t = (getattr(contract, "spans", None) or {}).get("token_thresholds") or {}
    norm = norm if norm is not None else getattr(analysis, "norm", None)
    if tokens is not None and norm is None:
        from nigehbaan.inference.normalize import normalize
        from nigehbaan.inference.scorer import MAX_ANALYSED_CHARS

        norm = normalize(text[:MAX_ANALYSED_CHARS])
    indicators = []
    for j, ind in enumerate(INDICATORS, start=1):
        p = float(probs[j])
        if p < thresholds[ind]:
            continue
        evidence, seen = [], set()
        for h in analysis.hits:
            if h.indicator == ind and not h.negated and (h.start, h.end) not in seen:
                seen.add((h.start, h.end))
                evidence.append({
                    "start": h.start, "end": h.end, "text": text[h.start : h.end],
                    "source": "rule",  # a lexicon or entity rule found it (schema.Evidence)
                    "score": RULE_EVIDENCE_SCORE,
                })
        evidence.sort(key=lambda e: e["start"])
        if tokens is not None and ind in token_t:
            evidence = merge_evidence(
                evidence, model_evidence(text, norm, tokens, j - 1, float(token_t[ind])))
        grounded = bool(evidence)
        if not grounded and ind in ungrounded and p < float(ungrounded[ind]):
            continue
        indicators.append({"id": ind, "score": round(p, 4), "evidence": evidence,
                           "grounded": grounded})
    indicators.sort(key=lambda x: -x["score"])
    return indicators
