"""Compiled kernels for decode steps, built from C at first use: `model/attend_kept.c` (the
block-sparse decode attention of one row, and of every row of a batch with its own cache: RoPE,
cache writes, key selection and the attention over the kept keys, reading the cached rows in
place) and `model/experts_rows.c` (the int8 experts of a few rows in float32, weights shared by
the rows routed to an expert); `model/w8a8_rows.c` (a prefill's W8A8 passes: model/w8a8.py) is
built into the same library (`library()`).

Eager PyTorch runs that attention as ~45 small ops a row and layer (a few us each on these cores)
and the experts as ~8 ops an expert; each C function does the same in one call. They are compiled
with the system C compiler (`cc`, -O3 for this CPU) into a per-user cache keyed by the sources,
the flags and the CPU, so a process after the first only loads them. Without a compiler, or where
the build fails, `attend_kept()` is None and the eager ops run (`status()` says which, and why).
Float32 (the cached keys and values float32 or bfloat16: `KV_DTYPES`); the kept keys are the
eager rule's (the same selection up to float rounding of the scores), the attention and the
experts sum in another order (differences ~1e-7).
"""
from __future__ import annotations

import ctypes
import hashlib
import math
import os
import platform
import shutil
import subprocess
import tempfile
import threading
from pathlib import Path

import torch

SOURCE = Path(__file__).with_name("attend_kept.c")
SOURCES = [SOURCE, SOURCE.with_name("experts_rows.c"), SOURCE.with_name("w8a8_rows.c")]   # one library
HEADERS = [SOURCE.with_name("native_math.h")]                   # included by both (part of the cache key)
FLAGS = ["-O3", "-march=native", "-fno-math-errno", "-shared", "-fPIC"]
KV_DTYPES = (torch.float32, torch.bfloat16)   # cached keys / values the attention kernels read
_lock = threading.Lock()
_state: dict = {}                         # "fn": the ctypes function or None, "why": status text
_local = threading.local()                # per-thread work buffers


def _cpu_id() -> str:
    try:
        text = Path("/proc/cpuinfo").read_text()
        return next((l for l in text.splitlines() if l.startswith("flags")), "") + platform.processor()
    except OSError:
        return platform.machine() + platform.processor()


def _folders() -> list[Path]:
    """Where the built kernel is kept: the user's cache, else a per-user temporary folder."""
    out = []
    try:
        out.append(Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "r1lsp" / "kernels")
    except RuntimeError:                                     # no home folder
        pass
    uid = getattr(os, "getuid", lambda: "user")()
    return out + [Path(tempfile.gettempdir()) / f"r1lsp-kernels-{uid}"]


def _build() -> tuple[object, str]:
    if os.environ.get("R1LSP_NO_NATIVE"):
        return None, "eager (R1LSP_NO_NATIVE set)"
    cc = os.environ.get("CC") or shutil.which("cc") or shutil.which("gcc") or shutil.which("clang")
    if cc is None:
        return None, "eager (no C compiler found)"
    src = b"".join(f.read_bytes() for f in SOURCES + HEADERS)
    key = hashlib.sha256(src + " ".join([cc, *FLAGS]).encode() + _cpu_id().encode()).hexdigest()[:16]
    lib, why = None, "eager (no writable folder for the built kernel)"
    for folder in _folders():
        so = folder / f"attend_kept-{key}.so"
        tmp = folder / f".{so.name}.{os.getpid()}.tmp"
        try:
            if not so.exists():
                folder.mkdir(parents=True, exist_ok=True)
                subprocess.run([cc, *FLAGS, "-o", str(tmp), *map(str, SOURCES), "-lm"], check=True,
                               capture_output=True, timeout=120)
                os.replace(tmp, so)                          # atomic: another process sees all or none
            lib = ctypes.CDLL(str(so))
            break
        except (OSError, subprocess.SubprocessError) as e:
            why = f"eager (building {SOURCE.name} failed: {(str(e).splitlines() or [''])[0][:120]})"
            tmp.unlink(missing_ok=True)
    if lib is None:
        return None, why
    fn, rows, experts = lib.attend_kept, lib.attend_rows, lib.experts_rows
    P, L, I, F = ctypes.c_void_p, ctypes.c_long, ctypes.c_int, ctypes.c_float
    fn.argtypes = [P, P, P, P, L, P, L, P, L, P, L, L, L, L, L, L, L, F, I, I, I, I, I, P, P, P, I, I]
    rows.argtypes = [I, P, L, P, P, P, P, P, P, P, P, P, P, L, L, L, F, I, I, I, I, I, P, P, P, I, I]
    experts.argtypes = [I, I, I, I, I, P, P, P, P, P, P, P, P]
    fn.restype = rows.restype = experts.restype = I
    copy = lib.copy_rows
    copy.argtypes, copy.restype = [I, P, L, L, P], None
    _state["rows"], _state["experts"], _state["lib"], _state["copy_rows"] = rows, experts, lib, copy
    return fn, f"compiled ({Path(cc).name}, {', '.join(f.name for f in SOURCES)})"


def attend_kept():
    """The compiled function, or None (eager). Built once per process, under a lock."""
    if "fn" not in _state:
        with _lock:
            if "fn" not in _state:
                _state["fn"], _state["why"] = _build()
    return _state["fn"]


def status() -> str:
    """How the one-row block-sparse decode step runs: "compiled (...)" or "eager (why)"."""
    attend_kept()
    return _state["why"]


def experts_rows():
    """The compiled `experts_rows` (model/experts_rows.c: int8 experts of a few rows), or None."""
    return _state.get("experts") if attend_kept() is not None else None


def library():
    """The built library (ctypes.CDLL: every function of SOURCES, e.g. model/w8a8.py's), or None."""
    return _state.get("lib") if attend_kept() is not None else None


def attend_rows():
    """The compiled `attend_rows` (every row's RoPE, cache write and one-row step in one call), or None."""
    return _state.get("rows") if attend_kept() is not None else None


def work_buffers(cap: int):
    """(scores float32[cap], candidate slots int64[cap]) of this thread, reused between calls."""
    bufs = getattr(_local, "bufs", None)
    if bufs is None or bufs[0] < cap:
        bufs = _local.bufs = (cap, (ctypes.c_float * cap)(), (ctypes.c_long * cap)())
    return bufs[1], bufs[2]


def run(q, iq, iw, k, v, ik, blocks, t: int, near0: int, nb: int, n_sel: int, Bk: int, W: int,
        budget: int, gate_threshold: float) -> torch.Tensor | None:
    """`attend_kept` on tensors (see SparseAttention._decode_blocks_one): q (1, 1, H, D), iq (1, 1, Hi,
    Di), iw (1, 1, Hi), k, v (1, S, H, D), ik (1, S, Di) cache views, blocks (1, >=nb, Di).
    -> (1, 1, H*D), or None where it does not apply (no kernel, another dtype or layout)."""
    fn = attend_kept()
    H, D = q.shape[2:]
    Hi, Di = iq.shape[2:]
    if (fn is None or q.dtype != torch.float32 or k.dtype not in KV_DTYPES or v.dtype != k.dtype
            or ik.dtype != torch.float32 or blocks.dtype != torch.float32 or q.device.type != "cpu"
            or k.stride()[1:] != (H * D, D, 1) or v.stride()[1:] != (H * D, D, 1) or ik.stride(2) != 1
            or blocks.stride(2) != 1 or blocks.stride(1) != Di or H > 64):
        return None
    q, iq, iw = q.contiguous(), iq.contiguous(), iw.contiguous()
    cap = n_sel * Bk + t - near0 + 1
    scores, cand = work_buffers(cap)
    out = q.new_empty(1, 1, H * D)
    kept = fn(q.data_ptr(), iq.data_ptr(), iw.data_ptr(), k.data_ptr(), H * D, v.data_ptr(), H * D,
              ik.data_ptr(), ik.stride(1), blocks.data_ptr(), nb, t, near0, n_sel, Bk, W, budget,
              float("-inf") if gate_threshold <= 0 else math.log(gate_threshold),
              int(gate_threshold > 0), H, D, Hi, Di, out.data_ptr(), ctypes.addressof(scores),
              ctypes.addressof(cand), cap, int(k.dtype == torch.bfloat16))
    return out if kept > 0 else None


def run_rows(p, cos, sin, perm, scale, caches, positions, blocks, n_blocks, cfg, H: int, D: int, Hi: int, Di: int):
    """`attend_rows` on tensors (see SparseAttention._native_rows): p, cos, sin (B, W) float32
    contiguous, perm (W,) int64, scale (W,) float32; caches: B KVCaches (buffers k, v, ik, batch
    size 1: ik float32, k and v float32 or bfloat16, the same in every row), positions: B slots,
    blocks: B pooled block keys (>= n_blocks[b], Di) contiguous.
    Writes each row's k, v, ik at its slot; returns the attention outputs (B, 1, H*D), or None where
    the kernel is missing or a work buffer was too small (the eager ops then write the same slots again)."""
    fn = attend_rows()
    if fn is None:
        return None
    B, W = p.shape
    ptrs = (ctypes.c_long * (6 * B))()
    for b, (c, blk) in enumerate(zip(caches, blocks)):
        ptrs[b], ptrs[B + b], ptrs[2 * B + b], ptrs[3 * B + b] = _cache_pointers(c, blk)
        ptrs[4 * B + b], ptrs[5 * B + b] = n_blocks[b], positions[b]
    cap = cfg.attn_topk + cfg.key_block + cfg.local_window
    scores, cand = work_buffers(cap)
    out = p.new_empty(B, 1, H * D)
    base, step = ctypes.addressof(ptrs), ctypes.sizeof(ctypes.c_long) * B
    thr = cfg.gate_threshold
    kept = fn(B, p.data_ptr(), W, cos.data_ptr(), sin.data_ptr(), perm.data_ptr(), scale.data_ptr(),
              base, base + step, base + 2 * step, base + 3 * step, base + 4 * step, base + 5 * step,
              cfg.key_block, cfg.local_window, cfg.attn_topk, float("-inf") if thr <= 0 else math.log(thr),
              int(thr > 0), H, D, Hi, Di, out.data_ptr(), ctypes.addressof(scores), ctypes.addressof(cand), cap,
              int(caches[0].buffers[0].dtype == torch.bfloat16))
    return out if kept > 0 else None


def write_rows(src: torch.Tensor, dst: list[int]) -> bool:
    """Row b of src (B, n; each row contiguous) copied to the address dst[b] (a slot of row b's own
    cache buffer, of src's dtype) in one call: a decode step's per-row cache writes without a view
    and a copy op per row. False where the kernel is missing (nothing written)."""
    fn = _state.get("copy_rows") if attend_kept() is not None else None
    if fn is None or src.device.type != "cpu" or src.dim() != 2 or (src.size(1) > 1 and src.stride(1) != 1):
        return False
    B, size = src.size(0), src.element_size()
    fn(B, src.data_ptr(), src.stride(0) * size, src.size(1) * size, (ctypes.c_long * B)(*dst))
    return True


def _cache_pointers(c, blk) -> tuple:
    """(k, v, ik, blocks) data pointers of a KVCache's buffers and its pooled block keys, kept on
    the cache while those tensors are the same objects (a decode step asks every row's, every layer)."""
    kept = c.__dict__.get("_pointers")
    if kept is None or kept[0] is not c.buffers or kept[1] is not blk:
        k, v, ik = c.buffers
        kept = c.__dict__["_pointers"] = (c.buffers, blk, (k.data_ptr(), v.data_ptr(), ik.data_ptr(), blk.data_ptr()))
    return kept[2]


def run_experts(x, weights, indices, packs: dict, n_experts: int):
    """`experts_rows` on tensors: x (N, d) float32, weights (N, k) float32, indices (N, k) int64,
    packs {expert: `Expert.packed`} of every routed expert -> y (N, d), or None where it does not
    apply (no kernel, another dtype, widths not multiples of 16)."""
    fn = experts_rows()
    if fn is None or x.dtype != torch.float32 or weights.dtype != torch.float32 or x.device.type != "cpu":
        return None
    x, weights, indices = x.contiguous(), weights.contiguous(), indices.contiguous()
    N, d = x.shape
    ptrs = (ctypes.c_long * (4 * n_experts))()
    h = 0
    for e, p in packs.items():
        ptrs[e], ptrs[n_experts + e], ptrs[2 * n_experts + e], ptrs[3 * n_experts + e] = (
            p[8] if len(p) > 8 else (p[6].data_ptr(), p[4].data_ptr(), p[7].data_ptr(), p[5].data_ptr()))
        h = p[7].size(0)
    y = x.new_empty(N, d)
    base, step = ctypes.addressof(ptrs), ctypes.sizeof(ctypes.c_long) * n_experts
    ok = fn(N, d, h, indices.size(1), n_experts, x.data_ptr(), indices.data_ptr(), weights.data_ptr(),
            base, base + step, base + 2 * step, base + 3 * step, y.data_ptr())
    return y if ok == 0 else None
