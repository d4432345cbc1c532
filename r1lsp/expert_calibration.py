"""Name the routed experts by measurement: which code role each expert takes more of.

    python -m r1lsp.expert_calibration [--checkpoint DIR] [--python DIR] [--java SRC.zip|DIR]
                                       [--max-tokens N] [--out FILE]        (make calibrate)

1. Text. Source files of both languages that every machine with Python and a JDK has: the Python
   standard library (tests left out) and the JDK's `lib/src.zip`. Files are taken in a fixed
   pseudo-random order (blake2b of the path), files over 12,000 characters skipped, until
   `--max-tokens` code tokens per language, so the same installation gives the same sample.
2. Routing exactly as the server routes for its diagnostics: the server's engine (full-precision
   weights by default, `--quantization int8` for the int8 path that approximates them),
   `ExpertMap.refresh` (each paragraph on its own), code roles
   from `r1lsp.code_roles`. Only code tokens count (comments and whitespace are left out, as in
   the diagnostics' shares); expert ids are pooled over layers, each (token, layer) adding its
   renormalised top-k weights.
3. Labels. For expert e and role r: share = P(r | e) of e's routing weight, base = P(r) of all
   code tokens, lift = share / base. Roles are ranked by excess = share - base; the label is the
   top role with share >= 5 % and lift >= 1.5, shown with its lift ("calls ×1.8"). An expert
   with no such role has no label: the user sees its number only.

The result is `expert_labels.json` beside the checkpoint's weights (with the sha256 of those
weights: the server ignores labels measured on other weights).
"""
from __future__ import annotations

import argparse
import hashlib
import json
import sys
import sysconfig
import time
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Iterator

import numpy as np

from r1lsp.code_roles import RoleTable, load_roles
from r1lsp.expert_labels import LABELS_FILE, weights_digest
from r1lsp.experts import ExpertMap
from model.structure import StructuredDocument

MIN_SHARE, MIN_LIFT = 0.05, 1.5
MAX_FILE_CHARS = 12_000        # many small files say more about the roles than a few big ones


@dataclass
class SourceFile:
    path: str
    language: str
    text: str


def _order(path: str) -> bytes:
    return hashlib.blake2b(path.encode(), digest_size=8).digest()


def python_sources(root: str | Path | None = None) -> Iterator[SourceFile]:
    """The standard library's .py files (no test folders), in the fixed pseudo-random order."""
    root = Path(root or sysconfig.get_paths()["stdlib"])
    paths = [p for p in root.rglob("*.py")
             if not ({"test", "tests", "idle_test", "site-packages"} & set(p.relative_to(root).parts))]
    for p in sorted(paths, key=lambda p: _order(str(p.relative_to(root)))):
        try:
            yield SourceFile(str(p.relative_to(root)), "python", p.read_text("utf-8"))
        except (OSError, UnicodeDecodeError):
            continue


def default_jdk_sources() -> Path | None:
    """The JDK's src.zip next to the `java` on this machine, else the first under /usr/lib/jvm."""
    import shutil
    java = shutil.which("java")
    candidates = [Path(java).resolve().parents[1] / "lib" / "src.zip"] if java else []
    candidates += sorted(Path("/usr/lib/jvm").glob("*/lib/src.zip"))
    return next((c for c in candidates if c.is_file()), None)


def java_sources(src: str | Path | None = None) -> Iterator[SourceFile]:
    """.java files of a src.zip or a folder, in the fixed pseudo-random order."""
    src = Path(src) if src else default_jdk_sources()
    if src is None:
        return
    if src.is_dir():
        for p in sorted(src.rglob("*.java"), key=lambda p: _order(str(p.relative_to(src)))):
            yield SourceFile(str(p.relative_to(src)), "java", p.read_text("utf-8", "replace"))
        return
    with zipfile.ZipFile(src) as z:
        names = sorted((n for n in z.namelist() if n.endswith(".java")), key=_order)
        for n in names:
            yield SourceFile(n, "java", z.read(n).decode("utf-8", "replace"))


@dataclass
class ExpertStats:
    """Routing weight per (expert, role) over code tokens, and code tokens per role."""
    n_experts: int
    roles: list[str]
    by_role: np.ndarray = None          # (E, C)
    base: np.ndarray = None             # (C,)
    tokens: int = 0
    files: list[str] = field(default_factory=list)

    def __post_init__(self):
        if self.by_role is None:
            self.by_role = np.zeros((self.n_experts, len(self.roles)))
        if self.base is None:
            self.base = np.zeros(len(self.roles))

    def add(self, experts: np.ndarray, weights: np.ndarray, roles: np.ndarray, table: RoleTable) -> None:
        """One routed token run: experts / weights (L, T, k), roles (T,); non-code tokens skipped."""
        code = table.is_code[roles]
        experts, weights, roles = experts[:, code], weights[:, code].astype(np.float64), roles[code]
        tot = weights.sum(-1, keepdims=True)
        w = np.where(tot > 0, weights / np.where(tot > 0, tot, 1), 1.0 / max(weights.shape[-1], 1))
        C, E = len(self.roles), self.n_experts
        idx = (experts * C + roles[None, :, None]).reshape(-1)
        self.by_role += np.bincount(idx, w.reshape(-1), minlength=E * C)[:E * C].reshape(E, C)
        self.base += np.bincount(roles, minlength=C)[:C]
        self.tokens += len(roles)


def label_experts(stats: ExpertStats, table: RoleTable | None = None, top: int = 5) -> dict:
    """{"7": {"label": "calls", "role": "call", "lift": 1.83, "share": .41, "top": [[role, share,
    lift], ...], "load": .06}}; "label" is None for an expert without a clear preference."""
    table = table or load_roles()
    base = stats.base / max(stats.base.sum(), 1)
    total = stats.by_role.sum()
    out = {}
    for e in range(stats.n_experts):
        row = stats.by_role[e]
        mass = row.sum()
        if mass <= 0:
            out[str(e)] = {"label": None, "role": None, "lift": None, "share": None, "top": [], "load": 0.0}
            continue
        share = row / mass
        lift = np.divide(share, base, out=np.zeros_like(share), where=base > 0)
        order = [int(c) for c in np.argsort(-(share - base), kind="stable") if base[c] > 0]
        ok = [c for c in order if share[c] >= MIN_SHARE and lift[c] >= MIN_LIFT]
        best = ok[0] if ok else None
        out[str(e)] = {
            "label": table.labels[stats.roles[best]] if best is not None else None,
            "role": stats.roles[best] if best is not None else None,
            "lift": round(float(lift[best]), 2) if best is not None else None,
            "share": round(float(share[best]), 4) if best is not None else None,
            "top": [[stats.roles[c], round(float(share[c]), 4), round(float(lift[c]), 2)] for c in order[:top]],
            "load": round(float(mass / total), 4),
        }
    return out


def calibrate(files: Iterable[SourceFile], engine, n_experts: int, *, max_tokens: int,
              table: RoleTable | None = None, log=None) -> ExpertStats:
    """Route `files` as the server does and gather code-token statistics, up to `max_tokens`
    code tokens per language."""
    table = table or load_roles()
    stats = ExpertStats(n_experts, list(table.names))
    per_language: dict[str, int] = {}
    for f in files:
        if per_language.get(f.language, 0) >= max_tokens or len(f.text) > MAX_FILE_CHARS:
            continue
        doc = StructuredDocument(f.text, f.language)
        if doc.hierarchy.fallback:
            continue
        results, _ = ExpertMap(n_experts).refresh(doc, None, engine, timeout=None)
        before = stats.tokens
        for r in results.routes:
            if len(r.roles):
                stats.add(np.asarray(r.trace.experts), np.asarray(r.trace.weights), np.asarray(r.roles), table)
        per_language[f.language] = per_language.get(f.language, 0) + stats.tokens - before
        stats.files.append(f"{f.language}:{f.path}")
        if log:
            log(f"  {f.language} {f.path}: {stats.tokens - before} code tokens ({per_language[f.language]})")
    return stats


def _interleave(*streams: Iterator[SourceFile]) -> Iterator[SourceFile]:
    streams = list(streams)
    while streams:
        for s in list(streams):
            try:
                yield next(s)
            except StopIteration:
                streams.remove(s)


def main(argv: list[str] | None = None) -> int:
    from r1lsp.engine import Engine, default_checkpoint
    from r1lsp.settings import ModelSettings

    ap = argparse.ArgumentParser(prog="python -m r1lsp.expert_calibration", description=__doc__.split("\n\n")[0])
    ap.add_argument("--checkpoint", default=None, help="checkpoint folder (default: the shipped r1-tiny)")
    ap.add_argument("--python", default=None, help="folder of Python sources (default: the standard library)")
    ap.add_argument("--java", default=None, help="src.zip or folder of Java sources (default: the JDK's src.zip)")
    ap.add_argument("--max-tokens", type=int, default=30000, help="code tokens per language")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--quantization", choices=("none", "int8"), default="none",
                    help="the engine's weights: none (the full-precision routing the int8 path approximates; "
                         "default, fast on every CPU) or int8 (what the server runs by default)")
    ap.add_argument("--out", default=None, help=f"where to write (default: CHECKPOINT/{LABELS_FILE})")
    a = ap.parse_args(argv)

    ckpt = Path(a.checkpoint or default_checkpoint())
    t0 = time.time()
    engine = Engine(ModelSettings(path=str(ckpt), threads=a.threads, quantization=a.quantization)).start()
    if not engine.wait_ready(None):
        print(f"{ckpt}: {engine.error}", file=sys.stderr)
        return 2
    try:
        files = _interleave(python_sources(a.python), java_sources(a.java))
        stats = calibrate(files, engine, engine.config.n_experts, max_tokens=a.max_tokens,
                          log=lambda m: print(m, file=sys.stderr))
    finally:
        engine.close()
    labels = label_experts(stats)
    base = stats.base / max(stats.base.sum(), 1)
    meta = {
        "command": "make calibrate (python -m r1lsp.expert_calibration)",
        "weights_sha256": weights_digest(ckpt),
        "quantization": engine.quantization,
        "files": stats.files, "code_tokens": stats.tokens,
        "role_base_rates": {r: round(float(b), 4) for r, b in zip(stats.roles, base) if b > 0},
        "method": "share = P(role | expert) of routing weight over code tokens (top-k renormalised, layers "
                  "pooled); lift = share / base rate; label = the role with the largest share - base rate "
                  f"among those with share >= {MIN_SHARE} and lift >= {MIN_LIFT}, else none",
    }
    for e, v in labels.items():
        top = ", ".join(f"{r} {s:.0%} x{l:.1f}" for r, s, l in v["top"][:3])
        name = f"{v['label']} ×{v['lift']:.1f}" if v["label"] else "—"
        print(f"expert {e:>2}: {name:<22} load {v['load']:.1%}  {top}")
    out = Path(a.out) if a.out else ckpt / LABELS_FILE
    out.write_text(json.dumps({"experts": labels, "meta": meta}, indent=1) + "\n", encoding="utf-8")
    print(f"wrote {out} ({stats.tokens} code tokens, {len(stats.files)} files, {time.time() - t0:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
