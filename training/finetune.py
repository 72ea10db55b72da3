"""Fine-tune the encoder for `encoder_mode: finetune` (GPU-oriented; runs on CPU, slowly).

A multi-task model - the encoder, the same masked mean pooling as `inference.encoder`, and a
linear layer with one logit per target (risk + 18 indicators) - is trained with binary
cross-entropy by `transformers.Trainer` on a `datasets.Dataset` of the normalised train ads,
evaluated on dev every epoch (risk PR-AUC, indicator micro-F1 at 0.5). Only the encoder is
kept: it is saved (safetensors + config + tokenizer) into the model directory, and
`training.stack` then fits the same embedding head and stacking as for a frozen encoder, so a
fine-tuned model is scored by exactly the same code path.

Imported only in finetune mode (it imports torch and transformers at load).
Per-epoch metrics go to `finetune_history.json` beside the encoder and, with `mlflow: true`,
to an MLflow run `<name>-<version>-finetune` (our callback, so the run lands in the same
store and experiment as `training.tracking`).
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import tempfile
from pathlib import Path

import numpy as np
import torch
from nigehbaan.inference.encoder import load_encoder, mean_pool
from nigehbaan.training.config import TrainConfig
from nigehbaan.training.corpus.data import targets
from transformers import PrinterCallback, TrainerCallback

log = logging.getLogger(__name__)
HISTORY_FILE = "finetune_history.json"


def finetune_encoder(cfg: TrainConfig, train_rows: list[dict], dev_rows: list[dict],
                     analyses: dict, out_dir: Path, prefix: str = "") -> Path:
    """Fine-tune `cfg.encoder` on the train ads; save the encoder into `out_dir`."""
    from datasets import Dataset
    from transformers import DataCollatorWithPadding, Trainer, TrainingArguments

    encoder, tok = load_encoder(cfg.encoder)

    def dataset(split: str, rows: list[dict]) -> Dataset:
        enc = tok([prefix + a.norm_text for a in analyses[split]], truncation=True,
                  max_length=cfg.max_length)
        return Dataset.from_dict({"input_ids": enc["input_ids"],
                                  "attention_mask": enc["attention_mask"],
                                  "labels": targets(rows).astype(np.float32).tolist()})

    Y = targets(train_rows).astype(np.float64)
    pos_weight = None
    if cfg.class_weight == "balanced":  # the linear model's class weighting, as BCE pos_weight
        pos = Y.sum(0)
        pos_weight = torch.tensor(np.clip((len(Y) - pos) / np.maximum(pos, 1), 1, 50),
                                  dtype=torch.float32)
    torch.manual_seed(cfg.seed)  # the head is created here, before Trainer seeds anything
    model = MultiTaskModel(encoder, Y.shape[1], pos_weight)
    cuda = torch.cuda.is_available()
    history = _History(_mlflow_run(cfg) if cfg.mlflow else None)
    with tempfile.TemporaryDirectory() as tmp:
        args = TrainingArguments(
            output_dir=tmp, num_train_epochs=cfg.epochs, max_steps=cfg.max_steps,
            learning_rate=cfg.learning_rate, per_device_train_batch_size=cfg.batch_size,
            per_device_eval_batch_size=cfg.batch_size * 2, warmup_steps=0.06,
            weight_decay=0.01, eval_strategy="epoch", logging_strategy="epoch",
            save_strategy="no", report_to="none", seed=cfg.seed, use_cpu=not cuda,
            bf16=cuda and torch.cuda.is_bf16_supported(), disable_tqdm=True,
            train_sampling_strategy="group_by_length",  # less padding per batch
            dataloader_num_workers=0,
        )
        trainer = Trainer(
            model=model, args=args, train_dataset=dataset("train", train_rows),
            eval_dataset=dataset("dev", dev_rows), data_collator=DataCollatorWithPadding(tok),
            compute_metrics=_compute_metrics, callbacks=[history],
        )
        trainer.remove_callback(PrinterCallback)  # _History logs each row instead of print()
        try:
            trainer.train()
            if not any("eval_loss" in r for r in history.rows):  # stopped by max_steps mid-epoch
                trainer.evaluate()
        finally:
            if history.run is not None:
                import mlflow

                mlflow.end_run()
    out_dir = Path(out_dir)
    if out_dir.exists():
        shutil.rmtree(out_dir)
    encoder = model.encoder.to("cpu").float().eval()
    encoder.save_pretrained(str(out_dir), safe_serialization=True)
    tok.save_pretrained(str(out_dir))
    (out_dir / HISTORY_FILE).write_text(json.dumps(history.rows, indent=2) + "\n")
    log.info("fine-tuned encoder written to %s", out_dir)
    return out_dir


class MultiTaskModel(torch.nn.Module):
    """Encoder + masked mean pooling + one linear logit per target; BCE loss on `labels`."""

    def __init__(self, encoder, n_targets: int, pos_weight=None):
        super().__init__()
        self.encoder = encoder
        self.head = torch.nn.Linear(encoder.config.hidden_size, n_targets)
        self.loss = torch.nn.BCEWithLogitsLoss(pos_weight=pos_weight)

    def forward(self, input_ids, attention_mask, labels=None):
        h = self.encoder(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
        logits = self.head(mean_pool(h, attention_mask, normalize=False))
        out = {"logits": logits}
        if labels is not None:
            out["loss"] = self.loss(logits, labels.to(logits.dtype))
        return out


def _compute_metrics(ev) -> dict:
    from nigehbaan.training.evaluation.metrics import safe_auc
    from sklearn.metrics import f1_score

    logits, y = np.asarray(ev.predictions), np.asarray(ev.label_ids).astype(int)
    p = 1.0 / (1.0 + np.exp(-np.clip(logits, -30, 30)))
    return {
        "risk_pr_auc": safe_auc(y[:, 0], p[:, 0], "pr") or 0.0,
        "indicator_micro_f1": float(f1_score(y[:, 1:], p[:, 1:] >= 0.5, average="micro",
                                             zero_division=0)),
    }


def _mlflow_run(cfg: TrainConfig):
    import mlflow
    from nigehbaan.training.tracking import DEFAULT_TRACKING_URI

    os.environ.setdefault("MLFLOW_TRACKING_URI", DEFAULT_TRACKING_URI)
    mlflow.set_tracking_uri(os.environ["MLFLOW_TRACKING_URI"])
    mlflow.set_experiment(cfg.experiment)
    run = mlflow.start_run(run_name=f"{cfg.name}-{cfg.version}-finetune")
    mlflow.log_params({k: str(v) for k, v in cfg.to_dict().items()})
    return run


class _History(TrainerCallback):
    """Keeps every train/eval log row; mirrors numeric values to MLflow when a run is open."""

    def __init__(self, run=None):
        self.rows: list[dict] = []
        self.run = run

    def on_log(self, args, state, control, logs=None, **kwargs):
        row = {"step": state.global_step, "epoch": state.epoch, **(logs or {})}
        self.rows.append(row)
        log.info("finetune %s", row)
        if self.run is not None:
            import mlflow

            nums = {f"finetune.{k}": float(v) for k, v in (logs or {}).items()
                    if isinstance(v, (int, float)) and not isinstance(v, bool)}
            mlflow.log_metrics(nums, step=state.global_step)
