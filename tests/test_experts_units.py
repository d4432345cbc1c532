"""Units a reader thinks in (r1lsp.expert_units): one per class / method / function on its
header, shares over code tokens only, comments and whitespace counted apart, statements on
request, unusual-code mode, and the hover breakdown."""
import types
from concurrent.futures import Future

import numpy as np

from model.prompts import R1Prompts

from r1lsp.code_roles import categorize, load_roles
from r1lsp.route_trace import RouteTrace
from r1lsp.expert_labels import diagnostic_content, hover_markdown, unit_hover
from r1lsp.expert_units import reader_units, unusual_units
from r1lsp.experts import ExpertMap
from r1lsp.outline import outline
from model.structure import StructuredDocument

BLANK, COMMENT_EXPERT = 7, 6


class CharRouter:
    """Characters as tokens. Blank characters go to expert 7 only, `~` (written only inside
    comments here) to expert 6 only, every other character to two of 0..5; the surprise of a
    token is 9 nats for `$` (the odd character) and 1 otherwise."""
    context_tokens = 4096
    config = types.SimpleNamespace(n_experts=8)
    prompts = R1Prompts(types.SimpleNamespace(lang=lambda language: 1, endoftext=0))

    def encode_with_offsets(self, text, start=0):
        lens = [len(c.encode()) for c in text]
        return [ord(c) for c in text], np.cumsum([start] + lens[:-1]).astype(np.int64)[:len(text)]

    def submit_route(self, key, ids, level_ids=None, *, cancel=None):
        a = np.asarray(ids)
        special = np.where(np.isin(a, [32, 10]), BLANK, np.where(a == ord("~"), COMMENT_EXPERT, -1))
        first = np.where(special >= 0, special, a % 6)
        second = np.where(special >= 0, special, (a + 1) % 6)
        experts = np.stack([np.stack([first, second], -1)] * 2)
        weights = np.broadcast_to(np.array([.6, .4], np.float32), experts.shape).copy()
        surprise = np.where(a == ord("$"), 9.0, 1.0).astype(np.float32)
        f = Future()
        f.set_result(RouteTrace(experts, weights, surprise))
        return f


JAVA = """\
// a ledger
public class Ledger {
    private long balance;

    void deposit(long amount) {
        // check~~~first
        if (amount <= 0) throw new IllegalArgumentException("amount");
        balance += amount;
    }

    long withdraw(long amount) {
        long taken = Math.min(amount, balance);
        balance -= taken;
        return taken;
    }

    long fee(long amount) {
        return amount / 100;
    }

    long odd(long amount) {
        return amount$$$$$$$$$$$$$$$$$$$$$$$$$;
    }

    String describe() {
        return "balance=" + balance;
    }
}
"""


def _units(text=JAVA, language="java", **kw):
    doc = StructuredDocument(text, language, version=3)
    res, _ = ExpertMap().refresh(doc, None, CharRouter())
    return doc, res, reader_units(res, doc, **kw)


def test_one_unit_per_class_and_method_on_the_name():
    doc, res, units = _units()
    names = [(u.role, u.span.name) for u in units]
    assert names == [("class", "Ledger"), ("function", "deposit"), ("function", "withdraw"), ("function", "fee"),
                     ("function", "odd"), ("function", "describe")]
    lines = JAVA.splitlines()
    for u in units:
        (sl, sc), (el, ec) = u.header
        assert sl == el and lines[sl][sc:ec] == u.span.name            # the header is the name
        c = diagnostic_content(u)
        assert c.range == u.header
        # the whole unit is in the related information and the data
        assert c.related[0].range == (u.span.start, u.span.end) and c.data["unit"]["end"]["line"] == u.span.end[0]
        assert u.routed_version == 3
    cls = units[0]
    assert cls.span.start[0] == 1 and cls.span.end[0] == len(lines) - 1  # the class node, all of it


def test_shares_count_code_tokens_only():
    _, _, units = _units()
    table = load_roles()
    for u in units:
        experts = {e for e, _ in u.shares}
        assert BLANK not in experts and COMMENT_EXPERT not in experts  # whitespace and comments left out
        assert abs(sum(s for _, s in u.shares) - 1) < 1e-6
        assert u.whitespace > 0
    deposit = next(u for u in units if u.span.name == "deposit")
    assert deposit.comments == len("// check~~~first")
    code = sum(1 for c in categorize(JAVA, "java", *_char_spans(JAVA)) if table.is_code[c])
    # every code character belongs to exactly one unit, except the comment above the class
    assert sum(u.tokens for u in units) == code
    assert deposit.surprise == 1.0 and next(u for u in units if u.span.name == "odd").surprise > 2


def _char_spans(text):
    starts = np.cumsum([0] + [len(c.encode()) for c in text[:-1]])
    return starts, starts + np.array([len(c.encode()) for c in text])


def test_statements_on_request_sit_on_their_first_line():
    _, _, units = _units(statements=True)
    stmts = [u for u in units if u.role == "statement"]
    assert len(stmts) >= 8
    lines = JAVA.splitlines()
    for u in stmts:
        (sl, sc), (el, ec) = u.header
        assert sl == el == u.span.start[0] and lines[sl][sc:ec] == lines[sl][sc:].rstrip()   # the first line
    ifs = [u for u in stmts if u.span.kind == "if_statement"]
    assert len(ifs) == 1 and ifs[0].span.start[0] == 6                # one unit, the throw inside is its own
    assert len([u for u in units if u.role != "statement"]) == 6


def test_unusual_mode_flags_the_odd_method_only():
    _, res, units = _units()
    flagged = unusual_units(units, res.n_experts)
    assert [u.span.name for u, _ in flagged] == ["odd"]
    why = flagged[0][1]
    assert why.surprise_z >= 2 and why.routing_z >= 2 and why.reason.startswith("unusual")
    c = diagnostic_content(flagged[0][0], reason=why.reason)
    assert c.message.startswith("unusual") and c.data["unusual"] == why.reason


def test_hover_on_the_header_gives_the_breakdown():
    _, res, units = _units()
    add = next(u for u in units if u.span.name == "withdraw")
    (line, col), _ = add.header
    text, rng = unit_hover(units, (line, col + 2), {add.shares[0][0]: "calls ×1.8"}, res.n_experts)
    assert rng == add.header
    assert "method withdraw" in text and "calls ×1.8" in text and "nats/token" in text
    shown = [row for row in text.splitlines() if row.startswith("| ") and row[2].isdigit()]
    assert shown[0].startswith(f"| {add.shares[0][0]} |")
    assert unit_hover(units, (line + 1, 0), {}, res.n_experts) is None   # inside the body: nothing
    odd = next(u for u in units if u.span.name == "odd")
    assert "unusual" in unit_hover(units, odd.header[0], {}, res.n_experts)[0]
    assert "Not counted" in hover_markdown(add)


def test_python_functions_and_classes():
    src = "class A:\n    def f(self):\n        return 1\n\n\n@dec\ndef g(x):\n    # why~\n    return x\n"
    doc, _, units = _units(src, "python")
    assert [(u.role, u.span.name) for u in units] == [("class", "A"), ("function", "f"), ("function", "g")]
    assert [e.name for e in outline(doc)] == ["A", "g"]
    g = units[2]
    assert src.splitlines()[g.header[0][0]][g.header[0][1]:g.header[1][1]] == "g" and g.comments == len("# why~")
