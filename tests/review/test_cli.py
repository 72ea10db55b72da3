"""`nigehbaan review ...` through the real command line."""

from __future__ import annotations

import io
import json
import subprocess
import sys

import pytest
from nigehbaan.review.db import connect

from nigehbaan.cli import main

from .conftest import PASSWORD


def run(capsys, *argv, stdin: str | None = None, monkeypatch=None):
    if stdin is not None:
        monkeypatch.setattr(sys, "stdin", io.StringIO(stdin))
    code = main(["review", *map(str, argv)])
    return code, capsys.readouterr()


def test_import_adduser_export_round_trip(tmp_path, scored_file, capsys, monkeypatch):
    db = tmp_path / "cli.db"
    code, out = run(capsys, "import", scored_file, "--db", db)
    assert code == 0 and "10 new, 0 updated, 0 unchanged" in out.err
    code, out = run(capsys, "import", scored_file, "--db", db)
    assert code == 0 and "0 new, 0 updated, 10 unchanged" in out.err
    code, out = run(
        capsys,
        "adduser",
        "sara",
        "--role",
        "supervisor",
        "--password-stdin",
        "--db",
        db,
        stdin=PASSWORD + "\n",
        monkeypatch=monkeypatch,
    )
    assert code == 0 and "added supervisor sara" in out.err
    conn = connect(db)
    stored = conn.execute("SELECT password_hash FROM users WHERE name='sara'").fetchone()[0]
    assert stored.startswith("$argon2id$") and PASSWORD not in stored
    from nigehbaan.review.auth import User
    from nigehbaan.review.decisions import decide

    decide(conn, User(1, "sara", "supervisor"), "demo-ur-1", "confirm", 1)
    out_file = tmp_path / "labelled.jsonl"
    code, out = run(capsys, "export", out_file, "--db", db)
    assert (
        code == 0 and "1 confirmed -> risk 1" in out.err and "9 escalated or undecided" in out.err
    )
    assert json.loads(out_file.read_text(encoding="utf-8"))["id"] == "demo-ur-1"


def test_usage_errors_exit_2_with_a_fix(tmp_path, scored_file, capsys, monkeypatch):
    db = tmp_path / "cli.db"
    code, out = run(capsys, "export", tmp_path / "x.jsonl", "--db", db)
    assert code == 2 and "review database not found" in out.err and "Fix:" in out.err
    run(capsys, "import", scored_file, "--db", db)
    code, out = run(capsys, "serve", "--db", db)
    assert code == 2 and "has no users" in out.err and "adduser" in out.err
    code, out = run(
        capsys,
        "adduser",
        "x",
        "--role",
        "analyst",
        "--password-stdin",
        "--db",
        db,
        stdin="short\n",
        monkeypatch=monkeypatch,
    )
    assert code == 2 and "at least 10 characters" in out.err
    run(
        capsys,
        "adduser",
        "x",
        "--role",
        "analyst",
        "--password-stdin",
        "--db",
        db,
        stdin=PASSWORD + "\n",
        monkeypatch=monkeypatch,
    )
    code, out = run(
        capsys,
        "adduser",
        "x",
        "--role",
        "analyst",
        "--password-stdin",
        "--db",
        db,
        stdin=PASSWORD + "\n",
        monkeypatch=monkeypatch,
    )
    assert code == 2 and "already exists" in out.err and "--update" in out.err
    code, out = run(capsys, "import", tmp_path / "missing.jsonl", "--db", db)
    assert code == 2 and "scored file not found" in out.err
    code, out = run(capsys, "serve", "--db", db, "--secret-key-file", tmp_path / "nokey")
    assert code == 2 and "cannot read --secret-key-file" in out.err


def test_review_without_subcommand_prints_help(capsys):
    code, out = run(capsys)
    assert code == 2 and "import" in out.err and "export" in out.err


def test_export_help_says_what_is_left_out(capsys):
    with pytest.raises(SystemExit):
        main(["review", "export", "--help"])
    assert "Escalated and undecided ads are NOT exported" in " ".join(
        capsys.readouterr().out.split()
    )


def test_importing_review_cli_stays_light():
    code = (
        "import sys, nigehbaan.review.cli; "
        "heavy = [m for m in ('fastapi', 'uvicorn', 'argon2', 'matplotlib', 'starlette') if m in sys.modules]; "
        "print(heavy)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
