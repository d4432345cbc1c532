"""Ghost text on a Java import line: the import the file still needs (r1lsp.java.import_line),
from the JDK index and the workspace's classes, through inline_suggestions without a model."""
import pytest

from model.structure import StructuredDocument
from r1lsp.completion import AnalysisContext
from r1lsp.inline import inline_suggestions
from r1lsp.java.import_line import import_rest
from r1lsp.java.workspace import JavaIndex

BODY = """
public class Report {
    private final List<Item> items = new ArrayList<>();
    private Map<String, File> files;

    @Override
    public String toString() {
        Collections.sort(items);
        return Objects.toString(items);
    }
}
"""


def rest(imports: str, index=None) -> str | None:
    text = "package shop;\n\n" + imports + "\n" + BODY
    i = text.index("|")
    doc = StructuredDocument(text[:i] + text[i + 1:], "java")
    return import_rest(doc, i, index if index is not None else JavaIndex())


@pytest.mark.parametrize("imports, want", [
    ("import java.io.File;\nimport java.util.|\nimport java.util.Map;", "ArrayList;"),     # first missing, sorted
    ("import java.io.File;\nimport java.util.ArrayList;\nimport java.util.|\nimport java.util.List;\n"
     "import java.util.Map;", "Collections;"),                                               # between its neighbours
    ("import java.util.*;\nimport java.|", "io.File;"),                                       # the wildcard covers java.util
    ("import java.util.*;\nimport java.io.File|", ";"),                                        # the typed name is needed
    ("import java.util.*;\nimport|", " java.io.File;"),
    ("import java.util.*;\nimport java.io.File;\nimport java.|", None),                       # nothing missing
    ("import static java.util.|", None),
    ("import java.util.*;\nimport java.io.File;\nimport java.util.Objects;\n// import java.|", None),
])
def test_the_import_the_file_needs(imports, want):
    assert rest(imports) == want


def test_workspace_classes_are_candidates():
    index = JavaIndex()
    index.update("file:///w/Item.java", "package shop.model;\npublic class Item {}\n")
    assert rest("import java.io.File;\nimport java.util.*;\nimport shop.|", index) == "model.Item;"


def test_inline_suggestions_offers_it_without_a_model():
    text = "package shop;\n\nimport java.io.File;\nimport java.util.\n" + BODY
    doc = StructuredDocument(text, "java")
    got = inline_suggestions(doc, 3, len("import java.util."), None, context=AnalysisContext(java_index=JavaIndex()))
    assert [s.text for s in got] == ["ArrayList;"]
