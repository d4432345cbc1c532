"""The code lines of the workspace's files, by language and first token: sources ghost text copies
line rests from (r1lsp.line_retrieval) beyond the document, the other open documents and the
other files of its folder.

Each file's lines are kept stripped, without blank, over-long or comment-only lines, counted per
distinct line; the index maps (language, the line's first token) to {line: number of files'
occurrences}, so a keystroke looks only at the lines that start with the same token as the cursor's
line (a renamed first token is not searched for here). `scan` reads the workspace folders once (on a
worker thread at initialization; hidden and build folders skipped, at most `MAX_FILES` files of
at most `MAX_FILE_BYTES`); `update` re-reads a file (the server calls it on save and on close),
`remove` forgets one. What a request hands to the retrieval is
r1lsp.line_retrieval.workspace_source: a function of the first token giving (line, count) pairs
without the document's own file (whose editor text is the document) and the files given as texts
already.
"""
from __future__ import annotations

import collections
import os
import threading

from model.structure.languages import PLAINTEXT, normalize_language

MAX_FILES = 2000           # ~30 KB of memory a file (760 Java files of the dev set: 22 MB, scanned in 2-5 s)
MAX_FILE_BYTES = 200_000
MAX_LINE_CHARS = 240
SKIP_DIRS = frozenset(("node_modules", "build", "target", "out", "dist", "__pycache__", "venv", ".venv", "site-packages"))
_COMMENT_STARTS = ("#", "//", "/*", "*")


def first_token(line: str) -> str:
    """The first token of a stripped line: a name, a number, or one other character."""
    if not line:
        return ""
    if line[0].isalnum() or line[0] in "_$":
        end = 1
        while end < len(line) and (line[end].isalnum() or line[end] in "_$"):
            end += 1
        return line[:end]
    return line[0]


def file_lines(text: str) -> dict[str, collections.Counter]:
    """{first token: {stripped code line: occurrences}} of a file's text (blank, comment-only and
    over-long lines left out)."""
    out: dict[str, collections.Counter] = {}
    for ln in text.split("\n"):
        s = ln.strip()
        if s and len(s) <= MAX_LINE_CHARS and not s.startswith(_COMMENT_STARTS):
            out.setdefault(first_token(s), collections.Counter())[s] += 1
    return out


class WorkspaceLines:
    def __init__(self):
        self._files: dict[str, tuple[str, dict]] = {}       # path -> (language, its `file_lines`)
        self._index: dict[tuple[str, str], collections.Counter] = {}      # (language, first token) -> lines
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._files)

    def update(self, path: str, text: str | None = None) -> None:
        """(Re-)index the file at `path` (its text read from disk when not given; a file that is
        gone, too big or not a source file of a known language is forgotten)."""
        language = normalize_language(path)
        if language == PLAINTEXT:
            return
        if text is None:
            try:
                if os.path.getsize(path) > MAX_FILE_BYTES:
                    self.remove(path)
                    return
                with open(path, encoding="utf-8", errors="replace") as f:
                    text = f.read()
            except OSError:
                self.remove(path)
                return
        lines = file_lines(text)
        with self._lock:
            self._drop(path)
            self._files[path] = (language, lines)
            for token, counts in lines.items():
                self._index.setdefault((language, token), collections.Counter()).update(counts)

    def remove(self, path: str) -> None:
        with self._lock:
            self._drop(path)

    def _drop(self, path: str) -> None:
        old = self._files.pop(path, None)
        if old is None:
            return
        language, lines = old
        for token, counts in lines.items():
            bucket = self._index.get((language, token))
            if bucket is None:
                continue
            bucket.subtract(counts)
            for s in counts:
                if bucket[s] <= 0:
                    del bucket[s]
            if not bucket:
                del self._index[(language, token)]

    def scan(self, folders, limit: int = MAX_FILES) -> int:
        """Index the source files under the folders (files indexed already are kept). Returns the
        number read."""
        n = 0
        for folder in folders:
            for dirpath, dirnames, filenames in os.walk(folder):
                dirnames[:] = [d for d in dirnames if d not in SKIP_DIRS and not d.startswith(".")]
                for name in filenames:
                    if normalize_language(name) == PLAINTEXT:
                        continue
                    path = os.path.realpath(os.path.join(dirpath, name))
                    if path in self._files:
                        continue
                    self.update(path)
                    n += 1
                    if n >= limit:
                        return n
        return n

    def lines(self, language: str, token: str, skip: frozenset = frozenset()) -> list[tuple[str, int]]:
        """(line, count) of the indexed lines of `language` starting with `token`, the files in
        `skip` (real paths) not counted."""
        with self._lock:
            bucket = self._index.get((language, token))
            if not bucket:
                return []
            counts = collections.Counter(bucket)
            for path in skip:
                entry = self._files.get(path)
                if entry is not None and entry[0] == language and token in entry[1]:
                    counts.subtract(entry[1][token])
        return [(s, n) for s, n in counts.items() if n > 0]
