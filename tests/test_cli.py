"""The `r1lsp` command line, run as a user runs it (a subprocess), on real files."""

from __future__ import annotations

import json
import shutil
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
    from model.quantize import KERNELS
    kernels = out["int8 kernels"]
    assert kernels["decode"] in KERNELS and kernels["prefill"] in KERNELS
    assert kernels["decode"] in out["int8 kernels"]["detail"]
    from model import w8a8
    assert kernels["prefill_w8a8"] == w8a8.status()             # how a prefill's W8A8 runs here
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


def test_inline_applies_the_servers_confidence_gate(tiny_checkpoint, tmp_path):
    src = tmp_path / "walk.py"
    src.write_text("def walk(root, pattern):\n    total = 0\n    return \n", encoding="utf-8")
    default = json.loads(r1lsp("complete", f"{src}:3:12", "--inline", "--json",
                               "--model", str(tiny_checkpoint), "--no-int8").stdout)
    assert default["min_confidence"] == -1.0                          # the server's default gate
    assert all(s["confidence"] >= -1.0 for s in default["inline"])
    assert all(w["confidence"] < -1.0 for w in default["withheld"])
    ungated = json.loads(r1lsp("complete", f"{src}:3:12", "--inline", "--json", "--min-confidence", "-100",
                               "--model", str(tiny_checkpoint), "--no-int8").stdout)
    shown = ungated["inline"] + ungated["withheld"]
    assert ungated["withheld"] == [] and ungated["min_confidence"] == -100
    if not shown:
        pytest.skip("the tiny model wrote nothing valid here")
    strict = json.loads(r1lsp("complete", f"{src}:3:12", "--inline", "--json", "--min-confidence", "0",
                              "--model", str(tiny_checkpoint), "--no-int8").stdout)
    # a mean log-probability is never above 0: a 0 gate withholds what the open gate showed
    assert strict["inline"] == [] and [w["text"] for w in strict["withheld"]] == [s["text"] for s in shown]


def test_complete_takes_the_workspace_as_an_editor_gives_it(tiny_checkpoint, tmp_path):
    # FILE's folder alone knows neither another folder's class nor the line its files all write
    (tmp_path / "app").mkdir()
    (tmp_path / "model").mkdir()
    (tmp_path / "model" / "Item.java").write_text(
        "package model;\npublic class Item {\n    public int restock(int n) { return n; }\n}\n", encoding="utf-8")
    main = tmp_path / "app" / "Main.java"
    main.write_text("package app;\nimport model.Item;\nclass Main {\n    void f(Item it) {\n        it.\n    }\n}\n",
                    encoding="utf-8")
    model = ("--model", str(tiny_checkpoint), "--no-int8")

    def labels(*extra):
        run = r1lsp("complete", f"{main}:5:12", "--json", *model, *extra)
        assert run.returncode == 0, run.stderr
        return [i["label"] for i in json.loads(run.stdout)["items"]]
    assert "restock" not in labels()
    assert labels("--workspace", str(tmp_path))[0] == "restock"

    line = 'logger.warning("retrying %s after %d s", name, delay)'
    (tmp_path / "lib").mkdir()
    for name in "abcdef":
        (tmp_path / "lib" / f"{name}.py").write_text(
            f"import logging\nlogger = logging.getLogger(__name__)\n\ndef {name}(name, delay):\n    {line}\n",
            encoding="utf-8")
    src = tmp_path / "app" / "main.py"
    src.write_text("import logging\nlogger = logging.getLogger(__name__)\n\ndef run(name, delay):\n    logger.warning(\n",
                   encoding="utf-8")

    def ghost(*extra):
        run = r1lsp("complete", f"{src}:5:20", "--inline", "--json", *model, *extra)
        assert run.returncode == 0, run.stderr
        return [s["text"] for s in json.loads(run.stdout)["inline"]]
    rest = line[len("logger.warning("):]
    assert rest not in ghost()
    assert ghost("--workspace", str(tmp_path)) == [rest]

    run = r1lsp("complete", f"{src}:5:20", "--workspace", str(tmp_path / "lib"), *model)
    assert run.returncode != 0 and "not inside the workspace" in run.stderr


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
    assert {u["role"] for u in out["units"]} == {"class", "function"}    # one row per class / method
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


@pytest.fixture(scope="module")
def deepseek_folder(tmp_path_factory):
    """A tiny random DeepSeek-V3 folder in the public layout (sharded), with a tokenizer.json."""
    support = pytest.importorskip("deepseek_support")
    from tokenizers import Tokenizer
    from tokenizers.models import WordLevel

    folder = tmp_path_factory.mktemp("deepseek")
    version, overrides = support.VARIANTS["v3-yarn"]
    support.build_reference(version, folder, max_shard_size="200KB", **overrides)
    Tokenizer(WordLevel({"<unk>": 0, "def": 1}, unk_token="<unk>")).save(str(folder / "tokenizer.json"))
    return folder


V3_671B = {"model_type": "deepseek_v3", "vocab_size": 129280, "hidden_size": 7168, "intermediate_size": 18432,
           "moe_intermediate_size": 2048, "num_hidden_layers": 61, "num_attention_heads": 128,
           "n_routed_experts": 256, "n_shared_experts": 1, "num_experts_per_tok": 8, "first_k_dense_replace": 3,
           "kv_lora_rank": 512, "q_lora_rank": 1536, "qk_rope_head_dim": 64, "qk_nope_head_dim": 128,
           "v_head_dim": 128, "n_group": 8, "topk_group": 4, "routed_scaling_factor": 2.5,
           "num_nextn_predict_layers": 1, "quantization_config": {"quant_method": "fp8", "weight_block_size": [128, 128]}}


def test_doctor_sizes_a_deepseek_folder(deepseek_folder):
    from model.deepseek.loader import estimate

    run = r1lsp("doctor", "--json", "--model", str(deepseek_folder))
    out = json.loads(run.stdout)
    ck, mem = out["checkpoint"], out["memory"]
    assert ck["verdict"] == "ok" and ck["model_type"] == "deepseek_v3" and ck["shards"] > 1
    est = estimate(deepseek_folder)
    assert ck["parameters"] == est["params_total"] and ck["active_parameters"] == est["params_active"]
    assert ck["weight_bytes_int8_cpu"] == est["weight_bytes_int8"] and ck["weight_bytes_bf16"] == 2 * est["params_total"]
    assert ck["kv_cache_bytes_per_token_bf16"] == 3 * (16 + 8) * 2
    assert mem["verdict"] in ("ok", "warn") and mem["needs_bytes"] > ck["weight_bytes_int8_cpu"] // 2
    assert out["summary"]["verdict"] == mem["verdict"] and "can run here" in out["summary"]["detail"]
    assert run.returncode == (1 if any(v["verdict"] == "fail" for v in out.values()) else 0)
    text = r1lsp("doctor", "--model", str(deepseek_folder)).stdout
    assert "DeepSeek checkpoint (deepseek_v3)" in text and "experts top-4" in text
    assert text.splitlines()[-1].startswith(f"verdict: {deepseek_folder} (deepseek_v3, 0.3M parameters, 0.2M active) can run here")


def test_doctor_says_a_671b_config_does_not_fit(tmp_path):
    """config.json alone (before any download): the sizes and a no-fit verdict; exit status 1."""
    (tmp_path / "config.json").write_text(json.dumps(V3_671B))
    run = r1lsp("doctor", "--json", "--model", str(tmp_path))
    out = json.loads(run.stdout)
    assert run.returncode == 1
    ck = out["checkpoint"]
    assert ck["verdict"] == "fail" and "no model.safetensors.index.json" in ck["detail"]
    assert "671.0B parameters (37.6B active)" in ck["detail"]
    assert 620 * 2 ** 30 < ck["weight_bytes_int8_cuda"] < 640 * 2 ** 30
    assert ck["kv_cache_bytes_per_token_bf16"] == 61 * 576 * 2
    assert out["memory"]["verdict"] == "fail" and "does not fit" in out["memory"]["detail"]
    last = r1lsp("doctor", "--model", str(tmp_path)).stdout.splitlines()[-1]
    assert last.startswith(f"verdict: {tmp_path} (deepseek_v3, 671.0B parameters, 37.6B active) cannot run here")


def test_doctor_rejects_folders_it_cannot_run(tmp_path, deepseek_folder):
    run = r1lsp("doctor", "--model", str(tmp_path / "nope"))
    assert run.returncode == 1 and "no such folder" in run.stdout
    (tmp_path / "config.json").write_text(json.dumps({"model_type": "llama", "hidden_size": 64}))
    run = r1lsp("doctor", "--json", "--model", str(tmp_path))
    assert run.returncode == 1 and "neither an R1 nor a DeepSeek" in json.loads(run.stdout)["checkpoint"]["detail"]
    broken = tmp_path / "broken"
    shutil.copytree(deepseek_folder, broken)
    shard = sorted(broken.glob("model-*.safetensors"))[0]
    shard.write_bytes(shard.read_bytes()[:-64])
    run = r1lsp("doctor", "--json", "--model", str(broken))
    out = json.loads(run.stdout)
    assert run.returncode == 1 and out["checkpoint"]["verdict"] == "fail"
    assert f"{shard.name}: truncated data" in out["checkpoint"]["detail"]
