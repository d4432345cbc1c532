"""Context from other files for the ghost-text prompt (what the document alone does not say):
the signatures of the types and functions used near the cursor that are defined elsewhere, and
snippets of the files edited last. It goes into the prompt's prefix budget as a comment block
at the start of the prefix (`<|fim_prefix|> CONTEXT text before the cursor`).

Where they come from:
  - Java: the capitalised names of the lines near the cursor, resolved through the file's
    imports by the workspace / JDK index (`r1lsp.java`); a class declared in another file (or
    the JDK) contributes its kind, name and its members' signatures.
  - Python: the names the document imports that the lines near the cursor use, inferred by
    jedi (`r1lsp.pyanalysis`' worker, within the request's analysis deadline): a class gives
    its constructor's and methods' signatures, a function its signature.
  - Recently edited files: the lines around the last edit of the other open documents of the
    same language that were edited last (`RecentEdits`, fed by the server on didChange).

Stable across keystrokes, so that the prompt's prefix cache still hits: the block depends only
on the lines ABOVE the cursor's line (`NEAR_LINES` of them) and on the other files' snippets,
and it is decided once per (document, those lines, snippets): `CrossFileContext.text_for`
keeps the first answer (what jedi answered within the deadline; an answer that comes later is
used from the next region on), so typing on a line never changes it.
"""
from __future__ import annotations

import collections
import re
import threading

from model.structure import StructuredDocument
from model.structure.text_index import decode, without_lone_surrogates

NEAR_LINES = 30            # lines above the cursor's line whose names count as "near"
MAX_ENTRIES = 6            # types / functions described
MAX_MEMBERS = 10           # members per type
CONTEXT_CHARS = 900        # the whole block (~250 tokens of r1-tiny at ~3.4 bytes per token)
SNIPPET_LINES = 3          # lines either side of another file's last edit
RECENT_FILES = 2

_COMMENT = {"python": "# ", "java": "// "}
_IDENT = re.compile(r"[A-Za-z_$][\w$]*")
_TYPE_NAME = re.compile(r"\b[A-Z][\w$]*")


def near_text(doc: StructuredDocument, offset: int) -> str:
    """The NEAR_LINES lines above the cursor's line (its own line excluded: it changes as the
    user types)."""
    data = doc.data
    line_start = data.rfind(b"\n", 0, offset) + 1
    a = line_start
    for _ in range(NEAR_LINES):
        if a == 0:
            break
        a = data.rfind(b"\n", 0, a - 1) + 1
    return decode(data[a:line_start])


# ---------------------------------------------------------------------------- recent edits

class RecentEdits:
    """Per document, the byte offset of its last edit, most recent last."""

    def __init__(self, keep: int = 8):
        self.keep = keep
        self._last: collections.OrderedDict[str, int] = collections.OrderedDict()
        self._lock = threading.Lock()

    def edited(self, uri: str, offset: int) -> None:
        with self._lock:
            self._last.pop(uri, None)
            self._last[uri] = offset
            while len(self._last) > self.keep:
                self._last.popitem(last=False)

    def forget(self, uri: str) -> None:
        with self._lock:
            self._last.pop(uri, None)

    def others(self, uri: str) -> list[tuple[str, int]]:
        """(uri, offset) of the other documents, the most recently edited first."""
        with self._lock:
            return [(u, o) for u, o in reversed(self._last.items()) if u != uri]


def edit_snippets(documents, uri: str, language: str, recent: RecentEdits) -> tuple[tuple[str, str], ...]:
    """(file name, lines around the last edit) of up to RECENT_FILES other open documents of
    `language` (`documents`: r1lsp.documents.DocumentStore)."""
    out = []
    for other, offset in recent.others(uri):
        if other not in documents:
            continue
        doc = documents.get(other)
        if doc.language != language:
            continue
        row = doc.position_at(min(offset, len(doc.data)))[0]
        part = "\n".join(doc.line_text(r) for r in range(max(0, row - SNIPPET_LINES), row + SNIPPET_LINES + 1))
        part = part.strip("\n")
        if part.strip():
            out.append((other.rsplit("/", 1)[-1], part))
        if len(out) == RECENT_FILES:
            break
    return tuple(out)


# ---------------------------------------------------------------------------- signatures

def java_signatures(doc: StructuredDocument, near: str, java_index, uri: str | None) -> list[str]:
    """One line per class used in `near` that another file (or the JDK) declares."""
    if java_index is None:
        return []
    from r1lsp.java.workspace import TypeNames
    entry = java_index.files.get(uri) if uri is not None else None
    if entry is None:
        entry = java_index.update(uri or "untitled:ghost", doc.text)
    names = TypeNames(java_index, entry, entry.classes[0].name if entry.classes else None)
    own = {c.name for c in entry.classes}
    out, seen = [], set()
    for simple in dict.fromkeys(_TYPE_NAME.findall(near)):
        binary = names.simple(simple)
        if binary is None or binary in own or binary in seen:
            continue
        info = java_index.get(binary)
        if info is None:
            continue
        seen.add(binary)
        members = [f"{m.ret} {m.name}({', '.join(m.params)})" for m in info.methods if m.name != "<init>"]
        fields = [f"{f.type} {f.name}" for f in info.fields]
        body = "; ".join((fields + members)[:MAX_MEMBERS])
        out.append(f"{info.kind} {binary.replace('$', '.')} {{ {body} }}")
        if len(out) == MAX_ENTRIES:
            break
    return out


_IMPORT_LINE = re.compile(r"^[ \t]*(?:from[ \t]+\S+[ \t]+)?import[ \t].*$", re.M)


def python_import_signatures(doc: StructuredDocument, ctx) -> dict[str, str]:
    """name -> one line describing it, for every name the document imports (jedi, on its
    worker: call it there)."""
    from r1lsp import pyanalysis
    script = pyanalysis._script(doc.text, ctx.path, ctx.root, ctx.python_environment)
    out: dict[str, str] = {}
    with pyanalysis._LOCK:
        for name in script.get_names(all_scopes=False, definitions=True, references=False):
            if name.type == "module" or not _is_import(name):
                continue
            for d in name.infer()[:1]:
                line = _describe_python(d, name.name)
                if line:
                    out[name.name] = line
    return out


def _is_import(name) -> bool:
    try:
        return name.get_line_code().lstrip().startswith(("import ", "from "))
    except Exception:
        return False


def _describe_python(d, alias: str) -> str:
    try:
        if d.type == "class":
            parts = []
            for m in d.defined_names():
                if m.type == "function" and (not m.name.startswith("_") or m.name == "__init__"):
                    sigs = m.get_signatures()
                    if sigs:
                        parts.append(sigs[0].to_string())
                if len(parts) == MAX_MEMBERS:
                    break
            return f"class {alias}: " + "; ".join(parts)
        if d.type == "function":
            sigs = d.get_signatures()
            return f"def {sigs[0].to_string()}" if sigs else ""
    except Exception:
        return ""
    return ""


# ---------------------------------------------------------------------------- the block

def context_block(language: str, signatures: list[str], snippets: tuple[tuple[str, str], ...]) -> str:
    """The comment block: signatures first, then the snippets, cut to CONTEXT_CHARS."""
    mark = _COMMENT.get(language)
    if mark is None or not (signatures or snippets):
        return ""
    lines = [mark + s for s in signatures]
    for name, part in snippets:
        lines.append(f"{mark}recently edited, {name}:")
        lines += [mark + ln for ln in part.split("\n")]
    out, size = [], 0
    for ln in lines:
        if size + len(ln) + 1 > CONTEXT_CHARS:
            break
        out.append(ln)
        size += len(ln) + 1
    # a lone surrogate (a live document may hold one) is U+FFFD for the tokenizer, as in snapshots
    return without_lone_surrogates("\n".join(out) + "\n") if out else ""


class CrossFileContext:
    """The context block per (document, near lines, snippets), decided once (see the module
    docstring); at most `keep` regions remembered."""

    def __init__(self, keep: int = 64):
        self.keep = keep
        self._decided: collections.OrderedDict[tuple, str] = collections.OrderedDict()
        self._imports: collections.OrderedDict[tuple, object] = collections.OrderedDict()   # -> Future
        self._lock = threading.Lock()

    def text_for(self, doc: StructuredDocument, offset: int, ctx, snippets: tuple = ()) -> str:
        near = near_text(doc, offset)
        key = (getattr(ctx, "uri", None), doc.language, near, snippets)
        with self._lock:
            got = self._decided.get(key)
            if got is not None:
                self._decided.move_to_end(key)
                return got
        if doc.language == "java":
            sigs = java_signatures(doc, near, getattr(ctx, "java_index", None), getattr(ctx, "uri", None))
        elif doc.language == "python" and ctx is not None:
            sigs = self._python(doc, near, ctx)
        else:
            sigs = []
        text = context_block(doc.language, sigs, snippets)
        with self._lock:
            self._decided[key] = text
            while len(self._decided) > self.keep:
                self._decided.popitem(last=False)
        return text

    def _python(self, doc: StructuredDocument, near: str, ctx) -> list[str]:
        """The imported names `near` uses, described. jedi describes a document's imports once
        (per import lines), on its worker; a region asked before that answer comes (by the
        request's analysis deadline) goes without."""
        from r1lsp import pyanalysis
        key = (ctx.uri, ctx.path, ctx.root, ctx.python_environment, "\n".join(_IMPORT_LINE.findall(doc.text)))
        with self._lock:
            fut = self._imports.get(key)
            if fut is None:
                fut = pyanalysis._WORKER.submit(python_import_signatures, doc, ctx)
                self._imports[key] = fut
                while len(self._imports) > 8:
                    self._imports.popitem(last=False)
        described = pyanalysis._wait(fut, ctx.started().deadline) or {}
        used = set(_IDENT.findall(near))
        return [line for name, line in described.items() if name in used][:MAX_ENTRIES]

    def forget(self, uri: str) -> None:
        with self._lock:
            for k in [k for k in self._decided if k[0] == uri]:
                del self._decided[k]
            for k in [k for k in self._imports if k[0] == uri]:
                del self._imports[k]
