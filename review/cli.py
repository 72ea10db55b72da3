"""`nigehbaan review ...`: import scores, add users, serve the web app, export decisions.

Importing this module is cheap: FastAPI, uvicorn and argon2 are imported inside the handlers.
"""

from __future__ import annotations

import argparse
import getpass
import ipaddress
import logging
import sys

from nigehbaan.inference.errors import UsageError

log = logging.getLogger(__name__)
EXIT_OK, EXIT_USAGE = 0, 2


def add_parser(sub: argparse._SubParsersAction) -> None:
    """Add the `review` command and its subcommands to the top-level subparsers `sub`."""
    review = sub.add_parser(
        "review",
        help="the analysts' review app",
        description="Review flagged ads in a web app and keep every decision in an audit log. "
        "Typical use: import scores, add users, serve, then export decisions for training.",
    )
    review.set_defaults(func=lambda args: _usage(review))
    cmds = review.add_subparsers(dest="review_command", metavar="SUBCOMMAND")

    def command(name: str, help: str, description: str) -> argparse.ArgumentParser:
        p = cmds.add_parser(name, help=help, description=description)
        p.add_argument(
            "--db", default="review.db", help="review database, SQLite (default review.db)"
        )
        return p

    p = command(
        "import",
        "load `nigehbaan score` output",
        "Load scored ads (.jsonl, .csv or .parquet). Re-importing the same or a re-scored file "
        "updates ads by id and never duplicates them. A decided ad whose text or scores changed "
        "goes back to the queue (its earlier decisions are kept in the log, marked stale). Rows "
        "with a scoring error are imported in the 'unscored' band. Clustered rows "
        "(`nigehbaan cluster`) keep their template and network; --clusters adds the summaries.",
    )
    p.add_argument(
        "scored_file", help="output of `nigehbaan score` (or of `nigehbaan cluster` on it)"
    )
    p.add_argument(
        "--clusters",
        default=None,
        metavar="FILE",
        help="the --clusters summaries of `nigehbaan cluster` (templates and networks), for the "
        "campaign pages",
    )
    p.set_defaults(func=_run_import)

    p = command("adduser", "add an analyst or supervisor", "Add a user; the password is asked for.")
    p.add_argument("name", help="user name")
    p.add_argument(
        "--role", required=True, choices=["analyst", "supervisor"], help="analyst or supervisor"
    )
    p.add_argument("--password-stdin", action="store_true", help="read the password from stdin")
    p.add_argument(
        "--update", action="store_true", help="change an existing user's role and password"
    )
    p.set_defaults(func=_run_adduser)

    p = command(
        "user",
        "disable or enable a user",
        "`user disable NAME`: NAME can no longer log in and their open sessions end at once. "
        "`user enable NAME` lets them log in again. Both are recorded in the event log.",
    )
    p.add_argument("action", choices=["disable", "enable"], help="disable or enable")
    p.add_argument("name", help="user name")
    p.set_defaults(func=_run_user)

    p = command("serve", "run the web app", "Serve the review app (open http://HOST:PORT/).")
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=8000, help="port (default 8000)")
    p.add_argument(
        "--secret-key-file",
        default=None,
        help="file with the cookie-signing key "
        "(default: a key generated once and kept in the database)",
    )
    p.add_argument("--ssl-certfile", default=None, help="TLS certificate: serve HTTPS")
    p.add_argument("--ssl-keyfile", default=None, help="TLS private key for --ssl-certfile")
    p.add_argument(
        "--undo-minutes",
        type=float,
        default=10.0,
        help="how long analysts may undo their last decision (default 10; 0: no undo)",
    )
    p.add_argument(
        "--double-review",
        type=float,
        default=0.1,
        help="share of decided ads a second analyst reviews blind, for the dashboard's "
        "agreement figures (default 0.1; 0: none)",
    )
    p.set_defaults(func=_run_serve)

    p = command(
        "export",
        "write decisions as labelled ads for training",
        "Write decided ads as labelled JSONL in the corpus schema, ready for `nigehbaan train`: "
        "confirmed -> risk 1, dismissed -> risk 0. Escalated and undecided ads are NOT exported.",
    )
    p.add_argument("out", help="output .jsonl ('-' for stdout)")
    p.set_defaults(func=_run_export)


def _usage(parser: argparse.ArgumentParser) -> int:
    parser.print_help(sys.stderr)
    return EXIT_USAGE


def _run_import(args: argparse.Namespace) -> int:
    from nigehbaan.review.db import connect
    from nigehbaan.review.importer import import_file

    conn = connect(args.db, create=True)
    try:
        summary = import_file(conn, args.scored_file)
        print(f"{args.db}: {summary.format()}", file=sys.stderr)
        if args.clusters:
            from nigehbaan.review.campaigns import import_summaries

            print(f"{args.db}: {import_summaries(conn, args.clusters).format()}", file=sys.stderr)
    finally:
        conn.close()
    return EXIT_OK


def _read_password(args: argparse.Namespace) -> str:
    if args.password_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    if not sys.stdin.isatty():
        raise UsageError(
            "password: expected a terminal to prompt on, found none. Fix: pipe the password "
            "with --password-stdin."
        )
    first = getpass.getpass(f"Password for {args.name}: ")
    if first != getpass.getpass("Again: "):
        raise UsageError("password: the two entries differ. Fix: run the command again.")
    return first


def _run_adduser(args: argparse.Namespace) -> int:
    from nigehbaan.review.auth import add_user
    from nigehbaan.review.db import connect

    password = _read_password(args)
    conn = connect(args.db, create=True)
    try:
        add_user(conn, args.name, args.role, password, update=args.update)
    finally:
        conn.close()
    print(
        f"{args.db}: {'updated' if args.update else 'added'} {args.role} {args.name}",
        file=sys.stderr,
    )
    return EXIT_OK


def _run_user(args: argparse.Namespace) -> int:
    from nigehbaan.review.auth import set_disabled
    from nigehbaan.review.db import connect

    conn = connect(args.db)
    try:
        try:
            who = getpass.getuser()
        except (OSError, KeyError):  # no login name in some containers
            who = "unknown"
        set_disabled(conn, args.name, args.action == "disable", f"cli:{who}")
    finally:
        conn.close()
    print(f"{args.db}: {args.action}d {args.name}", file=sys.stderr)
    return EXIT_OK


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _run_serve(args: argparse.Namespace) -> int:
    import uvicorn
    from nigehbaan.review.app import create_app
    from nigehbaan.review.db import connect, secret_key
    from nigehbaan.review.settings import Settings

    if bool(args.ssl_certfile) != bool(args.ssl_keyfile):
        raise UsageError(
            "TLS: expected both --ssl-certfile and --ssl-keyfile, found one. Fix: pass both."
        )
    conn = connect(args.db)
    try:
        if not conn.execute("SELECT 1 FROM users LIMIT 1").fetchone():
            raise UsageError(
                f"{args.db} has no users: nobody could log in. Fix: "
                f"nigehbaan review adduser NAME --role supervisor --db {args.db}"
            )
        secret = secret_key(conn, args.secret_key_file)
    finally:
        conn.close()
    https = bool(args.ssl_certfile)
    if not _is_loopback(args.host):
        log.warning(
            "listening on %s: other machines can reach the app%s",
            args.host,
            ""
            if https
            else " over plain HTTP (passwords and ads travel unencrypted; use "
            "--ssl-certfile/--ssl-keyfile)",
        )
    # A server on loopback only answers to loopback names, which defeats DNS rebinding.
    hosts = ["127.0.0.1", "localhost", "[::1]", "::1"] if _is_loopback(args.host) else None
    settings = Settings(undo_minutes=args.undo_minutes, double_review=args.double_review)
    app = create_app(args.db, secret, secure_cookies=https, allowed_hosts=hosts, settings=settings)
    print(
        f"serving {args.db} on http{'s' if https else ''}://{args.host}:{args.port}/",
        file=sys.stderr,
    )
    uvicorn.run(
        app,
        host=args.host,
        port=args.port,
        log_level="info",
        ssl_certfile=args.ssl_certfile,
        ssl_keyfile=args.ssl_keyfile,
        server_header=False,
    )
    return EXIT_OK


def _run_export(args: argparse.Namespace) -> int:
    from nigehbaan.review.db import connect
    from nigehbaan.review.export import export_labelled

    conn = connect(args.db)
    try:
        summary = export_labelled(conn, args.out)
    finally:
        conn.close()
    print(f"{args.out}: {summary.format()}", file=sys.stderr)
    return EXIT_OK
