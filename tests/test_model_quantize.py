"""8-bit quantization: error bound, cached decode consistency, bytes; CUDA path when present."""
import subprocess
import sys

import pytest
import torch
import torch.nn as nn

from model import R1Config, R1Model, quantize_model
from model.quantize import Int8Linear

# the bounds this module promises, max |logits_int8 - logits_fp32| / max |logits_fp32|:
MAX_REL_ERROR = 0.05          # the small test config (measured 1.4% w8a8, 0.9% w8)
MAX_REL_ERROR_TINY = 0.08     # r1-tiny shapes, random init (measured 5.7%; rel L2 2.6%, top-1 98%)


pytestmark = pytest.mark.usefixtures("one_thread")


def small_model(seed=0):
    cfg = R1Config(vocab_size=64, max_seq_len=128, d_model=64, n_layers=2, n_heads=4, index_heads=2,
                   index_dim=8, attn_topk=12, local_window=4, key_block=8, n_experts=8, n_active=2,
                   expert_hidden=32, level_dims=(64, 48, 32, 16), hier_layers=(1,))
    torch.manual_seed(seed)
    m = R1Model(cfg).eval()
    with torch.no_grad():
        for h in m.hier.values():
            nn.init.normal_(h.up.weight, std=0.02)
    return m


def test_int8_linear_error_per_token():
    lin = nn.Linear(256, 128, bias=True)
    x = torch.randn(5, 7, 256)
    for act_int8 in (True, False):
        q = Int8Linear(lin, act_int8=act_int8)
        ref, got = lin(x), q(x)
        assert got.shape == ref.shape
        assert (got - ref).abs().max() / ref.abs().max() < 0.02
    q = Int8Linear(lin)
    assert torch.equal(q(x)[2:3, 4:5], q(x[2:3, 4:5]))     # a row does not depend on its batch


@pytest.mark.parametrize("mode", ["w8a8", "w8"])
def test_quantized_model_error_bound_and_bytes(mode):
    m = small_model()
    n_linear = sum(isinstance(x, nn.Linear) for x in m.modules())
    report = quantize_model(m, "cpu", mode=mode)
    assert report.mode == mode
    assert report.max_rel_error < MAX_REL_ERROR, report
    assert report.n_converted == n_linear - len(report.skipped) and report.skipped
    assert all("indexer" in s for s in report.skipped)
    assert not any(isinstance(x, nn.Linear) for n, x in m.named_modules() if "indexer" not in n)
    assert report.weight_bytes_fp32 == 2 * report.weight_bytes_fp16
    assert 0.5 < report.weight_bytes_int8 / report.weight_bytes_fp16 < 0.6


def test_r1_tiny_shapes_error_bound():
    torch.manual_seed(0)
    m = R1Model(R1Config.preset("r1-tiny", n_layers=2, hier_layers=(1,))).eval()
    report = quantize_model(m, "cpu")
    assert report.max_rel_error < MAX_REL_ERROR_TINY, report
    assert report.rel_l2_error < 0.04 and report.top1_agreement > 0.95, report


def test_quantized_cached_decode_equals_quantized_full_forward():
    m = small_model()
    quantize_model(m, "cpu")
    x = torch.randint(0, 64, (2, 40))
    with torch.no_grad():
        full = m(x).logits
        cache = m.new_cache(2, 40)
        steps = [m(x[:, :16], cache=cache).logits]
        steps += [m(x[:, t:t + 1], cache=cache, start_pos=t).logits for t in range(16, 40)]
    assert (torch.cat(steps, 1) - full).abs().max() < 1e-4


def test_cpu_quantization_does_not_import_bitsandbytes():
    code = ("import sys, torch; from model import R1Config, R1Model, quantize_model;"
            "cfg = R1Config(vocab_size=64, d_model=64, n_heads=4, index_dim=8, expert_hidden=32, n_layers=1,"
            " level_dims=(64, 48, 32, 16), hier_layers=(0,), n_experts=4, n_active=2, attn_topk=8, local_window=4);"
            "quantize_model(R1Model(cfg), 'cpu'); print('bitsandbytes' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip().splitlines()[-1] == "False"


@pytest.mark.cuda
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_bitsandbytes_on_cuda():
    m = small_model()
    report = quantize_model(m, "cuda")
    assert report.mode == "bnb" and report.max_rel_error < MAX_REL_ERROR
    import bitsandbytes as bnb
    assert any(isinstance(x, bnb.nn.Linear8bitLt) for x in m.modules())
    x = torch.randint(0, 64, (2, 24), device="cuda")
    with torch.no_grad():
        full = m(x).logits
        cache = m.new_cache(2, 24)
        steps = [m(x[:, :8], cache=cache).logits]
        steps += [m(x[:, t:t + 1], cache=cache, start_pos=t).logits for t in range(8, 24)]
    assert ((torch.cat(steps, 1) - full).abs().max() / full.abs().max()).item() < 0.02


# -- kernels chosen by measurement -----------------------------------------------------------

from model.quantize import KERNELS, available_kernels, kernel_names, select_kernels, set_kernels  # noqa: E402


@pytest.mark.parametrize("rows", [1, 40])
def test_every_available_kernel_matches_fp32(rows):
    lin = nn.Linear(256, 96, bias=True)
    x = torch.randn(rows, 256)
    ref = lin(x)
    q = Int8Linear(lin)
    names = available_kernels()
    assert "dequant-fp32" in names and set(names) <= set(KERNELS)
    for name in names:
        q.kernels = (name, name)
        got = q(x)
        assert got.shape == ref.shape and got.dtype == ref.dtype
        assert (got - ref).abs().max() / ref.abs().max() < 0.03, name


def test_select_kernels_sets_the_fastest_per_phase():
    m = small_model()
    quantize_model(m, "cpu")
    chosen = select_kernels(m, reps=1)
    assert kernel_names(m) == {"decode": chosen["decode"], "prefill": chosen["prefill"]}
    for phase in ("decode", "prefill"):
        t = chosen["timings_us"][phase]
        assert chosen[phase] == min(t, key=t.get)
    for name, mod in m.named_modules():                 # a shape that decodes faster with w8a8 gets it
        if isinstance(mod, Int8Linear):
            want = chosen["decode_by_shape"].get(f"{mod.out_features}x{mod.in_features}", chosen["decode"])
            assert mod.kernels == (chosen["decode"] if "experts" in name.split(".") else want, chosen["prefill"])
    set_kernels(m, "dequant-fp32", "dequant-fp32")
    assert kernel_names(m) == {"decode": "dequant-fp32", "prefill": "dequant-fp32"}
    with pytest.raises(ValueError):
        set_kernels(m, "nope", "dequant-fp32")


def test_int8_heldout_loss_within_one_percent_of_fp32_with_every_kernel_choice():
    """The shipped model on the held-out fixtures: int8 (whatever kernels the machine picks, and
    each kernel forced) within 1 % of the fp32 loss."""
    import copy

    from test_shipped_checkpoint import SHIPPED, _mean_loss, _samples

    from model import load_checkpoint
    loaded = load_checkpoint(SHIPPED)
    fp32 = loaded.model.float().eval()
    samples = _samples(loaded.tokenizer)
    ref = sum(_mean_loss(fp32, samples).values()) / len(samples)
    q = copy.deepcopy(fp32)
    quantize_model(q, "cpu")
    select_kernels(q, reps=1)
    loss = sum(_mean_loss(q, samples).values()) / len(samples)
    assert abs(loss - ref) / ref < 0.01, (kernel_names(q), loss, ref)
    short = [(n, ids[:129], lev[:128]) for n, ids, lev in samples[:1]]    # each other kernel: one sample
    ref_short = _mean_loss(fp32, short)
    for name in available_kernels():
        set_kernels(q, name, name)
        got = _mean_loss(q, short)
        assert all(abs(got[k] - v) / v < 0.01 for k, v in ref_short.items()), (name, got, ref_short)


@pytest.mark.skipif("int8pack" not in available_kernels(), reason="no int8pack kernel in this torch build")
@pytest.mark.parametrize("rows", [1, 5])
@torch.no_grad()
def test_int8pack_experts_called_directly_equal_the_module_path(rows):
    """`Expert.packed`: a decode batch's experts run torch._weight_int8pack_mm directly (no module
    calls); the MoE output equals the Int8Linear modules' bit for bit."""
    from model.experts import Expert
    m = small_model(3)
    quantize_model(m, "cpu")
    set_kernels(m, "int8pack", "dequant-fp32")
    moe = m.blocks[0].moe
    x = torch.randn(rows, 1, m.cfg.d_model)
    assert moe.experts[0].packed() is not None
    Expert.native = False                                  # the int8pack calls, not the compiled experts
    try:
        direct = moe(x, want_balance=False)[0]
        Expert.direct_int8pack = False                     # the module path
        modules = moe(x, want_balance=False)[0]
    finally:
        Expert.direct_int8pack = Expert.native = True
    assert torch.equal(direct, modules)
    set_kernels(m, "dequant-fp32", "dequant-fp32")          # another kernel: the module path
    assert moe.experts[0].packed() is None


@pytest.mark.skipif("int8pack" not in available_kernels(), reason="no int8pack kernel in this torch build")
@pytest.mark.skipif(not __import__("model.native").native.status().startswith("compiled"),
                    reason="no compiled kernel here (model.native.status())")
@torch.no_grad()
def test_compiled_experts_of_a_decode_step_equal_the_dequantized_weights_and_each_row_alone():
    """`Expert.native`: the int8 experts of a decode step (up to SMALL_M rows) as one C call
    (model/experts_rows.c) compute the float32 SwiGLU over the dequantized int8 weights (the
    dequant-fp32 modules' values, closer to them than the bf16 int8pack kernel), and a row's output
    is the same bits whether it runs alone or with the others (same routing)."""
    from model import native
    from model.experts import _packs
    m = small_model(3)
    quantize_model(m, "cpu")
    set_kernels(m, "int8pack", "dequant-fp32")
    moe = m.blocks[0].moe
    x = torch.randn(6, m.cfg.d_model)
    weights, indices = moe.gate.route(x)
    packs = _packs(moe.experts, indices)
    batch = native.run_experts(x, weights, indices, packs, len(moe.experts))
    alone = torch.cat([native.run_experts(x[i:i + 1], weights[i:i + 1], indices[i:i + 1], packs, len(moe.experts))
                       for i in range(6)])
    assert torch.equal(batch, alone)
    assert torch.equal(moe(x[:, None], want_balance=False)[0][:, 0], batch)   # what decoding runs
    set_kernels(m, "dequant-fp32", "dequant-fp32")
    fp32 = moe.dispatch(x, weights, indices)
    set_kernels(m, "int8pack", "int8pack")
    from model.experts import Expert
    Expert.native = False
    try:
        int8pack = moe.dispatch(x, weights, indices)
    finally:
        Expert.native = True
    assert torch.allclose(batch, fp32, atol=1e-5, rtol=1e-4)
    assert (batch - fp32).abs().max() < (int8pack - fp32).abs().max()


@pytest.mark.skipif("int8pack" not in available_kernels(), reason="no int8pack kernel in this torch build")
@torch.no_grad()
def test_held_packs_are_asked_once_per_expert_and_give_the_same_outputs():
    """`packs_held` (model.generate's decode loop): each routed expert's `Expert.packed` is asked
    once, its first step, not at every step; the outputs are the checked path's. Outside, an edit
    of the weights is seen at the next step."""
    from model.experts import Expert, packs_held
    m = small_model(3)
    quantize_model(m, "cpu")
    set_kernels(m, "int8pack", "dequant-fp32")
    moe = m.blocks[0].moe
    xs = [torch.randn(4, 1, m.cfg.d_model, generator=torch.Generator().manual_seed(i)) for i in range(5)]
    checked = [moe(x, want_balance=False)[0] for x in xs]
    asked = []
    packed = Expert.packed
    Expert.packed = lambda self: asked.append(self) or packed(self)
    try:
        with packs_held():
            held = [moe(x, want_balance=False)[0] for x in xs]
        n_held = len(asked)
        moe(xs[0], want_balance=False)
    finally:
        Expert.packed = packed
    assert all(torch.equal(a, b) for a, b in zip(held, checked))
    assert n_held == len({id(e) for e in asked[:n_held]}) <= len(moe.experts)     # once each
    assert len(asked) > n_held                                                     # checked again after
    x = torch.randn(16, 1, m.cfg.d_model)
    assert (moe.gate.route(x[:, 0])[1] == 0).any()                                  # expert 0 is routed to
    before = moe(x, want_balance=False)[0]
    moe.experts[0].w2.weight_int8.mul_(0)                                          # an in-place edit
    assert not torch.equal(moe(x, want_balance=False)[0], before)


@torch.no_grad()
def test_w8a8_passes_equal_the_aten_ops_bit_for_bit():
    """`model.w8a8`: a W8A8 Int8Linear's per-row quantization and scaling back (one compiled pass
    each where model.native builds) give exactly the values of the ATen formulation."""
    from model import w8a8
    x = torch.randn(45, 96) * torch.rand(45, 1) * 10                 # rows of different ranges
    x[3] = 0                                                          # an all-zero row: scale 1e-12 / 127
    s = x.abs().amax(dim=1, keepdim=True).clamp_min(1e-12) / 127.0
    q_ref = (x / s).round().clamp(-127, 127).to(torch.int8)
    q, s_rows = w8a8.quant_rows(x)
    assert torch.equal(q, q_ref) and torch.equal(s_rows, s[:, 0])
    lin = Int8Linear(nn.Linear(96, 80, bias=False))
    want = torch._int_mm(q_ref, lin.weight_int8.t()).float() * s * lin.weight_scale
    lin.kernels = ("w8a8", "w8a8")
    assert torch.equal(lin(x), want)


@torch.no_grad()
@pytest.mark.parametrize("shape", [(256, 8192), (96, 128), (96, 80)])     # (in, out); 80 outputs: not 64s
def test_w8a8_of_a_few_rows_equals_the_aten_ops_bit_for_bit(shape):
    """A decode step's few rows (M <= 16) through a W8A8 Int8Linear: one compiled quantization and
    one VNNI product where they build (`w8a8.rows_mm`), else the ATen ops, give exactly
    `torch._int_mm`'s values scaled back per row and output channel, each row the same alone."""
    from model import w8a8
    n_in, n_out = shape
    lin = Int8Linear(nn.Linear(n_in, n_out, bias=False))
    lin.kernels = ("w8a8", "w8a8")
    x = torch.randn(16, n_in) * torch.rand(16, 1) * 10
    for M in (1, 3, 8, 16):
        s = x[:M].abs().amax(dim=1, keepdim=True).clamp_min(1e-12) / 127.0
        q = (x[:M] / s).round().clamp(-127, 127).to(torch.int8)
        want = torch._int_mm(q, lin.weight_int8.t()).float() * s * lin.weight_scale
        assert torch.equal(lin(x[:M]), want)
        assert torch.equal(lin(x[M - 1:M])[0], want[M - 1])
    if n_out % 64 == 0 and w8a8._fn("mm_rows_vnni") is not None and _vnni_cpu():
        assert w8a8.rows_mm(lin, x[:8]) is not None                   # the compiled product ran


def _vnni_cpu() -> bool:
    try:
        return " avx512_vnni" in open("/proc/cpuinfo").read()
    except OSError:
        return False


@torch.no_grad()
def test_int8_experts_of_a_prefill_equal_the_modules_and_each_row_alone():
    """`Expert.w8a8_rows`: the int8 experts of many rows (each token quantized once, the SwiGLU
    and the weighted sum as compiled passes) compute what the Int8Linear modules compute (up to
    the SwiGLU's float rounding), and a token's output does not depend on the other rows."""
    from model import w8a8
    from model.experts import Expert
    m = small_model(5)
    quantize_model(m, "cpu")
    set_kernels(m, "w8a8", "w8a8")           # (the modules run an expert's <= SMALL_M rows by the first)
    moe = m.blocks[0].moe
    assert w8a8.expert_weights(moe.experts) is not None
    x = torch.randn(50, m.cfg.d_model)
    weights, indices = moe.gate.route(x)
    rows = moe.dispatch(x, weights, indices)
    Expert.w8a8_rows = False
    try:
        modules = moe.dispatch(x, weights, indices)
    finally:
        Expert.w8a8_rows = True
    assert torch.allclose(rows, modules, atol=1e-5, rtol=1e-4)
    part = moe.dispatch(x[10:40], weights[10:40], indices[10:40])
    assert torch.equal(part, rows[10:40])
