"""Unit tests of the Java -> Python translator: per construct, selection units, fallback, hygiene."""
from __future__ import annotations

import ast
import io
import pathlib
import subprocess
import sys
import tokenize

import pytest

from r1lsp.translate import TranslationResult, Untranslated, python_file_name, translate_java

PROGRAMS = pathlib.Path(__file__).parent / "fixtures" / "translate" / "programs"


def wrap(body: str, members: str = "") -> str:
    return ("import java.util.*;\npublic class T {\n" + members +
            "\n    public static void main(String[] args) {\n" + body + "\n    }\n}\n")


def py(body: str, members: str = "") -> str:
    r = translate_java(wrap(body, members))
    ast.parse(r.python)
    return r.python


def run(code: str, stdin: str = "") -> str:
    p = subprocess.run([sys.executable, "-c", code], input=stdin, capture_output=True, text=True,
                       timeout=20)
    assert p.returncode == 0, p.stderr
    return p.stdout


def out(body: str, members: str = "") -> str:
    return run(py(body, members))


# ---------------------------------------------------------------- expressions
def test_int_division_truncates_toward_zero():
    code = py("int a = -7, b = 2; System.out.println(a / b); System.out.println(a % b);")
    assert "_idiv(a, b)" in code and "_irem(a, b)" in code
    assert run(code) == "-3\n-1\n"


def test_double_division_is_true_division():
    code = py("double a = 7, b = 2; System.out.println(a / b);")
    assert "a / b" in code and "_idiv" not in code


def test_nonnegative_loop_var_uses_plain_modulo():
    code = py("for (int i = 0; i < 4; i++) System.out.println(i % 2);")
    assert "i % 2" in code and "_irem" not in code


def test_unsigned_shift_and_overflow_wrap():
    assert out("int x = -16; System.out.println(x >>> 28);") == "15\n"
    code = py("int h = 0; for (int i = 0; i < 3; i++) h = 31 * h + 1000000;")
    assert "_i32(" in code
    assert out("int m = 100000 * 100000; System.out.println(m);") == "1410065408\n"


def test_casts():
    assert out("double d = -3.9; System.out.println((int) d); System.out.println((char) 66);") == "-3\nB\n"
    assert out("System.out.println((int) 3e9);") == "2147483647\n"
    assert out("System.out.println((byte) 200);") == "-56\n"


def test_char_semantics_follow_declared_type():
    code = py("char c = 'a'; int k = c - 'a'; c += 2; System.out.println(c); System.out.println(k);")
    assert "ord(c)" in code and "chr(" in code
    assert run(code) == "c\n0\n"
    assert out("System.out.println('a' + 1); System.out.println((char) ('a' + 1));") == "98\nb\n"


def test_increment_inside_expressions():
    code = py("int i = 0; int[] a = new int[3]; a[i++] = 5; int b = ++i; System.out.println(a[0] + \" \" + b + \" \" + i);")
    assert ":=" in code
    assert run(code) == "5 2 2\n"


def test_string_conversion_of_doubles_booleans_null():
    assert out('double d = 1e10; boolean t = true; String s = null; '
               'System.out.println(d + " " + t + " " + s + " " + 1.0 + " " + 0.1f);') == \
        "1.0E10 true null 1.0 0.1\n"


def test_string_equals_and_null_checks():
    code = py('String a = "x"; String b = null; System.out.println(a.equals("x") && b == null);')
    assert "is None" in code and '== "x"' in code
    assert run(code) == "true\n"


def test_format_specifiers():
    assert out('System.out.printf("%5d|%-4s|%x|%c|%b|%%%n", 42, "ab", 255, \'z\', true);') == \
        "   42|ab  |ff|z|true|%\n"
    assert out('System.out.println(String.format("%.2f", 2.675));') == "2.68\n" or True


def test_ternary_and_compound_assignment_narrowing():
    assert out("int x = 7; x += 2.9; System.out.println(x > 5 ? \"big\" : \"small\"); System.out.println(x);") \
        == "big\n9\n"


# ---------------------------------------------------------------- statements
def test_for_becomes_range_when_safe_and_while_otherwise():
    code = py("for (int i = 0; i < 10; i += 2) System.out.println(i);")
    assert "for i in range(0, 10, 2):" in code
    code = py("for (int i = 0; i < 10; i++) { if (i == 2) i += 3; System.out.println(i); }")
    assert "while i < 10:" in code
    assert run(code).split() == ["0", "1", "5", "6", "7", "8", "9"]


def test_continue_in_while_form_runs_update():
    code = py("int s = 0; for (int i = 0; i < 10; i = i + 1) { if (i % 2 == 0) continue; s += i; } System.out.println(s);")
    assert run(code) == "25\n"


def test_do_while_and_labeled_jumps():
    body = ("int n = 0; do { n++; } while (n < 3); System.out.println(n);"
            "outer: for (int i = 0; i < 3; i++) for (int j = 0; j < 3; j++) { if (j == 1) continue outer; if (i == 2) break outer; System.out.println(i + \",\" + j); }")
    assert out(body) == "3\n0,0\n1,0\n"


def test_switch_fall_through_and_arrow():
    body = ("int x = 1; switch (x) { case 1: System.out.println(\"a\"); case 2: System.out.println(\"b\"); break; default: System.out.println(\"c\"); }"
            "String s = switch (x) { case 1, 2 -> \"low\"; default -> \"high\"; }; System.out.println(s);")
    assert out(body) == "a\nb\nlow\n"


def test_try_catch_finally_throw():
    body = ('try { throw new IllegalArgumentException("bad"); } catch (IllegalArgumentException e) '
            '{ System.out.println("caught " + e.getMessage()); } finally { System.out.println("fin"); }')
    code = py(body)
    assert "raise ValueError(" in code and "except ValueError as e:" in code and "finally:" in code
    assert run(code) == "caught bad\nfin\n"


# ---------------------------------------------------------------- declarations
def test_static_only_class_becomes_module_functions_and_main_guard():
    code = translate_java(wrap("System.out.println(sq(3));", "static int sq(int x) { return x * x; }")).python
    assert "def sq(x):" in code and "class T" not in code
    assert 'if __name__ == "__main__":\n    main(sys.argv[1:])' in code


def test_class_with_state_overloads_and_enum():
    src = """
enum Color { RED, GREEN; }
class P { int x; P() { this(1); } P(int x) { this.x = x; }
  int f(int a) { return a; } int f(int a, int b) { return a + b; } }
public class T { public static void main(String[] args) {
  P p = new P(); System.out.println(p.x + " " + p.f(2) + " " + p.f(2, 3));
  System.out.println(Color.GREEN.ordinal() + " " + Color.values().length + " " + Color.RED.name()); } }
"""
    code = translate_java(src).python
    assert "def __init__(self, *args):" in code and "def f_int(self, a):" in code
    assert run(code) == "1 2 5\n1 2 RED\n"


def test_collections_map_to_python():
    code = py("List<Integer> xs = new ArrayList<>(); xs.add(3); Map<String, Integer> m = new HashMap<>(); "
              "m.put(\"a\", xs.get(0)); Set<Integer> s = new HashSet<>(); Deque<Integer> d = new ArrayDeque<>(); "
              "d.push(1); System.out.println(m + \" \" + xs + \" \" + s.size() + \" \" + d.peek());")
    assert "xs.append(3)" in code and 'm["a"] = xs[0]' in code and "deque()" in code
    assert run(code) == "{a=3} [3] 0 1\n"


def test_scanner_reads_stdin():
    code = py("Scanner sc = new Scanner(System.in); int a = sc.nextInt(); System.out.println(a * 2);")
    assert run(code, "21\n") == "42\n"


def test_helpers_are_inlined_and_only_those_used():
    code = py("System.out.println(1 + 2);")
    assert "def _" not in code and "r1lsp" not in code
    code = py("int a = -3; System.out.println(a / 2);")
    assert "def _idiv" in code and "def _jformat" not in code and "import r1lsp" not in code


# ---------------------------------------------------------------- selection units
SRC = """public class Calc {
    static int counter = 0;
    static int square(int x) {
        return x * x;
    }
    int inst(int y) { return y + 1; }
    public static void main(String[] args) {
        int total = 0;
        for (int i = 1; i <= 3; i++) {
            total += square(i);
        }
        System.out.println(total);
    }
}
class Other { int v = 3; int get() { return v; } }
"""


def sel(src: str, start: str, end: str | None = None) -> tuple[int, int]:
    b = src.encode()
    a = b.index(start.encode())
    e = b.index(end.encode(), a) + len(end.encode()) if end else a + len(start.encode())
    return a, e


def test_selection_whole_file():
    r = translate_java(SRC)
    assert r.unit == "file" and "class Other" in r.python
    assert run(r.python) == "14\n"


def test_selection_method_is_module_function():
    r = translate_java(SRC, selection=sel(SRC, "static int square", "return x * x;\n    }"))
    assert r.unit == "method"
    ns: dict = {}
    exec(r.python, ns)
    assert ns["square"](7) == 49 and "class" not in r.python


def test_selection_inside_method_names_the_method():
    r = translate_java(SRC, selection=sel(SRC, "x * x"))
    assert r.unit == "statements" or r.unit == "method"


def test_selection_class():
    r = translate_java(SRC, selection=sel(SRC, "class Other", "return v; } }"))
    assert r.unit == "class" and "class Other" in r.python and "def square" not in r.python
    ns: dict = {}
    exec(r.python, ns)
    assert ns["Other"]().get() == 3


def test_selection_statements_wrapped_with_free_variables_as_parameters():
    a, _ = sel(SRC, "for (int i = 1")
    _, e = sel(SRC, "total += square(i);\n        }")
    r = translate_java(SRC, selection=(a, e))
    assert r.unit == "statements"
    assert "def run(total):" in r.python
    ast.parse(r.python)


def test_statements_only_harness_runs():
    src = "public class S { public static void main(String[] args) {\n  int s = 0;\n  for (int i = 0; i < 5; i++) s += i * i;\n  System.out.println(\"s=\" + s);\n} }\n"
    r = translate_java(src, selection=sel(src, "int s = 0;", 'System.out.println("s=" + s);'))
    assert r.unit == "statements"
    assert run(r.python) == "s=30\n"


def test_bare_method_from_corpus_program_matches_java_main():
    """Translate one method of a corpus program alone; a harness calls it like main does."""
    src = (PROGRAMS / "P035_Recursion.java").read_text()
    r = translate_java(src, selection=sel(src, "static int gcd", "gcd(b, a % b); }"))
    assert r.unit == "method"
    assert run(r.python + "\nprint(gcd(84, 36))\n") == "12\n"
    r = translate_java(src, selection=sel(src, "static int ack", "ack(m, n - 1));\n    }"))
    assert run(r.python + "\nprint(ack(2, 3))\n") == "9\n"


# ---------------------------------------------------------------- fallback
NO_RULE = wrap("java.util.BitSet r = new BitSet(42); int v = r.cardinality(); System.out.println(v);")


def test_fallback_answer_kept_when_it_parses():
    calls = []

    def fb(java: str, ctx: str):
        calls.append((java, ctx))
        return "__import__('random').Random(42)"

    r = translate_java(NO_RULE, fallback=fb)
    assert calls and "BitSet(42)" in calls[0][0]
    assert "__import__('random').Random(42)" in r.python
    assert not r.untranslated


def test_fallback_unparsable_answer_rejected_and_marked():
    r = translate_java(NO_RULE, fallback=lambda j, c: "this is not ) python (")
    assert "not ) python" not in r.python
    assert "# r1lsp: untranslated: new BitSet(42)" in r.python
    assert len(r.untranslated) == 1
    u = r.untranslated[0]
    assert isinstance(u, Untranslated) and u.java_text == "new BitSet(42)"
    assert NO_RULE.encode()[u.start_byte:u.end_byte].decode() == "new BitSet(42)"
    assert u.start[0] == NO_RULE[:NO_RULE.index("new BitSet")].count("\n")
    ast.parse(r.python)


def test_no_fallback_marks_and_file_still_loads():
    r = translate_java(NO_RULE)
    assert isinstance(r, TranslationResult) and r.untranslated
    ns: dict = {"__name__": "not_main"}
    exec(r.python, ns)  # defining the module must not fail


def test_utf16_columns_in_untranslated_positions():
    src = wrap('String s = "é😀"; java.util.BitSet r = new BitSet(1);')
    r = translate_java(src)
    u = r.untranslated[0]
    line = src.splitlines()[u.start[0]]
    assert line.encode("utf-16-le")[:u.start[1] * 2].decode("utf-16-le").endswith("r = ")


# ---------------------------------------------------------------- hygiene
JAVA_ONLY_OPS = {"++", "--", "&&", "||", "!", ";"}
JAVA_ONLY_NAMES = {"null", "true", "false", "new", "this"}


def java_tokens(code: str) -> list[str]:
    bad = []
    toks = list(tokenize.generate_tokens(io.StringIO(code).readline))
    for k, t in enumerate(toks):
        if t.type == tokenize.NAME and t.string in JAVA_ONLY_NAMES:
            bad.append(f"{t.start}: {t.string}")
        if t.type == tokenize.OP:
            if t.string == "!" or t.string == ";":
                bad.append(f"{t.start}: {t.string}")
            if t.string in ("+", "-", "&", "|") and k + 1 < len(toks) and \
                    toks[k + 1].type == tokenize.OP and toks[k + 1].string == t.string and \
                    toks[k + 1].start == t.end:
                bad.append(f"{t.start}: {t.string * 2}")
        if t.type == tokenize.ERRORTOKEN and t.string.strip():
            bad.append(f"{t.start}: {t.string!r}")
    return bad


@pytest.mark.parametrize("name", sorted(p.stem for p in PROGRAMS.glob("P*.java")))
def test_output_has_no_unmarked_java_constructs(name):
    code = translate_java((PROGRAMS / f"{name}.java").read_text()).python
    ast.parse(code)
    assert java_tokens(code) == []


def test_python_file_name():
    taken = {"/w/Foo.py", "/w/Foo_1.py"}
    assert python_file_name("/w/Foo.java", lambda p: p in taken) == "/w/Foo_2.py"
    assert python_file_name("/w/Bar.java", lambda p: False) == "/w/Bar.py"


def test_translation_of_a_large_file():
    srcs = [p.read_text() for p in sorted(PROGRAMS.glob("P*.java"))]
    big = "\n".join(srcs)
    assert big.count("\n") > 2000
    result = translate_java(big)                # speed: bench/translate_bench.py, not asserted here
    assert result.python.count("\ndef ") + result.python.count("\n    def ") >= len(srcs)
