"""The `nigehbaan` command line: a thin layer that parses arguments and calls library functions.

Each subcommand imports its library lazily, so `nigehbaan --help` stays fast and importing this
module does no work. `main(argv)` returns the exit status (see ../shared/spec/interface.md):
0 every row scored, 1 some rows carry an error, 2 usage error or unreadable input; 130 when
interrupted (Ctrl-C: the message says how to resume), 141 when the reader of stdout went away.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys

from nigehbaan import __version__
from nigehbaan.inference.errors import Interrupted, UsageError

EXIT_OK, EXIT_ROW_ERRORS, EXIT_USAGE = 0, 1, 2
# As a shell reports a process ended by SIGINT or SIGPIPE (128 + signal number).
EXIT_INTERRUPTED, EXIT_BROKEN_PIPE = 130, 141


def _add_score(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "score",
        help="score ads from a JSONL/CSV/Parquet file",
        description="Score ads. INPUT and OUTPUT may be .jsonl, .csv or .parquet (by extension); "
        "'-' reads stdin / writes stdout as JSONL.",
    )
    p.add_argument("input", help="ads file (.jsonl, .csv, .parquet) or '-' for stdin JSONL")
    p.add_argument("-o", "--output", default="-", help="scored file or '-' for stdout (default)")
    p.add_argument(
        "--model",
        default=None,
        help="a bundled model's name (default, fast, rules) or a model directory "
        "(default: default)",
    )
    p.add_argument(
        "--resume",
        action="store_true",
        help="continue a killed run: keep the rows already in OUTPUT and score the rest",
    )
    p.add_argument("--batch-size", type=int, default=256, help="ads scored together (default 256)")
    p.add_argument(
        "--workers", type=int, default=None, help="scoring processes (default: up to 2 cores)"
    )
    p.add_argument("--no-progress", action="store_true", help="no progress bar on stderr")
    p.add_argument("--quiet", action="store_true", help="no summary on stderr")
    p.set_defaults(func=_run_score)


def _run_score(args: argparse.Namespace) -> int:
    from nigehbaan.inference.batch import score_file

    summary = score_file(
        args.input,
        args.output,
        model_dir=args.model,
        resume=args.resume,
        batch_size=args.batch_size,
        progress=not args.no_progress,
        workers=args.workers,
    )
    if not args.quiet:
        print(summary.format(), file=sys.stderr)
    return EXIT_ROW_ERRORS if summary.errors else EXIT_OK


def _add_train(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "train",
        help="train a model from a config",
        description="Train a model from configs/NAME.yaml; key=value pairs override config fields "
        "(e.g. max_steps=10 output_dir=runs/x).",
    )
    p.add_argument("--config", required=True, help="YAML config, e.g. configs/default.yaml")
    p.add_argument("overrides", nargs="*", help="key=value overrides of config fields")
    p.set_defaults(func=_run_train)


def _run_train(args: argparse.Namespace) -> int:
    from nigehbaan.training.config import load_config
    from nigehbaan.training.train import train

    cfg = load_config(args.config, args.overrides)
    out = train(cfg)
    print(f"model written to {out}", file=sys.stderr)
    return EXIT_OK


def _add_evaluate(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "evaluate",
        help="metrics and plots for a model on labelled data",
        description="Evaluate a model on labelled ads (corpus schema JSONL). With --report, "
        "writes report.md, metrics.json and PNG plots there.",
    )
    p.add_argument(
        "--model",
        default=None,
        help="a bundled model's name (default, fast, rules) or a model directory "
        "(default: default)",
    )
    p.add_argument("--data", required=True, help="labelled JSONL (corpus schema)")
    p.add_argument("--report", default=None, help="directory for report.md, metrics.json, plots")
    p.add_argument(
        "--external",
        default="auto",
        help="folder of public datasets for external checks ('auto': ../shared/datasets if "
        "present; 'none' to skip)",
    )
    p.set_defaults(func=_run_evaluate)


def _run_evaluate(args: argparse.Namespace) -> int:
    from nigehbaan.training.evaluation.evaluate import evaluate_cli

    return evaluate_cli(args.model, args.data, args.report, args.external)


def _add_corpus(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "corpus",
        help="build, validate and document the labelled corpus",
        description="build: data/corpus/{authored,gold} -> data/corpus/v4 (families, splits, "
        "augmentation, checksums); validate: check files against the corpus schema; "
        "datasheet: regenerate the tables in data/README.md.",
    )
    p.add_argument("action", choices=["build", "validate", "datasheet"])
    p.add_argument("files", nargs="*", help="validate: JSONL files (default: the built corpus)")
    p.add_argument("--data-dir", default="data/corpus", help="corpus folder (default data/corpus)")
    p.add_argument("--seed", type=int, default=13, help="split and augmentation seed")
    p.set_defaults(func=_run_corpus)


def _run_corpus(args: argparse.Namespace) -> int:
    from pathlib import Path

    from nigehbaan.training.corpus import build as corpus
    from nigehbaan.training.corpus import datasheet, schema

    built = Path(args.data_dir) / corpus.CORPUS_VERSION
    if args.action == "build":
        try:
            manifest = corpus.build_corpus(args.data_dir, seed=args.seed)
        except (ValueError, OSError) as exc:  # a raw or correction line that does not fit
            raise UsageError(f"corpus build: {exc}. Nothing was written.") from exc
        for name, meta in manifest["files"].items():
            print(f"{name}: {meta['rows']} rows  sha256 {meta['sha256'][:16]}", file=sys.stderr)
        return EXIT_OK
    if args.action == "datasheet":
        datasheet.update_datasheet(Path(args.data_dir).parent / "README.md", built)
        print("data/README.md tables regenerated", file=sys.stderr)
        return EXIT_OK
    files = args.files or sorted(str(p) for p in built.rglob("*.jsonl"))
    problems = [p for f in files for p in schema.validate_file(f)]
    problems += corpus.verify_manifest(built) if not args.files else []
    for p in problems[:50]:
        print(p, file=sys.stderr)
    print(f"{len(files)} files, {len(problems)} problems", file=sys.stderr)
    return EXIT_ROW_ERRORS if problems else EXIT_OK


def _add_cluster(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "cluster",
        help="group ads into templates (re-posts) and networks (shared contacts)",
        description="Cluster raw or scored ads: every row comes out once, in order, with "
        "template_id (the re-posts of one ad) and network_id (templates joined by a shared "
        "phone, WhatsApp number, e-mail, handle, domain or OEP licence). Formats by extension "
        "as for score.",
    )
    p.add_argument("input", help="ads file (.jsonl, .csv, .parquet) or '-' for stdin JSONL")
    p.add_argument("-o", "--output", required=True, help="clustered ads file, or '-' for stdout")
    p.add_argument(
        "--clusters", default=None,
        help="also write one summary row per template and per network to this file",
    )
    p.add_argument(
        "--hub-cap", type=int, default=None,
        help="a contact in more templates than this is reported, not used for joining (default 50)",
    )
    p.add_argument("--workers", type=int, default=None, help="processes (default: up to 2 cores)")
    p.add_argument("--quiet", action="store_true", help="no summary on stderr")
    p.set_defaults(func=_run_cluster)


def _run_cluster(args: argparse.Namespace) -> int:
    from nigehbaan.inference.cluster import HUB_CAP, cluster_file

    summary = cluster_file(
        args.input, args.output, args.clusters,
        hub_cap=HUB_CAP if args.hub_cap is None else args.hub_cap, workers=args.workers,
    )
    if not args.quiet:
        print(summary.format(), file=sys.stderr)
    return EXIT_ROW_ERRORS if summary.errors else EXIT_OK


def _add_review(sub: argparse._SubParsersAction) -> None:
    from nigehbaan.review.cli import add_parser

    add_parser(sub)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="nigehbaan",
        description="Find signs of trafficking, deceptive recruitment, smuggling and child "
        "exploitation in Urdu, Roman Urdu and English ads.",
    )
    parser.add_argument("--version", action="version", version=f"nigehbaan {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    _add_score(sub)
    _add_train(sub)
    _add_evaluate(sub)
    _add_corpus(sub)
    _add_cluster(sub)
    _add_review(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(levelname)s %(name)s: %(message)s",
    )
    if not getattr(args, "func", None):
        parser.print_help(sys.stderr)
        return EXIT_USAGE
    try:
        return args.func(args)
    except UsageError as exc:
        print(f"nigehbaan {args.command}: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except ModuleNotFoundError as exc:  # an optional extra that is not installed
        from nigehbaan.inference.extras import missing_extra_message

        hint = missing_extra_message(exc, args.command)
        if hint is None:
            raise
        print(f"nigehbaan {args.command}: error: {hint}", file=sys.stderr)
        return EXIT_USAGE
    except (Interrupted, KeyboardInterrupt) as exc:
        print(f"\nnigehbaan {args.command}: {exc or 'interrupted'}", file=sys.stderr)
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        # The reader went away (`| head`): stop quietly, as a shell tool does, and keep Python
        # from reporting the same broken pipe again when it flushes stdout at exit.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_BROKEN_PIPE


if __name__ == "__main__":
    sys.exit(main())
