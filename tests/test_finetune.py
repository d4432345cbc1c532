"""Progressive fine-tuning: what each stage freezes, EMA math, a tiny end-to-end run (+ --compare)."""
import json
from pathlib import Path

import pytest
import torch

from model import finetune as FT
from model.config import R1Config
from model.network import R1Model

FIX = Path(__file__).parent / "fixtures" / "data"


@pytest.fixture(autouse=True)
def _keep_threads():
    n = torch.get_num_threads()
    yield
    torch.set_num_threads(n)


def _model(n_layers=4):
    cfg = R1Config.preset("r1-tiny", max_seq_len=64, d_model=32, n_layers=n_layers, n_heads=2, index_heads=2,
                          index_dim=8, attn_topk=32, local_window=8, key_block=16, n_experts=4, n_active=2,
                          expert_hidden=32, level_dims=(32, 24, 16, 8), hier_layers=(n_layers // 2,), vocab_size=64)
    return R1Model(cfg)


def test_stages_freeze_exactly_what_they_say():
    m = _model(4)
    every = {n for n, _ in m.named_parameters()}
    s1 = FT.apply_stage(m, 1)
    assert s1 == {n for n in every if n.startswith(("blocks.2.", "blocks.3.", "norm.", "head."))} | {
        "blocks.0.moe.gate.weight", "blocks.1.moe.gate.weight"}
    assert {n for n, p in m.named_parameters() if p.requires_grad} == s1
    assert not any(n.startswith(("embed.", "hier.")) for n in s1)
    s2 = FT.apply_stage(m, 2)
    assert s2 - s1 == {"hier.2.down.1.weight", "hier.2.norms.1.weight", "hier.2.down.2.weight",
                       "hier.2.norms.2.weight"}
    assert s1 <= s2 and "hier.2.up.weight" not in s2 and "hier.2.down.0.weight" not in s2
    assert "blocks.0.attn.wq.weight" not in s2 and "embed.weight" not in s2
    s3 = FT.apply_stage(m, 3)
    assert s3 == every and all(p.requires_grad for p in m.parameters())


def test_frozen_parameters_do_not_move_in_stage_1():
    m = _model(2)
    FT.apply_stage(m, 1)
    before = {n: p.detach().clone() for n, p in m.named_parameters()}
    opt = torch.optim.AdamW([p for p in m.parameters() if p.requires_grad], lr=1e-2)
    x = torch.randint(0, 64, (2, 16))
    m.loss(x, x).total.backward()
    opt.step()
    moved = {n for n, p in m.named_parameters() if not torch.equal(p, before[n])}
    assert moved and all(FT.stage_trainable(n, 1, 2) for n in moved)
    assert "head.weight" in moved and "blocks.0.moe.gate.weight" in moved
    assert torch.equal(m.embed.weight, before["embed.weight"])


def test_ema_update_math():
    lin = torch.nn.Linear(3, 2)
    ema = FT.EMA(lin, decay=0.9)
    w0 = lin.weight.detach().clone()
    with torch.no_grad():
        lin.weight.add_(1.0)
    ema.update(lin)
    assert torch.allclose(ema.shadow["weight"], 0.9 * w0 + 0.1 * (w0 + 1.0), atol=1e-7)
    with torch.no_grad():
        lin.weight.add_(1.0)
    ema.update(lin)
    assert torch.allclose(ema.shadow["weight"], 0.9 * (w0 + 0.1) + 0.1 * (w0 + 2.0), atol=1e-6)
    ema.copy_to(lin)
    assert torch.allclose(lin.weight, w0 + 0.09 + 0.2, atol=1e-6)


def test_compare_report():
    prog = {"curve": [{"step": 0, "heldout": 5.0}, {"step": 10, "heldout": 3.8}, {"step": 20, "heldout": 3.5}],
            "heldout_loss": 3.5, "gap": 0.3, "gap_growth": 0.1}
    direct = {"curve": [{"step": 0, "heldout": 5.0}, {"step": 10, "heldout": 4.5}, {"step": 20, "heldout": 3.9}],
              "heldout_loss": 3.9, "gap": 0.5, "gap_growth": 0.4}
    r = FT.compare_report(prog, direct)
    assert r["target_heldout_loss"] == 3.9 and r["steps_to_target_progressive"] == 10
    assert r["steps_to_target_direct"] == 20 and r["convergence_speed_ratio"] == 2.0
    assert r["gap_reduction"] == pytest.approx(0.4) and r["gap_growth_reduction"] == pytest.approx(0.75)


def test_tiny_end_to_end_finetune(tiny_checkpoint, tmp_path):
    out = tmp_path / "ft"
    rc = FT.main(["--data", str(FIX), "--base", str(tiny_checkpoint), "--out", str(out), "--steps", "2,2,2",
                  "--seq-len", "32", "--batch-size", "2", "--eval-every", "2", "--eval-tokens", "256",
                  "--val-fraction", "0.3", "--compare", "--amp", "fp32"])
    assert rc == 0
    rep = json.loads((out / "finetune.json").read_text())
    stages = rep["progressive"]["stages"]
    assert [s["stage"] for s in stages] == [1, 2, 3] and all(s["heldout_loss"] > 0 for s in stages)
    assert stages[0]["trainable_params"] < stages[1]["trainable_params"] < stages[2]["trainable_params"]
    assert rep["direct"]["steps"] == 6 and "convergence_speed_ratio" in rep["comparison"]
    assert (out / "finetune.png").exists()
    from model.checkpoint import load_checkpoint
    ck = load_checkpoint(out / "final")
    assert ck.meta["finetune"]["progressive"]["heldout_loss"] == rep["progressive"]["heldout_loss"]
    assert ck.tokenizer is not None
