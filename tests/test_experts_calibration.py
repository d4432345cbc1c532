"""Expert labels by measurement (r1lsp.expert_calibration): the sources are picked the same way
every time, only code tokens count, an expert is named after the role it prefers with its lift,
one without a clear preference gets no name, and the file the server reads is what it writes."""
import json
import types
import zipfile
from concurrent.futures import Future

import numpy as np

from model.prompts import R1Prompts

from r1lsp.code_roles import load_roles
from r1lsp.route_trace import RouteTrace
from r1lsp.expert_calibration import (ExpertStats, SourceFile, calibrate, java_sources, label_experts,
                                      python_sources)
from r1lsp.expert_labels import labels_from_file

DIGIT_EXPERT, BLANK_EXPERT = 5, 7


class DigitRouter:
    """Characters as tokens: digits go to expert 5 (and 5 takes nothing else), blanks to 7,
    anything else to two of 0..3."""
    context_tokens = 4096
    config = types.SimpleNamespace(n_experts=8)
    prompts = R1Prompts(types.SimpleNamespace(lang=lambda language: 1, endoftext=0))

    def encode_with_offsets(self, text, start=0):
        lens = [len(c.encode()) for c in text]
        return [ord(c) for c in text], np.cumsum([start] + lens[:-1]).astype(np.int64)[:len(text)]

    def submit_route(self, key, ids, level_ids=None, *, cancel=None):
        a = np.asarray(ids)
        digit = (a >= 48) & (a <= 57)
        blank = np.isin(a, [32, 10])
        first = np.where(digit, DIGIT_EXPERT, np.where(blank, BLANK_EXPERT, a % 4))
        second = np.where(digit, a % 4, np.where(blank, BLANK_EXPERT, (a + 1) % 4))
        experts = np.stack([np.stack([first, second], -1)] * 2)
        weights = np.broadcast_to(np.array([.9, .1], np.float32), experts.shape).copy()
        f = Future()
        f.set_result(RouteTrace(experts, weights))
        return f


JAVA = """class Q {
    int f(int[] a) {
        int total = 40 + 2;
        for (int i = 0; i < a.length; i++) { total += a[i] * 17; }
        return total + 99;
    }
}
"""
PY = "def g(x):\n    y = x * 1000 + 25\n    return [y, 7, 8]\n\n\nclass C:\n    def h(self):\n        return self.g(3)\n"


def test_a_digit_expert_is_named_literals_with_its_lift_and_others_by_measurement():
    files = [SourceFile(f"f{i}.java", "java", JAVA) for i in range(3)] + [SourceFile(f"g{i}.py", "python", PY) for i in range(3)]
    stats = calibrate(files, DigitRouter(), 8, max_tokens=10_000)
    table = load_roles()
    assert stats.tokens == stats.base.sum() and len(stats.files) == 6
    assert stats.base[table.code("whitespace")] == 0 and stats.base[table.code("comment")] == 0  # code only
    assert stats.by_role[BLANK_EXPERT].sum() == 0                     # blanks never counted
    labels = label_experts(stats, table)
    five = labels[str(DIGIT_EXPERT)]
    assert five["label"] == "literals" and five["role"] == "literal" and five["lift"] > 2
    assert five["top"][0][0] == "literal" and five["top"][0][1] > 0.9
    assert labels[str(BLANK_EXPERT)]["label"] is None and labels[str(BLANK_EXPERT)]["load"] == 0
    assert all(labels[str(e)]["label"] != "literals" for e in range(4))
    shown = labels_from_file({"experts": labels})
    assert shown[DIGIT_EXPERT] == f"literals ×{five['lift']:.1f}" and BLANK_EXPERT not in shown


def test_an_expert_without_a_clear_preference_has_no_label():
    table = load_roles()
    st = ExpertStats(2, list(table.names))
    call, name, lit = table.code("call"), table.code("name"), table.code("literal")
    st.base[[call, name, lit]] = [300, 500, 200]
    st.by_role[0, [call, name, lit]] = [60, 20, 20]                  # calls .6 vs .3: lift 2
    st.by_role[1, [call, name, lit]] = [31, 49, 20]                  # the base rates: nothing stands out
    labels = label_experts(st, table)
    assert (labels["0"]["label"], labels["0"]["lift"]) == ("calls", 2.0)
    assert labels["1"]["label"] is None and labels_from_file({"experts": labels}) == {0: "calls ×2.0"}


def test_sources_come_in_the_same_order_every_time(tmp_path):
    for rel in ("a.py", "pkg/b.py", "test/c.py", "pkg/tests/d.py", "e.py"):
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text("x = 1\n")
    first = [f.path for f in python_sources(tmp_path)]
    assert sorted(first) == ["a.py", "e.py", "pkg/b.py"] and first == [f.path for f in python_sources(tmp_path)]
    z = tmp_path / "src.zip"
    with zipfile.ZipFile(z, "w") as out:
        for n in ("java.base/A.java", "java.base/B.java", "README"):
            out.writestr(n, "class A {}\n")
    got = [f.path for f in java_sources(z)]
    assert sorted(got) == ["java.base/A.java", "java.base/B.java"] and got == [f.path for f in java_sources(z)]
    assert json.dumps(got)


def test_the_shipped_labels_were_measured_on_the_shipped_weights():
    import pytest
    from r1lsp.engine import default_checkpoint
    from r1lsp.expert_labels import LABELS_FILE, load_expert_labels, weights_digest
    ckpt = default_checkpoint()
    payload = json.loads((ckpt / LABELS_FILE).read_text())
    if payload["meta"]["weights_sha256"] != weights_digest(ckpt):
        pytest.skip("the shipped weights changed since the labels were measured: run `make calibrate`")
    assert payload["meta"]["command"].startswith("make calibrate") and payload["meta"]["code_tokens"] > 10_000
    labels = load_expert_labels(ckpt)
    table = load_roles()
    shown = set(table.labels[r] for r in table.names if r not in table.not_code)
    assert labels and all(text.rsplit(" ×", 1)[0] in shown and float(text.rsplit("×", 1)[1]) >= 1.5
                          for text in labels.values())
    # experts without a clear preference are left unnamed (shown by number)
    assert {int(e) for e, v in payload["experts"].items() if v["label"]} == set(labels)
