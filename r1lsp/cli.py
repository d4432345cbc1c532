"""The `r1lsp` command line.

Lines and columns are 1-based here (as editors show them) and 0-based in LSP.
Every command that prints results takes ``--json`` for machine-readable output.
"""

from __future__ import annotations

import argparse
import functools
import json
import logging
import os
import sys
from pathlib import Path

GIL_SWITCH_S = 0.0005      # the server's thread switch interval (see cmd_serve)


class CliError(Exception):
    """A user-facing error: printed as one line, exit status 2."""


def _read_source(path: str) -> tuple[str, str]:
    """(text, language) of FILE, or of standard input for '-'."""
    from model.structure import normalize_language

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

    if args.tcp and args.stdio:
        raise CliError("choose one of --stdio and --tcp")
    from r1lsp.memory import limit_arenas
    limit_arenas()  # before the model's threads allocate (see r1lsp.memory)
    # The model's worker thread needs the GIL between its torch ops (hundreds per forward):
    # with jedi busy on a list's thread it waited up to the default 5 ms switch interval each
    # time (a ghost-text prefill took 2-3x as long while a list ran; bench/lsp_latency.py
    # inline p50 175/214 -> 127/111 ms side by side with 0.5 ms, cold lists 505/536 -> 219/241 ms)
    sys.setswitchinterval(GIL_SWITCH_S)
    server = create_server()
    if args.tcp:
        host, _, port = args.tcp.rpartition(":")
        if not host or not port.isdigit():
            raise CliError(f"--tcp expects HOST:PORT, got {args.tcp!r}")
        server.start_tcp(host, int(port))
    else:
        server.start_io()
    # End now, with LSP's exit code: a daemon thread still inside torch (a model load, a
    # routing) must not meet interpreter finalisation — its C++ frames abort the process
    # ("terminate called without an active exception") when it wakes to a finalised runtime.
    logging.shutdown()
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):
            pass
    os._exit(server.exit_code)


def cmd_levels(args: argparse.Namespace) -> int:
    from model.structure import format_levels, map_structure, normalize_language

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


def _parse_location(spec: str) -> tuple[str, int, int]:
    """FILE:LINE:COL (1-based) -> (file, line, column)."""
    path, _, rest = spec.rpartition(":")
    path2, _, line = path.rpartition(":")
    if not path2 or not line.isdigit() or not rest.isdigit() or int(line) < 1 or int(rest) < 1:
        raise CliError(f"expected FILE:LINE:COL with 1-based numbers, got {spec!r}")
    return path2, int(line), int(rest)


def _model_settings(args: argparse.Namespace):
    from r1lsp.settings import ModelSettings

    return ModelSettings(path=args.model, device=args.device,
                         quantization="none" if args.no_int8 else "int8", max_tokens=args.max_tokens,
                         threads=max(0, args.threads))


def _start_engine(args: argparse.Namespace, required: bool):
    """Load the model; without one, a warning (structural results) or an error when required."""
    from r1lsp.engine import Engine, EngineState

    engine = Engine(_model_settings(args), cold_tokens=None).start()   # one request: the full prompt
    engine.wait_ready(None)
    for notice in engine.notices:
        print(f"r1lsp: {notice}", file=sys.stderr)
    if engine.state != EngineState.READY:
        if required:
            raise CliError(engine.error or "the model did not load")
        print(f"r1lsp: {engine.error} (structural completions only)", file=sys.stderr)
        return None
    return engine


def _workspace_context(path: str, language: str, workspace: str | None):
    """The analysis context of FILE as the server makes it for a document of a workspace folder
    (`workspace`, else FILE's own folder): jedi's project root, the folder's Java classes as
    known types. None for standard input."""
    from r1lsp.completion import AnalysisContext

    if path == "-":
        if workspace is not None:
            raise CliError("--workspace needs a FILE, not standard input")
        return None
    file = Path(path).resolve()
    root = Path(workspace).resolve() if workspace is not None else file.parent
    if not root.is_dir():
        raise CliError(f"--workspace {workspace}: not a folder")
    if not file.is_relative_to(root):
        raise CliError(f"{path} is not inside the workspace {workspace}")
    index = None
    if language == "java":
        from r1lsp.java.workspace import JavaIndex
        index = JavaIndex()
        index.scan([root], limit=2000)
    return AnalysisContext(path=str(file), root=str(root), java_index=index)


def cmd_complete(args: argparse.Namespace) -> int:
    from r1lsp.completion import complete, format_completions
    from r1lsp.inline import inline_suggestions
    from r1lsp.positions import UTF16, UTF32, convert_column
    from model.structure import StructuredDocument

    path, line, col = _parse_location(args.location)
    text, language = _read_source(path)
    doc = StructuredDocument(text, language)
    # The command line counts characters; LSP (and the logic) counts UTF-16 units.
    line0 = line - 1
    if line0 >= doc.text.count("\n") + 1:
        raise CliError(f"{path} has no line {line}")
    char16 = convert_column(doc.line_text(line0), col - 1, UTF32, UTF16)
    context = _workspace_context(path, language, args.workspace)
    engine = _start_engine(args, required=args.inline)
    try:
        if args.inline:
            # the server's gate, monitor, retrieval and other files' context (r1lsp.inline.* defaults)
            from r1lsp.inline_context import CrossFileContext
            from r1lsp.line_retrieval import sibling_texts, workspace_source
            from r1lsp.settings import InlineSettings
            from r1lsp.workspace_lines import WorkspaceLines
            settings = InlineSettings()
            gate = settings.min_confidence if args.min_confidence is None else args.min_confidence
            sources = {}
            if context is not None and settings.retrieval:
                sources["other_texts"] = functools.partial(sibling_texts, context.path, doc.language)
                if args.workspace is not None:          # beyond FILE's folder, which the line above reads
                    lines = WorkspaceLines()
                    lines.scan([context.root])
                    sources["workspace_lines"] = workspace_source(lines, context.path, doc.language)
            found = inline_suggestions(doc, line0, char16, engine, max_tokens=args.max_tokens, timeout=60,
                                       monitor=settings.monitor, context=context, retrieval=settings.retrieval,
                                       cross_file=CrossFileContext() if settings.cross_file_context else None,
                                       **sources)
            suggestions = [s for s in found if s.confidence >= gate]
            if args.json:
                print(json.dumps({"file": path, "line": line, "column": col, "min_confidence": gate,
                                  "inline": [{"text": s.text, "confidence": round(s.confidence, 3)} for s in suggestions],
                                  "withheld": [{"text": s.text, "confidence": round(s.confidence, 3)}
                                               for s in found if s.confidence < gate]}))
            elif suggestions:
                print(suggestions[0].text)
            elif found:
                print(f"(no ghost text: the model's suggestion {found[0].text!r} has confidence "
                      f"{found[0].confidence:.2f}, under the gate {gate:g}; --min-confidence -100 shows it)",
                      file=sys.stderr)
            else:
                print("(no ghost text: the model's continuation was empty or would add a syntax error)", file=sys.stderr)
            return 0
        result = complete(doc, line0, char16, engine, timeout=30, context=context)
        if args.json:
            print(json.dumps({"file": path, "line": line, "column": col, "is_incomplete": result.is_incomplete,
                              "items": [{"label": c.label, "kind": c.kind, "detail": c.detail, "score": c.score}
                                        for c in result.items]}))
        else:
            print(format_completions(result))
        return 0
    finally:
        if engine is not None:
            engine.close()


def cmd_experts(args: argparse.Namespace) -> int:
    from r1lsp.expert_labels import experts_json, experts_table, heatmap, load_expert_labels
    from r1lsp.expert_units import reader_units
    from r1lsp.experts import ExpertMap
    from model.structure import StructuredDocument

    text, language = _read_source(args.file)
    doc = StructuredDocument(text, language)
    engine = _start_engine(args, required=True)
    try:
        results, _ = ExpertMap().refresh(doc, None, engine, timeout=None)
        labels = load_expert_labels(engine.checkpoint) if engine.checkpoint else {}
        units = reader_units(results, doc, statements=args.sentences)
        if args.plot:
            out = heatmap(units, results.n_experts or engine.config.n_experts, args.plot,
                          title=f"{args.file}: experts per class / method{' / statement' if args.sentences else ''}",
                          labels=labels)
            print(f"wrote {out}", file=sys.stderr)
        if args.json:
            payload = experts_json(units, labels)
            payload["file"] = args.file
            print(json.dumps(payload))
        else:
            print(experts_table(units, labels))
        return 0
    finally:
        engine.close()


def cmd_translate(args: argparse.Namespace) -> int:
    from r1lsp.translate import translate_java

    text, language = _read_source(args.file)
    if args.file != "-" and language != "java":
        raise CliError(f"{args.file}: not a Java file (translate reads Java)")
    from r1lsp.translate.workspace import java_context

    where = list(args.context or [])
    if args.file != "-" and not args.no_context:
        where.append(Path(args.file).parent)   # the file's own folder (its package)
    context = java_context(where, exclude=Path(args.file) if args.file != "-" else None)
    result = translate_java(text, context=context)
    if result.empty and not args.json:
        print(f"{args.file}: nothing translated: {result.empty}", file=sys.stderr)
        return 1
    if args.json:
        print(json.dumps({"unit": result.unit, "python": result.python, "empty": result.empty, "untranslated": [
            {"line": u.start[0] + 1, "column": u.start[1] + 1, "java": u.java_text, "reason": u.reason}
            for u in result.untranslated], "undefined": [
            {"line": u.start[0] + 1, "column": u.start[1] + 1, "name": u.name} for u in result.undefined]}))
    elif args.output:
        out = Path(args.output)
        if out.exists() and not args.force:
            raise CliError(f"{out} exists (use --force to overwrite)")
        out.write_text(result.python, encoding="utf-8")
        print(f"wrote {out} ({result.unit}, {len(result.python.splitlines())} lines)", file=sys.stderr)
    else:
        sys.stdout.write(result.python)
    for u in result.untranslated:
        print(f"{args.file}:{u.start[0] + 1}:{u.start[1] + 1}: untranslated ({u.reason}): {u.java_text.splitlines()[0] if u.java_text else ''}",
              file=sys.stderr)
    for u in result.undefined:
        print(f"{args.file}:{u.start[0] + 1}:{u.start[1] + 1}: undefined: {u.name} "
              "(defined neither in the input nor in its context; marked in the Python)", file=sys.stderr)
    return 1 if result.empty else 0


def cmd_doctor(args: argparse.Namespace) -> int:
    from r1lsp.doctor import FAIL, run_checks, verdict

    model = Path(args.model) if args.model else None
    checks = run_checks(model)
    summary = verdict(checks, model)
    if args.json:
        print(json.dumps({c.name: {"verdict": c.verdict, "detail": c.detail, **c.data} for c in [*checks, summary]}))
    else:
        width = max(len(c.name) for c in checks)
        for c in checks:
            print(f"{c.verdict.upper():<5} {c.name:<{width}}  {c.detail}")
        print(f"verdict: {summary.detail}")
    return 1 if any(c.verdict == FAIL for c in checks) else 0


def _add_model_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--model", metavar="PATH", help="checkpoint folder (default: the shipped r1-tiny)")
    p.add_argument("--device", choices=["auto", "cpu", "cuda"], default="auto")
    p.add_argument("--no-int8", action="store_true", help="run the model unquantized (fp32)")
    p.add_argument("--max-tokens", type=int, default=48, help="longest model continuation")
    p.add_argument("--threads", type=int, default=0,
                   help="CPU threads for the model (default 0: OMP_NUM_THREADS, else half the cores)")


def build_parser() -> argparse.ArgumentParser:
    from r1lsp import __version__

    parser = argparse.ArgumentParser(prog="r1lsp", description="r1lsp: a code assistant language server (R1 MoE model, tree-sitter structure)")
    parser.add_argument("--version", action="version", version=f"r1lsp {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="log debug messages to stderr")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("serve", help="run the language server (stdio by default)")
    p.add_argument("--tcp", metavar="HOST:PORT", help="listen on TCP instead of stdio")
    p.add_argument("--stdio", action="store_true", help="talk LSP over stdin/stdout (the default; accepted "
                   "because clients such as vscode-languageclient append it)")
    p.set_defaults(func=cmd_serve)

    p = sub.add_parser("levels", help="print the token/phrase/sentence/paragraph hierarchy of a file")
    p.add_argument("file", help="a source file, or - for standard input")
    p.add_argument("--language", help="override the language (java, python, plaintext)")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(func=cmd_levels)

    p = sub.add_parser("complete", help="completions (or ghost text with --inline) at FILE:LINE:COL (1-based)")
    p.add_argument("location", metavar="FILE:LINE:COL")
    p.add_argument("--inline", action="store_true", help="ghost text (fill-in-the-middle) instead of the list")
    p.add_argument("--min-confidence", type=float, default=None, metavar="LOGP",
                   help="--inline: withhold ghost text whose mean token log-probability is under this "
                        "(default: the server's r1lsp.inline.minConfidence; -100 shows everything)")
    p.add_argument("--workspace", metavar="DIR",
                   help="the workspace folder holding FILE, as an editor's (default: FILE's folder): its Java "
                        "classes are known types, its files' lines and signatures feed ghost text")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    _add_model_options(p)
    p.set_defaults(func=cmd_complete)

    p = sub.add_parser("experts", help="which of the model's experts handled the code of each class / method of FILE")
    p.add_argument("file", help="a source file, or - for standard input")
    p.add_argument("--sentences", action="store_true", help="also one row per statement")
    p.add_argument("--plot", metavar="OUT.png", help="also draw a units x experts heatmap")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    _add_model_options(p)
    p.set_defaults(func=cmd_experts)

    p = sub.add_parser("translate", help="translate a Java file (or - for stdin) to Python")
    p.add_argument("file", help="a .java file, or - for standard input")
    p.add_argument("-o", "--output", help="write the Python here instead of standard output")
    p.add_argument("--force", action="store_true", help="overwrite --output if it exists")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.add_argument("--context", action="append", metavar="PATH",
                   help="a .java file or folder whose types the input may use (repeatable); "
                        "FILE's own folder is searched unless --no-context")
    p.add_argument("--no-context", action="store_true", help="do not look beside FILE for types it uses")
    p.set_defaults(func=cmd_translate)

    # Listed for --help; main() hands their arguments to the model package's own parsers.
    sub.add_parser("train", help="train the R1 model (r1lsp train --help; runs under torchrun too)", add_help=False)
    sub.add_parser("finetune", help="progressive fine-tuning on your own code (r1lsp finetune --help)", add_help=False)

    p = sub.add_parser("doctor", help="check Python, torch/CUDA, bitsandbytes, grammars and the checkpoint")
    p.add_argument("--model", metavar="PATH", help="check this checkpoint folder (R1, or a DeepSeek-V2/V3 "
                   "folder: sizes, int8 memory and whether it fits this machine) instead of the shipped one")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(func=cmd_doctor)
    return parser


_PASS_THROUGH = {"train": "model.train", "finetune": "model.finetune"}


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv and argv[0] in _PASS_THROUGH:  # their own parsers own every flag, --help included
        import importlib

        return importlib.import_module(_PASS_THROUGH[argv[0]]).main(argv[1:])
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
