"""Java type resolution for completion (r1lsp/java): one snippet per construct, the shipped JDK
index, its generator, the workspace index."""
from __future__ import annotations

import gzip
import shutil
import subprocess
from pathlib import Path

import pytest

from r1lsp.java.jdk import jdk_index, JdkIndex
from r1lsp.java.resolve import JavaScope
from r1lsp.java.workspace import JavaIndex

ROOT = Path(__file__).resolve().parent.parent

SHAPES = """\
package shop;

import java.util.*;
import java.util.function.Function;
import static java.lang.Math.max;

interface Priced { double price(); }

abstract class Base implements Priced {
    protected String sku;
    String describe() { return sku; }
}

public class Order extends Base {
    record Line(String name, int qty) {}
    private final List<Line> lines = new ArrayList<>();
    private Map<String, List<Line>> byName = new HashMap<>();
    int[] counts;
    static Order EMPTY;

    public double price() { return 0; }
    Line first() { return lines.get(0); }
    static Order of(String s) { return new Order(); }

    void work(Line param, List<String> words, String... rest) {
        Line local = first();
        var inferred = new TreeMap<String, Line>();
        for (Line each : lines) { IN_FOR }
        for (var w : words) { IN_FOR_VAR }
        Object o = param;
        if (o instanceof Line pattern) { }
        lines.forEach(l -> { });
        CURSOR
    }
}
"""


def scope_at(expr: str, index: JavaIndex | None = None, source: str = SHAPES, at: str = "CURSOR") -> JavaScope:
    pre, post = source.split(at, 1)
    for mark in ("CURSOR", "IN_FOR_VAR", "IN_FOR"):
        pre, post = pre.replace(mark, ""), post.replace(mark, "")
    data = (pre + expr + post).encode()
    at = len((pre + expr).encode())
    return JavaScope(index or JavaIndex(), data, at, at, "file:///ws/shop/Order.java")


def receiver(expr: str, **kw) -> str | None:
    r = scope_at(expr, **kw).receiver()
    if r is None:
        return None
    return r.package if r.kind == "package" else f"{r.kind} {r.type.show()}"


def members(expr: str, **kw) -> dict[str, object]:
    s = scope_at(expr, **kw)
    return {m.name: m for m in s.members(s.receiver())}


@pytest.mark.parametrize("expr, expected", [
    ("local.", "value Order.Line"),                               # local variable
    ("param.", "value Order.Line"),                               # parameter
    ("words.", "value List<String>"),                             # generic parameter
    ("rest.", "value String[]"),                                  # varargs
    ("lines.", "value List<Order.Line>"),                         # field
    ("sku.", "value String"),                                     # inherited field
    ("this.", "value Order"),
    ("super.", "value Base"),
    ("Order.this.lines.", "value List<Order.Line>"),              # qualified this
    ("Math.", "type Math"),                                       # static type name (java.lang)
    ("String.", "type String"),
    ("Order.", "type Order"),                                     # workspace type
    ("inferred.", "value TreeMap<String,Order.Line>"),            # var initialiser
    (("each.", "IN_FOR"), "value Order.Line"),                    # enhanced for
    (("w.", "IN_FOR_VAR"), "value String"),                       # enhanced for over var
    ("pattern.", "value Order.Line"),                             # instanceof pattern
    ("first().name().", "value String"),                          # method-call chain
    ("lines.get(0).", "value Order.Line"),                        # generic argument
    ("byName.get(\"a\").get(0).", "value Order.Line"),
    ("byName.entrySet().iterator().next().getValue().", "value List<Order.Line>"),
    ("counts[0].", "value int"),                                  # array element (a primitive: no members)
    ("counts.", "value int[]"),
    ("Order.of(\"x\").", "value Order"),                          # static method
    ("Order.EMPTY.", "value Order"),                              # static field
    ("new ArrayList<Line>().", "value ArrayList<Order.Line>"),
    ("((Base) o).", "value Base"),
    ("Collections.emptyList().", "value List<Object>"),
    ("Optional.of(local).", "value Optional<Order.Line>"),        # method type variable from the argument
    ("Arrays.asList(\"a\", \"b\").", "value List<String>"),      # varargs type variable
    ("lines.stream().filter(x -> x.", "value Order.Line"),        # lambda parameter, unclosed call
    ("java.util.", "java.util"),                                  # package
    ("Map.Entry.", "type Map.Entry"),                             # nested type
    ("nothing.", None),
])
def test_receiver_types(expr, expected):
    expr, at = expr if isinstance(expr, tuple) else (expr, "CURSOR")
    assert receiver(expr, at=at) == expected


def test_lambda_parameter_of_a_call_already_written():
    src = SHAPES.replace("lines.forEach(l -> { });", "lines.forEach(l -> { l.; });").replace("CURSOR", "")
    data = src.encode()
    at = data.index(b"l.;") + 2
    r = JavaScope(JavaIndex(), data, at, at).receiver()
    assert r is not None and r.type.show() == "Order.Line"


def test_members_of_a_value_are_instance_members_with_signatures_and_depth():
    got = members("lines.")
    assert got["get"].kind == "method" and got["get"].detail.startswith("Order.Line get(int)")
    assert got["stream"].detail.startswith("Stream<Order.Line> stream()")
    assert "of" not in got                                        # List.of is static
    own = members("local.")
    assert {"name", "qty"} <= set(own) and own["name"].depth == 0
    assert own["hashCode"].depth > 0                              # inherited (Record / Object)


def test_a_method_overloaded_across_supertypes_accepts_every_overload():
    # ByteBuffer declares position(int) (a covariant return); Buffer has position() too
    src = "import java.nio.ByteBuffer;\nclass A { int f(ByteBuffer buf) { return CURSOR; } }"
    s = scope_at("buf.", source=src)
    position = {m.name: m for m in s.members(s.receiver())}["position"]
    assert position.accepts(0) and position.accepts(1)


def test_inherited_members_from_workspace_and_jdk_supertypes():
    got = members("this.")
    assert {"first", "describe", "sku", "price", "lines"} <= set(got)
    assert got["first"].depth == 0 and got["describe"].depth == 1
    assert got["describe"].owner == "shop.Base"


def test_static_access_offers_static_members_and_nested_types_only():
    got = members("Math.")
    assert {"max", "abs", "PI", "class"} <= set(got)
    assert all(m.static for m in got.values())
    order = members("Order.")
    assert {"of", "EMPTY", "Line"} <= set(order) and "first" not in order


def test_array_length_and_package_classes():
    assert members("counts[0].") == {}
    assert "length" in members("counts.")
    pkg = members("java.util.")
    assert {"ArrayList", "HashMap", "function", "concurrent"} <= set(pkg)


def test_what_a_lambda_or_method_reference_returns_types_the_call():
    """A generic call's type variable from what its lambda / method reference argument returns:
    `map(w -> w.length())` is a Stream<Integer>, `map(String::trim)` a Stream<String>, a block
    body's `return`, a constructor reference."""
    source = ("import java.util.*;\nimport java.util.stream.*;\nclass S {\n    List<String> words;\n"
              "    void f() {\n        CURSOR\n    }\n}\n")
    for expr, want in (("words.stream().map(w -> w.length()).filter(n -> n.", "value Integer"),
                       ("words.stream().map(String::trim).filter(s -> s.", "value String"),
                       ("words.stream().map(w -> { if (w.isEmpty()) { return 0L; } return 1L; }).findFirst().get().",
                        "value Long"),
                       ("words.stream().map(StringBuilder::new).findFirst().get().", "value StringBuilder"),
                       ("Optional.of(words).map(List::size).get().", "value Integer"),
                       ("words.stream().map(w -> w.trim()).findFirst().get().", "value String")):
        assert receiver(expr, source=source) == want, expr


def test_brackets_after_the_name_make_an_array():
    """`byte b[]` (C-style) is an array as `byte[] b` is: a parameter, a local, a for-each variable."""
    source = ("class W {\n    void write(byte b[], int off) {\n        String words[] = null;\n"
              "        for (String row[] : table) { IN_FOR }\n        CURSOR\n    }\n    String[][] table;\n}\n")
    for expr, want in (("b.", "value byte[]"), ("words.", "value String[]"), ("off.", "value int")):
        assert receiver(expr, source=source) == want
    assert receiver("row.", source=source, at="IN_FOR") == "value String[]"
    assert "length" in members("b.", source=source)


def test_scope_names_at_a_statement_start():
    s = scope_at("")
    got = {m.name: m for m in s.scope_names()}
    for name, kind in [("local", "variable"), ("inferred", "variable"), ("param", "parameter"), ("rest", "parameter"),
                       ("lines", "field"), ("sku", "field"), ("first", "method"), ("describe", "method"),
                       ("max", "method"), ("Order", "class"), ("Line", "class")]:
        assert got[name].kind == kind, name
    assert "each" not in got and "pattern" in got                # the for variable's scope has ended
    assert got["local"].detail == "Order.Line local"


def test_imports_explicit_wildcard_and_java_lang():
    index = JavaIndex()
    index.update("file:///ws/other/Stock.java", "package other; public class Stock { public int level() { return 0; } }")
    src = ("package shop;\nimport other.Stock;\nimport java.util.concurrent.*;\n"
           "class A { void m(Stock s, ConcurrentHashMap<String, Integer> c, StringBuilder b) { CURSOR } }")
    assert receiver("s.", index=index, source=src) == "value Stock"
    assert "level" in members("s.", index=index, source=src)
    assert receiver("c.", index=index, source=src) == "value ConcurrentHashMap<String,Integer>"
    assert receiver("b.", index=index, source=src) == "value StringBuilder"


def test_workspace_index_follows_updates_and_same_package_classes():
    index = JavaIndex()
    index.update("file:///ws/shop/Stock.java", "package shop; class Stock { int level; }")
    src = "package shop; class A { Stock s; void m() { CURSOR } }"
    assert set(members("s.", index=index, source=src)) >= {"level"}
    index.update("file:///ws/shop/Stock.java", "package shop; class Stock { int amount() { return 1; } }")
    got = members("s.", index=index, source=src)
    assert "amount" in got and "level" not in got
    index.remove("file:///ws/shop/Stock.java")
    assert members("s.", index=index, source=src) == {}


def test_workspace_index_counts_the_members_its_files_use():
    """How often the workspace's code writes `.name`: kept current as files change and go."""
    index = JavaIndex()
    index.update("file:///ws/a/A.java", "class A { void m(Stock s) { s.level(); s.level(); s.reset(); } }")
    index.update("file:///ws/a/B.java", "class B { void m(Stock s) { s.level(); } }")
    assert index.member_uses["level"] == 3 and index.member_uses["reset"] == 1
    index.update("file:///ws/a/A.java", "class A { void m(Stock s) { s.reset(); } }")
    assert index.member_uses["level"] == 1 and index.member_uses["reset"] == 1
    index.remove("file:///ws/a/B.java")
    assert "level" not in index.member_uses and index.member_uses["reset"] == 1


def test_workspace_scan_reads_java_files(tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "Thing.java").write_text("package a; public class Thing { public void go() {} }")
    (tmp_path / "build").mkdir()
    (tmp_path / "build" / "Gen.java").write_text("package a; public class Gen {}")
    index = JavaIndex()
    assert index.scan([tmp_path]) == 1
    assert index.get("a.Thing").methods[0].name == "go" and index.get("a.Gen") is None


def test_shipped_jdk_index_has_generic_signatures():
    jdk = jdk_index()
    lst = jdk.get("java.util.List")
    assert lst.kind == "interface" and lst.tparams == ("E",)
    get = next(m for m in lst.methods if m.name == "get")
    assert get.ret == "E" and get.params == ("int",)
    assert any(m.name == "of" and m.static for m in lst.methods)
    assert jdk.get("java.util.Map$Entry").tparams == ("K", "V")
    assert "java.sql.Connection" in jdk and "java.util.logging.Logger" in jdk
    assert jdk.get("java.lang.String").supers[0] == "java.lang.Object"


def test_protected_jdk_members_inside_subclasses_only():
    """A JDK class's protected members (the index flags them) are offered where Java lets code
    use them: in a subclass, on its own instances (`in.` of a FilterInputStream subclass
    resolves; `this.` offers `in`, ArrayList's `removeRange`), never on other receivers."""
    filt = jdk_index().get("java.io.FilterInputStream")
    assert [(f.name, f.protected) for f in filt.fields] == [("in", True)]
    assert not next(m for m in filt.methods if m.name == "skip").protected
    proxy = ("import java.io.*;\nimport java.util.*;\nclass Proxy extends FilterInputStream {\n"
             "    Proxy(InputStream s) { super(s); }\n    long skip(long n) throws IOException {\n"
             "        List<String> names = new ArrayList<>();\n        CURSOR\n    }\n}\n"
             "class Names extends ArrayList<String> {\n    void cut() { IN_FOR }\n}\n")
    assert receiver("in.", source=proxy) == "value InputStream"
    assert "in" in members("this.", source=proxy)
    outside = members("names.", source=proxy)
    assert "size" in outside and "removeRange" not in outside and "modCount" not in outside
    assert "clone" not in members("names.", source=proxy.replace("ArrayList<>", "LinkedList<>")
                                                        .replace("List<String> names", "Queue<String> names"))
    own = members("this.", source=proxy, at="IN_FOR")
    assert {"removeRange", "modCount", "size"} <= set(own)
    piped = "import java.io.*;\nclass P extends PipedInputStream {\n    void f() { CURSOR }\n}\nclass Q { void g() { IN_FOR } }\n"
    assert "PIPE_SIZE" in members("PipedInputStream.", source=piped)             # a protected constant, statically
    assert "PIPE_SIZE" not in members("PipedInputStream.", source=piped, at="IN_FOR")


def test_jdk_index_decodes_only_what_is_looked_up():
    data = (ROOT / "r1lsp" / "java" / "jdk-api.txt.gz").read_bytes()
    jdk = JdkIndex.from_bytes(data)                               # ~60 ms: its speed is benched, not asserted
    assert jdk.get("java.util.ArrayList").name == "java.util.ArrayList"
    assert len(jdk._classes) < 10 < len(jdk.names())             # a class's JSON is decoded on first lookup
    assert len(data) < 4_000_000


@pytest.mark.skipif(shutil.which("java") is None, reason="no JDK on this machine")
def test_index_generator_writes_the_format_the_loader_reads(tmp_path):
    out = subprocess.run(["java", str(ROOT / "r1lsp" / "java" / "JdkIndex.java"), "java.logging"],
                         capture_output=True, check=True, timeout=300).stdout
    jdk = JdkIndex.from_bytes(gzip.compress(out))
    assert jdk.header["modules"] == ["java.logging"]
    logger = jdk.get("java.util.logging.Logger")
    assert any(m.name == "getLogger" and m.static and m.ret == "java.util.logging.Logger" for m in logger.methods)
    assert "java.util.List" not in jdk
    handler = jdk.get("java.util.logging.Handler")                # protected members: flagged
    assert next(m for m in handler.methods if m.name == "reportError").protected
    assert not next(m for m in handler.methods if m.name == "publish").protected


def test_members_the_document_uses_on_the_same_receiver_rank_near_the_top():
    from r1lsp.completion import AnalysisContext, complete
    from model.structure import StructuredDocument
    text = ("import java.util.*;\nclass A {\n    void m(StringBuilder sb) {\n        sb.reverse();\n"
            "        sb.reverse();\n        sb.\n    }\n}\n")
    doc = StructuredDocument(text, "java")
    got = complete(doc, 5, len("        sb."), None, context=AnalysisContext(java_index=JavaIndex()))
    labels = [i.label for i in got.items]
    unused = "import java.util.*;\nclass A {\n    void m(StringBuilder sb) {\n        sb.\n    }\n}\n"
    before = [i.label for i in complete(StructuredDocument(unused, "java"), 3, len("        sb."), None,
                                        context=AnalysisContext(java_index=JavaIndex())).items]
    # among StringBuilder's ~40 members: the document's uses move it up, into the first screen
    # (beside what code uses most, the usage prior's append, and the void setters a statement makes)
    assert labels.index("reverse") < before.index("reverse") and labels.index("reverse") < 8
    assert labels.index("reverse") < labels.index("ensureCapacity")
    assert got.items[labels.index("reverse")].detail.startswith("StringBuilder reverse()")
    assert "append" in labels


def test_the_usage_prior_ranks_the_members_code_uses_most_first():
    """Nothing in the document says which of String's members comes next: the counts of other
    code (the JDK's sources) put `equals` / `length` / `substring` ahead of rarely used ones."""
    from r1lsp.completion import AnalysisContext, complete
    from model.structure import StructuredDocument
    text = "class A {\n    int m(String s) {\n        int n = s.\n    }\n}\n"
    doc = StructuredDocument(text, "java")
    got = complete(doc, 2, len("        int n = s."), None, context=AnalysisContext(java_index=JavaIndex()))
    labels = [i.label for i in got.items]
    assert "length" in labels[:3]
    assert labels.index("length") < labels.index("codePointCount") and labels.index("length") < labels.index("intern")


@pytest.mark.parametrize("line, expected", [
    ("String s = local.", "String"),
    ("int n; n = local.", "int"),
    ("if (local.", "boolean"),
    ("return local.", "void"),
    ("local.|();", "void"),                                       # a call made for its effect
    ("local.|().trim();", None),                                  # the start of a chain: unknown
    ("Object o2 = local.", "Object"),
    ("if (local.|() > 4) {}", "int"),                             # compared with a number
    ("of(local.|);", "String"),                                   # an argument: the parameter's type
    ("words.add(local.|);", "String"),                            # List<String>.add(E): E substituted
    ("Math.max(local.|, 1);", None),                              # overloads that disagree: unknown
    ("String t = o == null ? null : local.", "String"),           # a branch of ?: expects the whole's type
    ("this.| = first();", "Order.Line"),                          # assigned: the value's type
    ("this.| = null;", None),                                     # null: any reference type
    ("this.| += 1;", None),
])
def test_expected_type_at_the_cursor(line, expected):
    before, _, after = line.partition("|")
    s = scope_at(before, source=SHAPES.replace("CURSOR", "CURSOR" + after))
    got = s.expected_here()
    assert (got.show() if got is not None else None) == expected


def test_members_of_the_expected_type_rank_higher():
    from r1lsp.completion import AnalysisContext, complete
    from model.structure import StructuredDocument
    text = "class A {\n    boolean m(String s) {\n        if (s.\n    }\n}\n"
    doc = StructuredDocument(text, "java")
    got = complete(doc, 2, len("        if (s."), None, context=AnalysisContext(java_index=JavaIndex()))
    top = [i.label for i in got.items[:8]]
    assert top[0] in ("isEmpty", "isBlank", "equals", "contains", "startsWith", "endsWith", "matches",
                      "equalsIgnoreCase", "contentEquals", "regionMatches"), top


def test_a_call_written_after_the_word_prefers_methods_of_that_arity():
    from r1lsp.completion import AnalysisContext, complete
    from model.structure import StructuredDocument
    text = "class A {\n    void m(StringBuilder sb) {\n        sb.(1, 2);\n    }\n}\n"
    doc = StructuredDocument(text, "java")
    got = complete(doc, 2, len("        sb."), None, context=AnalysisContext(java_index=JavaIndex()))
    top = [i.label for i in got.items[:10]]
    assert "deleteCharAt" not in top[:3] and set(top[:3]) <= {"delete", "insert", "replace", "append", "setLength",
                                                              "setCharAt", "substring", "codePointCount", "getChars",
                                                              "subSequence", "offsetByCodePoints", "indexOf",
                                                              "lastIndexOf", "appendCodePoint"}, top
    assert "length" not in top[:5]                                # a field-like no-argument method


@pytest.mark.skipif(shutil.which("javac") is None, reason="no JDK on this machine")
def test_jar_classes_are_read_with_their_generic_signatures(tmp_path):
    import zipfile
    src = tmp_path / "src" / "lib"
    src.mkdir(parents=True)
    (src / "Box.java").write_text(
        "package lib;\nimport java.util.*;\n"
        "public class Box<T extends Comparable<T>> implements Iterable<T> {\n"
        "    public static final int SIZE = 1;\n    public List<String>[] labels;\n"
        "    public T get() { return null; }\n    public static <U extends Comparable<U>> Box<U> of(U u) { return null; }\n"
        "    public void addAll(String... xs) { }\n    private void hidden() { }\n"
        "    public Iterator<T> iterator() { return null; }\n"
        "    public static class Inner { public Map.Entry<String, Integer> entry() { return null; } }\n}\n")
    out = tmp_path / "classes"
    subprocess.run(["javac", "-d", str(out), str(src / "Box.java")], check=True, timeout=120)
    ws = tmp_path / "ws"
    (ws / "lib").mkdir(parents=True)
    with zipfile.ZipFile(ws / "lib" / "box.jar", "w") as z:
        for f in out.rglob("*.class"):
            z.write(f, f.relative_to(out).as_posix())
    index = JavaIndex()
    index.scan([ws])
    box = index.get("lib.Box")
    assert box.tparams == ("T:java.lang.Comparable<T>",) and box.supers == ("java.lang.Object", "java.lang.Iterable<T>")
    by_name = {m.name: m for m in box.methods}
    assert "hidden" not in by_name and by_name["get"].ret == "T"
    assert by_name["of"].static and by_name["of"].tparams == ("U:java.lang.Comparable<U>",) and by_name["of"].ret == "lib.Box<U>"
    assert by_name["addAll"].varargs and by_name["addAll"].params == ("java.lang.String[]",)
    assert {f.name: f.type for f in box.fields} == {"SIZE": "int", "labels": "java.util.List<java.lang.String>[]"}
    src2 = ("import lib.Box;\nclass A { void m(Box<String> b) { CURSOR } }")
    assert receiver("b.get().", index=index, source=src2) == "value String"
    assert receiver("Box.Inner.", index=index, source=src2) == "type Box.Inner"
    assert receiver("new Box.Inner().entry().", index=index, source=src2) == "value Map.Entry<String,Integer>"


def test_a_name_written_elsewhere_on_the_line_ranks_first():
    """`this. = delimiter;` assigns the field named like the value (and `a.x == b.` compares the
    same member): the name on the line is the likely one among the class's fields."""
    from r1lsp.completion import AnalysisContext, complete
    from model.structure import StructuredDocument
    text = ("class A {\n    private int count;\n    private String delimiter;\n    private boolean trim;\n"
            "    A(String delimiter) {\n        this. = delimiter;\n    }\n}\n")
    doc = StructuredDocument(text, "java")
    got = complete(doc, 5, len("        this."), None, context=AnalysisContext(java_index=JavaIndex()))
    assert got.items[0].label == "delimiter"


def test_object_members_stay_last_unless_code_uses_them_on_that_type():
    """Object's own members come after the type's (`wait`, `notify`, `hashCode` on almost every
    type), but one that other code uses on this very type often (`Class.equals`, as in
    `if (type.equals(Integer.TYPE))`) is ranked as the type's own members are."""
    from r1lsp.completion import AnalysisContext, complete
    from model.structure import StructuredDocument

    def labels(decl: str, line: str) -> list[str]:
        text = f"class A {{\n    boolean m({decl}) {{\n{line}\n    }}\n}}\n"
        doc = StructuredDocument(text, "java")
        got = complete(doc, 2, len(line), None, max_items=200, context=AnalysisContext(java_index=JavaIndex()))
        return [i.label for i in got.items]

    on_class = labels("Class<?> type", "        return type.")
    assert on_class.index("equals") < on_class.index("isNestmateOf")
    assert on_class.index("wait") > on_class.index("isNestmateOf")         # still last: nobody waits on a Class
    on_list = labels("java.util.List<String> xs", "        return xs.")
    assert on_list.index("getClass") > on_list.index("subList")


def test_an_overload_returning_the_expected_type_matches_it():
    """`int c = Math.` wants an int: Math.min's int overload matches, though its first overload
    (in the JDK's order) returns double."""
    from r1lsp.completion import AnalysisContext, complete
    from model.structure import StructuredDocument
    line = "        int c = Math.(a, b);"
    text = "class A {\n    void m(int a, int b) {\n" + line + "\n    }\n}\n"
    got = complete(StructuredDocument(text, "java"), 2, line.index(".") + 1, None,
                   context=AnalysisContext(java_index=JavaIndex()))
    labels = [i.label for i in got.items]
    assert labels.index("min") < labels.index("multiplyExact") and labels.index("max") < labels.index("addExact")
    ms = members("Math.")
    assert set(ms["min"].returns) == {"double", "float", "int", "long"}


def test_a_constant_another_branch_tests_ranks_after_the_others():
    """`else if (k == Kind.)` after `if (k == Kind.RED)`, `case Kind.` after `case Kind.RED:`:
    what an earlier alternative of the same choice handles is not what this one tests."""
    from r1lsp.completion import AnalysisContext, complete
    from model.structure import StructuredDocument

    def labels(body: str, mark: str) -> list[str]:
        text = "enum Kind { RED, GREEN, BLUE; static final Kind FIRST = RED; int weight; }\nclass A {\n    String f(Kind k, int n) {\n" \
               + body + "\n        return \"\";\n    }\n}\n"
        at = text.rindex(mark)                                          # the cursor: after the last one
        line = text[:at].count("\n")
        col = len(text[:at].rsplit("\n", 1)[-1]) + len(mark)
        got = complete(StructuredDocument(text, "java"), line, col, None, context=AnalysisContext(java_index=JavaIndex()))
        return [i.label for i in got.items]

    chain = labels("        if (k == Kind.RED) return \"r\";\n        else if (k == Kind.) return \"g\";", "else if (k == Kind.")
    assert chain.index("RED") > chain.index("GREEN") and chain.index("RED") > chain.index("BLUE")
    alone = labels("        if (k == Kind.RED) return \"r\";\n        if (k == Kind.) return \"g\";", "        if (k == Kind.")
    assert alone.index("RED") < alone.index("GREEN")                   # not one choice: RED's use counts for it
    cases = labels("        switch (n) {\n            case Kind.RED: return \"r\";\n            case Kind.: return \"g\";\n        }",
                   "            case Kind.")
    assert cases.index("RED") > cases.index("GREEN")
    subject = labels("        if (k.weight == 1) return \"a\";\n        else if (k.) return \"b\";", "else if (k.")
    assert subject[0] == "weight"                                       # what the alternatives share stays first
