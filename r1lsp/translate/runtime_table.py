"""The table of runtime helpers inlined into translated files: ``HELPERS[name] = (source, deps,
imports)``, filled by r1lsp.translate.runtime (numbers, strings), runtime_classes (the Java
library's classes) and runtime_streams (comparators, streams, map updates); read through
r1lsp.translate.runtime, which imports all three."""
from __future__ import annotations

HELPERS: dict[str, tuple[str, tuple[str, ...], tuple[str, ...]]] = {}


def _h(name: str, src: str, deps: tuple[str, ...] = (), imports: tuple[str, ...] = ()) -> None:
    HELPERS[name] = (src.strip("\n") + "\n", deps, imports)
