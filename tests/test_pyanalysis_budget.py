"""Jedi runs beside the request: a list that cannot wait for it answers with the file's names
(incomplete), and jedi's answer, kept, serves the next request at that place."""

from __future__ import annotations

import threading

import pytest

from r1lsp import pyanalysis
from r1lsp.completion import AnalysisContext, complete
from model.structure import StructuredDocument

SOURCE = """\
class Shelf:
    def __init__(self):
        self.books = []

    def add(self, title):
        self.books.append(title)


def stock(shelf: Shelf):
    shelf.add("x")
    shelf.
"""
LINE = SOURCE.split("\n").index("    shelf.")


@pytest.fixture
def blocked_jedi(monkeypatch):
    """jedi's completion waits for `release`; `calls` counts how often it ran."""
    release, calls, real = threading.Event(), [], pyanalysis.completions

    def slow(*args, **kwargs):
        calls.append(args[1:3])
        release.wait()
        return real(*args, **kwargs)

    monkeypatch.setattr(pyanalysis, "completions", slow)
    yield release, calls
    release.set()


def _labels(result):
    return [item.label for item in result.items]


def test_a_late_analysis_gives_the_files_names_then_its_own_answer(blocked_jedi):
    release, calls = blocked_jedi
    doc = StructuredDocument(SOURCE, "python")
    quick = AnalysisContext(path="/budget/shelf.py", budget_s=0.0)
    first = complete(doc, LINE, len("    shelf."), None, context=quick)
    assert first.is_incomplete and first.from_names
    assert "add" in _labels(first)[:5]                                  # the file's own use of shelf.add
    release.set()
    # the same place while the user types a letter: jedi's kept answer, no second analysis
    typed = StructuredDocument(SOURCE.replace("    shelf.\n", "    shelf.b\n"), "python")
    settled = complete(typed, LINE, len("    shelf.b"), None,
                       context=AnalysisContext(path="/budget/shelf.py", budget_s=None))
    assert not settled.is_incomplete and not settled.from_names
    assert _labels(settled)[0] == "books"
    assert len(calls) == 1


def test_a_busy_analysis_never_holds_the_list_up(blocked_jedi):
    release, calls = blocked_jedi
    doc = StructuredDocument(SOURCE, "python")
    for k in range(3):                                                  # the worker stays busy with the first
        got = complete(doc, LINE - k, len("    "), None,
                       context=AnalysisContext(path="/budget/busy.py", budget_s=0.0))
        assert got.is_incomplete and "shelf" in _labels(got)
    release.set()


def test_without_a_budget_the_analysis_is_awaited():
    doc = StructuredDocument(SOURCE, "python")
    got = complete(doc, LINE, len("    shelf."), None, context=AnalysisContext(path="/budget/wait.py"))
    assert not got.is_incomplete
    assert {"add", "books"} <= set(_labels(got)[:3])


def test_after_typing_a_dot_the_members_are_ready_for_the_list():
    """didChange that types `.` starts jedi on the members there (completion_candidates.prepare):
    the list that follows gets jedi's answer even with no time to wait for it."""
    from r1lsp.completion_candidates import prepare, start_analysis
    doc = StructuredDocument(SOURCE, "python")
    ctx = AnalysisContext(path="/budget/typed.py", budget_s=0.0)
    start_analysis(doc, ctx)
    prepare(doc, ctx, (LINE, len("    shelf.")))
    pyanalysis.run_within(lambda: None, None)                          # the worker is done with what came before
    got = complete(doc, LINE, len("    shelf."), None, context=ctx)
    assert not got.is_incomplete
    assert {"add", "books"} <= set(_labels(got)[:3])


def test_the_declaring_classes_come_with_the_analysis_answer():
    """The ranking's features from each member's declaring class (its own type's vs object's)
    are there in a list with no time to ask jedi anything beyond its kept answer."""
    doc = StructuredDocument(SOURCE, "python")
    complete(doc, LINE, len("    shelf."), None, context=AnalysisContext(path="/budget/owners.py"))
    feats: list = []
    got = complete(doc, LINE, len("    shelf."), None, features_out=feats,
                   context=AnalysisContext(path="/budget/owners.py", budget_s=0.0))
    assert not got.is_incomplete
    f = dict(feats)
    assert f["add"]["declared"] == 1.0 and f["books"]["declared"] == 1.0
    assert f["__eq__"]["object_member"] == 1.0 and f["__eq__"]["declared"] == 0.0


def test_details_found_once_serve_the_next_keystrokes(monkeypatch):
    """Signatures jedi found for one list are kept on its answer: the next list at that place
    shows them without asking jedi (here: jedi would have no time at all)."""
    from r1lsp import completion
    monkeypatch.setattr(completion, "DETAIL_BUDGET_S", 600.0)   # the first list waits for the details,
    # however loaded the machine (the default 30 ms budget is a wall-clock bound, not what is tested)
    doc = StructuredDocument(SOURCE, "python")
    first = complete(doc, LINE, len("    shelf."), None, context=AnalysisContext(path="/budget/details.py"))
    add = next(i for i in first.items if i.label == "add")
    assert add.detail.startswith("add(title)")
    typed = StructuredDocument(SOURCE.replace("    shelf.\n", "    shelf.a\n"), "python")
    again = complete(typed, LINE, len("    shelf.a"), None,
                     context=AnalysisContext(path="/budget/details.py", budget_s=0.0))
    assert next(i for i in again.items if i.label == "add").detail.split(" · ")[0] == "add(title)"


def test_details_the_first_list_could_not_wait_for_serve_the_next_keystroke(monkeypatch):
    """A list whose budget ran out before jedi described its items leaves the job running:
    once the worker is done, the next keystroke's list shows the signatures without waiting
    (before, the job was dropped unstarted and each keystroke waited its budget out again)."""
    from r1lsp import completion
    path = "/budget/details_later.py"
    doc = StructuredDocument(SOURCE, "python")
    pyanalysis.completions_within(SOURCE, LINE, len("    shelf."), path=path)                 # jedi's answer, kept
    monkeypatch.setattr(completion, "DETAIL_MIN_S", 0.0)
    release = threading.Event()
    pyanalysis._WORKER.submit(release.wait)                             # the worker is busy with another job
    first = complete(doc, LINE, len("    shelf."), None, context=AnalysisContext(path=path, budget_s=0.0))
    assert not next(i for i in first.items if i.label == "add").detail.startswith("add(")
    release.set()
    pyanalysis.run_within(lambda: None, None)                          # the worker is done with the jobs before
    typed = StructuredDocument(SOURCE.replace("    shelf.\n", "    shelf.a\n"), "python")
    again = complete(typed, LINE, len("    shelf.a"), None, context=AnalysisContext(path=path, budget_s=0.0))
    assert next(i for i in again.items if i.label == "add").detail.split(" · ")[0] == "add(title)"


def _big_module(n_methods: int = 12) -> str:
    body = "".join(f"        amount = amount + {k}  # a long method: jedi's first parse takes a while\n" for k in range(20))
    methods = "".join(f"    def step_{i}(self, amount):\n{body}        return amount\n\n" for i in range(n_methods))
    return f"class Ledger:\n    def __init__(self):\n        self.entries = []\n\n{methods}    def close(self):\n        self.step_0(1)\n        self.\n"


def test_a_file_jedi_never_parsed_is_not_waited_for_then_its_answer_comes():
    """The first list of a large file just opened does not spend its budget waiting for jedi's
    first parse (longer than the budget): the file's names now, jedi's answer at the next request."""
    source = _big_module()
    assert pyanalysis.first_parse_s(source) > 0.04
    doc = StructuredDocument(source, "python")
    line, col = source.count("\n") - 1, len("        self.")
    ctx = AnalysisContext(path="/budget/never_parsed.py", budget_s=0.04)
    first = complete(doc, line, col, None, context=ctx)
    assert first.is_incomplete
    assert {"entries", "step_0"} <= set(_labels(first))               # the class's own members, from the file
    # jedi goes on with it: once it has answered, the same place gets jedi's list
    assert pyanalysis.completions_within(source, line, col, path="/budget/never_parsed.py", deadline=None).resolved
    settled = complete(doc, line, col, None, context=ctx)
    assert not settled.is_incomplete
    assert {"entries", "close", "step_0", "step_11"} <= set(_labels(settled))


def test_an_expected_type_found_late_serves_the_next_keystroke():
    source = "def area(width: int, unit: str) -> int:\n    return width\n\n\nprint(area(\n"
    line, col = 4, len("print(area(")
    where = {"path": "/budget/expected.py"}
    pyanalysis.expected_type_within(source, line, col, deadline=0.0, **where)    # no time to wait
    assert pyanalysis.expected_type_within(source, line, col, deadline=None, **where) == "int"
    typed = source.replace("print(area(\n", "print(area(wi\n")                  # a letter typed there
    assert pyanalysis.expected_type_within(typed, line, col, deadline=0.0, **where) == "int"


def test_a_names_list_starts_the_expected_type_for_the_next_keystroke(blocked_jedi, monkeypatch):
    release, _ = blocked_jedi
    asked, real = [], pyanalysis.expected_type
    monkeypatch.setattr(pyanalysis, "expected_type", lambda *a, **k: asked.append(a[1:3]) or real(*a, **k))
    source = "def area(width: int, unit: str) -> int:\n    return width\n\n\nprint(area(\n"
    line, col = 4, len("print(area(")
    where = {"path": "/budget/prefetch.py"}
    first = complete(StructuredDocument(source, "python"), line, col, None,
                     context=AnalysisContext(budget_s=0.0, **where))
    assert first.is_incomplete and first.from_names                    # jedi busy: the file's names
    release.set()
    pyanalysis.run_within(lambda: None, None)            # the worker's queue done (it runs jobs in order)
    assert asked == [(line, col)]                        # the names list asked, unwaited
    typed = source.replace("print(area(\n", "print(area(wi\n")            # the next keystroke there
    assert pyanalysis.expected_type_within(typed, line, col, deadline=0.0, **where) == "int"
    assert asked == [(line, col)]                        # its answer kept, not asked again


def test_prewarm_keeps_the_most_recently_opened_files():
    for name in ("a", "b", "c", "d"):
        pyanalysis.prewarm(f"{name} = 1\n", path=f"/budget/recent/{name}.py")
    pyanalysis.prewarm("a = 2\n", path="/budget/recent/a.py")                  # a is edited again
    pyanalysis.prewarm("e = 1\n", path="/budget/recent/e.py")
    kept = [p for p in pyanalysis._PREWARM if p.startswith("/budget/recent/")]
    assert "/budget/recent/a.py" in kept and "/budget/recent/b.py" not in kept


def test_opening_a_document_drops_the_answers_other_files_left_queued(blocked_jedi):
    """What another file left asked (and the worker had not started) is dropped when a document
    is opened, not what the opened one asked; the dropped file is asked afresh when it is back."""
    release, calls = blocked_jedi
    busy = pyanalysis._WORKER.submit(release.wait)                    # the worker is busy meanwhile
    doc = StructuredDocument(SOURCE, "python")
    left = complete(doc, LINE, len("    shelf."), None, context=AnalysisContext(path="/budget/left.py", budget_s=0.0))
    opened = complete(doc, LINE - 1, len("    "), None, context=AnalysisContext(path="/budget/opened.py", budget_s=0.0))
    assert left.is_incomplete and opened.is_incomplete
    assert pyanalysis.drop_queued_elsewhere("/budget/opened.py") == 1
    release.set()
    busy.result(timeout=60)
    back = complete(doc, LINE, len("    shelf."), None, context=AnalysisContext(path="/budget/left.py", budget_s=None))
    assert not back.is_incomplete and _labels(back)[0] in ("add", "books")
    assert calls == [(LINE - 1, len("    ")), (LINE, len("    shelf."))]   # the opened file's, then left's again


def test_ghost_texts_question_jedi_did_not_start_in_its_budget_is_dropped(monkeypatch):
    """Ghost text asks the analysis about its own generated text (`resolved_candidates`): a
    question the worker did not start within the budget is dropped, not run after the ghost
    text gave up (it held the worker while the next keystroke's list waited); a list's
    question is kept for the next keystroke."""
    from r1lsp.completion import cursor_at, resolved_candidates
    calls, real = [], pyanalysis.completions

    def counted(*args, **kwargs):
        calls.append(kwargs.get("path"))
        return real(*args, **kwargs)

    monkeypatch.setattr(pyanalysis, "completions", counted)
    release = threading.Event()
    pyanalysis._WORKER.submit(release.wait)                             # the worker is busy with another job
    doc = StructuredDocument(SOURCE, "python")
    cur = cursor_at(doc, LINE, len("    shelf."))
    try:
        assert resolved_candidates(doc, cur, AnalysisContext(path="/budget/ghost.py", budget_s=0.0)) is None
        listed = complete(doc, LINE, len("    shelf."), None,
                          context=AnalysisContext(path="/budget/listed.py", budget_s=0.0))
        assert listed.is_incomplete
    finally:
        release.set()
    pyanalysis._WORKER.submit(lambda: None).result(timeout=60)         # the worker ran what it kept
    assert calls == ["/budget/listed.py"]


def test_an_answer_a_list_waited_out_is_not_waited_for_again_while_jedi_is_at_it(blocked_jedi):
    """A jedi job that missed one list's budget is a long one: the next keystroke's list at
    that place answers with the file's names at once instead of waiting its budget out again,
    and takes jedi's answer once it is there."""
    release, calls = blocked_jedi
    path = "/budget/missed.py"
    doc = StructuredDocument(SOURCE, "python")
    first = complete(doc, LINE, len("    shelf."), None, context=AnalysisContext(path=path, budget_s=0.2))
    assert first.is_incomplete
    typed = StructuredDocument(SOURCE.replace("    shelf.\n", "    shelf.a\n"), "python")
    got = []
    again = threading.Thread(target=lambda: got.append(complete(
        typed, LINE, len("    shelf.a"), None, context=AnalysisContext(path=path, budget_s=600.0))))
    again.start()
    again.join(60)
    assert not again.is_alive() and got[0].is_incomplete and "add" in _labels(got[0])   # jedi still blocked
    release.set()
    pyanalysis.run_within(lambda: None, None)                          # jedi's answer is there now
    settled = complete(typed, LINE, len("    shelf.a"), None, context=AnalysisContext(path=path, budget_s=600.0))
    assert not settled.is_incomplete and _labels(settled)[0] == "add" and len(calls) == 1


def test_details_a_list_waited_out_are_not_waited_for_again_while_jedi_is_at_them(monkeypatch):
    from r1lsp import completion
    path = "/budget/details_missed.py"
    doc = StructuredDocument(SOURCE, "python")
    pyanalysis.completions_within(SOURCE, LINE, len("    shelf."), path=path)                 # jedi's answer, kept
    release = threading.Event()
    pyanalysis._WORKER.submit(release.wait)                             # the worker is busy with another job
    monkeypatch.setattr(completion, "DETAIL_BUDGET_S", 0.05)
    first = complete(doc, LINE, len("    shelf."), None, context=AnalysisContext(path=path))
    assert not next(i for i in first.items if i.label == "add").detail.startswith("add(")
    monkeypatch.setattr(completion, "DETAIL_BUDGET_S", 600.0)
    typed = StructuredDocument(SOURCE.replace("    shelf.\n", "    shelf.a\n"), "python")
    got = []
    again = threading.Thread(target=lambda: got.append(complete(typed, LINE, len("    shelf.a"), None,
                                                                context=AnalysisContext(path=path))))
    again.start()
    again.join(60)
    assert not again.is_alive() and not got[0].items[0].detail.startswith("add(")   # the worker still busy
    release.set()
    pyanalysis.run_within(lambda: None, None)                          # the details are found now
    settled = complete(typed, LINE, len("    shelf.a"), None, context=AnalysisContext(path=path))
    assert settled.items[0].detail.split(" · ")[0] == "add(title)"
