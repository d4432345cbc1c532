"""Benchmark of the Java -> Python translator.

* translate_2000_lines_ms: time to translate a ~2,000-line Java file, deterministically
  concatenated from the corpus programs (p50/p95 over repeats);
* differential_pass_rate: share of corpus programs whose translation prints exactly what
  Java prints (Java's outputs stored in tests/fixtures/translate/expected.json; no JDK needed).
  Full mode runs the whole corpus; --quick every fifth program.
  snippet_pass_rate: the same over the bare snippets (S*.java) alone.
* snippet_nonempty_rate: share of the bare snippets whose translation is non-empty (has
  something besides helpers; ``TranslationResult.empty`` is None).
* helper_lines_mean: mean lines of runtime helpers per translated corpus program (lean output).

* parse_rate: share of corpus programs (plus samples/Inventory.java) whose translation passes
  ast.parse (the translator guarantees 1.0), and untranslated_constructs: how many
  constructs those translations report as untranslated.

Flags: --quick (< 1 minute on 2 cores), --json (last stdout line is one JSON object).
"""
from __future__ import annotations

import argparse
import json
import pathlib
import statistics
import sys
import tempfile
import time

ROOT = pathlib.Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests" / "fixtures" / "translate"))

from r1lsp.translate import translate_java  # noqa: E402

PROGRAMS = ROOT / "tests" / "fixtures" / "translate" / "programs"
CACHE = ROOT / ".pytest_cache" / "d" / "translate_java"


def big_java(lines: int = 2000) -> str:
    """Corpus programs concatenated (classes renamed apart) until about `lines` lines."""
    parts, n = [], 0
    for p in sorted(PROGRAMS.glob("P*.java")):
        src = p.read_text(encoding="utf-8")
        body = "\n".join(l for l in src.splitlines() if not l.startswith("import "))
        parts.append(body)
        n += body.count("\n") + 1
        if n >= lines:
            break
    return "import java.util.*;\n" + "\n".join(parts) + "\n"


def time_translate(src: str, repeats: int) -> tuple[float, float]:
    translate_java(src)  # warm-up (parser construction)
    ts = []
    for _ in range(repeats):
        t = time.perf_counter()
        translate_java(src)
        ts.append((time.perf_counter() - t) * 1000)
    ts.sort()
    return statistics.median(ts), ts[min(len(ts) - 1, int(round(0.95 * (len(ts) - 1))))]


def differential(quick: bool) -> tuple[float, int, int, str, float, int]:
    from corpus import java_outputs, program_names, run_all
    names = program_names()
    if quick:
        names = names[::5]
    exp = java_outputs(names, CACHE)
    names = [n for n in names if n in exp]
    with tempfile.TemporaryDirectory() as w:
        res = run_all(names, lambda s: translate_java(s).python, pathlib.Path(w))
    ok = sum(1 for n in names if res[n][1] == exp[n])
    snip = [n for n in names if n.startswith("S")]
    sok = sum(1 for n in snip if res[n][1] == exp[n])
    return (ok / max(1, len(names)), ok, len(names), "every 5th program" if quick else "full corpus",
            sok / max(1, len(snip)), len(snip))


def snippet_nonempty() -> tuple[float, int]:
    snips = sorted(PROGRAMS.glob("S*.java"))
    ok = 0
    for p in snips:
        try:
            ok += translate_java(p.read_text(encoding="utf-8")).empty is None
        except Exception:  # a crash is an empty translation
            pass
    return ok / max(1, len(snips)), len(snips)


def helper_lines() -> float:
    import ast
    from r1lsp.translate import runtime
    counts = []
    for p in sorted(PROGRAMS.glob("*.java")):
        tree = ast.parse(translate_java(p.read_text(encoding="utf-8")).python)
        counts.append(sum(n.end_lineno - n.lineno + 1 for n in tree.body
                          if isinstance(n, (ast.FunctionDef, ast.ClassDef)) and n.name in runtime.HELPERS))
    return sum(counts) / max(1, len(counts))


def parse_check() -> tuple[float, int, int]:
    import ast
    srcs = [p.read_text(encoding="utf-8") for p in sorted(PROGRAMS.glob("*.java"))]
    inv = ROOT / "samples" / "Inventory.java"
    if inv.exists():
        srcs.append(inv.read_text(encoding="utf-8"))
    ok = unt = 0
    for src in srcs:
        r = translate_java(src)
        unt += len(r.untranslated)
        try:
            ast.parse(r.python)
            ok += 1
        except SyntaxError:
            pass
    return ok / max(1, len(srcs)), len(srcs), unt


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--json", action="store_true")
    a = ap.parse_args()
    src = big_java()
    nlines = src.count("\n")
    p50, p95 = time_translate(src, 5 if a.quick else 20)
    rate, ok, total, how, srate, sn = differential(a.quick)
    nonempty, nsnip = snippet_nonempty()
    prate, pn, unt = parse_check()
    hl = helper_lines()
    print(f"translate {nlines}-line Java file: p50 {p50:.1f} ms, p95 {p95:.1f} ms")
    print(f"differential pass rate ({how}): {ok}/{total} = {rate:.1%}; bare snippets {srate:.1%} of {sn}")
    print(f"snippets translated non-empty: {nonempty:.1%} of {nsnip}")
    print(f"output parses: {prate:.1%} of {pn} files; untranslated constructs reported: {unt}")
    print(f"runtime helper lines per program: {hl:.1f} (mean)")
    if a.json:
        print(json.dumps({"translate_2000_lines_ms": round(p50, 2), "translate_2000_lines_p95_ms": round(p95, 2),
                          "lines": nlines, "differential_pass_rate": round(rate, 4),
                          "differential_passed": ok, "differential_total": total,
                          "differential_source": how, "snippet_pass_rate": round(srate, 4),
                          "snippet_programs": sn, "snippet_nonempty_rate": round(nonempty, 4),
                          "parse_rate": round(prate, 4), "parse_files": pn,
                          "untranslated_constructs": unt, "helper_lines_mean": round(hl, 1)}))


if __name__ == "__main__":
    main()
