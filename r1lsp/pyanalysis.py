"""Python analysis through jedi: what may follow at a position (members of the receiver's
inferred type, names in scope, imports, keywords), with kinds, signatures and types, and the
type a position expects (annotated assignment, call argument).

The workspace folder is jedi's Project (so its own modules resolve); the interpreter is the
one the `r1lsp.python.environment` setting names (a python executable or a virtualenv
folder), by default the server's own. Jedi is not thread-safe: every call holds one lock.
Positions here are 0-based lines and columns in code points (Python str indices).
"""
from __future__ import annotations

import functools
import re
import threading
from dataclasses import dataclass, field

import jedi

_LOCK = threading.RLock()

# jedi's completion types -> r1lsp.completion.KINDS (members get method / field)
_KIND = {"module": "module", "path": "module", "class": "class", "function": "function",
         "param": "parameter", "keyword": "keyword", "instance": "variable", "statement": "variable",
         "property": "field"}


class EnvironmentError_(ValueError):
    """The configured interpreter cannot be used."""


@dataclass
class PySymbol:
    name: str
    kind: str                          # r1lsp.completion.KINDS vocabulary
    in_file: bool                      # defined in the document itself
    line: int | None                   # 0-based line of the definition in the document
    builtin: bool
    private: bool                      # _name or __dunder__
    _jedi: object = field(default=None, repr=False, compare=False)

    def detail(self) -> str:
        """Signature (callables) or type (values); '' when jedi does not know."""
        return describe(self._jedi)

    def value_type(self) -> str:
        """The type name a use of this name yields: a callable's return type, a value's type."""
        return value_type(self._jedi)


@dataclass
class PyCompletions:
    symbols: list[PySymbol]
    member: bool                       # the position follows `receiver.`
    resolved: bool                     # jedi offered names there (members: it inferred the receiver)


@functools.lru_cache(maxsize=8)
def environment(path: str | None):
    """The jedi environment of an interpreter path (None: the server's own, in-process)."""
    if not path:
        return jedi.InterpreterEnvironment()
    try:
        return jedi.create_environment(path, safe=False)
    except (jedi.InvalidPythonEnvironment, OSError) as exc:
        raise EnvironmentError_(f"{path} is not a usable Python interpreter or virtualenv: {exc}") from None


def check_environment(path: str | None) -> str | None:
    """None when `path` names a usable interpreter, else the reason it does not."""
    try:
        env = environment(path)
        if path:
            env.version_info                                            # runs the interpreter once
    except EnvironmentError_ as exc:
        return str(exc)
    except Exception as exc:                                            # jedi's subprocess errors
        environment.cache_clear()
        return f"{path} is not a usable Python interpreter: {exc}"
    return None


@functools.lru_cache(maxsize=8)
def _project(root: str | None, env_path: str | None):
    return jedi.Project(root or ".", environment_path=env_path or None, smart_sys_path=True)


def _script(source: str, path: str | None, root: str | None, env_path: str | None):
    return jedi.Script(source, path=path, project=_project(root, env_path), environment=environment(env_path))


def _member_position(source_line: str) -> bool:
    return re.search(r"\.\s*$", source_line) is not None


def completions(source: str, line: int, column: int, *, path: str | None = None, root: str | None = None,
                env_path: str | None = None) -> PyCompletions:
    """Every name jedi offers at (line, column) (the column at the start of the word being
    typed: the caller filters by the typed prefix itself)."""
    lines = source.split("\n")
    before = lines[line][:column] if line < len(lines) else ""
    member = _member_position(before)
    with _LOCK:
        try:
            found = _script(source, path, root, env_path).complete(line + 1, column)
        except Exception:                                               # jedi on broken code: no answer
            return PyCompletions([], member, False)
        out = []
        for c in found:
            if c.type == "path":
                continue
            in_file = c.module_path is not None and path is not None and str(c.module_path) == str(path) \
                or (path is None and c.module_name == "__main__")
            kind = _KIND.get(c.type, "variable")
            if member:
                kind = {"function": "method", "variable": "field"}.get(kind, kind)
            name = c.name
            out.append(PySymbol(name, kind, bool(in_file), (c.line - 1) if in_file and c.line else None,
                                c.in_builtin_module(), name.startswith("_"), c))
    return PyCompletions(out, member, bool(out))


def describe(c) -> str:
    if c is None:
        return ""
    with _LOCK:
        try:
            if c.type in ("function", "class"):
                sigs = c.get_signatures()
                return sigs[0].to_string() if sigs else c.name
            if c.type == "keyword":
                return "keyword"
            hint = c.get_type_hint()
            return hint or ""
        except Exception:
            return ""


def value_type(c) -> str:
    """A name's value type (the return annotation of a callable), '' when unknown."""
    if c is None:
        return ""
    with _LOCK:
        try:
            if c.type == "function":
                sigs = c.get_signatures()
                text = sigs[0].to_string() if sigs else ""
                return text.rsplit("->", 1)[1].strip() if "->" in text else ""
            if c.type == "class":
                return c.name
            names = c.infer()
            return names[0].name if names else ""
        except Exception:
            return ""


def expected_type(source: str, line: int, column: int, *, path: str | None = None, root: str | None = None,
                  env_path: str | None = None) -> str:
    """The type a value at (line, column) should have, where the code says it: the annotation
    of an annotated assignment target (`x: T = ▮`), the parameter annotation of the call
    argument being written (`f(a, ▮`); '' elsewhere."""
    lines = source.split("\n")
    before = lines[line][:column] if line < len(lines) else ""
    m = re.match(r"\s*[\w.]+\s*:\s*([\w.\[\], ]+?)\s*=\s*$", before)
    if m:
        return m.group(1).split("[")[0].split(".")[-1]
    if "(" not in before:
        return ""
    with _LOCK:
        try:
            sigs = _script(source, path, root, env_path).get_signatures(line + 1, column)
            if not sigs or sigs[0].index is None:
                return ""
            param = sigs[0].params[sigs[0].index].to_string()
        except Exception:
            return ""
    m = re.match(r"[\w*]+\s*:\s*([\w.]+)", param)
    return m.group(1).split(".")[-1] if m else ""


def warm_up(env_path: str | None = None) -> None:
    """Load jedi's view of the builtins once (the first completion otherwise pays ~2 s)."""
    completions("x = 1\nx.", 1, 2, env_path=env_path)
