"""The member-usage prior: shipped counts of `receiver_type.member` in other code (the JDK's
sources, the Python standard library) that completion ranks members with."""
import ast

from r1lsp.usage_prior import usage_prior
from r1lsp.usage_prior_build import _PyTypes, compact


def test_the_shipped_counts_know_the_common_types_members():
    java = usage_prior("java")
    length, share = java.of_type("java.lang.String", "length")
    assert length > java.of_type("java.lang.String", "intern")[0] and 0.0 < share < 1.0
    assert java.of_type("java.util.Map", "put")[0] > java.of_type("java.util.Map", "compute")[0]
    assert java.of_type("no.such.Type", "length") == (0.0, 0.0)
    python = usage_prior("python")
    assert python.of_type("list", "append")[0] > python.of_type("list", "reverse")[0]
    assert python.of_type("module:os", "path")[0] > 0.0
    assert python.of_name("append") > python.of_name("no_such_member_name")
    assert usage_prior("plaintext").of_name("append") == 0.0


def test_python_receivers_are_typed_by_imports_literals_and_constructor_calls():
    src = ("import os\nimport numpy as np\nitems = []\nnames = {}\nc = Counter()\nx = 1\nx = 'a'\n"
           "os.path.join(a)\nnp.zeros(3)\nitems.append(1)\nnames.get(2)\nc.most_common()\nx.strip()\n"
           "', '.join(b)\nself.value\n")
    v = _PyTypes()
    tree = ast.parse(src)
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            v.visit_Import(node)
        elif isinstance(node, ast.Assign):
            v.assign(node)
    v.visit(tree)
    pairs = set(v.pairs)
    assert {("module:os", "path"), ("module:numpy", "zeros"), ("list", "append"), ("dict", "get"),
            ("Counter", "most_common"), ("str", "join")} <= pairs
    assert (None, "strip") in pairs and (None, "value") in pairs       # x: two types; self: unknown here


def test_compact_keeps_the_types_seen_often_and_their_top_members():
    counts = {"types": {"A": {"x": 5, "y": 1, "z": 1}, "B": {"x": 1}}, "names": {"x": 7, "y": 1}}
    got = compact(counts, min_type=3, top=2, min_name=2)
    assert got["types"] == {"A": {"x": 5, "y": 1}} and got["names"] == {"x": 7}
