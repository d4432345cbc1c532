"""The workspace's code lines (r1lsp.workspace_lines) and ghost text copied from them
(r1lsp.line_retrieval's second tier)."""
import os

from r1lsp.line_retrieval import SIBLING_FILES, retrieved_line, sibling_paths, workspace_source
from r1lsp.workspace_lines import WorkspaceLines, file_lines, first_token
from test_line_retrieval import doc_with_cursor

CHECK = '        Objects.requireNonNull(name, "name");\n'


def test_first_token_and_file_lines():
    assert [first_token(s) for s in ("return x;", "self.x = 1", "@Override", "42 + 1", "")] == \
        ["return", "self", "@", "42", ""]
    lines = file_lines("x = 1\n\n    x = 1\n# note\n// note\n  * doc\ny = 2\n" + "z" * 300 + "\n")
    assert lines == {"x": {"x = 1": 2}, "y": {"y = 2": 1}}                  # comments and long lines left out


def test_scan_counts_lines_by_first_token_and_skips_files(tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    (tmp_path / ".git").mkdir()
    (tmp_path / "a" / "A.java").write_text("class A {\n" + CHECK + "}\n")
    (tmp_path / "b" / "B.java").write_text("class B {\n" + CHECK + CHECK + "}\n")
    (tmp_path / ".git" / "C.java").write_text("class C {\n" + CHECK + "}\n")   # hidden: not read
    (tmp_path / "b" / "notes.txt").write_text(CHECK)                              # no source file
    w = WorkspaceLines()
    assert w.scan([str(tmp_path)]) == 2
    line = CHECK.strip()
    assert w.lines("java", "Objects") == [(line, 3)]
    assert w.lines("python", "Objects") == []
    b = os.path.realpath(tmp_path / "b" / "B.java")
    assert w.lines("java", "Objects", frozenset({b})) == [(line, 1)]      # the files given otherwise
    (tmp_path / "b" / "B.java").write_text("class B {\n}\n")
    w.update(b)                                                             # saved: read again
    assert w.lines("java", "Objects") == [(line, 1)]
    w.remove(os.path.realpath(tmp_path / "a" / "A.java"))
    assert w.lines("java", "Objects") == [] and len(w) == 1


def test_the_workspace_answers_where_the_lines_around_do_not():
    w = WorkspaceLines()
    w.update("/ws/a/A.java", "class A {\n" + CHECK + "}\n")
    w.update("/ws/b/B.java", "class B {\n" + CHECK + "}\n")
    src = "class Main {\n    void f(String name) {\n        Objects.requireNonNull(|\n    }\n}\n"
    doc, _, _, offset = doc_with_cursor(src, "java")
    assert retrieved_line(doc, offset) is None
    here = "/ws/c/Main.java"                              # not on disk: its folder has no files to read
    got = retrieved_line(doc, offset, workspace=workspace_source(w, here, "java"))
    assert got.text == 'name, "name");'
    given = frozenset({"/ws/a/A.java", "/ws/b/B.java"})  # the files given as texts already
    assert retrieved_line(doc, offset, workspace=workspace_source(w, here, "java", given)) is None
    # the document's own lines come first: one of them that agrees with itself wins
    own = src.replace("        Objects.requireNonNull(|", '        Objects.requireNonNull(name, "first");\n'
                      '        Objects.requireNonNull(|')
    doc, _, _, offset = doc_with_cursor(own, "java")
    assert retrieved_line(doc, offset, workspace=workspace_source(w, here, "java")).text == 'name, "first");'


def test_inside_a_docstring_the_workspace_answers_too():
    w = WorkspaceLines()
    note = '    """Do it.\n\n    .. note::\n        Twice.\n    """\n'
    for name in "abde":                                   # each workspace line votes 1/4: four files agree
        w.update(f"/ws/{name}/{name}.py", f"def {name}():\n" + note)
    src = 'def f():\n    """Do it.\n\n    .. note|\n    """\n'
    doc, _, _, offset = doc_with_cursor(src, "python")
    assert retrieved_line(doc, offset) is None
    assert retrieved_line(doc, offset, workspace=workspace_source(w, "/ws/c/c.py", "python")).text == "::"


def test_the_workspace_source_leaves_out_the_document_and_its_folder(tmp_path):
    # the document's own file is the editor's text, its folder's files are read as texts of their own
    for folder, name in (("a", "A"), ("a", "Main"), ("b", "B"), ("c", "C")):
        (tmp_path / folder).mkdir(exist_ok=True)
        (tmp_path / folder / f"{name}.java").write_text(f"class {name} {{\n" + CHECK + "}\n")
    w = WorkspaceLines()
    assert w.scan([str(tmp_path)]) == 4
    line = CHECK.strip()
    main = str(tmp_path / "a" / "Main.java")
    assert workspace_source(w, main, "java")("Objects") == [(line, 2)]                 # B and C
    given = frozenset({str(tmp_path / "c" / "C.java")})
    assert workspace_source(w, main, "java", given)("Objects") == [(line, 1)]         # B
    assert workspace_source(w, main, "python")("Objects") == []
    # a folder of more files than ghost text reads as texts: the others are workspace files like any
    for i in range(SIBLING_FILES + 1):
        extra = tmp_path / "a" / f"X{i}.java"
        extra.write_text(f"class X{i} {{\n" + CHECK + "}\n")
        os.utime(extra, (1000 + i, 1000 + i))                                # X0 the oldest
    os.utime(tmp_path / "a" / "A.java", (10, 10))                           # older still
    w.scan([str(tmp_path)])
    read = sibling_paths(main, "java")
    assert len(read) == SIBLING_FILES and str(tmp_path / "a" / "X0.java") not in read
    assert workspace_source(w, main, "java")("Objects") == [(line, 4)]                 # A, X0, B, C
