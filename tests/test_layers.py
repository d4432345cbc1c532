"""The layering rules, read from the source with ast (function-level imports included):
model/ never imports r1lsp/; model/structure/ (the tree-sitter mapping both use) imports no
other part of model/ and no torch; only the protocol edge of r1lsp/ imports pygls or lsprotocol."""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

# the modules that wire LSP to the logic; everything else in r1lsp/ is logic
PROTOCOL_EDGE = {"r1lsp.server", "r1lsp.session", "r1lsp.protocol", "r1lsp.requests",
                 "r1lsp.diagnostics_hub", "r1lsp.expert_scheduler", "r1lsp.translation_writer"}


def _module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports_of(path: Path) -> set[str]:
    """Every module `path` imports, absolute names (relative imports resolved)."""
    name = _module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    out = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            out.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[:len(package.split(".")) - node.level + 1]
                mod = ".".join(base + ([node.module] if node.module else []))
            else:
                mod = node.module
            out.add(mod)
            out.update(f"{mod}.{a.name}" for a in node.names)   # `from pkg import submodule`
    return out


def _modules(folder: str):
    return sorted((ROOT / folder).rglob("*.py"))


def _hits(paths, forbidden) -> list[str]:
    return [f"{p.relative_to(ROOT)} imports {m}" for p in paths for m in sorted(imports_of(p))
            if forbidden(m)]


def _under(module: str, package: str) -> bool:
    return module == package or module.startswith(package + ".")


def test_model_never_imports_r1lsp():
    assert _hits(_modules("model"), lambda m: _under(m, "r1lsp")) == []


def test_structure_imports_no_other_part_of_model_and_no_torch():
    def forbidden(m):
        return (_under(m, "model") and not _under(m, "model.structure")) or _under(m, "torch")
    assert _hits(_modules("model/structure"), forbidden) == []


def test_logic_modules_never_import_pygls():
    logic = [p for p in _modules("r1lsp") if _module_name(p) not in PROTOCOL_EDGE]
    assert len(logic) > 20
    assert _hits(logic, lambda m: _under(m, "pygls") or _under(m, "lsprotocol")) == []


@pytest.mark.parametrize("source,expected", [
    ("from r1lsp.engine import Engine\n", {"r1lsp.engine", "r1lsp.engine.Engine"}),
    ("def f():\n    import pygls.server\n", {"pygls.server"}),
    ("from .hierarchy import Level\n", {"model.structure.hierarchy", "model.structure.hierarchy.Level"}),
    ("from . import mapping\n", {"model.structure", "model.structure.mapping"}),
])
def test_the_walk_sees_every_kind_of_import(tmp_path, monkeypatch, source, expected):
    """The rules above would pass vacuously if the walk missed function-level or relative
    imports."""
    monkeypatch.setattr(__import__(__name__), "ROOT", tmp_path)
    f = tmp_path / "model" / "structure" / "x.py"
    f.parent.mkdir(parents=True)
    f.write_text(source)
    assert imports_of(f) == expected
