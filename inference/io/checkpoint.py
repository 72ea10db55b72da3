"""Append-only text output with a checkpoint, shared by the JSONL and CSV writers.

After each written batch the checkpoint `OUTPUT.ckpt.json` records how many rows are done and
the output's byte length (written through a temporary file and renamed, so it is never torn).
Resuming truncates the output to that length, dropping a half-written row from a killed run,
and reports the rows already done so the caller skips that many input rows. A checkpoint is
written before the first batch too, so a run killed before its first batch also resumes.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

from nigehbaan.inference.errors import UsageError


class CheckpointedText:
    """Subclasses set `state` (extra checkpoint fields) and implement `_encode(rows) -> str`."""

    resumable = True

    def __init__(self, path: str, resume: bool = False):
        self.path = path
        self.ckpt = Path(path + ".ckpt.json") if path != "-" else None
        self.done = 0
        self.state: dict = {}
        self._closed = False
        if path == "-":
            self.f = sys.stdout
            return
        if resume and self.ckpt.is_file():
            saved = json.loads(self.ckpt.read_text())
            self.done = saved["rows"]
            self._restore(saved)
            if Path(path).exists():
                with open(path, "r+b") as f:  # drop anything written after the last checkpoint
                    f.truncate(saved["bytes"])
        elif resume and Path(path).is_file():
            self.done = self._recover()
        mode = "a" if resume and Path(path).exists() else "w"
        # errors="replace": rows are repaired upstream (surrogates.py); nothing unencodable can
        # crash the batch or reach the file as invalid UTF-8.
        self.f = open(path, mode, encoding="utf-8", newline="", errors="replace")  # noqa: SIM115
        if self.done == 0:
            self._checkpoint()  # a run killed before its first batch resumes too

    @classmethod
    def paths(cls, path: str) -> list[str]:
        """Every file this writer may create for `path` (for the same-file check)."""
        return [path, path + ".ckpt.json"]

    def write(self, rows: list[dict]) -> None:
        self.f.write(self._encode(rows))
        self.done += len(rows)
        self.f.flush()
        if self.ckpt:
            os.fsync(self.f.fileno())
            self._checkpoint()

    def close(self, complete: bool = False) -> None:
        """Close the file; with `complete`, the output is whole and the checkpoint goes.
        Safe to call again."""
        if not self._closed and self.f is not sys.stdout:
            self.f.close()  # stdout: every write was flushed already
        self._closed = True
        if complete and self.ckpt and self.ckpt.exists():
            self.ckpt.unlink()

    # -- hooks

    def _encode(self, rows: list[dict]) -> str:
        raise NotImplementedError

    def _restore(self, saved: dict) -> None:
        """Read this format's own fields back from a checkpoint."""

    def _recover(self) -> int:
        """Rows already in an output that has no checkpoint; refuse by default."""
        raise UsageError(
            f"cannot resume {self.path}: it has no checkpoint {self.ckpt.name}, so it is either "
            "complete (a finished run removes its checkpoint) or was not written by "
            "'nigehbaan score'. Fix: keep it if it is complete, or delete it and run again."
        )

    def _checkpoint(self) -> None:
        tmp = self.ckpt.with_suffix(".tmp")
        tmp.write_text(json.dumps({"rows": self.done, "bytes": self.f.tell(), **self.state}))
        os.replace(tmp, self.ckpt)
