"""Monitor-guided ghost text at member accesses: does the suggestion start with the right member?

    python bench/ghost_members_bench.py [--quick] [--json] [--checkpoint DIR] [--no-monitor]

Every `name.member` in the code of samples/ (comments, imports and docstrings skipped) is cut
right after the `.`, as if the user were typing there, and ghost text is asked for in-process
(`r1lsp.inline.inline_suggestions`, the shipped checkpoint int8, the member monitor on, no
confidence gate). A hit when the suggestion starts with the member that was there.

Figures (--json: the last stdout line is one JSON object):
  ghost_member_positions        positions asked
  ghost_member_shown            positions with a suggestion
  ghost_member_first_right      suggestions that start with the right member
  ghost_member_first_right_pct  the same in % of the positions
`--no-monitor` measures the same without the monitor (the model's own choice). samples/ are the
project's own files, not held-out code: this is a regression figure for the monitor, not a
quality claim (bench/completion_quality.py measures held-out code).
"""
from __future__ import annotations

import argparse
import json
import os
import re
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

FILES = ("samples/inventory.py", "samples/Inventory.java")
_SKIP = ("#", "//", "*", "/*", "import", "from", "package", '"""')
_ACCESS = re.compile(r"\b([A-Za-z_]\w*)\.(?=([A-Za-z_]\w*))")
_NAME = re.compile(r"[A-Za-z_$][\w$]*")


def positions(files=FILES):
    """(file, line index, column after the dot, the member that was there), in file order."""
    for f in files:
        for i, line in enumerate((ROOT / f).read_text().splitlines(keepends=True)):
            if line.lstrip().startswith(_SKIP):
                continue
            for m in _ACCESS.finditer(line):
                yield f, i, m.end(), m.group(2)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="the Python sample only (< 1 min on 2 cores)")
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--checkpoint", default=str(ROOT / "model" / "checkpoints" / "r1-tiny"))
    ap.add_argument("--no-monitor", action="store_true")
    args = ap.parse_args()
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    from model.structure import StructuredDocument
    from r1lsp.completion import AnalysisContext
    from r1lsp.engine import Engine
    from r1lsp.inline import inline_suggestions
    from r1lsp.settings import ModelSettings

    engine = Engine(ModelSettings(path=args.checkpoint, device="cpu", quantization="int8", threads=1)).start()
    engine.wait_ready(None)
    t0 = time.perf_counter()
    n = shown = right = 0
    try:
        for f, i, col, want in positions(FILES[:1] if args.quick else FILES):
            lines = (ROOT / f).read_text().splitlines(keepends=True)
            lines[i] = lines[i][:col] + "\n"
            doc = StructuredDocument("".join(lines), "python" if f.endswith(".py") else "java")
            found = inline_suggestions(doc, i, col, engine, max_tokens=48, timeout=120, monitor=not args.no_monitor,
                                       context=AnalysisContext(path=str(ROOT / f)))
            text = found[0].text if found else None
            name = _NAME.match(text) if text else None
            hit = name is not None and name.group(0) == want
            n, shown, right = n + 1, shown + bool(text), right + hit
            if not args.json:
                print(f"{f}:{i + 1}:{col + 1} want {want!r}: {text!r}{'  (hit)' if hit else ''}")
    finally:
        engine.close()
    out = {"ghost_member_positions": n, "ghost_member_shown": shown, "ghost_member_first_right": right,
           "ghost_member_first_right_pct": round(100.0 * right / max(1, n), 1),
           "monitor": not args.no_monitor, "quick": args.quick, "seconds": round(time.perf_counter() - t0, 1)}
    print(json.dumps(out) if args.json else out)


if __name__ == "__main__":
    main()
