"""Snippet mode, names from outside the snippet, Java integer rules and lean output (issue #15):
what a user who selects or pastes Java sees."""
from __future__ import annotations

import ast
import subprocess
import sys

from r1lsp.translate import translate_java


def run(code: str, stdin: str = "") -> str:
    p = subprocess.run([sys.executable, "-c", code], input=stdin, capture_output=True, text=True, timeout=30)
    assert p.returncode == 0, p.stderr
    return p.stdout


def funcs(code: str) -> dict:
    ns: dict = {"__name__": "snippet"}
    exec(code, ns)
    return ns


def test_bare_static_method_becomes_a_function():
    r = translate_java("static int f(int a){return a+1;}")
    assert r.unit == "snippet" and r.empty is None
    assert "def f(a):" in r.python and "class" not in r.python
    assert funcs(r.python)["f"](41) == 42
    assert funcs(r.python)["f"](2147483647) == -2147483648  # Java int overflow


def test_instance_methods_and_fields_without_a_class_become_functions_and_globals():
    src = ("private int[] arr = {4, 5, 6};\n"
           "int sum() { int s = 0; for (int v : arr) s += v; return s; }\n"
           "int twice() { return 2 * sum(); }\n")
    r = translate_java(src)
    assert "self" not in r.python and "class" not in r.python
    assert funcs(r.python)["twice"]() == 30


def test_bare_statements_become_module_statements():
    r = translate_java("int x = 3; x++; System.out.println(x * 2);")
    assert "def " not in r.python.split("\n\n\n")[-1]
    assert run(r.python) == "8\n"


def test_expression_snippet():
    r = translate_java("(7 / 2) * 3 + 'a'")
    assert run(r.python.rstrip() + "\n") == "" and r.empty is None
    tree = ast.parse(r.python)
    assert isinstance(tree.body[-1], ast.Expr)
    assert eval(compile(ast.Expression(tree.body[-1].value), "x", "eval"), funcs(r.python)) == 106


def test_methods_and_statements_mixed():
    r = translate_java("static int sq(int v) { return v * v; }\nint t = 0;\nfor (int i = 1; i <= 3; i++) t += sq(i);\n"
                       "System.out.println(t);")
    assert run(r.python) == "14\n"


def test_nothing_translates_says_why():
    for src in ("", "   \n", "// only a comment"):
        r = translate_java(src)
        assert r.empty
    r = translate_java("static int f(int a){return a+1;}")
    assert r.empty is None


def test_cli_bare_method_and_empty_input(tmp_path):
    exe = [sys.executable, "-m", "r1lsp", "translate", "-"]
    p = subprocess.run(exe, input="static int f(int a){return a+1;}", capture_output=True, text=True, timeout=60)
    assert p.returncode == 0 and "def f(a):" in p.stdout
    assert funcs(p.stdout)["f"](1) == 2
    p = subprocess.run(exe, input="", capture_output=True, text=True, timeout=60)
    assert p.returncode != 0 and "nothing translated" in p.stderr and p.stdout == ""


def test_undefined_names_marked_and_reported():
    src = "int g(int k) { return getMin(k, MOD) + 1; }"
    r = translate_java(src)
    names = {u.name for u in r.undefined}
    assert names == {"getMin", "MOD"}
    assert "# r1lsp: undefined: getMin" in r.python and "# r1lsp: undefined: MOD" in r.python
    u = next(u for u in r.undefined if u.name == "MOD")
    assert src[u.start[1]:u.end[1]] == "MOD"


def test_names_from_the_rest_of_the_file_come_along():
    src = ("public class Calc {\n    static final int MOD = 1000000007;\n    private int state = 3;\n"
           "    static long sq(long x) { return x * x % MOD; }\n    int helper(int y) { return (int) sq(y) + 1; }\n"
           "    int useState() { return state + helper(2); }\n    int pure(int z) { return helper(z) * 2; }\n}\n")
    a = src.index("int pure")
    r = translate_java(src, selection=(a, src.index("}", a) + 1))
    assert r.unit == "method" and not r.undefined and "self" not in r.python
    assert funcs(r.python)["pure"](100000) == 2 * ((100000 * 100000 % 1000000007) + 1)
    a = src.index("int useState")
    r = translate_java(src, selection=(a, src.index("}", a) + 1))
    assert "def useState(self):" in r.python  # it uses instance state: stays a method


def test_swap_idioms_by_java_meaning():
    src = ("static int f(int[] a, int x, int y) { swap(x, y); swap(a, 0, 1); return a[0] * 10 + x; }")
    r = translate_java(src)
    assert not r.undefined
    assert funcs(r.python)["f"]([1, 2], 5, 6) == 25


def test_java_integer_rules():
    src = ("static int add(int a, int b) { return a + b; }\n"
           "static int inc(int a) { a++; return a; }\n"
           "static int sh(int a, int n) { return a << n; }\n"
           "static long lsh(long a, int n) { return a >> n; }\n"
           "static int ushr(int a, int n) { return a >>> n; }\n"
           "static int narrow(int x) { x *= 1.5; return x; }\n"
           "static byte b(byte v) { v += 100; return v; }\n"
           "static int cast(double d) { return (int) d; }\n"
           "static long lcast(double d) { return (long) d; }\n"
           "static char nxt(char c) { c += 1; return c; }\n"
           "static int sub(int a) { a -= 1; return a; }\n")
    f = funcs(translate_java(src).python)
    assert f["add"](2147483647, 1) == -2147483648
    assert f["inc"](2147483647) == -2147483648
    assert f["sh"](1, 33) == 2 and f["lsh"](-8, 65) == -4 and f["ushr"](-1, 60) == 15
    assert f["narrow"](2000000000) == 2147483647
    assert f["b"](100) == -56
    assert f["cast"](float("nan")) == 0 and f["cast"](1e12) == 2147483647 and f["cast"](-2.7) == -2
    assert f["lcast"](1e30) == 9223372036854775807
    assert f["nxt"]("\uffff") == "\x00"
    assert f["sub"](-2147483648) == 2147483647


def test_readable_loop_counters_are_not_wrapped():
    r = translate_java("static int f(int n) { int c = 0; for (int i = 0; i < n; i++) { c++; } return c + 1; }")
    assert "_i32" not in r.python


def test_lean_output_only_used_helpers():
    r = translate_java("static String f(String s) { StringBuilder sb = new StringBuilder(s); return sb.reverse().toString(); }")
    assert "def insert" not in r.python and "def deleteCharAt" not in r.python and "def reverse" in r.python
    r = translate_java("static int f(int a) { return a / 2; }")
    assert "_jstr" not in r.python


def test_no_redundant_default_assignments():
    r = translate_java("class P { final int a; final String b; P(int a, String b) { this.a = a; this.b = b; } }")
    assert "self.a = 0" not in r.python and "self.b = None" not in r.python


def test_library_gaps():
    src = ("static String f(int n) { java.util.Random r = new java.util.Random(42); int[] a = {3, 1, 2};\n"
           "  java.util.Arrays.parallelSort(a); StringBuffer sb = new StringBuffer(); sb.append(a[0]);\n"
           "  return sb.toString() + (n > 0 ? 'p' : 'n') + r.nextInt(100); }")
    r = translate_java(src)
    assert not r.untranslated and not r.undefined
    assert funcs(r.python)["f"](1) == "1p30"  # new Random(42).nextInt(100) is 30 in Java
    assert funcs(r.python)["f"](-1) == "1n30"


def test_every_corpus_snippet_translates_to_something():
    import pathlib
    progs = sorted((pathlib.Path(__file__).parent / "fixtures" / "translate" / "programs").glob("S*.java"))
    assert len(progs) >= 50
    for p in progs:
        r = translate_java(p.read_text(encoding="utf-8"))
        assert r.unit == "snippet" and r.empty is None and not r.untranslated and not r.undefined, p.name


def test_types_from_the_workspace_are_translated_alongside(tmp_path):
    (tmp_path / "Util.java").write_text("class Util { static int twice(int x) { return 2 * x; } }\n")
    (tmp_path / "Rect.java").write_text("class Rect { int w, h; Rect(int w, int h) { this.w = w; this.h = h; } }\n")
    src = "static int area(Rect r) { return Util.twice(r.w * r.h); }\n"
    r = translate_java(src)
    assert {u.name for u in r.undefined} == {"Rect"} or r.untranslated  # nothing defines them here
    from r1lsp.translate.workspace import java_context
    r = translate_java(src, context=java_context([tmp_path]))
    assert not r.undefined and not r.untranslated
    ns = funcs(r.python)
    assert ns["area"](ns["Rect"](3, 4)) == 24
    exe = [sys.executable, "-m", "r1lsp", "translate", "-", "--context", str(tmp_path)]
    p = subprocess.run(exe, input=src, capture_output=True, text=True, timeout=60)
    assert p.returncode == 0 and "class Rect" in p.stdout and "def twice(x):" in p.stdout
