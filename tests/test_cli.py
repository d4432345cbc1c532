"""The `r1lsp` command line, run as a user runs it (a subprocess), on real files."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SAMPLE_JAVA = ROOT / "samples" / "Inventory.java"
SAMPLE_PY = ROOT / "samples" / "inventory.py"


def r1lsp(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "r1lsp", *args], capture_output=True, text=True,
                          input=stdin, timeout=300, cwd=ROOT)


def test_levels_json_maps_the_sample_java_file():
    run = r1lsp("levels", str(SAMPLE_JAVA), "--json")
    assert run.returncode == 0, run.stderr
    out = json.loads(run.stdout)
    assert out["language"] == "java" and not out["has_errors"]
    names = {s["name"] for s in out["spans"] if s["level"] == "paragraph" and s["name"]}
    assert "Inventory" in names
    assert out["counts"]["token"] > out["counts"]["phrase"] > out["counts"]["sentence"] > out["counts"]["paragraph"] > 0


def test_levels_text_output_and_stdin():
    run = r1lsp("levels", "-", "--language", "python", stdin="def f(x):\n    return x + 1\n")
    assert run.returncode == 0, run.stderr
    assert run.stdout.startswith("python: 1 paragraphs")
    assert "function_definition f" in run.stdout


def test_missing_file_and_bad_location_are_clear_errors(tmp_path):
    run = r1lsp("levels", str(tmp_path / "nope.java"))
    assert run.returncode == 2 and "no such file" in run.stderr
    run = r1lsp("complete", f"{SAMPLE_JAVA}:0:3")
    assert run.returncode == 2 and "FILE:LINE:COL" in run.stderr
    binary = tmp_path / "blob.java"
    binary.write_bytes(b"\xff\xfe\x00junk")
    run = r1lsp("levels", str(binary))
    assert run.returncode == 2 and "not UTF-8" in run.stderr


def test_doctor_json_reports_each_check():
    run = r1lsp("doctor", "--json")
    out = json.loads(run.stdout)
    assert set(out) >= {"python", "torch", "bitsandbytes", "tree-sitter", "checkpoint"}
    assert out["tree-sitter"]["verdict"] == "ok"
    assert all(v["verdict"] in ("ok", "warn", "fail") for v in out.values())
    assert run.returncode == (1 if any(v["verdict"] == "fail" for v in out.values()) else 0)


def test_doctor_names_a_corrupt_checkpoint(tmp_path, tiny_checkpoint):
    for f in tiny_checkpoint.iterdir():
        (tmp_path / f.name).write_bytes(f.read_bytes())
    (tmp_path / "config.json").write_text("{ not json", encoding="utf-8")
    run = r1lsp("doctor", "--json", "--model", str(tmp_path))
    out = json.loads(run.stdout)
    assert out["checkpoint"]["verdict"] == "fail"
    assert "config.json" in out["checkpoint"]["detail"]
    assert run.returncode == 1


def test_complete_lists_candidates_with_a_model(tiny_checkpoint, tmp_path):
    src = tmp_path / "walk.py"
    src.write_text("def walk(root, pattern):\n    total = 0\n    return tot\n", encoding="utf-8")
    run = r1lsp("complete", f"{src}:3:15", "--json", "--model", str(tiny_checkpoint), "--no-int8")
    assert run.returncode == 0, run.stderr
    out = json.loads(run.stdout)
    assert "total" in [i["label"] for i in out["items"]]


@pytest.mark.skipif(subprocess.run(["which", "javac"], capture_output=True).returncode != 0, reason="no javac")
def test_translate_prints_python_that_runs_like_the_java(tmp_path):
    src = tmp_path / "Mean.java"
    src.write_text(
        "public class Mean {\n"
        "    public static void main(String[] args) {\n"
        "        int[] xs = {3, -7, 10};\n"
        "        int sum = 0;\n"
        "        for (int x : xs) sum += x;\n"
        "        System.out.println(sum / xs.length + \" \" + (sum % -4) + \" \" + (double) sum / 2);\n"
        "    }\n"
        "}\n", encoding="utf-8")
    run = r1lsp("translate", str(src), "-o", str(tmp_path / "mean.py"))
    assert run.returncode == 0, run.stderr
    python = subprocess.run([sys.executable, str(tmp_path / "mean.py")], capture_output=True, text=True)
    subprocess.run(["javac", "-d", str(tmp_path), str(src)], check=True)
    java = subprocess.run(["java", "-cp", str(tmp_path), "Mean"], capture_output=True, text=True)
    assert python.stdout == java.stdout == "2 2 3.0\n"
    again = r1lsp("translate", str(src), "-o", str(tmp_path / "mean.py"))
    assert again.returncode == 2 and "exists" in again.stderr


def test_experts_table_json_and_heatmap(tiny_checkpoint, tmp_path):
    png = tmp_path / "heat.png"
    run = r1lsp("experts", str(SAMPLE_JAVA), "--json", "--plot", str(png), "--model", str(tiny_checkpoint), "--no-int8")
    assert run.returncode == 0, run.stderr
    out = json.loads(run.stdout)
    assert out["units"] and all(abs(sum(s["share"] for s in u["shares"]) - 1) < 1e-3 for u in out["units"])
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    table = r1lsp("experts", str(SAMPLE_PY), "--model", str(tiny_checkpoint), "--no-int8")
    assert table.returncode == 0, table.stderr
    assert table.stdout.splitlines()[0].split()[:3] == ["lines", "unit", "tokens"]


def test_doctor_reports_a_loadable_checkpoint_with_its_config(tiny_checkpoint):
    run = r1lsp("doctor", "--json", "--model", str(tiny_checkpoint))
    out = json.loads(run.stdout)
    assert out["checkpoint"]["verdict"] == "ok"
    assert out["checkpoint"]["config"]["n_layers"] == 2
    assert out["checkpoint"]["parameters"] > 0
    assert "2 layers" in out["checkpoint"]["detail"]
