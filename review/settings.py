"""The review workflow's knobs, set with `nigehbaan review serve` options."""

from __future__ import annotations

from dataclasses import dataclass

from nigehbaan.inference.errors import UsageError


@dataclass(frozen=True)
class Settings:
    """How long an analyst may undo their last decision, and which share of the decided ads
    a second analyst reviews blind (chosen by a hash of the ad id, see decisions.in_sample)."""

    undo_minutes: float = 10.0
    double_review: float = 0.10

    def __post_init__(self) -> None:
        if not 0 <= self.undo_minutes <= 24 * 60:
            raise UsageError(
                f"--undo-minutes: expected 0..1440, found {self.undo_minutes}. "
                "Fix: pass minutes, e.g. 10 (0 turns undo off)."
            )
        if not 0 <= self.double_review <= 1:
            raise UsageError(
                f"--double-review: expected a fraction 0..1, found {self.double_review}. "
                "Fix: pass e.g. 0.1 for 10% of ads (0 turns double review off)."
            )

    @property
    def undo_seconds(self) -> float:
        """The undo window in seconds."""
        return self.undo_minutes * 60
