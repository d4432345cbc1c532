"""End to end: the "Translate Java → Python" code action, as VS Code, Neovim and Emacs use it."""

from __future__ import annotations

import ast
import subprocess
import sys

import pytest
import pytest_lsp
from lsprotocol import types
from pygls.exceptions import JsonRpcException
from pygls.uris import from_fs_path
from pytest_lsp import LanguageClient

from lsp_support import CONFIG, initialize, open_document

JAVA = """\
public class Stats {
    static int mean(int[] xs) {
        int sum = 0;
        for (int x : xs) sum += x;
        return sum / xs.length;
    }

    public static void main(String[] args) {
        System.out.println(mean(new int[]{3, -7, 10}) + " " + (-7 / 2));
    }
}
"""

# Reflection has no rule: it must be marked in the output and reported on the Java range.
UNTRANSLATABLE = """\
public class Odd {
    public static void main(String[] args) throws Exception {
        Class<?> c = Class.forName("java.lang.String");
        System.out.println(c.getDeclaredMethods().length > 0);
    }
}
"""

# (profile, how the .py arrives): VS Code resolves the action to a CreateFile edit; Neovim
# resolves to a command (no documentChanges) and the server writes the file and shows it;
# Emacs 29 has no resolve support: the action carries the command directly.
PROFILES = ["visual-studio-code", "neovim", "emacs"]


@pytest_lsp.fixture(config=CONFIG, params=PROFILES)
async def client(lsp_client: LanguageClient, request, tmp_path):
    lsp_client.profile = request.param
    lsp_client.root = tmp_path
    await initialize(lsp_client, request.param, {"features": {"completion": False, "inlineCompletion": False,
                                                             "expertDiagnostics": False}},
                     root_uri=from_fs_path(str(tmp_path)))
    yield
    await lsp_client.shutdown_session()


def _as_code_action(item) -> types.CodeAction:
    """lsprotocol's client-side hook reads any action carrying a `command` as a Command and
    stringifies the nested command; recover the CodeAction the server sent."""
    if isinstance(item, types.CodeAction):
        return item
    nested = ast.literal_eval(item.command)
    return types.CodeAction(title=item.title, kind=types.CodeActionKind.RefactorRewrite,
                            command=types.Command(**nested))


async def actions_at(client: LanguageClient, uri: str, line: int, character: int) -> list[types.CodeAction]:
    pos = types.Position(line, character)
    found = await client.text_document_code_action_async(types.CodeActionParams(
        text_document=types.TextDocumentIdentifier(uri), range=types.Range(pos, pos),
        context=types.CodeActionContext(diagnostics=[])))
    return [_as_code_action(a) for a in found or []]


async def run_action(client: LanguageClient, action: types.CodeAction) -> None:
    """Do what the editor does with a chosen action."""
    if action.edit is None and action.command is None:
        action = await client.code_action_resolve_async(action)
    if action.edit is not None:  # VS Code: apply the workspace edit (create the file, insert the text)
        for change in action.edit.document_changes:
            if isinstance(change, types.CreateFile):
                path = client.root / change.uri.rsplit("/", 1)[1]
                assert not path.exists()
                path.write_text("", encoding="utf-8")
            else:
                path = client.root / change.text_document.uri.rsplit("/", 1)[1]
                path.write_text(change.edits[0].new_text, encoding="utf-8")
    else:
        await client.workspace_execute_command_async(types.ExecuteCommandParams(
            command=action.command.command, arguments=action.command.arguments))


async def test_translate_method_and_file_create_python_beside_the_source(client: LanguageClient):
    java_path = client.root / "Stats.java"
    java_path.write_text(JAVA, encoding="utf-8")
    uri = from_fs_path(str(java_path))
    open_document(client, uri, "java", JAVA)
    actions = await actions_at(client, uri, 3, 10)
    titles = [a.title for a in actions]
    assert titles == ["Translate Java → Python: method mean", "Translate Java → Python: whole file"]
    assert all(a.kind == types.CodeActionKind.RefactorRewrite for a in actions)

    await run_action(client, actions[1])
    created = client.root / "Stats.py"
    assert created.is_file()
    run = subprocess.run([sys.executable, str(created)], capture_output=True, text=True, timeout=60)
    assert run.stdout == "2 -3\n"  # Java's truncating division, not Python's floor
    assert java_path.read_text(encoding="utf-8") == JAVA  # the source is never changed

    # Again, for the method alone: a fresh name, the first file untouched.
    await run_action(client, actions[0])
    second = client.root / "Stats_1.py"
    assert second.is_file() and "def mean(" in second.read_text(encoding="utf-8")
    assert created.read_text(encoding="utf-8").count("def mean(") == 1


async def test_untranslatable_code_is_marked_and_reported(client: LanguageClient):
    java_path = client.root / "Odd.java"
    java_path.write_text(UNTRANSLATABLE, encoding="utf-8")
    uri = from_fs_path(str(java_path))
    open_document(client, uri, "java", UNTRANSLATABLE)
    actions = await actions_at(client, uri, 0, 0)
    await run_action(client, actions[-1])
    text = (client.root / "Odd.py").read_text(encoding="utf-8")
    assert "# r1lsp: untranslated:" in text
    if client.profile == "neovim":  # declares pull diagnostics: nothing is pushed to it
        assert uri not in client.diagnostics
        diagnostics = (await client.text_document_diagnostic_async(
            types.DocumentDiagnosticParams(text_document=types.TextDocumentIdentifier(uri)))).items
    else:
        diagnostics = client.diagnostics.get(uri) or []
    marked = [d for d in diagnostics if d.code == "untranslated"]
    assert marked and all(d.source == "r1lsp" for d in marked)
    assert any(d.range.start.line in (2, 3) for d in marked)


async def test_no_translate_action_for_python(client: LanguageClient):
    uri = from_fs_path(str(client.root / "x.py"))
    open_document(client, uri, "python", "def f():\n    return 1\n")
    assert await actions_at(client, uri, 0, 0) == []


@pytest_lsp.fixture(config=CONFIG)
async def emacs_elsewhere(lsp_client: LanguageClient, tmp_path):
    (tmp_path / "workspace").mkdir()
    await initialize(lsp_client, "emacs", {"features": {"completion": False, "inlineCompletion": False}},
                     root_uri=from_fs_path(str(tmp_path / "workspace")))
    yield
    await lsp_client.shutdown_session()


async def test_never_writes_outside_the_workspace(emacs_elsewhere: LanguageClient, tmp_path):
    outside = tmp_path / "Stats.java"  # beside, not inside, the workspace folder
    outside.write_text(JAVA, encoding="utf-8")
    uri = from_fs_path(str(outside))
    open_document(emacs_elsewhere, uri, "java", JAVA)
    actions = await actions_at(emacs_elsewhere, uri, 0, 0)
    with pytest.raises(JsonRpcException, match="outside the workspace"):
        await emacs_elsewhere.workspace_execute_command_async(types.ExecuteCommandParams(
            command=actions[-1].command.command, arguments=actions[-1].command.arguments))
    assert not (tmp_path / "Stats.py").exists()


UNDEFINED = """\
public class Calc {
    static int twice(int x) { return 2 * x; }
    int scaled(int y) { return twice(y) % MOD; }
}
"""


async def test_selected_method_becomes_a_function_and_undefined_names_are_reported(client: LanguageClient):
    java_path = client.root / "Calc.java"
    java_path.write_text(UNDEFINED, encoding="utf-8")
    uri = from_fs_path(str(java_path))
    open_document(client, uri, "java", UNDEFINED)
    start, end = types.Position(2, 4), types.Position(2, len(UNDEFINED.splitlines()[2]))
    found = await client.text_document_code_action_async(types.CodeActionParams(
        text_document=types.TextDocumentIdentifier(uri), range=types.Range(start, end),
        context=types.CodeActionContext(diagnostics=[])))
    action = next(a for a in map(_as_code_action, found) if a.title.endswith("selection"))
    await run_action(client, action)
    text = (client.root / "Calc.py").read_text(encoding="utf-8")
    assert "def scaled(y):" in text and "def twice(x):" in text and "self" not in text
    assert "# r1lsp: undefined: MOD" in text
    if client.profile == "neovim":
        diagnostics = (await client.text_document_diagnostic_async(
            types.DocumentDiagnosticParams(text_document=types.TextDocumentIdentifier(uri)))).items
    else:
        diagnostics = client.diagnostics.get(uri) or []
    undefined = [d for d in diagnostics if d.code == "undefined"]
    assert len(undefined) == 1 and "MOD" in undefined[0].message
    assert undefined[0].range.start == types.Position(2, UNDEFINED.splitlines()[2].index("MOD"))
