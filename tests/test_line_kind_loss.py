"""bench/line_kind_loss.py: each token's line kind, as the window's text reads."""
import importlib.util
from pathlib import Path

spec = importlib.util.spec_from_file_location("line_kind_loss", Path(__file__).parent.parent / "bench" / "line_kind_loss.py")
L = importlib.util.module_from_spec(spec)
spec.loader.exec_module(L)


def test_token_kinds_follow_the_lines_they_start_on():
    pieces = ["package", " org.a", ";\n", "\n", "import", " java.util.List;\n", "/**", " Doc\n", " */\n",
              "@Deprecated\n", "public", " class A {}\n"]
    assert L.token_kinds(pieces) == ["package", "package", "package", "blank", "import", "import", "comment",
                                     "comment", "comment", "annotation", "code", "code"]


def test_python_lines():
    assert [L.line_kind(s) for s in ("from a import b", "# note", "    return x", "   ")] == \
        ["import", "comment", "code", "blank"]
