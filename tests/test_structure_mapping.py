"""Exact units of real-looking Java and Python, fallback rules, output formats."""
from __future__ import annotations

import json

import pytest

from model.structure import Level, format_levels, map_structure, normalize_language

from test_structure_helpers import check_invariants, find, fixture, text_of

P, S, H, T = Level.PARAGRAPH, Level.SENTENCE, Level.PHRASE, Level.TOKEN


@pytest.fixture(scope="module")
def shop_java():
    text = fixture("Shop.java")
    return text, map_structure(text, "java")


@pytest.fixture(scope="module")
def shop_py():
    text = fixture("shop.py")
    return text, map_structure(text, "python")


@pytest.mark.parametrize("name,lang", [("Shop.java", "java"), ("shop.py", "python"),
                                       ("Broken.java", "java"), ("broken.py", "python")])
def test_every_token_is_covered_and_parents_nest(name, lang):
    text = fixture(name)
    check_invariants(map_structure(text, lang), text)


def test_java_method_paragraph_spans_its_lines(shop_java):
    text, h = shop_java
    count = [p for p in h.at_level(P) if p.name == "count"]
    assert len(count) == 1
    assert (count[0].kind, count[0].start, count[0].end) == ("method_declaration", (15, 4), (22, 5))
    assert text_of(text, count[0]).startswith("@Override\n    public int count(int x) {")


def test_java_return_sentence_and_call_phrase(shop_java):
    text, h = shop_java
    ret = find(h, text, S, "return x + 1;")
    assert (ret.kind, ret.start, ret.end) == ("return_statement", (21, 8), (21, 21))
    assert h.spans[ret.parent].name == "count"
    call = find(h, text, H, "stock.add", "method_invocation")
    args = find(h, text, H, "(null)", "argument_list")
    assert (call.start, args.end) == ((19, 12), (19, 27))
    assert call.parent == args.parent == find(h, text, S, "stock.add(null);").id
    assert find(h, text, H, "x + 1").kind == "binary_expression"


def test_java_compound_statement_header_is_its_own_sentence(shop_java):
    text, h = shop_java
    header = find(h, text, S, "if (doubled > 10) {")
    assert header.kind == "if_statement" and header.start == (18, 8)
    # the method header, which no query captures as a sentence, is its line
    assert find(h, text, S, "public int count(int x) {").kind == "line"


def test_java_declarations_are_named_paragraphs(shop_java):
    _, h = shop_java
    named = {(p.kind, p.name) for p in h.at_level(P)}
    for expected in [("class_declaration", "Shop"), ("constructor_declaration", "Shop"),
                     ("method_declaration", "names"), ("class_declaration", "Receipt"),
                     ("enum_declaration", "Size"), ("method_declaration", "factor"),
                     ("record_declaration", "Item"), ("interface_declaration", "Priced"),
                     ("method_declaration", "free")]:
        assert expected in named
    # package and imports are top-level runs split at the blank line
    blocks = [p for p in h.at_level(P) if p.kind == "block"]
    assert [(b.start[0], b.end[0]) for b in blocks[:2]] == [(0, 0), (2, 4)]


def test_java_nested_lambdas_keep_their_statements(shop_java):
    text, h = shop_java
    inner = find(h, text, S, "out.add(fmt.apply(item));")
    assert inner.kind == "expression_statement" and inner.start == (27, 12)
    assert h.spans[inner.parent].name == "names"
    lam = find(h, text, S, "Runnable r = () -> System.out.println(item.name());")
    assert lam.kind == "local_variable_declaration"
    # the statement around the lambda resumes after its body
    assert find(h, text, S, "});").kind == "expression_statement"


def test_python_units(shop_py):
    text, h = shop_py
    gross = [p for p in h.at_level(P) if p.name == "gross"][0]
    assert (gross.kind, gross.start, gross.end) == ("function_definition", (12, 4), (13, 37))
    item = [p for p in h.at_level(P) if p.name == "Item"][0]
    assert item.kind == "decorated_definition" and item.start == (7, 0)
    assert find(h, text, S, "@dataclass(frozen=True)").kind == "decorator"
    ret = find(h, text, S, "return self.price * (1 + TAX)")
    assert (ret.kind, ret.start, ret.end) == ("return_statement", (13, 8), (13, 37))
    # a comprehension's own tokens (its braces) are its phrase; the parts inside are theirs
    brace = text.encode().index(b"{n: r for")
    assert h.enclosing(brace, H).kind == "dictionary_comprehension"
    assert h.enclosing(brace + 1, H).kind == "pair"
    assert find(h, text, H, "for n, r in", "for_in_clause")
    main = [p for p in h.at_level(P) if p.kind == "if_statement"]
    assert len(main) == 1 and main[0].start == (28, 0)
    assert find(h, text, S, "async def fetch(names):").kind == "line"
    assert find(h, text, H, "asyncio.gather").kind == "attribute"
    top = [p for p in h.at_level(P) if p.kind == "block"]
    assert [(b.start[0], b.end[0]) for b in top] == [(0, 2), (4, 4)]


def test_nested_function_splits_its_parent(shop_py):
    text, h = shop_py
    parts = [p for p in h.at_level(P) if p.name == "cheapest"]
    assert [(p.start[0], p.end[0]) for p in parts] == [(16, 16), (19, 20)]
    assert [p.name for p in h.at_level(P) if p.start[0] == 17] == ["key"]


def test_syntax_errors_still_map():
    for name, lang in (("Broken.java", "java"), ("broken.py", "python")):
        text = fixture(name)
        h = map_structure(text, lang)
        assert h.has_errors
        assert h.count(T) > 20
    text = fixture("broken.py")
    h = map_structure(text, "python")
    # the broken def falls back to lines inside a block; the good def before it is intact
    assert [p.name for p in h.at_level(P) if p.kind == "function_definition"] == ["ok"]
    assert find(h, text, S, "x = [1, 2").kind == "line"
    java = fixture("Broken.java")
    hj = map_structure(java, "java")
    assert find(hj, java, S, "return 3;").kind == "return_statement"
    assert [p.name for p in hj.at_level(P) if p.kind == "method_declaration"] == ["ok", "bad", "after"]


def test_plaintext_fallback():
    text = "Hello, world!\nsecond line\n\n\nNew para: x=1\n"
    h = map_structure(text, "plaintext")
    check_invariants(h, text)
    assert [text_of(text, t) for t in h.at_level(T)][:4] == ["Hello", ",", "world", "!"]
    assert [s.kind for s in h.at_level(S)] == ["line"] * 3
    assert [(p.kind, p.start, p.end) for p in h.at_level(P)] == [("block", (0, 0), (1, 11)),
                                                                ("block", (4, 0), (4, 13))]
    assert map_structure(text, "markdown").language == "plaintext"
    assert map_structure("", "java").count(T) == 0
    assert map_structure("   \n\n", "python").count(P) == 0


def test_utf16_columns_with_multibyte_and_emoji():
    text = 'class A {\n  String s = "é😀x"; int y = 1;\n}\n'
    h = map_structure(text, "java")
    check_invariants(h, text)
    lit = find(h, text, H, '"é😀x"', "string_literal")
    # 'é' is 1 UTF-16 unit (2 bytes), the emoji 2 units (4 bytes)
    assert (lit.start, lit.end) == ((1, 13), (1, 19))
    assert lit.end_byte - lit.start_byte == 9
    y = find(h, text, S, "int y = 1;")
    assert (y.start, y.end) == ((1, 21), (1, 31))


@pytest.mark.parametrize("eol", ["\r\n", "\r"])
def test_crlf_and_lone_cr_line_endings(eol):
    lf = "def f(x):\n    return x + 1\n\n\ny = f(2)\n"
    text = lf.replace("\n", eol)
    h = map_structure(text, "python")
    check_invariants(h, text)
    ret = find(h, text, S, "return x + 1")
    assert (ret.start, ret.end) == ((1, 4), (1, 16))
    y = find(h, text, S, "y = f(2)")
    assert (y.start, y.end) == ((4, 0), (4, 8))
    href = map_structure(lf, "python")
    assert [(s.kind, s.start, s.end) for s in h.spans] == [(s.kind, s.start, s.end) for s in href.spans]


def test_enclosing_and_unit_ids(shop_java):
    text, h = shop_java
    data = text.encode()
    off = data.index(b"x + 1;")
    assert h.enclosing(off, P).name == "count"
    assert h.enclosing(off, S).kind == "return_statement"
    assert h.enclosing(off, H).kind == "binary_expression"
    assert h.enclosing(off, T).kind == "identifier"
    assert h.enclosing(len(data) + 5, P) is None
    ids = h.unit_ids([0, off, off + 1, len(data) - 1])
    phrase = h.enclosing(off, H)
    assert ids[1] == (phrase.id - h.at_level(H)[0].id, h.enclosing(off, S).id - h.at_level(S)[0].id,
                      h.enclosing(off, P).id - h.at_level(P)[0].id)
    assert ids[0] == (0, 0, 0)
    assert ids[2] == ids[1]  # the space after x is inside the same binary expression
    assert ids[3][2] == h.count(P) - 1


def test_normalize_language():
    assert normalize_language("java") == "java"
    assert normalize_language("Python") == "python"
    assert normalize_language("src/a/B.java") == "java"
    assert normalize_language("stub.pyi") == "python"
    assert normalize_language(".py") == "python"
    assert normalize_language("file:///x/y.py") == "python"
    assert normalize_language("notes.txt") == "plaintext"
    assert normalize_language(None) == "plaintext"
    assert normalize_language(42) == "plaintext"


def test_to_dict_is_json_and_format_levels(shop_java):
    text, h = shop_java
    d = json.loads(json.dumps(h.to_dict()))
    assert d["language"] == "java" and d["counts"]["paragraph"] == h.count(P)
    assert len(d["spans"]) == len(h.spans)
    out = format_levels(h, text)
    assert "¶ 16:5-23:6 method_declaration count" in out
    assert "§ 22:9-22:22 return_statement  'return x + 1;'" in out
    assert "~ 22:16-22:21 binary_expression  'x + 1'" in out


@pytest.mark.parametrize("path", ["samples/Inventory.java", "samples/inventory.py"])
def test_samples_map_cleanly(path):
    from pathlib import Path
    text = (Path(__file__).parent.parent / path).read_text(encoding="utf-8")
    h = map_structure(text, normalize_language(path))
    assert not h.has_errors and h.fallback is None
    check_invariants(h, text)
    assert {"Inventory", "Item"} <= {p.name for p in h.at_level(P)}


def test_query_captures_are_checked_against_the_vocabulary():
    """A capture outside a query file's vocabulary fails the load, naming the file and the capture."""
    from model.structure.languages import VOCABULARY, QueryError, compile_query, language_support
    language = language_support("java").language
    with pytest.raises(QueryError, match=r"Foo.scm: capture @paragrahp is not in the vocabulary"):
        compile_query(language, "(class_declaration) @paragrahp", "Foo.scm", VOCABULARY["structure"])
    compile_query(language, "((identifier) @_x (#eq? @_x \"a\")) @phrase", "Foo.scm", VOCABULARY["structure"])



def test_the_java_resolvers_queries_load_through_the_one_loader_with_their_vocabulary():
    """declarations.scm / classes.scm (r1lsp/java's resolver and index) live with the language's
    other queries and are checked like them; an unknown query name is refused."""
    from model.structure.languages import VOCABULARY, QueryError, language_query
    for name in ("declarations", "classes"):
        q = language_query("java", name)
        captures = {q.capture_name(i) for i in range(q.capture_count)}
        assert captures and captures <= VOCABULARY[name]
    with pytest.raises(QueryError):
        language_query("java", "nonexistent")
