"""Fit the span model (inference/spans.py) and the ungrounded-indicator thresholds.

`fit_span_head` is called by `training.train.train` for `kind: stack` with `span_head: true`,
after the stack is fitted:

1. Training ads: those whose indicators are all covered by corpus `spans` ({indicator, start,
   end, text} in ORIGINAL offsets), plus ads with no indicator at all (every token negative).
   An indicator present in an ad without any span of its own is masked for that ad (its
   tokens are unknown, not negative); augmented rows carry no spans and are not used.
2. Gold spans are moved onto the normalised text the encoder reads (the normaliser's offset
   map, inverted), and a token is positive for an indicator when its characters overlap a
   span of that indicator.
3. Last hidden states of the model's own encoder (`inference.spans.hidden_states`, frozen),
   one linear layer trained with per-indicator positive weights (negatives / positives,
   capped) and L2, full batch Adam: deterministic and a few seconds of CPU.
4. Per indicator the dev token-F1-best token threshold.
5. `choose_ungrounded_thresholds`: for the indicators the model would show without evidence,
   a higher threshold chosen on dev so that their precision reaches the grounded precision.
"""

from __future__ import annotations

import logging
import time

import numpy as np
from nigehbaan.inference.encoder import bind_spec
from nigehbaan.inference.labels import INDICATORS
from nigehbaan.inference.normalize import normalize
from nigehbaan.inference.scorer import MAX_ANALYSED_CHARS
from nigehbaan.inference.spans import (
    SPANS_FILE,
    SPANS_VERSION,
    TokenOutput,
    ground_indicators,
    hidden_states,
    token_probs,
)

log = logging.getLogger(__name__)

_IDX = {ind: j for j, ind in enumerate(INDICATORS)}
_POS_WEIGHT_CAP = 50.0
_TOKEN_GRID = np.round(np.arange(0.1, 0.96, 0.05), 2)
_UNGROUNDED_GRID = np.round(np.arange(0.3, 1.0, 0.02), 2)
MAX_NEGATIVE_ADS = 1500  # ads with no indicator: plenty of negative tokens, bounded memory


def span_rows(rows: list[dict], seed: int = 13) -> list[dict]:
    """The rows that can teach the tagger: carrying spans, or with no indicator (sampled)."""
    with_spans = [r for r in rows if r.get("spans")]
    negatives = [r for r in rows if not r.get("indicators") and not r.get("spans")]
    rng = np.random.default_rng(seed)
    if len(negatives) > MAX_NEGATIVE_ADS:
        negatives = [negatives[i] for i in sorted(rng.choice(len(negatives), MAX_NEGATIVE_ADS,
                                                             replace=False))]
    return with_spans + negatives


def _norm_spans(row: dict) -> tuple[str, list[tuple[int, int, int]]]:
    """The normalised text and the row's spans as (indicator column, start, end) in it."""
    norm = normalize(row["text"][:MAX_ANALYSED_CHARS])
    starts, ends = np.asarray(norm.starts), np.asarray(norm.ends)
    out = []
    for sp in row.get("spans") or []:
        if sp.get("indicator") not in _IDX:
            continue
        # normalised characters whose original range overlaps the span
        hit = np.flatnonzero((starts < sp["end"]) & (ends > sp["start"]))
        if len(hit):
            out.append((_IDX[sp["indicator"]], int(hit[0]), int(hit[-1]) + 1))
    return norm.text, out


def token_labels(row: dict, offsets: np.ndarray, spans) -> tuple[np.ndarray, np.ndarray]:
    """(tokens, 18) labels and a (tokens, 18) mask (0 where the indicator is present without
    a span of its own: unknown)."""
    Y = np.zeros((len(offsets), len(INDICATORS)), dtype=np.float32)
    for j, s, e in spans:
        Y[(offsets[:, 0] < e) & (offsets[:, 1] > s), j] = 1.0
    M = np.ones_like(Y)
    spanned = {j for j, _, _ in spans}
    for ind in row.get("indicators") or []:
        if ind in _IDX and _IDX[ind] not in spanned:
            M[:, _IDX[ind]] = 0.0
    return Y, M


def _tokens(rows: list[dict], spec: dict):
    texts, gold = [], []
    for r in rows:
        t, s = _norm_spans(r)
        texts.append(t)
        gold.append(s)
    _, states, offsets = hidden_states(texts, spec)
    Y, M = zip(*(token_labels(r, o, g) for r, o, g in zip(rows, offsets, gold, strict=True)),
               strict=True) if rows else ((), ())
    return states, offsets, list(Y), list(M)


def fit_linear_tagger(S: np.ndarray, Y: np.ndarray, M: np.ndarray, seed: int = 13,
                      steps: int = 300, l2: float = 1e-3) -> tuple[np.ndarray, np.ndarray]:
    """(W (hidden, 18), b (18,)) of a per-indicator logistic layer on token states `S`,
    positives weighted by negatives / positives (capped), masked entries ignored."""
    import torch

    torch.manual_seed(seed)
    mu, sd = S.mean(axis=0), S.std(axis=0) + 1e-6
    X = torch.from_numpy(((S - mu) / sd).astype(np.float32))
    y, m = torch.from_numpy(Y), torch.from_numpy(M)
    pos = (y * m).sum(0)
    neg = ((1 - y) * m).sum(0)
    pw = torch.clamp(neg / pos.clamp(min=1.0), 1.0, _POS_WEIGHT_CAP)
    lin = torch.nn.Linear(X.shape[1], Y.shape[1])
    torch.nn.init.zeros_(lin.weight)
    opt = torch.optim.Adam(lin.parameters(), lr=0.05)
    loss_fn = torch.nn.BCEWithLogitsLoss(pos_weight=pw, reduction="none")
    for _ in range(steps):
        opt.zero_grad()
        loss = (loss_fn(lin(X), y) * m).sum() / m.sum().clamp(min=1.0)
        loss = loss + l2 * (lin.weight ** 2).sum()
        loss.backward()
        opt.step()
    w = lin.weight.detach().numpy().T / sd[:, None]  # standardisation folded into the weights
    b = lin.bias.detach().numpy() - mu @ w
    return w.astype(np.float32), b.astype(np.float32)


def choose_token_thresholds(P: np.ndarray, Y: np.ndarray, M: np.ndarray) -> dict:
    """Per indicator the dev token-F1-best threshold (0.5 with fewer than 3 positive tokens)."""
    out = {}
    for j, ind in enumerate(INDICATORS):
        keep = M[:, j] > 0
        y, p = Y[keep, j] > 0, P[keep, j]
        if y.sum() < 3:
            out[ind] = 0.5
            continue
        best, best_t = -1.0, 0.5
        for t in _TOKEN_GRID:
            pred = p >= t
            tp = float((pred & y).sum())
            f1 = 2 * tp / max(pred.sum() + y.sum(), 1)
            if f1 > best:
                best, best_t = f1, float(t)
        out[ind] = best_t
    return out


def fit_span_head(cfg, train_rows: list[dict], dev_rows: list[dict], contract) -> tuple[dict, dict]:
    """The span arrays (`span_W`, `span_b`) and the contract's `spans` dict."""
    t0 = time.time()
    spec = bind_spec(contract.encoder, cfg.output_dir)
    tr = span_rows(train_rows, cfg.seed)
    dv = span_rows(dev_rows, cfg.seed)
    S, _, Y, M = _tokens(tr, spec)
    W, b = fit_linear_tagger(np.vstack(S), np.vstack(Y), np.vstack(M), cfg.seed)
    Sd, _, Yd, Md = _tokens(dv, spec)
    arrays = {"span_W": W, "span_b": b}
    Pd = token_probs(np.vstack(Sd), arrays) if Sd else np.zeros((0, len(INDICATORS)))
    thresholds = choose_token_thresholds(Pd, np.vstack(Yd), np.vstack(Md))
    log.info("span head: %d train ads (%d tokens), %d dev ads, %.1fs", len(tr),
             sum(len(s) for s in S), len(dv), time.time() - t0)
    spans = {"version": SPANS_VERSION, "labels": list(INDICATORS), "encoder": "contract",
             "file": SPANS_FILE, "token_thresholds": thresholds,
             "train_ads": len(tr), "max_length": int(spec["max_length"])}
    return arrays, spans


def grounded_flags(rows, analyses, P, contract, tokens) -> tuple[np.ndarray, np.ndarray]:
    """(n, 18) booleans: would the indicator carry evidence if shown; and (n, 18) labels."""
    from dataclasses import replace

    shown_all = replace(contract, indicator_thresholds=dict.fromkeys(INDICATORS, 0.0),
                        ungrounded_thresholds={})
    G = np.zeros((len(rows), len(INDICATORS)), dtype=bool)
    for i, (r, a) in enumerate(zip(rows, analyses, strict=True)):
        for item in ground_indicators(r["text"], a, P[i], shown_all,
                                      None if tokens is None else tokens[i]):
            G[i, _IDX[item["id"]]] = item["grounded"]
    Y = np.array([[int(ind in r["indicators"]) for ind in INDICATORS] for r in rows], dtype=bool)
    return G, Y.reshape(-1, len(INDICATORS))


def choose_ungrounded_thresholds(P: np.ndarray, G: np.ndarray, Y: np.ndarray,
                                 thresholds: dict) -> dict:
    """{indicator: threshold} for indicators shown without evidence, chosen on dev.

    One value for all indicators (dev holds few ungrounded positives per indicator): the
    lowest grid value whose ungrounded dev precision reaches the grounded dev precision at
    the model's own thresholds, else the F1-best for ungrounded pairs; never below an
    indicator's own threshold."""
    T = np.array([thresholds[i] for i in INDICATORS])
    shown = P >= T
    g = shown & G
    grounded_precision = float((g & Y).sum() / max(g.sum(), 1))
    U = ~G
    best_t, best_f1, chosen = 1.0, -1.0, None
    for t in _UNGROUNDED_GRID:
        pred = U & (P >= np.maximum(T, t))
        tp = float((pred & Y).sum())
        prec = tp / max(pred.sum(), 1)
        f1 = 2 * tp / max(pred.sum() + (U & Y).sum(), 1)
        if f1 > best_f1:
            best_f1, best_t = f1, float(t)
        if chosen is None and pred.sum() and prec >= grounded_precision:
            chosen = float(t)
    t = chosen if chosen is not None else best_t
    log.info("ungrounded threshold %.2f (grounded dev precision %.3f)", t, grounded_precision)
    return {ind: round(max(float(thresholds[ind]), t), 2) for ind in INDICATORS}


def token_outputs(model, analyses) -> list[TokenOutput] | None:
    """Each ad's token probabilities under `model` (None without a span head)."""
    return model.predict_with_evidence(analyses)[2]
