"""Ghost text copied from the lines around (r1lsp.line_retrieval): what a user typing a line
that other lines already wrote sees, with and without the model."""
from r1lsp.inline import inline_suggestions
from r1lsp.inline_syntax import closing_rest, open_calls
from r1lsp.line_retrieval import MIN_EVIDENCE, RENAMED_MIN_EVIDENCE, line_candidates, retrieved_line
from model.structure import StructuredDocument


def doc_with_cursor(text: str, language: str):
    i = text.index("|")
    before = text[:i]
    col = len(before.split("\n")[-1].encode("utf-16-le")) // 2
    doc = StructuredDocument(text[:i] + text[i + 1:], language)
    return doc, before.count("\n"), col, doc.offset_at(before.count("\n"), col)


INIT = "class P:\n    def __init__(self, w, x, y):\n        self.w = w\n        self.x = x\n        self.y = |\n"


def test_a_parallel_assignment_is_copied_with_its_names_renamed(stub_engine):
    doc, line, col, _ = doc_with_cursor(INIT, "python")
    eng = stub_engine("junk(")
    got = inline_suggestions(doc, line, col, eng, retrieval=True, min_confidence=-1.83)
    assert [s.text for s in got] == ["y"] and eng.requests == []                # no model request
    assert got[0].confidence == 0.0                                             # both lines agree: log(1)


def test_the_model_answers_where_retrieval_is_off_or_has_nothing(stub_engine):
    doc, line, col, _ = doc_with_cursor(INIT, "python")
    assert [s.text for s in inline_suggestions(doc, line, col, stub_engine("y"), retrieval=False)] == ["y"]
    doc, line, col, _ = doc_with_cursor("def f(items):\n    return |\n", "python")
    assert [s.text for s in inline_suggestions(doc, line, col, stub_engine("len(items)"), retrieval=True)] \
        == ["len(items)"]


def test_java_lines_that_start_alike_give_their_rest():
    src = ("class A {\n    void f(StringBuilder sb, int a, int b) {\n        sb.append(a).append(',');\n"
           "        sb.append(b).append(',');\n        sb.append(|\n    }\n}\n")
    doc, _, _, offset = doc_with_cursor(src, "java")
    cands = line_candidates(doc.text, 4, "        sb.append(", "java")
    assert [c.text for c in cands] == ["b).append(',');", "a).append(',');"]    # a tie: the nearest first
    assert retrieved_line(doc, offset).text == "b).append(',');"               # 4 tokens typed, half the votes
    assert retrieved_line(doc, offset, min_evidence=0.5) is None                # a stricter gate: nothing
    three = src.replace("        sb.append(|", "        sb.append(a + b).append(';');\n        sb.|")
    doc, _, _, offset = doc_with_cursor(three, "java")
    # 3 ways, 2 tokens typed: evidence log(1/3) + 0.2 = -0.9, over Java's gate (-1.0), under Python's
    assert retrieved_line(doc, offset).text == "append(a + b).append(';');"     # the nearest
    assert retrieved_line(doc, offset, min_evidence=MIN_EVIDENCE["python"]) is None


def test_a_renamed_java_line_needs_more_evidence():
    src = ("class A {\n    void f(int a, int b, int c) {\n        a(x);\n        b(y, 1);\n        c(|\n    }\n}\n")
    doc, _, _, offset = doc_with_cursor(src, "java")
    best = line_candidates(doc.text, 4, "        c(", "java")[0]
    # two renamed rivals, 2 tokens typed: log(1/2) + 0.2 + 0.5 log(0.5) = -0.84, over Java's gate (-1.0)
    assert best.renamed and MIN_EVIDENCE["java"] <= best.evidence < RENAMED_MIN_EVIDENCE["java"]
    assert retrieved_line(doc, offset) is None
    assert retrieved_line(doc, offset, min_evidence=MIN_EVIDENCE["java"]).text == best.text


def test_a_word_being_typed_is_completed_not_renamed():
    src = "def f(a):\n    total = a + 1\n    count = a + 2\n    tot|\n"
    doc, _, _, offset = doc_with_cursor(src, "python")
    assert retrieved_line(doc, offset).text == "al = a + 1"
    src = "def f(a):\n    total = a + 1\n    cou|\n"                            # `cou` is no whole name
    doc, _, _, offset = doc_with_cursor(src, "python")
    assert retrieved_line(doc, offset) is None


def test_inside_a_string_or_comment_only_lines_that_agree_are_copied_and_nothing_before_text(stub_engine):
    # a docstring's prose repeats itself (`See Also:`, a parameter's words): where the lines
    # that start alike agree, their rest, without the model
    src = 'def f(a):\n    """One.\n\n    See Also: g\n    """\n\n\ndef g(a):\n    """Two.\n\n    See|\n    """\n'
    doc, line, col, offset = doc_with_cursor(src, "python")
    assert retrieved_line(doc, offset).text == " Also: g"
    eng = stub_engine("junk")
    assert [s.text for s in inline_suggestions(doc, line, col, eng, retrieval=True, min_confidence=-1.0)] \
        == [" Also: g"] and eng.requests == []
    src = 'def f():\n    """total = 1\n    total = 2\n    total = 3\n    tot|\n    """\n'
    doc, _, _, offset = doc_with_cursor(src, "python")
    assert retrieved_line(doc, offset) is None                                  # they disagree
    # comments too (a licence header, a repeated note), in Java as in Python; the model never
    # writes there
    src = 'def f():\n    # See Also: g\n    # See Also: g\n    # See|\n    pass\n'
    doc, line, col, offset = doc_with_cursor(src, "python")
    assert retrieved_line(doc, offset).text == " Also: g"
    src = ("/*\n * Licensed under the Apache License.\n */\nclass A {\n    /*\n     * Licensed under the|\n"
           "     */\n    int a;\n}\n")
    doc, _, _, offset = doc_with_cursor(src, "java")
    assert retrieved_line(doc, offset).text == " Apache License."
    src = 'def f():\n    # one thing\n    # Some|\n    pass\n'
    doc, line, col, offset = doc_with_cursor(src, "python")
    eng = stub_engine(" more words")
    assert inline_suggestions(doc, line, col, eng, retrieval=True, min_confidence=-100) == [] and eng.requests == []
    src = "def f(a):\n    total = a + 1\n    total| + 3\n"
    doc, _, _, offset = doc_with_cursor(src, "python")
    assert retrieved_line(doc, offset) is None


def test_other_open_files_are_sources_too():
    other = "def g(conn):\n    conn.execute(QUERY, params)\n    conn.execute(QUERY, params)\n"
    doc, _, _, offset = doc_with_cursor("def f(conn):\n    conn.execute(|\n", "python")
    assert retrieved_line(doc, offset) is None
    assert retrieved_line(doc, offset, (other,)).text == "QUERY, params)"


def test_a_docstring_s_prose_is_no_source():
    prose = '    """Join.\n\n    conjunction (optional): the word\n    conjunction (optional): the word\n    """\n'
    doc, _, _, offset = doc_with_cursor(f"def f(conjunction):\n{prose}    conj|\n", "python")
    assert retrieved_line(doc, offset) is None
    code = "    conjunction = conjunction.strip()\n    conjunction = conjunction.strip()\n"
    doc, _, _, offset = doc_with_cursor(f"def f(conjunction):\n{prose}{code}    conj|\n", "python")
    assert retrieved_line(doc, offset).text == "unction = conjunction.strip()"


def test_the_other_files_of_the_folder_are_sources(tmp_path):
    from r1lsp.line_retrieval import sibling_texts
    (tmp_path / "a.py").write_text("def a(conn):\n    conn.execute(QUERY, params)\n", encoding="utf-8")
    (tmp_path / "b.py").write_text("def b(conn):\n    conn.execute(QUERY, params)\n", encoding="utf-8")
    (tmp_path / "C.java").write_text("class C {}\n", encoding="utf-8")
    me = tmp_path / "me.py"
    me.write_text("def f(conn):\n    conn.execute(OLD, text)\n", encoding="utf-8")     # the file on disk
    texts = sibling_texts(str(me), "python")
    assert sorted(texts) == sorted([(tmp_path / n).read_text(encoding="utf-8") for n in ("a.py", "b.py")])
    assert sibling_texts(str(me), "python", frozenset({str(tmp_path / "a.py")})) == ((tmp_path / "b.py").read_text(),)
    doc, _, _, offset = doc_with_cursor("def f(conn):\n    conn.execute(|\n", "python")
    assert retrieved_line(doc, offset, texts).text == "QUERY, params)"


def test_lines_that_end_where_the_cursor_is_vote_for_nothing():
    src = ("class A {\n    int f(int a) {\n        if (a > 0) {\n            a++;\n        } else {\n            a--;\n"
           "        }\n        while (a > 9) {\n            a /= 2;\n        }\n        for (;;) {\n            break;\n"
           "        }\n        }|\n    }\n}\n")
    doc, _, _, offset = doc_with_cursor(src, "java")
    assert retrieved_line(doc, offset) is None                                  # most `}` lines end there
    doc, _, _, offset = doc_with_cursor(src.replace("        }|", "        } e|"), "java")
    assert retrieved_line(doc, offset).text == "lse {"


def test_a_doctest_line_is_code_its_examples_are_sources():
    src = ('def pair(a, b):\n    """Two.\n\n    >>> pair(1, 2)\n    (1, 2)\n    >>> pair(3, 4)\n    (3, 4)\n'
           '    >>> pair(|\n    """\n    return (a, b)\n')
    doc, _, _, offset = doc_with_cursor(src, "python")
    cands = line_candidates(doc.text, 7, "pair(", "python")
    assert [c.text for c in cands] == ["3, 4)", "1, 2)"]                       # the prompts dropped
    assert retrieved_line(doc, offset).text == "3, 4)"                          # two ways: the nearest
    doc, _, _, offset = doc_with_cursor(src.replace("    >>> pair(|", "    >>> pair(1|"), "python")
    assert retrieved_line(doc, offset).text == ", 2)"
    # in the docstring's prose the examples are sources too, as any line inside a string
    doc, _, _, offset = doc_with_cursor(src.replace("    >>> pair(|", "    pair(1|"), "python")
    assert retrieved_line(doc, offset).text == ", 2)"
    # and the examples are sources for code too
    doc, _, _, offset = doc_with_cursor(src.replace("    >>> pair(|\n", "").replace("return (a, b)", "pair(1|"), "python")
    assert retrieved_line(doc, offset).text == ", 2)"


def test_closing_rest_closes_what_the_line_left_open():
    assert closing_rest("    total = sum(values", "python") == ")"
    assert closing_rest("if isinstance(seq, (tuple, list", "python") == ")):"
    assert closing_rest("while check(x", "python") == "):"
    assert closing_rest("thaw(v(1, m(a=3", "python") == ")))"
    assert closing_rest("print('a(b'", "python") == ")"                         # a bracket in a string is no bracket
    for line in ("total = sum(values, ", "f(a +", "x = [", "f(x) + g(y)", "f('abc", "values.append(v"):
        assert closing_rest(line, "python") in (None, ")")
    assert closing_rest("total = sum(values, ", "python") is None              # a comma: more follows
    assert closing_rest("f(a +", "python") is None
    assert closing_rest("f(x) + g(y)", "python") is None                        # nothing open
    assert closing_rest("f('abc", "python") is None                             # inside a string
    assert closing_rest("if (a > b", "java") is None                            # Python only


def test_a_line_that_only_lacks_its_brackets_gets_them():
    src = "def f(values):\n    total = sum(values|\n    return total\n"
    doc, _, _, offset = doc_with_cursor(src, "python")
    got = retrieved_line(doc, offset)
    assert got.text == ")" and got.closing
    assert retrieved_line(doc, offset, closers=False) is None
    # copied lines come first: another line that goes on differently wins
    doc, _, _, offset = doc_with_cursor("def f(values):\n    n = sum(values, start)\n" + src.split("\n", 1)[1], "python")
    assert retrieved_line(doc, offset).text == ", start)"


def test_closers_wait_for_the_arguments_the_file_s_own_function_needs():
    src = ("class Box:\n    def put(self, item, where=None):\n        pass\n\n\n"
           "def area(w, h, scale=1):\n    return w * h * scale\n\n\n"
           "def f(a, box):\n    x = area(a|\n")
    doc, _, _, offset = doc_with_cursor(src, "python")
    assert retrieved_line(doc, offset) is None                                  # area needs h too
    doc, _, _, offset = doc_with_cursor(src.replace("area(a|", "area(a, a|"), "python")
    assert retrieved_line(doc, offset).text == ")"
    doc, _, _, offset = doc_with_cursor(src.replace("area(a|", "area(len(a|"), "python")
    assert retrieved_line(doc, offset) is None                                  # the outer call
    doc, _, _, offset = doc_with_cursor(src.replace("x = area(a|", "box.put(a|"), "python")
    assert retrieved_line(doc, offset).text == ")"                              # self is not passed
    doc, _, _, offset = doc_with_cursor(src.replace("area(a|", "area(*a|"), "python")
    assert retrieved_line(doc, offset).text == ")"                              # unpacked: any count


def test_open_calls_name_the_calls_a_line_left_open():
    assert open_calls("x = f(a, g.h(b", "python") == [("f", 2), ("h", 1)]
    assert open_calls("if isinstance(seq, (tuple, list", "python") == [("isinstance", 2)]   # a tuple: no call
    assert open_calls("print(a, ", "python") == [("print", 1)]
    assert open_calls("f(*args, b", "python") == []
    assert open_calls("while (a", "python") == []
    assert open_calls("f('(', a", "python") == [("f", 2)]


def test_a_retrieved_line_has_its_own_gate_not_the_models(stub_engine):
    doc, line, col, _ = doc_with_cursor(INIT, "python")
    eng = stub_engine("junk(", logprob=-0.01)
    # both lines agree (log-share 0): shown even under a gate no model suggestion passes
    assert [s.text for s in inline_suggestions(doc, line, col, eng, retrieval=True, min_confidence=0.0)] == ["y"]
    assert eng.requests == []


def test_copied_lines_need_no_model(stub_engine):
    """No engine, or one still loading: the retrieved line is offered all the same; where nothing
    is retrieved the answer is empty (the model would have been asked)."""
    doc, line, col, _ = doc_with_cursor(INIT, "python")
    loading = stub_engine("junk(")
    loading.state = "loading"
    for engine in (None, loading):
        assert [s.text for s in inline_suggestions(doc, line, col, engine, retrieval=True)] == ["y"]
    assert loading.requests == []
    doc, line, col, _ = doc_with_cursor("def f(items):\n    return |\n", "python")
    assert inline_suggestions(doc, line, col, None, retrieval=True) == []
