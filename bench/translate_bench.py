"""Benchmark of the Java -> Python translator.

* translate_2000_lines_ms: time to translate a ~2,000-line Java file, deterministically
  concatenated from the corpus programs (p50/p95 over repeats);
* differential_pass_rate: share of corpus programs whose translation prints exactly what
  Java prints. Full mode compiles/runs the corpus (cached); --quick uses a subset when no
  recent test result is cached, else reads the last `pytest tests/test_translate_corpus.py` result.

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


def differential(quick: bool) -> tuple[float, int, int, str]:
    last = CACHE / "last_result.json"
    if quick and last.exists():
        d = json.loads(last.read_text())
        return d["pass_rate"], d["passed"], d["total"], "last test run"
    from corpus import java_outputs, program_names, run_all
    names = program_names()
    if quick:
        names = names[::5]
    exp = java_outputs(names, CACHE)
    with tempfile.TemporaryDirectory() as w:
        res = run_all(names, lambda s: translate_java(s).python, pathlib.Path(w))
    ok = sum(1 for n in names if res[n][1] == exp[n])
    return ok / len(names), ok, len(names), "subset of 1/5" if quick else "full corpus"


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
    rate, ok, total, how = differential(a.quick)
    prate, pn, unt = parse_check()
    print(f"translate {nlines}-line Java file: p50 {p50:.1f} ms, p95 {p95:.1f} ms")
    print(f"differential pass rate ({how}): {ok}/{total} = {rate:.1%}")
    print(f"output parses: {prate:.1%} of {pn} files; untranslated constructs reported: {unt}")
    if a.json:
        print(json.dumps({"translate_2000_lines_ms": round(p50, 2), "translate_2000_lines_p95_ms": round(p95, 2),
                          "lines": nlines, "differential_pass_rate": round(rate, 4),
                          "differential_passed": ok, "differential_total": total,
                          "differential_source": how, "parse_rate": round(prate, 4),
                          "parse_files": pn, "untranslated_constructs": unt}))


if __name__ == "__main__":
    main()
