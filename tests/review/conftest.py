"""Fixtures for the review app: a database filled with hand-written scored ads (tests/review/demo.py,
no scorer needed), users of both roles, and logged-in HTTP clients."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from nigehbaan.review.auth import add_user
from nigehbaan.review.db import connect
from nigehbaan.review.importer import import_file

from .demo import DEMO_ADS

PASSWORD = "correct horse battery"
USERS = {"ayesha": "analyst", "bilal": "analyst", "sara": "supervisor"}


def write_jsonl(path: Path, rows: list[dict]) -> Path:
    """Write rows as JSONL and return the path."""
    path.write_text(
        "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8"
    )
    return path


@pytest.fixture(autouse=True, scope="session")
def _fast_password_hashing():
    """argon2's defaults cost ~80 ms per hash on purpose; the tests need speed, not resistance
    to guessing, so they hash with the cheapest argon2id parameters."""
    import nigehbaan.review.auth
    from argon2 import PasswordHasher

    patch = pytest.MonkeyPatch()
    patch.setattr(
        nigehbaan.review.auth, "_hasher", PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
    )
    yield
    patch.undo()


@pytest.fixture
def scored_file(tmp_path: Path) -> Path:
    return write_jsonl(tmp_path / "scored.jsonl", DEMO_ADS)


@pytest.fixture
def db_path(tmp_path: Path, scored_file: Path) -> Path:
    path = tmp_path / "review.db"
    conn = connect(path, create=True)
    import_file(conn, scored_file)
    for name, role in USERS.items():
        add_user(conn, name, role, PASSWORD)
    conn.close()
    return path


@pytest.fixture
def conn(db_path: Path):
    c = connect(db_path)
    yield c
    c.close()


@pytest.fixture
def app(db_path: Path):
    from nigehbaan.review.app import create_app

    return create_app(str(db_path))


def make_client(app):
    from fastapi.testclient import TestClient

    return TestClient(app)


def login(client, name: str, password: str = PASSWORD, follow: bool = False):
    """Log in through the form like a browser would; returns the POST response."""
    page = client.get("/login")
    token = re.search(r'name="token" value="([^"]+)"', page.text).group(1)
    return client.post(
        "/login",
        data={"username": name, "password": password, "token": token, "next": "/queue"},
        follow_redirects=follow,
    )


def csrf_of(client, path: str = "/queue") -> str:
    """The CSRF token printed in a page's forms."""
    return re.search(r'name="csrf_token" value="([^"]+)"', client.get(path).text).group(1)


def version_of(html: str) -> int:
    """The ad version a decision form was rendered from."""
    return int(re.search(r'name="version" value="(\d+)"', html).group(1))


@pytest.fixture
def client_for(app):
    """`client_for("ayesha")`: a TestClient logged in as that user (each call a new browser)."""

    def make(name: str):
        client = make_client(app)
        assert login(client, name).status_code == 303
        return client

    return make
