"""Translator: output always parses, untranslated deduplication, the model fallback
(context argument, review marks, model_fallback.make_model_fallback with a stub engine), and
samples/Inventory.java translated, run and compared with Java."""
from __future__ import annotations

import ast
import pathlib
import shutil
import subprocess
import sys
from concurrent.futures import Future
from types import SimpleNamespace

import pytest

from r1lsp.translate import translate_java
from r1lsp.translate.emit import Translator
from model.prompts import R1Prompts
from r1lsp.translate.model_fallback import make_model_fallback

ROOT = pathlib.Path(__file__).resolve().parent.parent
INVENTORY = ROOT / "samples" / "Inventory.java"
PROGRAMS = ROOT / "tests" / "fixtures" / "translate" / "programs"

RANDOM = ("class A {\n    static int f() {\n        int base = 1;\n"
          "        return base + new java.util.BitSet(7).cardinality();\n    }\n"
          "    public static void main(String[] a) { System.out.println(f()); }\n}\n")


def run_py(code: str) -> str:
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=20)
    assert p.returncode == 0, p.stderr
    return p.stdout


# ------------------------------------------------------------------ parse guarantee
@pytest.mark.parametrize("name", sorted(p.stem for p in PROGRAMS.glob("*.java")))
def test_every_corpus_translation_parses(name):
    ast.parse(translate_java((PROGRAMS / f"{name}.java").read_text(encoding="utf-8")).python)


def test_inventory_translates_fully_and_parses():
    r = translate_java(INVENTORY.read_text(encoding="utf-8"))
    ast.parse(r.python)
    assert r.untranslated == []
    assert "r1lsp: untranslated" not in r.python


def test_unit_that_does_not_parse_is_replaced_and_reported(monkeypatch):
    orig = Translator.x_string_literal

    def broken(self, n):  # a rule emitting invalid Python for one literal
        e = orig(self, n)
        if "negative" in e.code:
            e.code = "a = = b"
        return e

    monkeypatch.setattr(Translator, "x_string_literal", broken)
    r = translate_java(INVENTORY.read_text(encoding="utf-8"))
    ast.parse(r.python)
    assert [u.reason for u in r.untranslated] == ["emitted Python did not parse"]
    assert r.untranslated[0].java_text.startswith("throw new IllegalArgumentException")
    assert "# r1lsp: untranslated: throw new IllegalArgumentException(" in r.python
    assert "a = = b" not in r.python
    # the rest of the file is still translated
    assert "def valueByCategory(self):" in r.python


def test_member_replaced_when_its_header_does_not_parse(monkeypatch):
    from r1lsp.translate.declarations import DeclMixin
    orig = DeclMixin.method_lines

    def broken(self, node, *a, **kw):  # a member whose own lines never parse
        return [ln.replace("def select(", "def select((") for ln in orig(self, node, *a, **kw)]

    monkeypatch.setattr(DeclMixin, "method_lines", broken)
    r = translate_java(INVENTORY.read_text(encoding="utf-8"))
    ast.parse(r.python)
    assert [u.reason for u in r.untranslated] == ["emitted Python did not parse (member)"]
    assert r.untranslated[0].java_text.startswith("public List<Item> select")
    assert "def valueByCategory(self):" in r.python


# ------------------------------------------------------------------ dedupe
def test_untranslated_reported_once_per_byte_range():
    src = ("import java.util.*;\nclass A {\n  static void f(Map<String, Double> m, List<String> xs) {\n"
           "    xs.forEach(x -> m.merge(x, 1.0, Foo::bar));\n  }\n}\n")
    r = translate_java(src)
    ast.parse(r.python)
    ranges = [(u.start_byte, u.end_byte) for u in r.untranslated]
    assert len(ranges) == len(set(ranges)) == 1
    assert r.python.count("# r1lsp: untranslated: Foo::bar") == 1


# ------------------------------------------------------------------ fallback API
def test_two_argument_fallback_still_supported():
    seen = []

    def fb(java, kind):
        seen.append((java, kind))
        return "2" if kind == "expression" else None

    r = translate_java(RANDOM, fallback=fb)
    assert seen == [("new java.util.BitSet(7)", "expression")]
    assert "# r1lsp: model-translated, review: new java.util.BitSet(7)" in r.python
    assert [m.java_text for m in r.model_translated] == ["new java.util.BitSet(7)"]
    assert r.untranslated == []


def test_three_argument_fallback_gets_enclosing_method():
    seen = []

    def fb(java, kind, context):
        seen.append(context)
        return None

    r = translate_java(RANDOM, fallback=fb)
    assert len(seen) == 1 and "static int f()" in seen[0] and "int base = 1;" in seen[0]
    assert r.model_translated == [] and len(r.untranslated) == 1


def test_unparsable_fallback_answer_rejected():
    r = translate_java(RANDOM, fallback=lambda j, k: "x = = 1")
    ast.parse(r.python)
    assert r.model_translated == []
    assert "# r1lsp: untranslated: new java.util.BitSet(7)" in r.python


# ------------------------------------------------------------------ model_fallback
class StubEngine:
    def __init__(self, answer: str, state: str = "ready"):
        self.state = state
        self.answer = answer
        self.special = SimpleNamespace(lang_java=1, lang_python=2, translate=3, endoftext=0, sep=4)
        self.prompts = R1Prompts(self.special)
        self.calls = []

    def encode(self, text):
        return [100 + (ord(c) % 50) for c in text]

    def submit_generate(self, key, prompt_ids, level_ids=None, max_new_tokens=16, stop_strings=()):
        self.calls.append((list(prompt_ids), max_new_tokens, tuple(stop_strings)))
        f = Future()
        f.set_result(SimpleNamespace(tokens=[5, 6], finish_reason="stop", text=self.answer))
        return f


def test_model_fallback_accepted_answer_marked_and_listed():
    eng = StubEngine("7<|endoftext|>garbage")
    r = translate_java(RANDOM, fallback=make_model_fallback(eng, max_new_tokens=32))
    ast.parse(r.python)
    assert "# r1lsp: model-translated, review: new java.util.BitSet(7)" in r.python
    assert len(r.model_translated) == 1
    m = r.model_translated[0]
    assert m.python == "7" and m.context == "expression"
    assert m.start == (3, 22) and RANDOM.encode()[m.start_byte:m.end_byte] == b"new java.util.BitSet(7)"
    ids, n, stops = eng.calls[0]
    assert ids[0] == 1 and ids[-2:] == [3, 2] and n == 32
    assert "<|endoftext|>" in stops and "<|sep|>" in stops
    # the prompt carries the enclosing method before the construct
    assert len(ids) - 3 > len("new java.util.BitSet(7)")


def test_model_fallback_unparsable_rejected():
    eng = StubEngine("new BitSet(7)")
    fb = make_model_fallback(eng)
    assert fb("new java.util.BitSet(7)", "expression", "") is None
    r = translate_java(RANDOM, fallback=fb)
    assert r.model_translated == [] and len(r.untranslated) == 1


def test_model_fallback_engine_not_ready():
    eng = StubEngine("7", state="loading")
    fb = make_model_fallback(eng)
    assert fb("new java.util.BitSet(7)", "expression", "ctx") is None
    assert eng.calls == []


def test_model_fallback_statement_answer():
    fb = make_model_fallback(StubEngine("x = 1\ny = 2\n\nprint('not this')"))
    assert fb("int x = 1; int y = 2;", "statement") == "x = 1\ny = 2"


# ------------------------------------------------------------------ samples/Inventory.java
@pytest.mark.skipif(shutil.which("javac") is None or shutil.which("java") is None,
                    reason="needs a JDK (javac/java)")
def test_inventory_output_matches_java(tmp_path):
    classes = tmp_path / "classes"
    subprocess.run(["javac", "-nowarn", "-d", str(classes), str(INVENTORY)], check=True,
                   capture_output=True, timeout=120)
    java = subprocess.run(["java", "-XX:TieredStopAtLevel=1", "-cp", str(classes),
                           "samples.Inventory"], check=True, capture_output=True, text=True,
                          timeout=120).stdout
    python = run_py(translate_java(INVENTORY.read_text(encoding="utf-8")).python)
    assert python == java
    assert "cheapest apples, dearest kite" in python


def test_model_fallback_timeout_cancels():
    class Slow(StubEngine):
        def submit_generate(self, key, prompt_ids, level_ids=None, max_new_tokens=16, stop_strings=()):
            self.fut = Future()
            return self.fut

    eng = Slow("7")
    assert make_model_fallback(eng, timeout=0.05)("new java.util.BitSet(7)", "expression") is None
    assert eng.fut.cancelled()
