"""A seeded hostile client (bench/fuzz_bench.py) against the real server, model on.

A few hundred raw JSON-RPC messages of every class: edits over emoji, CJK, CR/LF mixes,
\\v \\f \\x1c-\\x1e \\x85 U+2028/9 and lone surrogates (valid and out-of-range positions),
opens/closes under two URI spellings, every request with valid, odd and malformed params,
invalid JSON, bad envelopes, duplicate ids, cancellations, lowercase headers, bad
Content-Lengths, then shutdown, a request after it, exit. After each batch the fuzzer's copy
of every open document is checked against the server's (and its hierarchy against a fresh
parse). `make fuzz` runs 10,000 messages with the shipped model.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))

from fuzz_bench import exit_codes, fuzz  # noqa: E402


@pytest.mark.parametrize("seed", [7, 11])
async def test_fuzzed_traffic_is_answered_by_the_spec_and_edits_land_where_lsp_says(seed, tiny_checkpoint, tmp_path):
    stats = await fuzz(seed, 300, model=str(tiny_checkpoint), batch=25, long_line=5000, workspace=tmp_path)
    details = {k: stats.get(k) for k in ("popup_texts", "internal_texts", "misplaced_examples", "unanswered_examples")}
    assert stats["messages"] >= 300
    assert stats["crashes"] == 0, details
    assert stats["unanswered"] == 0, details
    assert stats["internal_errors"] == 0, details
    assert stats["misplaced_edits"] == 0, details
    assert stats["hierarchy_mismatches"] == 0, details
    assert stats["popups"] == 0, details
    assert stats["closed_diagnostics"] == 0
    assert stats["lifecycle_errors"] == 0 and stats["exit_code"] == 0
    # every class of error answer was exercised
    assert {"-32700", "-32600", "-32601", "-32602", "-32002"} <= set(stats["errors_by_code"])


async def test_exit_codes_follow_lsp():
    codes = await exit_codes()
    assert codes["exit_without_shutdown"] == 1
    assert codes["exit_while_loading"] == 0 and codes["exit_while_loading_aborts"] == 0
