"""Java sources around the input (its directory, or folders the user names) that snippet and
selection translation take undefined types from."""
from __future__ import annotations

from pathlib import Path

MAX_FILES = 200
MAX_BYTES = 2_000_000


def java_context(paths, exclude: Path | None = None) -> list[str]:
    """Texts of the .java files among ``paths`` (files, or folders searched one level deep),
    the ``exclude`` file left out; at most MAX_FILES files / MAX_BYTES bytes, unreadable skipped."""
    out, total = [], 0
    skip = exclude.resolve() if exclude is not None else None
    files: list[Path] = []
    for p in paths:
        p = Path(p)
        if p.is_dir():
            files.extend(sorted(p.glob("*.java")))
        elif p.suffix == ".java":
            files.append(p)
    for f in files[:MAX_FILES]:
        try:
            if skip is not None and f.resolve() == skip:
                continue
            data = f.read_bytes()
        except OSError:
            continue
        total += len(data)
        if total > MAX_BYTES:
            break
        out.append(data.decode("utf-8", "replace"))
    return out
