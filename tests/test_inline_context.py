"""Context from other files in the ghost-text prompt: the signatures of the types used near the
cursor (Java: the workspace index; Python: jedi on the imports) and recently edited snippets,
stable while the user types on the cursor's line."""
from r1lsp.completion import AnalysisContext
from r1lsp.documents import DocumentStore
from r1lsp.inline import ghost_prompt
from r1lsp.inline_context import CrossFileContext, RecentEdits, edit_snippets
from r1lsp.java.workspace import JavaIndex
from model.structure import StructuredDocument

ITEM = """\
package shop;

public class Item {
    private int count;
    public int stockLevel() { return count; }
    public void restock(int amount) { count += amount; }
}
"""

SHOP = """\
package shop;

import java.util.List;

public class Shop {
    int total(List<Item> items) {
        int sum = 0;
        for (Item item : items) {
            sum += item.stockLevel();
        }
        return 
    }
}
"""


def prompt_text(engine, doc, line, col, ctx, snippets=(), cross=None):
    cross = cross or CrossFileContext()
    ids, levels = ghost_prompt(engine, doc, doc.offset_at(line, col), 16, cross, ctx, snippets)
    assert len(ids) == len(levels)
    return engine.decode(ids)


def test_java_prompt_holds_the_signatures_of_another_files_class(stub_engine):
    index = JavaIndex()
    index.update("file:///ws/shop/Item.java", ITEM)
    index.update("file:///ws/shop/Shop.java", SHOP)
    doc = StructuredDocument(SHOP, "java")
    line, col = 10, len("        return ")
    ctx = AnalysisContext(java_index=index, uri="file:///ws/shop/Shop.java")
    text = prompt_text(stub_engine(""), doc, line, col, ctx)
    head = text.split("public class Shop")[0]
    assert "// class shop.Item {" in head and "int stockLevel()" in head and "void restock(int)" in head
    assert "class shop.Shop" not in head                                   # the file's own class is not context


def test_python_prompt_holds_the_signatures_of_imported_names(stub_engine, tmp_path):
    (tmp_path / "inventory.py").write_text(
        "class Stock:\n    def __init__(self, name: str):\n        self.name = name\n\n"
        "    def reorder_level(self, days: int) -> int:\n        return days * 2\n")
    src = "from inventory import Stock\n\n\ndef plan(name):\n    s = Stock(name)\n    return s.\n"
    (tmp_path / "plan.py").write_text(src)
    doc = StructuredDocument(src, "python")
    ctx = AnalysisContext(str(tmp_path / "plan.py"), str(tmp_path), None, uri="file:///plan.py")   # no deadline
    text = prompt_text(stub_engine(""), doc, 5, len("    return s."), ctx)
    head = text.split("from inventory import Stock")[0]
    assert "# class Stock:" in head and "reorder_level(self, days: int) -> int" in head


def test_context_stays_the_same_while_typing_on_the_line(stub_engine):
    index = JavaIndex()
    index.update("file:///ws/shop/Item.java", ITEM)
    ctx = AnalysisContext(java_index=index, uri="file:///ws/shop/Shop.java")
    cross = CrossFileContext()
    eng = stub_engine("")
    doc = StructuredDocument(SHOP, "java")
    before = prompt_text(eng, doc, 10, len("        return "), ctx, cross=cross)
    typed = StructuredDocument(SHOP.replace("        return \n", "        return su\n"), "java")
    after = prompt_text(eng, typed, 10, len("        return su"), ctx, cross=cross)
    assert after.startswith(before.split("return")[0])                     # only the end differs: the cache hits


def test_recently_edited_files_give_snippets(stub_engine):
    docs = DocumentStore()
    docs.open("file:///ws/a.py", "python", "def helper(x):\n    return x * 3\n\n\nVALUE = 7\n", 1)
    docs.open("file:///ws/b.py", "python", "def main():\n    return \n", 1)
    recent = RecentEdits()
    recent.edited("file:///ws/a.py", len("def helper(x):\n    return x * 3"))
    snippets = edit_snippets(docs, "file:///ws/b.py", "python", recent)
    assert snippets and snippets[0][0] == "a.py" and "return x * 3" in snippets[0][1]
    doc = docs.get("file:///ws/b.py")
    text = prompt_text(stub_engine(""), doc, 1, len("    return "), AnalysisContext(uri="file:///ws/b.py"), snippets)
    assert "# recently edited, a.py:" in text and "#     return x * 3" in text
    assert edit_snippets(docs, "file:///ws/a.py", "python", recent) == ()  # its own edit is not context


def test_a_lone_surrogate_in_another_files_snippet_reaches_the_tokenizer_as_a_replacement():
    from r1lsp.inline_context import context_block
    block = context_block("python", [], (("a.py", "s = '\ud800'"),))
    assert "\ud800" not in block and "s = '\ufffd'" in block
