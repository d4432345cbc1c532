"""Inline ghost text: the stop rule, suffix de-duplication and the no-new-syntax-error filter,
on Java and Python, with a stub engine returning fixed text (plus one run on the real engine)."""
import threading

import pytest
import torch

from r1lsp.engine import Engine
from r1lsp.inline import BEST_OF, LINE_TOKENS, TypedAhead, fim_request, inline_suggestions
from r1lsp.inline_syntax import BlockStop, adds_syntax_error, before_comment, dedupe_suffix, syntactic_prefix
from r1lsp.settings import ModelSettings
from model.structure import StructuredDocument

torch.set_num_threads(1)


def doc_with_cursor(text: str, language: str):
    i = text.index("|")
    before = text[:i]
    col = len(before.split("\n")[-1].encode("utf-16-le")) // 2
    return StructuredDocument(text[:i] + text[i + 1:], language), before.count("\n"), col


def ghost(text, language, generated, stub_engine):
    doc, line, col = doc_with_cursor(text, language)
    got = inline_suggestions(doc, line, col, stub_engine(generated), max_tokens=64)
    for s in got:
        assert s.start == s.end == (line, col)
    return [s.text for s in got]


JAVA = "class A {\n    int f(int x) {\n        |\n        return x;\n    }\n}\n"
PY = "def f(a, b):\n    |\n    return a\n"


# ---------------------------------------------------------------------------- stop rule

def test_python_statement_ends_at_the_newline(stub_engine):
    assert ghost(PY, "python", "c = a + b\n    d = 4\n", stub_engine) == ["c = a + b"]


def test_python_block_runs_to_the_dedent(stub_engine):
    gen = "for i in range(b):\n        a += i\n        a *= 2\n    print(a)\n"
    assert ghost(PY, "python", gen, stub_engine) == ["for i in range(b):\n        a += i\n        a *= 2"]


def test_python_inside_brackets_runs_to_the_closing_bracket(stub_engine):
    src = "def f(a, b):\n    return g(a,|\n"
    assert ghost(src, "python", "\n             b)\n    x = 1", stub_engine) == ["\n             b)"]


def test_at_a_line_end_the_suggestion_is_the_rest_of_the_line(stub_engine):
    src = "class A {\n    void f(int n) {\n        if (n > 0|\n            n--;\n        }\n    }\n}\n"
    assert ghost(src, "java", ") {\n            n++;\n        }\n", stub_engine) == [") {"]
    src = "def f(a, b):\n    total = g(a|\n    return total\n"
    assert ghost(src, "python", ", b) + 1\n    total += 2\n", stub_engine) == [", b) + 1"]
    src = "def f(a, b):\n    if a|\n        return b\n"
    assert ghost(src, "python", " > b:\n        return a\n", stub_engine) == [" > b:"]


def test_no_model_text_inside_strings_or_comments_but_on_a_doctest_line(stub_engine):
    doc = 'def f(a):\n    """Add one to|\n\n    >>> y = f(1) +|\n    """\n    return a + 1\n'
    prose = doc.replace("+|", "+")
    assert ghost(prose, "python", " a number.", stub_engine) == []
    java = "class A {\n    void f() {\n        %s\n    }\n}\n"
    assert ghost(java % 'String s = "the first|";', "java", " value", stub_engine) == []
    assert ghost(java % "int x = 1; // the first|", "java", " value", stub_engine) == []
    doctest = doc.replace("to|", "to")
    assert ghost(doctest, "python", " 2\n", stub_engine) == [" 2"]


def test_java_statement_ends_at_the_semicolon(stub_engine):
    assert ghost(JAVA, "java", "int y = x * 2;\n        y++;", stub_engine) == ["int y = x * 2;"]


def test_java_block_statement_ends_at_its_brace(stub_engine):
    gen = "if (x > 1) {\n            x--;\n        }\n        x++;"
    assert ghost(JAVA, "java", gen, stub_engine) == ["if (x > 1) {\n            x--;\n        }"]


def test_mid_line_suggestion_is_short(stub_engine):
    doc, line, col = doc_with_cursor("def f(items):\n    return |\n", "python")
    eng = stub_engine("len(items)")
    eng.submit = eng.submit_generate
    asked = []
    eng.submit_generate = lambda *a, **k: asked.append(a[3] if len(a) > 3 else k["max_new_tokens"]) or eng.submit(*a, **k)
    inline_suggestions(doc, line, col, eng, max_tokens=48)
    doc2, line2, col2 = doc_with_cursor("def f(items):\n    |\n", "python")
    inline_suggestions(doc2, line2, col2, eng, max_tokens=48)
    assert asked == [LINE_TOKENS, 48]                               # the line's rest; a new line: all


def test_suggestion_inside_a_line_ends_with_that_line(stub_engine):
    # text follows the cursor on its line: a newline would split it, so the suggestion ends there
    src = "def f(a, b):\n    return g(a|, b)\n"
    assert ghost(src, "python", "bc\n    x = 1", stub_engine) == ["bc"]
    java = "class A {\n    int f(int x) {\n        return g(x|, 2);\n    }\n}\n"
    assert ghost(java, "java", " + 1\n        y++;", stub_engine) == [" + 1"]
    # a generation that starts on a new line has nothing for this line
    assert ghost(src, "python", "\n    if a:\n        b", stub_engine) == []
    # even inside brackets the suggestion opened: cut there it is a syntax error, so it is cut
    # back to its last sound start (the name before the bracket)
    assert ghost(src, "python", "bc(1,\n      2)\n    x = 1", stub_engine) == ["bc"]
    assert ghost(src, "python", "bc(1)\n", stub_engine) == ["bc(1)"]
    # at a line's end the statement and bracket rules hold
    assert ghost("def f(a, b):\n    return g(a,|\n", "python", "\n             b)\n", stub_engine) == ["\n             b)"]


def test_java_stops_before_the_enclosing_blocks_end():
    rule = BlockStop("java", at_statement=True)
    text = "x++;"
    assert rule(text) == 4
    assert rule("\n    }\n}") == 5                                  # the method's own `}` is not ours


def test_bracket_stack_from_the_kept_line_start_equals_a_scan_from_the_start():
    """bracket_context scans on from the stack kept at the start of the cursor's line: at every
    offset of files with strings, comments and brackets over many lines, while typing, the stack
    is the one scanned from the start."""
    from pathlib import Path
    from r1lsp.inline_syntax import _scan, _stack_at
    from model.structure.text_index import decode
    fixtures = Path(__file__).parent / "fixtures"
    for path, language in [(p, "python") for p in sorted(fixtures.rglob("*.py"))[:4]] + \
                          [(p, "java") for p in sorted(fixtures.rglob("*.java"))[:4]]:
        data = path.read_text("utf-8", "replace").encode()
        data = data[:len(data) // 2] + b'x = f(a, """b\n(c""", /* d\n */ [e, // f\n' + data[len(data) // 2:]
        for offset in range(0, len(data), 7):
            while offset < len(data) and (data[offset] & 0xC0) == 0x80:
                offset += 1
            after = min(len(data), offset + 1)
            while after < len(data) and (data[after] & 0xC0) == 0x80:
                after += 1
            for end in (offset, after):                                       # and one more character typed
                assert _stack_at(data, 0, end, language) == _scan(decode(data[:end]), language), (path, end)


def test_stop_rule_ignores_brackets_in_strings_and_comments():
    assert BlockStop("python", True)("s = ')' # (\nt = 1") == len("s = ')' # (")
    assert BlockStop("java", True)('String s = "};";  ') == len('String s = "};";')


# ---------------------------------------------------------------------------- suffix dedup

def test_generated_tail_equal_to_the_suffix_is_trimmed(stub_engine):
    assert ghost("def f(a, b):\n    return g(a, |)\n", "python", "b)\n", stub_engine) == ["b"]
    assert ghost("class A { int f(int x) { return h(x, |); } }", "java", "1);", stub_engine) == ["1"]


def test_the_models_comments_are_not_shown_its_code_before_one_is(stub_engine):
    src = "def f(a, b):\n    wanted = a\n    return|\n"
    assert ghost(src, "python", " # type: ignore[str]\n", stub_engine) == []
    assert ghost(src, "python", " wanted  # the total\n", stub_engine) == [" wanted"]
    assert ghost(JAVA, "java", "x++; // one more\n", stub_engine) == ["x++;"]
    assert ghost(JAVA, "java", "/** The value. */\n", stub_engine) == []


def test_before_comment_skips_markers_inside_strings():
    assert before_comment('x = "#no"  # yes', "python") == 'x = "#no"'
    assert before_comment('s = "//x" /* c */ + 1;', "java") == 's = "//x"'
    assert before_comment("print(a)", "python") == "print(a)"
    assert before_comment("a # b", "java") == "a # b"                   # not Java's comment


def test_dedupe_suffix():
    assert dedupe_suffix("x + 1)", ")\n") == "x + 1"
    assert dedupe_suffix("x++;\n}", "\n    }\n") == "x++;"            # across whitespace
    assert dedupe_suffix("count", "xyz") == "count"
    assert dedupe_suffix("a  ", "  b") == "a  "                        # whitespace alone is kept


# ---------------------------------------------------------------------------- syntax filter

def test_suggestion_that_adds_a_syntax_error_is_cut_to_a_sound_start_or_dropped(stub_engine):
    assert ghost(PY, "python", "c = = a\n", stub_engine) == ["c"]
    assert ghost(JAVA, "java", "int = ;", stub_engine) == []
    assert ghost(JAVA, "java", "int y = 1;", stub_engine) == ["int y = 1;"]


def test_syntax_filter_compares_against_existing_errors():
    doc = StructuredDocument("def f(a):\n    x = \n    return a\n", "python")   # already broken
    off = doc.offset_at(1, 8)
    assert not adds_syntax_error(doc, off, "a + 1")                     # fixes it
    assert adds_syntax_error(doc, off, "a + + )")
    doc = StructuredDocument("class A { void f() { } }", "java")
    off = doc.offset_at(0, 20)
    assert not adds_syntax_error(doc, off, "int y = 2; ")
    assert adds_syntax_error(doc, off, "int y = ")


# ---------------------------------------------------------------------------- prompt, edges

def test_fim_prompt_layout_and_levels(stub_engine):
    doc, line, col = doc_with_cursor(PY, "python")
    eng = stub_engine("")
    ids, levels = fim_request(eng, doc, doc.offset_at(line, col), 16)
    sp = eng.special
    assert ids[:2] == [sp.lang("python"), sp.fim_prefix] and ids[-1] == sp.fim_middle
    s = ids.index(sp.fim_suffix)
    assert eng.decode(ids[2:s]) == "def f(a, b):\n    " and eng.decode(ids[s + 1:-1]) == "\n    return a\n"
    assert len(levels) == len(ids) and all(len(u) == 3 for u in levels)


@pytest.mark.parametrize("at, then, plain", [("total = |", "total = s|", True),
                                              ("total = |  # sum", "total = s|  # sum", False)])
def test_the_cold_prompt_is_the_prompt_with_a_short_prefix_that_stays_put_while_typing(stub_engine, at, then,
                                                                                        plain):
    from r1lsp.inline import COLD_PREFIX_TOKENS
    body = "".join(f"def f{i}(x):\n    return x + {i}\n\n" for i in range(80))
    src = body + f"def g(items):\n    {at}\n    return total\n"
    eng = stub_engine("sum(items)")
    assert ghost(src, "python", "sum(items)", lambda text: eng) == ["sum(items)"]
    (_, _, full, _), (cold, _, key) = eng.requests[-1], eng.cold_prompt
    sp = eng.special
    if plain:                                                           # the line's end: the prefix alone
        part = lambda ids: (ids[1:], [])
        assert sp.fim_suffix not in full and sp.fim_suffix not in cold
    else:
        part = lambda ids: (ids[2:ids.index(sp.fim_suffix)], ids[ids.index(sp.fim_suffix):])
    (p_full, s_full), (p_cold, s_cold) = part(full), part(cold)
    assert s_cold == s_full and key.endswith("#cold")                       # the same suffix and middle
    assert len(p_full) > 2 * COLD_PREFIX_TOKENS >= 2 * len(p_cold) and p_full[-len(p_cold):] == p_cold
    typed = src.replace(at, then)                                           # one more character
    ghost(typed, "python", "um(items)", lambda text: eng)
    head = 1 if plain else 2
    assert eng.cold_prompt[0][:len(p_cold) + head] == cold[:len(p_cold) + head]   # the cold prefix only grew


def test_at_a_line_end_the_prompt_is_the_prefix_alone(stub_engine):
    from r1lsp.inline import plain_prompt_at
    eng = stub_engine("")
    doc, line, col = doc_with_cursor("def f(a, b):\n    total = a +|\n    return total\n", "python")
    offset = doc.offset_at(line, col)
    assert plain_prompt_at(doc.data, offset)
    ids, levels = fim_request(eng, doc, offset, 16, plain=True)
    assert ids[0] == eng.special.lang("python") and eng.decode(ids[1:]) == "def f(a, b):\n    total = a +"
    assert len(levels) == len(ids)
    inside, line, col = doc_with_cursor("def f(a, b):\n    total = g(|)\n", "python")
    assert not plain_prompt_at(inside.data, inside.offset_at(line, col))          # text after it: FIM
    empty, line, col = doc_with_cursor("def f(a, b):\n    |\n", "python")
    assert not plain_prompt_at(empty.data, empty.offset_at(line, col))            # no code before it: FIM


@pytest.mark.parametrize("monitor", [False, True])
def test_pause_is_called_before_the_model_and_each_token(tiny_checkpoint, monitor):
    doc, line, col = doc_with_cursor("def f(items):\n    total = |\n", "python")
    eng = Engine(ModelSettings(path=str(tiny_checkpoint), device="cpu", quantization="none")).start()
    try:
        assert eng.wait_ready(60)
        calls = []
        inline_suggestions(doc, line, col, eng, max_tokens=5, timeout=30, key="p", pause=lambda: calls.append(1),
                           monitor=monitor)                 # the server's default: the monitor on
        # before the prompt, the model, then per token of each row (model.generate's best_of rows)
        assert 3 <= len(calls) <= 2 + 5 * BEST_OF
    finally:
        eng.close()


def test_past_the_end_no_engine_and_cancelled_give_nothing(stub_engine):
    doc = StructuredDocument(PY.replace("|", ""), "python")
    assert inline_suggestions(doc, 9, 0, stub_engine("x")) == []
    assert inline_suggestions(doc, 1, 4, None) == []
    ev = threading.Event()
    ev.set()
    assert inline_suggestions(doc, 1, 4, stub_engine("x = 1"), cancel=ev) == []


def test_with_the_real_engine(tiny_checkpoint):
    eng = Engine(ModelSettings(path=str(tiny_checkpoint), device="cpu", quantization="none")).start()
    try:
        assert eng.wait_ready(60)
        doc, line, col = doc_with_cursor(JAVA, "java")
        got = inline_suggestions(doc, line, col, eng, max_tokens=16, timeout=30)
        for s in got:                                                     # random weights: may be none
            assert s.text.strip() and not adds_syntax_error(doc, doc.offset_at(line, col), s.text)
        ev = threading.Event()
        ev.set()
        assert inline_suggestions(doc, line, col, eng, max_tokens=16, cancel=ev) == []
    finally:
        eng.close()


# ---------------------------------------------------------------------------- confidence gate

def test_confidence_gate_hides_unsure_suggestions(stub_engine):
    doc, line, col = doc_with_cursor("def f(items):\n    return |\n", "python")
    sure = inline_suggestions(doc, line, col, stub_engine("len(items)", logprob=-0.4), min_confidence=-1.0)
    assert [s.text for s in sure] == ["len(items)"] and sure[0].confidence == pytest.approx(-0.4)
    unsure = inline_suggestions(doc, line, col, stub_engine("len(items)", logprob=-2.5), min_confidence=-1.0)
    assert unsure == []
    ungated = inline_suggestions(doc, line, col, stub_engine("len(items)", logprob=-2.5), min_confidence=None)
    assert [s.text for s in ungated] == ["len(items)"]


# ---------------------------------------------------------------------------- typing ahead

def test_typing_the_start_of_a_shown_suggestion_answers_its_rest_without_the_model(stub_engine):
    src = "def f(items):\n    return |\n"
    doc, line, col = doc_with_cursor(src, "python")
    ahead = TypedAhead()
    first = inline_suggestions(doc, line, col, stub_engine("len(items)"), key="k", typed_ahead=ahead)
    assert [s.text for s in first] == ["len(items)"]
    typed, line2, col2 = doc_with_cursor(src.replace("|", "le|"), "python")
    other = stub_engine("something_else")
    got = inline_suggestions(typed, line2, col2, other, key="k", typed_ahead=ahead)
    assert [s.text for s in got] == ["n(items)"] and other.requests == []       # no model request
    wrong, line3, col3 = doc_with_cursor(src.replace("|", "lx|"), "python")
    got = inline_suggestions(wrong, line3, col3, stub_engine("y"), key="k", typed_ahead=ahead)
    assert [s.text for s in got] == ["y"]                                       # typed off it: the model again
    moved = StructuredDocument(src.replace("|", "le") + "x = 1\n", "python")   # another edit too
    assert TypedAhead().follow("k", moved.data, 0) is None
    assert ahead.follow("k", moved.data, moved.offset_at(line2, col2)) is None


def test_a_generation_the_gate_would_hide_is_given_up_early():
    import torch
    from r1lsp.inline import ConfidenceWatch
    sure = torch.zeros(64)
    sure[1] = 12.0                                                       # token 1: log p ~ 0
    flat = torch.zeros(64)                                               # any token: log p = -4.16
    cancel = threading.Event()
    watch = ConfidenceWatch(-1.0, margin=0.5, after=3)                   # gives up under -1.5
    stop = watch.stopper(cancel)
    ids: list[int] = []
    for logits, chosen in [(sure, 1), (sure, 1), (flat, 2), (flat, 2), (flat, 2)]:
        watch(ids, logits)
        ids.append(chosen)
        if stop():
            break
    # means: 0, 0, -1.39 (not yet under -1.5), then -2.08 after the 4th token: stop
    assert watch.hopeless and watch.count == 4 and len(ids) == 5
    confident = ConfidenceWatch(-1.0, after=3)
    for _ in range(6):
        confident([1], sure)
    assert not confident.hopeless and not confident.stopper(cancel)()
    cancel.set()
    assert confident.stopper(cancel)()                                   # the caller's cancel still counts


def test_best_of_rows_give_up_only_when_every_row_would_be_hidden():
    """A request's rows (model.generate's best_of forks the processors): each row's watch follows
    its own tokens; the request stops only once every row's mean is under the floor."""
    import torch
    from r1lsp.inline import ConfidenceWatch, _chain
    sure = torch.zeros(64)
    sure[1] = 12.0
    flat = torch.zeros(64)
    seen = []
    watch = ConfidenceWatch(-1.0, margin=0.5, after=2)
    first = _chain(watch, lambda ids, logits: seen.append(list(ids)))
    first([], sure)                                                      # the first token's step, then the fork
    second = first.fork()
    stop = watch.stopper(None)
    for _ in range(3):
        first([1] if not seen[-1] else seen[-1] + [2], flat)             # row 1 writes unlikely tokens
        second([1, 1], sure)                                             # row 2 likely ones
    assert watch.gave_up and not watch.hopeless and not stop()
    for _ in range(4):
        second([1, 2], flat)
    assert watch.hopeless and stop()


def test_a_suggestion_that_breaks_the_syntax_keeps_its_longest_sound_start():
    doc, _, _ = doc_with_cursor("def f(items):\n    return |\n", "python")
    offset = doc.data.index(b"return ") + len(b"return ")
    assert syntactic_prefix(doc, offset, "len(items)") == "len(items)"          # sound: kept whole
    assert syntactic_prefix(doc, offset, "len(items)) + (") == "len(items)"     # the junk after it goes
    assert syntactic_prefix(doc, offset, ")") is None                           # no sound start at all
