"""The hardware probe (bench/gemm_probe.py) that MFU figures divide by: GFLOPS per dtype and shape,
the model's own shapes, a peak per dtype, a time bound on slow kernels, and its CLI."""
import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from bench import gemm_probe as G
from model.config import R1Config

ROOT = Path(__file__).resolve().parents[1]


def test_model_shapes_follow_the_config():
    cfg = R1Config.preset("r1-tiny")
    shapes = G.model_shapes(cfg, tokens=1024, decode=False)
    mkn = set(shapes.values())
    assert (1024, cfg.d_model, cfg.vocab_size) in mkn                        # LM head
    assert (1024 * cfg.n_active // cfg.n_experts, cfg.d_model, cfg.expert_hidden) in mkn
    assert all(m == 1024 or m == 1024 * cfg.n_active // cfg.n_experts for m, _, _ in mkn)
    assert any(m == 1 for m, _, _ in G.model_shapes(cfg, tokens=64).values())  # decode rows


def test_probe_reports_gflops_per_dtype_and_shape_and_the_peak():
    shapes = {"small": (32, 64, 64), "wide": (64, 64, 256)}
    r = G.probe(shapes, threads=1, seconds=0.02)
    assert r["threads"] == 1 and set(r["gflops"]) == {"bf16", "fp32", "int8"}
    for dt in ("bf16", "fp32"):
        vals = r["gflops"][dt]
        assert set(vals) == set(shapes) and all(v > 0 for v in vals.values())
        assert r["peak_gflops"][dt] == max(vals.values())
    assert torch.get_num_threads() >= 1


def test_slow_kernels_are_measured_on_a_row_slice_within_the_budget(monkeypatch):
    rows = []                                   # the rows of every GEMM the probe ran (counted, not timed)
    op = G._op

    def counting(dtype):
        f = op(dtype)
        return lambda a, b: (rows.append(a.shape[0]), f(a, b))[1]

    monkeypatch.setattr(G, "_op", counting)
    g = G.time_gemm("fp32", 1 << 14, 256, 2048, seconds=0.05)              # 17 GFLOP in full
    assert g > 0 and rows and max(rows) < 1 << 14                           # never the full 16,384 rows


def test_peak_gflops_is_measured_once_and_cached():
    G._PEAK_CACHE[("fp32", 1)] = 123.0
    assert G.peak_gflops("fp32", threads=1) == 123.0
    del G._PEAK_CACHE[("fp32", 1)]


def test_cli_json_last_line_names_the_peaks():
    out = subprocess.run([sys.executable, "bench/gemm_probe.py", "--json", "--seconds", "0.01"], cwd=ROOT,
                         capture_output=True, text=True, timeout=300, check=True).stdout
    fig = json.loads(out.strip().splitlines()[-1])
    assert fig["gemm_peak_gflops_fp32"] > 0 and fig["threads"] == 1
    assert set(fig["gflops"]) == {"bf16", "fp32", "int8"}
    assert "peak" in out and "head" in out
