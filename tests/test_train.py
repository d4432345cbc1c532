"""Trainer: schedule, parameter groups, safetensors optimizer state, exact resume, DDP (2 CPU
processes over gloo) ending with identical weights, CLI run with progress line and loss curve."""
import json
import math
import os
import socket
from pathlib import Path

import pytest
import torch

from model import data as D
from model import train as T
from model.train_state import optimizer_param_names, ship_if_better
from model.config import R1Config
from model.network import R1Model

FIX = Path(__file__).parent / "fixtures" / "data"

TINY = dict(max_seq_len=64, d_model=32, n_layers=2, n_heads=2, index_heads=2, index_dim=8,
            attn_topk=32, local_window=8, key_block=16, n_experts=4, n_active=2, expert_hidden=32,
            level_dims=(32, 24, 16, 8), hier_layers=(1,))


@pytest.fixture(scope="session")
def tiny_corpus(tmp_path_factory):
    out = tmp_path_factory.mktemp("train-corpus")
    D.build(D.BuildConfig(out=str(out), stdlib=False, site_packages=False, java=False,
                          dirs=(f"python={FIX / 'python'}", f"java={FIX / 'java'}"),
                          vocab_size=400, val_fraction=0.3, seed=0), log=lambda *a: None)
    return out


@pytest.fixture(scope="session")
def tiny_config_file(tmp_path_factory):
    p = tmp_path_factory.mktemp("cfg") / "tiny.json"
    p.write_text(R1Config.preset("r1-tiny", **TINY).to_json())
    return p


@pytest.fixture(autouse=True)
def _keep_threads():
    n = torch.get_num_threads()
    yield
    torch.set_num_threads(n)


def _cfg(corpus, cfg_file, out, **kw):
    base = dict(corpus=str(corpus), out=str(out), model_config=str(cfg_file), seq_len=32,
                batch_size=4, lr=3e-3, warmup=2, max_steps=4, eval_every=2, eval_tokens=256,
                save_every=2, log_every=1, amp="fp32", threads=1, seed=0, compile="off")
    base.update(kw)
    return T.TrainConfig(**base)


def _quiet(_):
    pass


def test_schedule_warmup_then_cosine():
    lrs = [T.lr_at(s, 1.0, 10, 110, 0.1) for s in range(0, 111)]
    assert lrs[0] == pytest.approx(0.1) and lrs[9] == pytest.approx(1.0)
    assert all(a <= b for a, b in zip(lrs[:10], lrs[1:10]))              # rising warm-up
    assert all(a >= b for a, b in zip(lrs[10:], lrs[11:]))               # falling cosine
    assert lrs[60] == pytest.approx(0.1 + 0.9 * 0.5, abs=1e-9)           # half way
    assert lrs[110] == pytest.approx(0.1) and T.lr_at(500, 1.0, 10, 110, 0.1) == pytest.approx(0.1)


def test_no_weight_decay_on_norms_embeddings_biases():
    m = R1Model(R1Config.preset("r1-tiny", **TINY))
    m.extra = torch.nn.Linear(3, 3)                                       # has a bias
    decay, no_decay = T.param_groups(m, 0.1)
    names = {id(p): n for n, p in m.named_parameters()}
    dn = {names[id(p)] for p in decay["params"]}
    nn_ = {names[id(p)] for p in no_decay["params"]}
    assert decay["weight_decay"] == 0.1 and no_decay["weight_decay"] == 0.0
    assert "embed.weight" in nn_ and "extra.bias" in nn_ and "norm.weight" in nn_
    assert "blocks.0.attn_norm.weight" in nn_
    assert "head.weight" in dn and "blocks.0.attn.wq.weight" in dn and "extra.weight" in dn
    assert dn | nn_ == set(names.values()) and not dn & nn_


def _weights(model):
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


def test_resume_matches_uninterrupted_run(tiny_corpus, tiny_config_file, tmp_path):
    full = T.Trainer(_cfg(tiny_corpus, tiny_config_file, tmp_path / "full"), log=_quiet)
    full.train()
    # interrupted: 2 steps, then a fresh Trainer resumes from state/ and runs to step 4
    first = T.Trainer(_cfg(tiny_corpus, tiny_config_file, tmp_path / "split", max_steps=2), log=_quiet)
    first.train()
    state = tmp_path / "split" / "state"
    assert {p.name for p in state.iterdir()} >= {"model.safetensors", "config.json", "optim.safetensors",
                                                 "optim.json", "trainer.json", "tokenizer.json"}
    assert not any(p.suffix in (".pt", ".pth", ".pkl", ".bin") for p in state.iterdir())
    torch.manual_seed(1234)                                               # must be restored from state
    second = T.Trainer(_cfg(tiny_corpus, tiny_config_file, tmp_path / "split"), log=_quiet)
    assert second.step == 2
    second.train()
    a, b = _weights(full.model), _weights(second.model)
    assert a.keys() == b.keys()
    for k in a:
        assert torch.allclose(a[k], b[k], atol=1e-6, rtol=0), k
    sa, sb = full.opt.state_dict()["state"], second.opt.state_dict()["state"]
    for i in sa:
        for key in ("exp_avg", "exp_avg_sq"):
            assert torch.allclose(sa[i][key], sb[i][key], atol=1e-6, rtol=0)
        assert float(sa[i]["step"]) == float(sb[i]["step"]) == 4
    idx = json.loads((state / "optim.json").read_text())
    assert idx["param_groups"][0]["weight_decay"] == 0.1 and "embed.weight" in idx["param_groups"][1]["params"]


def test_cli_run_writes_progress_curve_and_final(tiny_corpus, tiny_config_file, tmp_path, capsys):
    out = tmp_path / "run"
    rc = T.main(["--corpus", str(tiny_corpus), "--out", str(out), "--model-config", str(tiny_config_file),
                 "--seq-len", "32", "--batch-size", "4", "--max-steps", "3", "--warmup", "1",
                 "--eval-every", "2", "--eval-tokens", "128", "--log-every", "1", "--threads", "1",
                 "--amp", "bf16", "--compile", "off"])
    assert rc == 0
    err = capsys.readouterr().err
    assert "tok/s" in err and "ETA" in err and "step 3/3" in err
    assert "eval step 2: " in err and "java loss" in err
    assert (out / "loss.png").stat().st_size > 1000
    from model.checkpoint import load_checkpoint
    ck = load_checkpoint(out / "final")
    assert ck.meta["tokens_seen"] == 3 * 4 * 32 and ck.tokenizer is not None
    lines = [json.loads(l) for l in (out / "log.jsonl").read_text().splitlines()]
    assert any("val" in r and math.isfinite(r["val"]["java"]["bpb"]) for r in lines)
    # a STOP file ends the next invocation at once, cleanly; it is consumed on the start after
    (out / "STOP").write_text("")
    tr = T.Trainer(_cfg(tiny_corpus, tiny_config_file, out, max_steps=10), log=_quiet)
    assert not (out / "STOP").exists() and tr.step == 3


def test_time_budget_stops(tiny_corpus, tiny_config_file, tmp_path):
    tr = T.Trainer(_cfg(tiny_corpus, tiny_config_file, tmp_path / "t", max_steps=10_000,
                        max_minutes=1e-9, eval_every=0, save_every=0), log=_quiet)
    res = tr.train()
    assert res["stop"] == "max_minutes" and res["step"] == 0
    assert (tmp_path / "t" / "state" / "trainer.json").exists()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _ddp_worker(rank, world, port, corpus, cfg_file, out):
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port), WORLD_SIZE=str(world),
                      RANK=str(rank), LOCAL_RANK=str(rank))
    import torch.distributed as dist
    from safetensors.torch import save_file
    d = T.init_distributed()
    cfg = _cfg(corpus, cfg_file, out, max_steps=3, eval_every=3, save_every=0)
    tr = T.Trainer(cfg, d, log=_quiet)
    tr.train()
    save_file({k: v.contiguous() for k, v in tr.model.state_dict().items()},
              str(Path(out) / f"rank{rank}.safetensors"))
    dist.destroy_process_group()


def test_ddp_two_processes_end_with_identical_weights(tiny_corpus, tiny_config_file, tmp_path):
    import torch.multiprocessing as mp
    from safetensors.torch import load_file
    out = tmp_path / "ddp"
    out.mkdir()
    mp.spawn(_ddp_worker, args=(2, _free_port(), str(tiny_corpus), str(tiny_config_file), str(out)),
             nprocs=2, join=True)
    r0, r1 = load_file(str(out / "rank0.safetensors")), load_file(str(out / "rank1.safetensors"))
    init = R1Model(R1Config.from_json(tiny_config_file.read_text()))
    changed = 0
    for k in r0:
        assert torch.equal(r0[k], r1[k]), k
        changed += not torch.equal(r0[k], init.state_dict()[k]) if r0[k].shape == init.state_dict()[k].shape else 1
    assert changed > 0                                                    # it did train
    tj = json.loads((out / "state" / "trainer.json").read_text())
    assert tj["world_size"] == 2 and tj["step"] == 3 and tj["tokens_seen"] == 3 * 4 * 32


def _lm_curve(tr):
    tr.train()
    return [h["lm"] for h in tr.history if "lm" in h]


def _old_trainer(corpus, cfg_file, out, **kw):
    """Today's trainer before the speed work: experts in a Python loop, eager loss head, AdamW
    without the fused kernel (foreach left to torch's default on CPU)."""
    tr = T.Trainer(_cfg(corpus, cfg_file, out, moe="loop", compile="off", **kw), log=_quiet)
    tr.opt = torch.optim.AdamW(T.param_groups(tr.model, tr.cfg.weight_decay), lr=tr.cfg.lr,
                               betas=(tr.cfg.beta1, tr.cfg.beta2), eps=1e-8)
    tr.names = optimizer_param_names(tr.model, tr.opt)
    return tr


def test_fast_trainer_follows_the_old_loss_curve(tiny_corpus, tiny_config_file, tmp_path):
    """Same seed, same batches: grouped experts (padded bmm, or jagged grouped matmuls with the
    attention core in fp32) + compiled loss head + fused AdamW give the old trainer's loss curve. fp32: to rounding (1e-3 relative over 8 steps). bf16 compute: within
    3 % -- bf16 keeps 8 mantissa bits (relative rounding 2^-9 ~ 0.2 % per stored operand; the
    GEMMs accumulate in fp32), and 8 steps of AdamW on a 32-wide model let those differences
    move the weights by a fraction of a learning-rate step, well inside 3 % of the loss."""
    kw = dict(max_steps=8, eval_every=0, save_every=0, lr=3e-3)
    old = _lm_curve(_old_trainer(tiny_corpus, tiny_config_file, tmp_path / "old", **kw))
    new_tr = T.Trainer(_cfg(tiny_corpus, tiny_config_file, tmp_path / "new", moe="grouped", compile="auto", **kw),
                       log=_quiet)
    assert new_tr.moe_impl == "grouped bmm"
    assert new_tr.compiled == "inductor" or new_tr.compiled.startswith("eager (")
    new = _lm_curve(new_tr)
    bf = _lm_curve(T.Trainer(_cfg(tiny_corpus, tiny_config_file, tmp_path / "bf16", moe="grouped", compile="auto",
                                  amp="bf16", **kw), log=_quiet))
    gmm_tr = T.Trainer(_cfg(tiny_corpus, tiny_config_file, tmp_path / "gmm", moe="gmm", compile="auto", amp="bf16",
                            **kw), log=_quiet)
    assert gmm_tr.moe_impl in ("grouped mm, inductor",) or gmm_tr.moe_impl.startswith("grouped mm, eager (")
    assert gmm_tr.attn_impl.startswith("fp32 scores, ") and new_tr.attn_impl == "flash fp32"
    gmm = _lm_curve(gmm_tr)
    assert len(old) == len(new) == len(bf) == len(gmm) == 8
    assert old[-1] < old[0]                                               # it learns
    for a, b, c, g in zip(old, new, bf, gmm):
        assert b == pytest.approx(a, rel=1e-3)
        assert c == pytest.approx(a, rel=0.03)
        assert g == pytest.approx(a, rel=0.03)


@pytest.mark.parametrize("compile_mode", ["off", "auto"])
def test_grouped_mm_experts_equal_the_autocast_layer(compile_mode):
    """The trainer's expert layer (`model.train_fast`: jagged grouped matmuls, eager or compiled)
    computes what `MoE` computes under bf16 autocast: outputs, balance loss, routing and the
    gradients of the experts, the router and the input (bf16 rounding apart); without gradients
    the swapped layer is `MoE.forward` itself."""
    from model.experts import MoE
    from model.train_fast import TrainMoE, use_train_moe
    torch.manual_seed(0)
    cfg = R1Config.preset("r1-tiny", **TINY)
    ref = R1Model(cfg).blocks[0].moe
    fast = R1Model(cfg).blocks[0].moe
    fast.load_state_dict(ref.state_dict())
    how = use_train_moe(torch.nn.Sequential(fast), compile_mode, torch.device("cpu"))
    assert isinstance(fast, TrainMoE) and (how == "inductor" or how.startswith("eager ("))
    x = torch.randn(3, 20, cfg.d_model)
    outs = []
    for m in (ref, fast):
        xi = x.clone().requires_grad_()
        with torch.autocast("cpu", dtype=torch.bfloat16):
            y, bal, (w, idx) = m(xi)
        (y.float().square().mean() + bal).backward()
        outs.append((y.detach().float(), bal.detach(), w.detach().float(), idx, xi.grad, m.gate.weight.grad, m.experts[1].w3.weight.grad))
    (y0, b0, w0, i0, *g0), (y1, b1, w1, i1, *g1) = outs
    assert torch.equal(i0, i1)
    assert torch.allclose(w0, w1, atol=1e-2) and torch.allclose(b0, b1, rtol=1e-3)
    assert torch.allclose(y0, y1, atol=2e-2 * float(y0.abs().max()))
    for a, b in zip(g0, g1):
        assert torch.allclose(a, b, atol=3e-2 * float(a.abs().max()))
    with torch.no_grad():
        assert torch.equal(fast(x)[0], MoE.forward(fast, x)[0])


@pytest.mark.parametrize("compile_mode", ["off", "auto"])
def test_training_attention_core_equals_the_flash_path(compile_mode):
    """The trainer's attention core (`model.train_fast.attend_chunk`: fp32 scores shared by the
    masked softmax and the gate loss, eager or compiled) computes what `SparseAttention._blocks`
    (the flash kernel) computes: the same losses and gradients in an fp32 step; in a bf16 step
    the losses to rounding and gradients as close to the fp32 step's as the flash path's are.
    A forward without gradients (evaluation) is the unchanged path."""
    from model.train_fast import TrainAttention, use_train_attention
    torch.manual_seed(0)
    cfg = R1Config.preset("r1-tiny", **TINY)
    ref, fast = R1Model(cfg).train(), R1Model(cfg).train()
    with torch.no_grad():                      # peaked attention and indexer scores, as after training
        for name, p in ref.named_parameters():
            if name.endswith(("attn.wq.weight", "attn.wk.weight", "indexer.proj.weight")):
                p.mul_(5.0)
    fast.load_state_dict(ref.state_dict())
    how = use_train_attention(fast, compile_mode, torch.device("cpu"))
    assert isinstance(fast.blocks[0].attn, TrainAttention) and how.startswith("fp32 scores, ")
    x = torch.randint(0, cfg.vocab_size, (3, 48))

    def step(m, bf16):
        m.zero_grad()
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
            loss = m.loss(x[:, :-1], x[:, 1:])
        loss.total.backward()
        return float(loss.lm), float(loss.gate), [m.get_parameter(n).grad.clone() for n in (
            "blocks.1.attn.wq.weight", "blocks.0.attn.wv.weight", "blocks.0.attn.indexer.proj.weight")]

    truth, flash_bf, fast32, fast_bf = step(ref, False), step(ref, True), step(fast, False), step(fast, True)
    assert truth[1] > 0.01 and float(truth[2][2].abs().max()) > 0     # the indexer learns from the gate loss
    assert fast32[:2] == pytest.approx(truth[:2], rel=1e-5)
    assert fast_bf[:2] == pytest.approx(truth[:2], rel=2e-3)
    for t, a, b, c in zip(truth[2], flash_bf[2], fast32[2], fast_bf[2]):
        assert torch.allclose(b, t, rtol=1e-4, atol=1e-4 * float(t.abs().max()))
        assert float((c - t).norm()) <= max(1.5 * float((a - t).norm()), 0.02 * float(t.norm()))
    with torch.no_grad():
        assert torch.equal(fast(x).logits, ref(x).logits)


def test_compiled_loss_head_equals_eager_or_falls_back_logged():
    from model.network import lm_loss
    m = R1Model(R1Config.preset("r1-tiny", **TINY))
    how = T.compile_loss_head(m, "auto", torch.device("cpu"))
    assert how == "inductor" or how.startswith("eager (")
    assert T.compile_loss_head(m, "off", torch.device("cpu")) == "eager (--compile off)" and m.lm_loss_fn is None


def test_auto_amp_picks_the_faster_cpu_matmul(monkeypatch):
    cfg = T.TrainConfig(amp="auto")
    monkeypatch.setattr(T, "_BF16_PAYS", False)
    assert T.amp_dtype(cfg, torch.device("cpu")) == "fp32"
    monkeypatch.setattr(T, "_BF16_PAYS", True)
    assert T.amp_dtype(cfg, torch.device("cpu")) == "bf16"
    assert T.amp_dtype(T.TrainConfig(amp="fp32"), torch.device("cpu")) == "fp32"


def test_torchrun_two_processes_gloo(tiny_corpus, tiny_config_file, tmp_path):
    """The CLI under `torchrun --nproc-per-node 2` (gloo on CPU): both ranks train, rank 0 writes
    the final checkpoint having seen both ranks' tokens."""
    import subprocess
    import sys
    out = tmp_path / "tr"
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc-per-node", "2", "--master-port",
           str(_free_port()), "-m", "model.train", "--corpus", str(tiny_corpus), "--out", str(out),
           "--model-config", str(tiny_config_file), "--seq-len", "32", "--batch-size", "4", "--max-steps", "2",
           "--warmup", "1", "--eval-every", "0", "--save-every", "0", "--log-every", "1", "--threads", "1",
           "--compile", "off"]
    r = subprocess.run(cmd, cwd=Path(__file__).resolve().parents[1], env=env, capture_output=True, text=True,
                       timeout=600)
    assert r.returncode == 0, r.stderr[-2000:]
    assert "world 2" in r.stderr and "step 2/2" in r.stderr
    from model.checkpoint import load_checkpoint
    ck = load_checkpoint(out / "final")
    assert ck.meta["world_size"] == 2 and ck.meta["tokens_seen"] == 2 * 4 * 32


def test_runs_add_up_from_shipped_weights_and_ship_only_when_better(tiny_corpus, tiny_config_file, tmp_path):
    """make train: a first bounded run starts from the shipped weights (tokens seen carried over),
    a second resumes from the run folder (steps and tokens add up, the loss goes on from where it
    was), and the best checkpoint by held-out loss is shipped (bf16, card, loss curve) only when it
    beats the one in the ship folder."""
    from model.checkpoint import load_checkpoint, save_checkpoint
    ship = tmp_path / "shipped"
    base = T.Trainer(_cfg(tiny_corpus, tiny_config_file, tmp_path / "base", max_steps=1, eval_every=0), log=_quiet)
    save_checkpoint(ship, base.model, base.model.cfg, base.tokenizer, {"tokens_seen": 1000})
    run = tmp_path / "run"
    kw = dict(model_config=None, init_from=str(ship), max_steps=6, lr=1e-2, eval_every=3, save_every=3,
              ship=str(ship), ship_eval_tokens=128, ship_ident_sites=4)
    first = T.Trainer(_cfg(tiny_corpus, tiny_config_file, run, **{**kw, "max_steps": 3}), log=_quiet)
    assert first.tokens_base == 1000
    r1 = first.train()
    assert first.history[0]["step"] == 0 and "val" in first.history[0]     # the starting weights' point
    first.save_final(run / "final")
    d1 = ship_if_better(first, ship)
    assert d1["shipped"] and d1["best_loss"] < d1["shipped_loss"]
    card = json.loads((ship / "card.json").read_text())
    assert card["tokens_seen"] == 1000 + 3 * 4 * 32
    for key in ("heldout_bpb_python", "heldout_bpb_java", "next_token_top1", "next_token_top5", "next_identifier_exact"):
        assert key in card
    assert load_checkpoint(ship).model.embed.weight.dtype == torch.bfloat16
    # evaluate --update-card: new figures, the training metadata kept, the old figures under heldout_previous
    from model.evaluate import evaluate, remeasured_card
    rep = evaluate(load_checkpoint(ship).model.float(), first.ds, 32, 64, 2, None, log=_quiet)
    again = remeasured_card(card, rep, first.ds)
    assert again["tokens_seen"] == card["tokens_seen"] and again["steps"] == card["steps"]
    assert again["heldout_previous"]["heldout_bpb_java"] == card["heldout_bpb_java"]
    second = T.Trainer(_cfg(tiny_corpus, tiny_config_file, run, **kw), log=_quiet)
    assert second.step == 3 and second.tokens_base == 1000
    r2 = second.train()
    assert r2["step"] == 6 and r2["tokens_seen"] == 6 * 4 * 32
    lm = [h["lm"] for h in second.history if "lm" in h]
    assert len(lm) == 6 and lm[3] < lm[0]                                # continues, not from scratch
    # nothing better than what is shipped -> nothing shipped
    save_checkpoint(run / "best", load_checkpoint(ship).model.float(), second.model.cfg, second.tokenizer,
                    {"tokens_seen": 1})
    d2 = ship_if_better(second, ship)
    assert not d2["shipped"] and json.loads((ship / "card.json").read_text())["tokens_seen"] == card["tokens_seen"]


def test_gpu_script_runs_on_cpu_with_a_tiny_config(tiny_corpus, tiny_config_file, tmp_path):
    """make train-gpu's script: on a machine without CUDA the same loop runs (compile, TF32 and bf16
    skipped), bounded by its minutes, and writes the checkpoint, the curve and gpu_run.json."""
    from model import train_gpu as G
    a = G.build_parser().parse_args([
        "--corpus", str(tiny_corpus), "--out", str(tmp_path / "gpu"), "--init-from", "",
        "--model-config", str(tiny_config_file), "--max-minutes", "0.3", "--reserve-minutes", "0.28",
        "--seq-len", "32", "--batch-size", "4", "--max-steps", "3", "--warmup", "1", "--eval-every", "2",
        "--eval-tokens", "128", "--log-every", "1"])
    a.init_from = None
    rep = G.run(a, log=_quiet)
    assert rep["steps"] >= 1 and rep["tokens_seen_run_folder"] == rep["steps"] * 4 * 32
    if not torch.cuda.is_available():
        assert rep["amp"] == "fp32" and not rep["compiled_model"] and rep["device"].startswith("cpu")
    assert (tmp_path / "gpu" / "final" / "model.safetensors").exists() and (tmp_path / "gpu" / "loss.png").exists()
    assert json.loads((tmp_path / "gpu" / "gpu_run.json").read_text())["steps"] == rep["steps"]
    assert G.gpu_config(G.build_parser().parse_args(["--max-minutes", "30"]), True).max_minutes <= G.MAX_MINUTES


@pytest.mark.cuda
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_gpu_script_compiles_and_trains_in_bf16_on_cuda(tiny_corpus, tiny_config_file, tmp_path):
    from model import train_gpu as G
    a = G.build_parser().parse_args([
        "--corpus", str(tiny_corpus), "--out", str(tmp_path / "gpu"), "--model-config", str(tiny_config_file),
        "--max-minutes", "3", "--reserve-minutes", "1", "--seq-len", "32", "--batch-size", "8", "--max-steps", "20",
        "--warmup", "2", "--eval-every", "10", "--eval-tokens", "128"])
    a.init_from = None
    rep = G.run(a, log=_quiet)
    assert rep["amp"] == "bf16" and rep["compiled_model"] and rep["steps"] == 20
