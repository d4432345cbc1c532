"""A public-layout DeepSeek checkpoint behind the engine, the CLI and the LSP server (tiny random
V3 model with a DeepSeek-format tokenizer, int8 on the CPU)."""
from __future__ import annotations

import asyncio
import json
import subprocess
import sys

import pytest
import pytest_lsp
from lsprotocol import types
from pytest_lsp import LanguageClient

from deepseek_support import build_checkpoint_folder
from lsp_support import CONFIG, as_plain, custom_request, initialize, open_document

JAVA = """\
public class Counter {
    private int count;

    void add(int n) {
        count += n;
    }

    int get() {
        return count;
    }
}
"""


@pytest.fixture(scope="module")
def deepseek_folder(tmp_path_factory):
    folder = tmp_path_factory.mktemp("deepseek-v3-tiny")
    build_checkpoint_folder(folder, "v3")
    return folder


@pytest.fixture(scope="module")
def engine(deepseek_folder):
    from r1lsp.engine import Engine
    from r1lsp.settings import ModelSettings
    eng = Engine(ModelSettings(path=str(deepseek_folder), device="cpu", quantization="int8"), batch_wait_ms=1).start()
    assert eng.wait_ready(120), eng.error
    yield eng
    eng.close()


def test_engine_serves_a_deepseek_folder_in_int8(engine):
    assert engine.family == "deepseek_v3" and engine.quantization.startswith("int8")
    assert engine.prompts.has_fim and engine.special is None
    ids = engine.prompts.start("java") + engine.encode("int x = ")
    res = engine.submit_generate(None, ids, None, max_new_tokens=6).result(timeout=60)
    assert 0 < len(res.tokens) <= 6 or res.finish_reason == "eos"
    assert not set(res.tokens) & engine.prompts.banned_ids


def test_routing_trace_has_one_row_per_moe_layer(engine):
    cfg = engine.config
    ids = engine.prompts.start("java") + engine.encode(JAVA)
    trace = engine.submit_route(None, ids).result(timeout=60)
    assert trace.experts.shape == (cfg.n_moe_layers, len(ids), cfg.num_experts_per_tok)
    assert 0 <= trace.experts.min() and trace.experts.max() < cfg.n_routed_experts


def test_cli_complete_and_experts_with_the_folder(deepseek_folder, tmp_path):
    src = tmp_path / "Counter.java"
    src.write_text(JAVA)
    run = [sys.executable, "-m", "r1lsp"]
    out = subprocess.run([*run, "experts", str(src), "--model", str(deepseek_folder), "--json"],
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    data = json.loads(out.stdout)
    assert data["units"] and all(0 <= s["expert"] < 16 for u in data["units"] for s in u["shares"])
    out = subprocess.run([*run, "complete", f"{src}:5:9", "--model", str(deepseek_folder), "--json"],
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    assert any(item["label"] == "count" for item in json.loads(out.stdout)["items"])


@pytest_lsp.fixture(config=CONFIG)
async def client(lsp_client: LanguageClient, deepseek_folder):
    await initialize(lsp_client, "visual-studio-code",
                     {"model": {"path": str(deepseek_folder)}, "diagnostics": {"debounceMs": 0}})
    yield
    await lsp_client.shutdown_session()


async def test_lsp_completion_and_expert_diagnostics(client: LanguageClient):
    uri = "file:///workspace/Counter.java"
    open_document(client, uri, "java", JAVA)
    while not [d for d in client.diagnostics.get(uri, []) if d.code == "r1lsp.experts"]:  # pushed once routed
        await asyncio.wait_for(client.wait_for_notification(types.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS), timeout=120)
    payload = as_plain(await custom_request(client, "r1lsp/experts", {"textDocument": {"uri": uri}}))
    assert payload["ready"] and payload["units"]
    assert {s["expert"] for u in payload["units"] for s in u["shares"]} <= set(range(16))
    result = await client.text_document_completion_async(types.CompletionParams(
        text_document=types.TextDocumentIdentifier(uri=uri), position=types.Position(4, 8)))
    items = result.items if hasattr(result, "items") else result
    assert any(i.label == "count" for i in items)
    logged = [m.message for m in client.log_messages]
    assert any("(deepseek_v3)" in m and "16 routed experts top-4" in m and "fill-in-the-middle yes" in m
               for m in logged), logged
