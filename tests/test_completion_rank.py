"""The completion ranking's features around the cursor (r1lsp/completion_rank.py): uses of members
before and after the cursor, the enclosing function and class, the tokens around the word, the
words of the names on the line."""
from __future__ import annotations

from model.structure import StructuredDocument
from r1lsp.completion_candidates import _Cand
from r1lsp.completion_names import cursor_at
from r1lsp.completion_rank import RankContext, around_words, rank_features, subtokens

ACCOUNT = """\
class Account:
    def __init__(self, owner):
        self.owner = owner
        self.balance = 0
        self.history = []

    def deposit(self, amount):
        if self.balance < 0:
            self.history.append(amount)
        self.balance += amount
        total_balance = self.
        return self.history
"""


def _context(text: str, line: int, language: str = "python") -> tuple[RankContext, object]:
    """The ranking's context after the last `.` of `line`."""
    doc = StructuredDocument(text, language)
    cur = cursor_at(doc, line, text.split("\n")[line].rindex(".") + 1)
    return RankContext.of(doc, cur), cur


def _features(rc, cur, label: str, **kw) -> dict[str, float]:
    return rank_features(_Cand(label, kw.pop("kind", "field"), "member", 0.0, **kw), cur, rc, None, False)


def test_uses_before_and_after_the_cursor_and_the_enclosing_scopes():
    line = ACCOUNT.split("\n").index("        total_balance = self.")
    rc, cur = _context(ACCOUNT, line)
    uses = rc.uses
    assert uses.function_name == "deposit" and uses.function == (6, 11) and uses.klass == (0, 11)
    assert uses.self_receiver
    # `self.` then a line starting `return`: the cursor's own dot is no use of `return`
    assert "return" not in uses.lines and uses.same["history"] == [4, 8, 11]
    history = _features(rc, cur, "history")
    owner = _features(rc, cur, "owner")
    assert history["near_same"] == 1.0 / (1.0 + __import__("math").log1p(1))    # used on the next line
    assert history["near_same"] > owner["near_same"] > 0.0
    assert history["in_function"] > 0.0 and owner["in_function"] == 0.0
    assert history["in_class"] > owner["in_class"] > 0.0


def test_the_tokens_around_the_word_and_the_words_of_the_line():
    text = ("class A:\n    def size_of(self):\n        if self.empty:\n            return 0\n"
            "        if self.\n        n = self.count(1)\n        return self.total_size\n")
    rc, cur = _context(text, 4)
    empty = _features(rc, cur, "empty")
    count = _features(rc, cur, "count")
    assert empty["prev_match"] > 0.0 and count["prev_match"] == 0.0        # `if self.` before, as here
    total = _features(rc, cur, "total_size")
    assert total["function_subtokens"] == 0.5 and empty["function_subtokens"] == 0.0   # size_of: "size"
    # after `n = self.(`, the names written with a call after them
    rc, cur = _context(text.replace("        if self.\n", "        n = self.(2)\n"), 4)
    cur_count = rank_features(_Cand("count", "method", "member", 0.0), cur, rc, None, False)
    assert cur_count["follow_match"] > 0.0 and _features(rc, cur, "empty")["follow_match"] == 0.0
    rc, cur = _context("def f(a, b):\n    total_count = a.\n", 1)
    assert _features(rc, cur, "count_total")["line_subtokens"] == 1.0
    assert _features(rc, cur, "counter")["line_subtokens"] == 0.0


def test_the_words_of_the_lines_around_the_cursor():
    text = ("class P {\n    JsonToken next(int ch) {\n        // unused\n        _matchTrue(\"x\");\n"
            "        t = JsonToken.\n        return t; // done\n        skipNull();\n    }\n}\n")
    # `return`, a keyword, says nothing; a literal's word does (`null` in `if (x == null)`)
    assert around_words(StructuredDocument(text, "java"), 4) == {"unused", "match", "true", "done"}
    assert around_words(StructuredDocument("if (x == null) {\n  a.\n", "java"), 1) == {"null"}
    rc, cur = _context(text, 4, "java")
    true = _features(rc, cur, "VALUE_TRUE")
    assert true["around_subtokens"] == 0.5                            # "true" of VALUE_TRUE, from _matchTrue
    assert _features(rc, cur, "VALUE_NULL")["around_subtokens"] == 0.0    # skipNull is 2 lines after: not read
    assert around_words(StructuredDocument("a = b.\n", "python"), 0) == frozenset()   # a one-line file


def test_subtokens_split_camel_and_snake_case():
    assert subtokens("getSchemeSpecificPart") == {"get", "scheme", "specific", "part"}
    assert subtokens("_total_size") == {"total", "size"}
    assert subtokens("HTTPServer2") == {"http", "server"}
    assert subtokens("x") == frozenset()


def test_java_own_class_members_and_the_enclosing_method():
    text = ("class Stock {\n    int count;\n    String name;\n    int count() {\n"
            "        int n = this.\n        return n;\n    }\n}\n")
    rc, cur = _context(text, 4, "java")
    assert rc.uses.function_name == "count" and rc.uses.self_receiver
    own = _features(rc, cur, "count", depth=0, receiver_type="Stock")
    inherited = _features(rc, cur, "hashCode", kind="method", depth=1, receiver_type="Stock")
    assert own["own_class"] == 1.0 and inherited["own_class"] == 0.0
    assert own["function_name"] == 1.0 and inherited["function_name"] == 0.0


def test_java_members_the_workspace_uses_elsewhere_count():
    from r1lsp.completion import AnalysisContext, complete
    from r1lsp.java.workspace import JavaIndex
    index = JavaIndex()
    index.update("file:///ws/shop/Stock.java", "package shop; public class Stock { public void reset() {} "
                 "public int level() { return 0; } public void audit() {} }")
    index.update("file:///ws/shop/Use.java", "package shop; class Use { void m(Stock s) { s.reset(); s.reset(); } }")
    text = "package shop;\nclass A {\n    void m(Stock s) {\n        s.\n    }\n}\n"
    index.update("file:///ws/shop/A.java", text)
    feats: list = []
    complete(StructuredDocument(text, "java"), 3, len("        s."), None, features_out=feats,
             context=AnalysisContext(java_index=index, uri="file:///ws/shop/A.java"))
    got = dict(feats)
    assert got["reset"]["workspace_uses"] > 0.0 and got["audit"]["workspace_uses"] == 0.0
    assert got["reset"]["declared"] == 1.0 and got["hashCode"]["declared"] == 0.0


def test_the_member_written_before_the_same_next_member_and_a_for_each_loop():
    text = ("def f(self, o):\n    a = o.__class__.__name__\n    b = self..__name__\n"
            "    self.\n    n = o.\n    for x in o.\n")
    doc = StructuredDocument(text, "python")
    cur = cursor_at(doc, 2, len("    b = self."))
    rc = RankContext.of(doc, cur)
    assert _features(rc, cur, "__class__")["follow_chain"] > 0.0
    assert _features(rc, cur, "__name__")["follow_chain"] == 0.0
    rc, cur = _context(text, 5)
    assert rc.for_each
    java = "class A {\n  void m(Class<?> c) {\n    for (Method m : c.\n  }\n}\n"
    rc, cur = _context(java, 2, "java")
    assert _features(rc, cur, "getMethods", kind="method", iterable=True)["iterable_for"] == 1.0
    assert _features(rc, cur, "getName", kind="method")["iterable_for"] == 0.0


def test_java_members_a_for_each_loop_can_iterate():
    """Arrays and subtypes of java.lang.Iterable, the JDK's and the workspace's own (through
    their supertypes), as the resolver knows them; a Stream or a Map is not iterable."""
    from r1lsp.completion import AnalysisContext, complete
    from r1lsp.java.workspace import JavaIndex
    index = JavaIndex()
    index.update("file:///ws/shop/Shelf.java", "package shop; import java.util.*; "
                 "public class Shelf extends ArrayList<String> {}")
    index.update("file:///ws/shop/Crate.java", "package shop; import java.util.*; import java.util.stream.*; "
                 "import java.nio.file.Path; public class Crate implements Iterable<String> { "
                 "public List<String> names; public String[] tags; public Shelf shelf; public Path home; "
                 "public Stream<String> stream() { return null; } public Map<String, String> byName; "
                 "public String label; public int size; public Iterator<String> iterator() { return null; } }")
    text = "package shop;\nclass A {\n    void m(Crate c) {\n        for (String s : c.\n    }\n}\n"
    index.update("file:///ws/shop/A.java", text)
    feats: list = []
    complete(StructuredDocument(text, "java"), 3, len("        for (String s : c."), None, features_out=feats,
             context=AnalysisContext(java_index=index, uri="file:///ws/shop/A.java"))
    got = {k: f["iterable_for"] for k, f in feats}
    assert {k for k, v in got.items() if v} == {"names", "tags", "shelf", "home"}
    assert got["stream"] == got["byName"] == got["label"] == got["size"] == got["iterator"] == 0.0


def test_after_self_the_python_features_are_weighed_apart():
    rc, cur = _context(ACCOUNT, ACCOUNT.split("\n").index("        total_balance = self."))
    f = _features(rc, cur, "history")
    assert f["near_same@self"] == f["near_same"] > 0.0 and "model@self" not in f
    rc, cur = _context("def f(account):\n    account.history.append(1)\n    account.\n", 2)
    assert not any(k.endswith("@self") for k in _features(rc, cur, "history"))
    java = "class A {\n    int n;\n    void m() {\n        int k = this.\n    }\n}\n"
    rc, cur = _context(java, 3, "java")
    assert not any(k.endswith("@self") for k in _features(rc, cur, "n", depth=0, receiver_type="A"))


def test_a_member_assigned_a_name_is_offered_as_that_name(tmp_path):
    """`self. = size` in __init__ (the attribute not written anywhere yet): jedi cannot list it;
    the list offers `size` and `_size`, which the ranking knows are spelled as the assigned name."""
    from r1lsp.completion import AnalysisContext, complete
    text = "class Box:\n    def __init__(self, size):\n        self. = size\n        self.items = []\n"
    path = tmp_path / "box.py"
    path.write_text(text)
    feats: list = []
    got = complete(StructuredDocument(text, "python"), 2, len("        self."), None, features_out=feats,
                   context=AnalysisContext(str(path), str(tmp_path)))
    labels = [c.label for c in got.items]
    assert {"size", "_size", "items"} <= set(labels)
    f = dict(feats)
    assert f["size"]["assigned_name"] == f["_size"]["assigned_name"] == 1.0 and f["items"]["assigned_name"] == 0.0
    # no assignment after the word: no such names
    text = text.replace("self. = size", "self.")
    labels = [c.label for c in complete(StructuredDocument(text, "python"), 2, len("        self."), None,
                                        context=AnalysisContext(str(path), str(tmp_path))).items]
    assert "_size" not in labels


def test_the_arguments_of_the_call_after_the_word_are_counted():
    from r1lsp.completion_calls import python_call_arguments
    assert python_call_arguments("(key, val)") == 2
    assert python_call_arguments("()") == 0
    assert python_call_arguments(" (a, b=f(1, 2), c=[3, 4], d='x,y')") == 4
    assert python_call_arguments("(x for x in xs)") == 1
    assert python_call_arguments("(a,\n    b,  # two, of them\n)") == 2               # across lines, a trailing comma
    assert python_call_arguments("(*args)") is None                                  # any count
    assert python_call_arguments("(a, b") is None                                    # not closed
    assert python_call_arguments(".name") is None and python_call_arguments("") is None   # no call


def test_what_a_signature_accepts():
    from r1lsp.completion_calls import parameter_range
    assert parameter_range("split(sep: str | None=None, maxsplit: SupportsIndex=-1) -> list[str]") == (0, 2)
    assert parameter_range("join(iterable: Iterable[str], /) -> str") == (1, 1)
    assert parameter_range("_do_set(level, node, i, val)") == (4, 4)
    assert parameter_range("format(*args: str, **kwargs: str) -> str") == (0, float("inf"))
    assert parameter_range("f(a: dict[str, int]={'a': 1}, *, b)") == (1, 2)
    assert parameter_range("") is None and parameter_range("int") is None


def test_python_methods_that_fit_the_call_after_the_word(tmp_path):
    """`self.(key, val)`: the methods taking two arguments (or any number) get shape +1, the others
    -1 (jedi's signatures, as the list's details show them); no call after the word: no shape."""
    from r1lsp.completion import AnalysisContext, complete
    text = ("class Table:\n    def put(self, key, val):\n        pass\n\n    def drop(self, key):\n        pass\n\n"
            "    def load(self, path, *args):\n        pass\n\n    def move(self, key, val):\n"
            "        self.(key, val)\n")
    path = tmp_path / "table.py"
    path.write_text(text)
    line = text.split("\n").index("        self.(key, val)")
    feats: list = []
    got = complete(StructuredDocument(text, "python"), line, len("        self."), None, features_out=feats,
                   context=AnalysisContext(str(path), str(tmp_path)))
    f = dict(feats)
    assert f["put"]["shape"] == f["move"]["shape"] == f["load"]["shape"] == 1.0 and f["drop"]["shape"] == -1.0
    assert [c.label for c in got.items][0] in ("put", "move")
    feats = []
    text = text.replace("self.(key, val)", "self.")
    complete(StructuredDocument(text, "python"), line, len("        self."), None, features_out=feats,
             context=AnalysisContext(str(path), str(tmp_path)))
    assert all(f["shape"] == 0.0 for _, f in feats)


def test_a_call_cut_inside_a_character_is_still_read(tmp_path):
    """The text after the word is read up to a byte limit: a character split there is dropped
    (a list whose cut fell inside `é` failed before)."""
    from r1lsp.completion import AnalysisContext, complete
    from r1lsp.completion_calls import CALL_TEXT_BYTES
    head = "class T:\n    def put(self, key):\n        pass\n\n    def go(self):\n        self.('k')\n"
    pad = CALL_TEXT_BYTES - len("('k')\n") - 1                      # `é` (2 bytes) across the limit
    text = head + "#" * pad + "é\n"
    path = tmp_path / "t.py"
    path.write_text(text, "utf-8")
    got = complete(StructuredDocument(text, "python"), 5, len("        self."), None,
                   context=AnalysisContext(str(path), str(tmp_path)))
    assert got.items[0].label == "put"
