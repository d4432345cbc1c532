"""The neural ranker of member lists (r1lsp/completion_net.py): its score, the order it gives
the linear ranking's first candidates, its JSON form, and the list complete() answers with."""
from __future__ import annotations

import math

import numpy as np

from model.structure import StructuredDocument
from r1lsp.completion import AnalysisContext, complete
from r1lsp.completion_net import RankNet
from r1lsp.completion_rank import member_net, rank_score, weights_for


def _net(top: int = 2) -> RankNet:
    # linear: 1 x a; hidden: relu(a - b), relu(b - 1); out: 2, -1
    return RankNet(("a", "b"), np.array([1.0, 0.0]), np.array([[1.0, 0.0], [-1.0, 1.0]]),
                   np.array([0.0, -1.0]), np.array([2.0, -1.0]), top)


def test_the_score_is_the_linear_part_plus_the_hidden_layer():
    got = _net().scores([{"a": 3.0, "b": 1.0}, {"b": 4.0}, {"a": 1.0, "c": 9.0}])
    # 3 + 2*relu(2) - relu(0) = 7;  0 + 2*relu(-4) - relu(3) = -3;  1 + 2*relu(1) - relu(-1) = 3
    assert np.allclose(got, [7.0, -3.0, 3.0])
    assert _net().scores([]).shape == (0,)


def test_the_net_orders_only_the_first_candidates_ties_by_label():
    ranked = [("x", {"b": 4.0}), ("y", {"a": 3.0, "b": 1.0}), ("w", {"a": 1.0}), ("v", {"a": 9.0})]
    # the first two reordered by the net (y 7 before x -3); w and v kept where the linear ranking put them
    assert _net(top=2).order(ranked) == [1, 0, 2, 3]
    tie = [("b", {"a": 1.0}), ("a", {"a": 1.0})]
    assert _net().order(tie) == [1, 0]
    assert _net(top=10).order(ranked) == [3, 1, 2, 0]     # v 9+18=27, y 7, w 3, x -3


def test_the_json_form_gives_the_same_scores():
    net = _net(top=7)
    back = RankNet.from_json(net.to_json())
    feats = [{"a": 0.5, "b": -2.0}, {"a": 2.0, "b": 2.0}]
    assert back.top == 7 and back.features == net.features
    assert np.allclose(back.scores(feats), net.scores(feats))


TEXT = """\
class Basket:
    def __init__(self):
        self.items = []
        self.total = 0

    def add(self, item, price):
        self.items.append(item)
        self.total += price

    def clear(self):
        self.items = []
        self.total = 0

    def summary(self):
        return f"{len(self.items)} items, {self.total}"

    def refill(self, more):
        for m in more:
            self.
"""


def test_a_member_list_is_answered_in_the_shipped_rankers_order(tmp_path):
    """After `self.` (jedi's members of the class): the order the user gets is the linear
    ranking's with its first candidates ordered by the shipped net (the linear ranking alone
    where none is shipped)."""
    path = tmp_path / "basket.py"
    path.write_text(TEXT)
    doc = StructuredDocument(TEXT, "python")
    line = TEXT.split("\n").index("            self.")
    feats: list = []
    got = [c.label for c in complete(doc, line, len("            self."), None, max_items=1000, features_out=feats,
                                     context=AnalysisContext(str(path), str(tmp_path))).items]
    assert {"add", "items", "total", "clear", "summary"} <= set(got)
    weights = weights_for("python", member=True)
    linear = sorted(feats, key=lambda lf: (-rank_score(lf[1], weights), lf[0]))
    net = member_net("python")
    want = [linear[i][0] for i in net.order(linear)] if net is not None else [l for l, _ in linear]
    assert got == want
    if net is not None:
        assert set(net.features) <= {k for _, f in feats for k in f} | set(weights)
        assert all(math.isfinite(v) for v in net.scores([f for _, f in feats]))
