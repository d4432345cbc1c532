"""The `r1lsp` command line.

Lines and columns are 1-based here (as editors show them) and 0-based in LSP.
Every command that prints results takes ``--json`` for machine-readable output.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path


class CliError(Exception):
    """A user-facing error: printed as one line, exit status 2."""


def _read_source(path: str) -> tuple[str, str]:
    """(text, language) of FILE, or of standard input for '-'."""
    from r1lsp.structure import normalize_language

    if path == "-":
        return sys.stdin.read(), "plaintext"
    p = Path(path)
    if not p.is_file():
        raise CliError(f"{path}: no such file")
    data = p.read_bytes()
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise CliError(f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    return text, normalize_language(str(p))


def cmd_serve(args: argparse.Namespace) -> int:
    from r1lsp.server import create_server

    server = create_server()
    if args.tcp:
        host, _, port = args.tcp.rpartition(":")
        if not host or not port.isdigit():
            raise CliError(f"--tcp expects HOST:PORT, got {args.tcp!r}")
        server.start_tcp(host, int(port))
    else:
        server.start_io()
    return 0


def cmd_levels(args: argparse.Namespace) -> int:
    from r1lsp.structure import format_levels, map_structure, normalize_language

    text, language = _read_source(args.file)
    if args.language:
        language = normalize_language(args.language)
    hierarchy = map_structure(text, language)
    if args.json:
        out = hierarchy.to_dict()
        out["file"] = args.file
        print(json.dumps(out))
    else:
        print(format_levels(hierarchy, text))
    return 0


def cmd_doctor(args: argparse.Namespace) -> int:
    from r1lsp.doctor import FAIL, run_checks

    checks = run_checks(Path(args.model) if args.model else None)
    if args.json:
        print(json.dumps({c.name: {"verdict": c.verdict, "detail": c.detail, **c.data} for c in checks}))
    else:
        width = max(len(c.name) for c in checks)
        for c in checks:
            print(f"{c.verdict.upper():<5} {c.name:<{width}}  {c.detail}")
    return 1 if any(c.verdict == FAIL for c in checks) else 0


def build_parser() -> argparse.ArgumentParser:
    from r1lsp import __version__

    parser = argparse.ArgumentParser(prog="r1lsp", description="r1lsp: a code assistant language server (R1 MoE model, tree-sitter structure)")
    parser.add_argument("--version", action="version", version=f"r1lsp {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="log debug messages to stderr")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("serve", help="run the language server (stdio by default)")
    p.add_argument("--tcp", metavar="HOST:PORT", help="listen on TCP instead of stdio")
    p.set_defaults(func=cmd_serve)

    p = sub.add_parser("levels", help="print the token/phrase/sentence/paragraph hierarchy of a file")
    p.add_argument("file", help="a source file, or - for standard input")
    p.add_argument("--language", help="override the language (java, python, plaintext)")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(func=cmd_levels)

    p = sub.add_parser("doctor", help="check Python, torch/CUDA, bitsandbytes, grammars and the checkpoint")
    p.add_argument("--model", metavar="PATH", help="check this checkpoint folder instead of the shipped one")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(func=cmd_doctor)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.WARNING,
        stream=sys.stderr,
        format="%(asctime)s %(name)s %(levelname)s: %(message)s",
    )
    try:
        return args.func(args)
    except CliError as exc:
        print(f"r1lsp {args.command}: {exc}", file=sys.stderr)
        return 2
    except BrokenPipeError:  # `r1lsp levels big.java | head`
        return 0
