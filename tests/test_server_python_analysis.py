"""End to end: Python completion from jedi through the real server (no model: static ranking)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest_lsp
from lsprotocol import types
from pytest_lsp import LanguageClient

from lsp_support import CONFIG, as_plain, complete_at, custom_request, initialize, open_document
from test_server_completion import wait_for_message

SOURCE = """\
import collections


class Shelf:
    def __init__(self, name: str):
        self.name = name
        self.books = collections.Counter()

    def add(self, title: str, copies: int = 1) -> None:
        self.books[title] += copies

    def count(self, title: str) -> int:
        return self.books[title]


def stock(shelf: Shelf) -> int:
    s = Shelf("fiction")
    s.
"""


def _workspace(tmp_path: Path) -> tuple[str, str]:
    (tmp_path / "helpers.py").write_text("def shout(text: str) -> str:\n    return text.upper()\n")
    main = tmp_path / "main.py"
    main.write_text(SOURCE)
    return tmp_path.as_uri(), main.as_uri()


@pytest_lsp.fixture(config=CONFIG)
async def client(lsp_client: LanguageClient):
    # no model: the list is jedi's, ranked by static features alone
    await initialize(lsp_client, "visual-studio-code", {"features": {"inlineCompletion": False,
                                                                     "expertDiagnostics": False,
                                                                     "completion": True},
                                                        "model": {"path": "/nonexistent-checkpoint"},
                                                        # jedi's own answers, however loaded the machine
                                                        "python": {"analysisBudgetMs": 60000}})
    yield
    await lsp_client.shutdown_session()


async def test_members_of_a_local_class_instance_come_first_with_signatures(client: LanguageClient, tmp_path):
    _, uri = _workspace(tmp_path)
    open_document(client, uri, "python", SOURCE)
    line = SOURCE.split("\n").index("    s.")
    result = await complete_at(client, uri, line, len("    s."))
    labels = [item.label for item in result.items]
    assert set(labels[:4]) == {"add", "count", "name", "books"}, labels[:8]
    assert not {"print", "return", "stock"} & set(labels)           # only the receiver's members
    add = next(item for item in result.items if item.label == "add")
    assert add.kind == types.CompletionItemKind.Method
    assert "add(title: str, copies: int=1) -> None" in add.detail
    assert labels.index("__init__") > labels.index("books")          # dunders after the class's own


async def test_names_from_another_workspace_module_resolve(client: LanguageClient, tmp_path):
    _, uri = _workspace(tmp_path)
    text = "import helpers\nhelpers.\n"
    open_document(client, uri, "python", text)
    result = await complete_at(client, uri, 1, len("helpers."))
    shout = next(item for item in result.items if item.label == "shout")
    assert shout.kind == types.CompletionItemKind.Method and "-> str" in shout.detail


async def test_statement_start_offers_locals_parameters_and_keywords(client: LanguageClient, tmp_path):
    _, uri = _workspace(tmp_path)
    text = SOURCE.replace("    s.\n", "    re\n")
    open_document(client, uri, "python", text)
    line = text.split("\n").index("    re")
    result = await complete_at(client, uri, line, len("    re"))
    labels = [item.label for item in result.items]
    assert "return" in labels and "repr" in labels
    assert next(i for i in result.items if i.label == "return").kind == types.CompletionItemKind.Keyword
    result = await complete_at(client, uri, line, len("    "))
    labels = [item.label for item in result.items]
    assert {"shelf", "s", "Shelf", "collections"} <= set(labels[:12]), labels[:12]


async def test_python_environment_setting_is_checked(client: LanguageClient):
    client.workspace_did_change_configuration(types.DidChangeConfigurationParams(
        settings={"r1lsp": {"python": {"environment": "/no/such/python"}}}))
    message = await wait_for_message(client, "r1lsp.python.environment")
    assert "/no/such/python" in message.message and "keeping" in message.message
    settings = as_plain(await custom_request(client, "r1lsp/settings", None))
    assert settings["python"]["environment"] is None
    client.workspace_did_change_configuration(types.DidChangeConfigurationParams(
        settings={"r1lsp": {"python": {"environment": sys.executable}}}))
    for _ in range(50):
        settings = as_plain(await custom_request(client, "r1lsp/settings", None))
        if settings["python"]["environment"] == sys.executable:
            break
    assert settings["python"]["environment"] == sys.executable


async def test_a_list_that_cannot_wait_for_jedi_is_incomplete_then_gets_its_answer(client: LanguageClient, tmp_path):
    _, uri = _workspace(tmp_path)
    client.workspace_did_change_configuration(types.DidChangeConfigurationParams(
        settings={"r1lsp": {"python": {"analysisBudgetMs": 1}}}))
    for _ in range(50):
        settings = as_plain(await custom_request(client, "r1lsp/settings", None))
        if settings["python"]["analysisBudgetMs"] == 1:
            break
    text = SOURCE.replace("class Shelf", "class Shelf2").replace("Shelf(", "Shelf2(")   # a text jedi has not seen
    open_document(client, uri, "python", text)
    line = text.split("\n").index("    s.")
    first = await complete_at(client, uri, line, len("    s."))
    # the client asks again as the user types (isIncomplete); jedi's answer comes once it is ready
    for _ in range(100_000):
        result = await complete_at(client, uri, line, len("    s."))
        if not result.is_incomplete:
            break
    labels = [item.label for item in result.items]
    assert set(labels[:4]) == {"add", "count", "name", "books"}, labels[:8]
    assert first.items, "the first answer is the file's names, not empty"


LEDGER = """\
class Ledger:
    def __init__(self, owner):
        self.owner = owner
        self.balance = 0
        self.entries = []
        self.currency = "EUR"

    def deposit(self, amount):
        self.entries.append(amount)
        self.balance += amount
        if self.balance > 1000:
            print(self.balance, self.currency)
        return self.

    def describe(self):
        text = self.owner.title()
        text += " of " + self.owner
        return self.
"""


async def test_self_members_used_most_in_the_method_come_first(client: LanguageClient, tmp_path):
    """After `self.` the list puts first the attribute the method around the cursor works with,
    so the same `return self.` in two methods is answered differently."""
    _, uri = _workspace(tmp_path)
    open_document(client, uri, "python", LEDGER)
    lines = LEDGER.split("\n")
    for method in ("deposit", "describe"):
        start = lines.index(f"    def {method}(self" + ("):" if method == "describe" else ", amount):"))
        end = next(i for i in range(start + 1, len(lines)) if lines[i] == "        return self.")
        body = "\n".join(lines[start:end])
        used = {name: body.count(f"self.{name}") for name in ("owner", "balance", "entries", "currency")}
        most = max(used, key=used.get)
        result = await complete_at(client, uri, end, len("        return self."))
        labels = [item.label for item in result.items]
        assert labels[0] == most, (method, used, labels[:6])
        assert set(labels[:5]) >= {"owner", "balance", "entries"}                 # the class's own attributes


async def test_the_methods_taking_the_arguments_written_after_the_word_come_first(client: LanguageClient, tmp_path):
    """`s.('c', 3)` with the name deleted: `add(title, copies=1)` takes two arguments and comes
    first; `count(title)` does not and comes after the attributes, while with one argument
    written (`s.('c')`) both fit and `count` ranks higher."""
    _, uri = _workspace(tmp_path)
    ranked = {}
    for n, call in enumerate(("('c', 3)", "('c')")):
        text = SOURCE.replace("    s.\n", f"    s.{call}\n")
        doc = (tmp_path / f"call{n}.py").as_uri()
        open_document(client, doc, "python", text)
        line = text.split("\n").index(f"    s.{call}")
        ranked[call] = [item.label for item in (await complete_at(client, doc, line, len("    s."))).items]
    two, one = ranked["('c', 3)"], ranked["('c')"]
    assert two[0] == "add", two[:6]
    assert two.index("count") > max(two.index("name"), two.index("books")), two[:6]
    assert one.index("count") < two.index("count"), (one[:6], two[:6])
