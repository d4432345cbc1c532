"""Differential test: Java programs of the corpus, translated, print exactly what Java prints.

Java's outputs come from tests/fixtures/translate/expected.json (no JDK needed); a program
whose stored output is stale is run with javac/java when installed, else skipped.
`make test` runs every second program (all families, snippets and classes alike);
R1LSP_TRANSLATE_CORPUS=full runs all of them (as `bench/translate_bench.py` does).
"""
from __future__ import annotations

import json
import os
import pathlib
import time

import pytest

import sys

from r1lsp.translate import translate_java

sys.path.insert(0, str(pathlib.Path(__file__).parent / "fixtures" / "translate"))
from corpus import java_outputs, program_names, run_all  # noqa: E402

# Programs whose translation is known to differ from Java, with the reason.
XFAIL: dict[str, str] = {
    "P093_Exceptions2": "reference casts are not checked: (Integer) on a String raises no ClassCastException",
}

ALL = program_names()
NAMES = ALL if os.environ.get("R1LSP_TRANSLATE_CORPUS") == "full" else ALL[::2]


@pytest.fixture(scope="module")
def corpus(request, tmp_path_factory):
    t0 = time.perf_counter()
    cache = pathlib.Path(request.config.cache.mkdir("translate_java"))
    expected = java_outputs(NAMES, cache)
    t1 = time.perf_counter()
    work = tmp_path_factory.mktemp("py")
    names = [n for n in NAMES if n in expected]
    results = run_all(names, lambda s: translate_java(s).python, work)
    t2 = time.perf_counter()
    passed = [n for n in names if results[n][1] == expected[n]]
    summary = {"passed": len(passed), "total": len(names),
               "pass_rate": len(passed) / max(1, len(names)),
               "failing": sorted(set(names) - set(passed)), "full": names == ALL,
               "java_s": round(t1 - t0, 2), "python_s": round(t2 - t1, 2),
               "time": time.time()}
    request.config.cache.set("translate/last_result", summary)
    (cache / "last_result.json").write_text(json.dumps(summary))
    print(f"\ntranslate corpus: {len(passed)}/{len(names)} pass "
          f"(java {summary['java_s']}s, python {summary['python_s']}s)")
    return expected, results


@pytest.mark.parametrize("name", [
    pytest.param(n, marks=pytest.mark.xfail(reason=XFAIL[n], strict=True)) if n in XFAIL else n
    for n in NAMES])
def test_program(name, corpus):
    expected, results = corpus
    if name not in expected:
        pytest.skip("no stored Java output and no JDK to compute it")
    code, out, err = results[name]
    if out != expected[name]:
        exp_lines, out_lines = expected[name].splitlines(), out.splitlines()
        first = next((k for k in range(max(len(exp_lines), len(out_lines)))
                      if k >= len(exp_lines) or k >= len(out_lines) or exp_lines[k] != out_lines[k]), 0)
        pytest.fail(f"{name}: output differs at line {first + 1}\n"
                    f"java:   {exp_lines[first] if first < len(exp_lines) else '<eof>'!r}\n"
                    f"python: {out_lines[first] if first < len(out_lines) else '<eof>'!r}\n"
                    f"stderr: {err[-1500:]}")
