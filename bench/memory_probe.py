"""Run `r1lsp serve` with memory probes (for bench/fuzz_bench.py --profile DIR).

    python bench/memory_probe.py DIR [FRAMES]

Python allocations are traced (tracemalloc, FRAMES deep: default $R1LSP_PROBE_FRAMES or 6; 0 =
not traced). On SIGUSR1 the server
writes DIR/probe-N.json (RSS, anonymous / file-backed RSS, glibc's mallinfo2: bytes in use,
free in the heap, in mmapped chunks; the engine's prefix cache and result cache bytes; the
sizes of the open documents, jedi's and the Java index's caches) and DIR/probe-N.tracemalloc
(a tracemalloc snapshot: diff two with `python bench/memory_probe.py --diff A B`).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import gc
import json
import os
import signal
import sys
import tracemalloc
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


class MallInfo2(ctypes.Structure):
    _fields_ = [(name, ctypes.c_size_t) for name in
                ("arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks", "fsmblks", "uordblks", "fordblks", "keepcost")]


def mallinfo() -> dict:
    try:
        lib = ctypes.CDLL(ctypes.util.find_library("c"))
        lib.mallinfo2.restype = MallInfo2
        m = lib.mallinfo2()
    except (OSError, AttributeError):
        return {}
    mb = 1 << 20
    return {"heap_mb": round(m.arena / mb, 1), "in_use_mb": round(m.uordblks / mb, 1),
            "free_in_heap_mb": round(m.fordblks / mb, 1), "mmapped_mb": round(m.hblkhd / mb, 1),
            "mmapped_chunks": m.hblks}


def rss() -> dict:
    out = {}
    for line in Path("/proc/self/status").read_text().splitlines():
        for key in ("VmRSS", "RssAnon", "RssFile", "VmHWM"):
            if line.startswith(key + ":"):
                out[key] = round(int(line.split()[1]) / 1024, 1)
    return out


def app_state() -> dict:
    """Sizes the server's own structures report (found through the garbage collector)."""
    from r1lsp.engine import Engine
    from r1lsp.result_cache import nbytes
    from r1lsp.session import R1LanguageServer
    out: dict = {}
    for obj in gc.get_objects():
        if isinstance(obj, Engine) and hasattr(obj, "prefix_cache"):       # (not one half built)
            out["prefix_cache_mb"] = round(obj.prefix_cache.nbytes() / 2**20, 1)
            out["prefix_cache_keys"] = list(obj.prefix_cache.states)
            out["result_cache_mb"] = round(obj._cache.bytes / 2**20, 1)
            out["result_cache_entries"] = len(obj._cache.data)
            if obj.model is not None:
                out["model_param_mb"] = round(sum(nbytes(p) for p in obj.model.state_dict().values()) / 2**20, 1)
        elif isinstance(obj, R1LanguageServer):
            routes = [r for m in obj.experts.maps.values() for r in m._routes.values()]
            out["expert_routes"] = len(routes)
            out["expert_route_tokens"] = int(sum(r.tokens for r in routes))
            out["expert_routes_mb"] = round(sum(nbytes(r) for r in routes) / 2**20, 1)
            docs = [obj.documents.get(u) for u in obj.documents.uris()]
            out["documents"] = len(docs)
            out["document_chars"] = sum(len(d.text) for d in docs)
            out["expert_tasks"] = len(obj.experts.tasks)
    try:
        import jedi.cache
        out["jedi_time_caches"] = sum(len(v) for v in jedi.cache._time_caches.values())
    except Exception:
        pass
    try:
        from parso.cache import parser_cache
        out["parso_cached_modules"] = sum(len(v) for v in parser_cache.values())
    except Exception:
        pass
    return out


def main(argv: list[str]) -> int:
    if argv and argv[0] == "--diff":
        a, b = (tracemalloc.Snapshot.load(p) for p in argv[1:3])
        top = b.compare_to(a, "traceback")
        for stat in top[:int(argv[3]) if len(argv) > 3 else 25]:
            print(f"{stat.size_diff / 2**20:+8.1f} MB ({stat.size / 2**20:7.1f} MB, {stat.count_diff:+d} blocks)")
            for line in stat.traceback.format()[-12:]:
                print("      " + line)
        total = sum(s.size for s in b.statistics("filename"))
        print(f"traced total: {total / 2**20:.1f} MB")
        return 0
    out = Path(argv[0])
    out.mkdir(parents=True, exist_ok=True)
    frames = int(argv[1]) if len(argv) > 1 else int(os.environ.get("R1LSP_PROBE_FRAMES", "6"))
    if frames:
        tracemalloc.start(frames)
    count = [0]

    def probe(signum, frame):
        count[0] += 1
        n = count[0]
        gc.collect()
        report = {"n": n, **rss(), **mallinfo(), "traced_mb": round(tracemalloc.get_traced_memory()[0] / 2**20, 1)}
        try:
            report.update(app_state())
        except Exception as e:                       # a probe never kills the server
            report["app_state_error"] = repr(e)
        if frames:
            tracemalloc.take_snapshot().dump(str(out / f"probe-{n}.tracemalloc"))
        (out / f"probe-{n}.json").write_text(json.dumps(report, indent=1))

    signal.signal(signal.SIGUSR1, probe)
    from r1lsp.cli import main as cli_main
    return cli_main(["serve"])


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
