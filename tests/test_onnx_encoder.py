"""The opt-in ONNX Runtime encoder backends (inference/onnx_encoder.py) on the tiny local BERT
of test_encoder.py: same answers as torch within tolerance, an ad's output bitwise the same
alone and in any batch, the span model's token states through the same path."""

from __future__ import annotations

import numpy as np
import pytest
from nigehbaan.inference.errors import UsageError

from tests.test_encoder import LINES, tiny_encoder  # noqa: F401 (fixture)

pytest.importorskip("onnxruntime")
pytest.importorskip("onnx")


@pytest.fixture
def onnx_env(monkeypatch, tmp_path):
    from nigehbaan.inference.encoder import clear_cache

    monkeypatch.setenv("NIGEHBAAN_CACHE", str(tmp_path))  # built ONNX files go here
    monkeypatch.setenv("NIGEHBAAN_EMBED_MEMO", "0")
    monkeypatch.setenv("NIGEHBAAN_ENCODER_PRECISION", "float32")
    clear_cache()
    yield monkeypatch
    clear_cache()


def _spec(path, **kw) -> dict:
    return {"source": str(path), "max_length": 64, "batch_size": 4, **kw}


@pytest.mark.parametrize("backend,tol", [("onnx", 1e-5), ("onnx-int8", 0.05)])
def test_onnx_matches_torch_and_is_batch_independent(tiny_encoder, onnx_env, backend, tol):  # noqa: F811
    from nigehbaan.inference.encoder import cache_dir, clear_cache, embed, precision

    spec = _spec(tiny_encoder)
    texts = [*LINES, "ok", LINES[2] * 4]
    ref = embed(texts, spec)
    onnx_env.setenv("NIGEHBAAN_ENCODER_BACKEND", backend)
    clear_cache()
    assert precision(spec) == {"onnx": "onnx-float32"}.get(backend, backend)
    E = embed(texts, spec)
    assert E.shape == ref.shape and E.dtype == np.float32
    np.testing.assert_allclose(E, ref, atol=tol)
    alone = np.vstack([embed([t], spec) for t in texts])
    for k in (1, 3, 7):
        mixed = embed(texts + LINES[::-1], {**spec, "batch_size": k})
        np.testing.assert_array_equal(mixed[: len(texts)], alone)
    assert len(list((cache_dir() / "onnx").glob(f"{backend}-*/model.onnx"))) == 1  # cached


def test_onnx_token_states_for_the_span_model(tiny_encoder, onnx_env):  # noqa: F811
    from nigehbaan.inference.encoder import clear_cache, embed
    from nigehbaan.inference.spans import hidden_states

    spec = _spec(tiny_encoder)
    ref_pooled, ref_states, ref_off = hidden_states(LINES, spec)
    onnx_env.setenv("NIGEHBAAN_ENCODER_BACKEND", "onnx")
    clear_cache()
    pooled, states, off = hidden_states(LINES, spec)
    np.testing.assert_array_equal(pooled, embed(LINES, spec))  # one pass, same pooling
    np.testing.assert_allclose(pooled, ref_pooled, atol=1e-5)
    for a, b, oa, ob in zip(states, ref_states, off, ref_off, strict=True):
        np.testing.assert_allclose(a, b, atol=1e-4)
        np.testing.assert_array_equal(oa, ob)


def test_unknown_backend_is_refused(tiny_encoder, onnx_env):  # noqa: F811
    from nigehbaan.inference.encoder import embed

    onnx_env.setenv("NIGEHBAAN_ENCODER_BACKEND", "tensorrt")
    with pytest.raises(UsageError, match="NIGEHBAAN_ENCODER_BACKEND='tensorrt': expected one of"):
        embed(LINES[:1], _spec(tiny_encoder))
