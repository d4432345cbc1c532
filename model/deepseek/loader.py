"""A public DeepSeek-V2/V3 checkpoint folder loaded into DeepseekForCausalLM, 8-bit as it streams.

    folder/config.json                    DeepseekConfig (model_type deepseek_v2 | deepseek_v3)
    folder/model.safetensors.index.json   {"weight_map": {tensor: shard}}  (or one model.safetensors)
    folder/model-0000k-of-0000n.safetensors
    folder/tokenizer.json, tokenizer_config.json, generation_config.json   (optional)

Everything that can be checked is checked before any large allocation (`inspect_checkpoint`):
the config; every shard's header against its file size (a truncated download fails here);
every tensor the network needs is present, nothing unknown is (the multi-token-prediction
layers `model.layers.{n >= num_hidden_layers}.*` are skipped, FP8 `*.weight_scale_inv` belong
to their weight); shapes equal the network's; dtypes F32 / F16 / BF16, or F8_E4M3 with its
block scales; and the loaded size against the memory this device has free.

Then `load_deepseek` builds the network on the meta device and streams the shards one by one,
tensor by tensor: FP8 block weights are dequantized (w * scale_inv per weight_block_size block,
ragged edges cropped), each Linear to quantize becomes an Int8Linear (CPU, W8A8) or a
bitsandbytes Linear8bitLt (CUDA) straight from its tensor, everything else is cast to the
compute dtype (fp32 on CPU, fp16 on CUDA) and assigned. Never quantized: `kv_b_proj` (the
absorbed MLA decode reads its float weight) and the router `mlp.gate` (kept fp32: it makes
discrete choices). Peak memory stays near the loaded size: no float copy of the whole model
exists at any time, only of the tensor being converted. A fault raises DeepseekLoadError
naming the file and tensor; no half-loaded model escapes.
"""
from __future__ import annotations

import json
import math
import re
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch
import torch.nn as nn

from model.checkpoint import CheckpointError, read_safetensors_header
from model.jsonfile import read_json_object
from model.deepseek.config import DeepseekConfig, DeepseekConfigError, tensor_shapes

INDEX, SINGLE, CONFIG = "model.safetensors.index.json", "model.safetensors", "config.json"
FLOAT_DTYPES = {"F32": torch.float32, "F16": torch.float16, "BF16": torch.bfloat16}
FP8_DTYPE = "F8_E4M3"
FP32_KEPT = (".mlp.gate.",)               # the router: scored in fp32, kept in fp32
GiB = 2 ** 30


class DeepseekLoadError(RuntimeError):
    pass


# --------------------------------------------------------------------------------------------
# what the network holds, from the config alone (no model built)

def int8_bytes(shape) -> int:
    """An int8 Linear weight with one fp32 scale per output row."""
    n_out, n_in = shape
    return n_out * n_in + 4 * n_out


def estimate(folder_or_config, quantization: str = "int8", device: str = "cpu",
             context_limit: int | None = None) -> dict:
    """Sizes of a DeepSeek checkpoint as r1lsp would load it (no weight is read).

    weight_bytes         as loaded with `quantization` on `device` (int8 Linears incl. scales;
                         the rest in the compute dtype: fp32 on CPU, fp16 on CUDA; router fp32)
    weight_bytes_int8    the same with int8 (whatever `quantization` says)
    weight_bytes_bf16    every parameter in 2 bytes (the released checkpoints' size, FP8 aside)
    kv_cache_bytes_per_token  the MLA latent cache in the compute dtype (and _bf16)
    expert_params / expert_bytes_int8  one routed expert"""
    cfg = folder_or_config if isinstance(folder_or_config, DeepseekConfig) else \
        _read_config(Path(folder_or_config), context_limit or 4096)
    if context_limit is not None:
        cfg.context_limit = context_limit
    compute = 4 if torch.device(device).type == "cpu" else 2
    shapes, quantized = tensor_shapes(cfg)
    n_params = sum(math.prod(s) for s in shapes.values())
    int8 = loaded_bytes(cfg, "int8", compute)
    floating = loaded_bytes(cfg, "none", compute)
    counts = cfg.param_counts()
    expert = 3 * cfg.hidden_size * cfg.moe_intermediate_size
    kv = cfg.kv_cache_bytes_per_token(compute)
    return {
        "model_type": cfg.model_type,
        "device": str(device),
        "quantization": quantization,
        "params_total": n_params,
        "params_active": counts["active"],
        "params_routed_experts": counts["routed_experts"],
        "weight_bytes": int8 if quantization == "int8" else floating,
        "weight_bytes_int8": int8,
        "weight_bytes_float": floating,
        "weight_bytes_bf16": n_params * 2,
        "kv_cache_bytes_per_token": kv,
        "kv_cache_bytes_per_token_bf16": cfg.kv_cache_bytes_per_token(2),
        "kv_cache_bytes_context": kv * cfg.context_limit,
        "context_limit": cfg.context_limit,
        "expert_params": expert,
        "expert_bytes_int8": 2 * int8_bytes((cfg.moe_intermediate_size, cfg.hidden_size))
        + int8_bytes((cfg.hidden_size, cfg.moe_intermediate_size)),
        "n_routed_experts": cfg.n_routed_experts,
        "num_experts_per_tok": cfg.num_experts_per_tok,
        "num_hidden_layers": cfg.num_hidden_layers,
    }


# --------------------------------------------------------------------------------------------
# checks before any allocation

@dataclass
class CheckpointPlan:
    folder: Path
    config: DeepseekConfig
    shards: list[Path]
    tensors: dict[str, tuple[Path, dict]]        # needed tensor -> (shard, header entry)
    scales: dict[str, tuple[Path, dict]]         # FP8 weight name -> its weight_scale_inv
    quantized: set[str]                          # Linear weights the int8 path converts
    skipped: list[str] = field(default_factory=list)   # multi-token-prediction layers
    file_bytes: int = 0


def _read_config(folder: Path, context_limit: int) -> DeepseekConfig:
    try:
        return DeepseekConfig.from_folder(folder, context_limit=context_limit)
    except DeepseekConfigError as e:
        raise DeepseekLoadError(str(e)) from e


def _shard_files(folder: Path) -> tuple[list[Path], dict[str, str] | None]:
    index = folder / INDEX
    if index.exists():
        try:
            raw = json.loads(index.read_text())
            weight_map = raw["weight_map"]
            if not isinstance(weight_map, dict):
                raise TypeError("weight_map is not an object")
        except (UnicodeDecodeError, ValueError, KeyError, TypeError) as e:
            raise DeepseekLoadError(f"{index}: bad index ({e!r})") from e
        names = sorted(set(weight_map.values()))
        for n in names:
            if "/" in n or "\\" in n or n.startswith("."):
                raise DeepseekLoadError(f"{index}: shard name {n!r} points outside the folder")
        return [folder / n for n in names], weight_map
    if (folder / SINGLE).exists():
        return [folder / SINGLE], None
    raise DeepseekLoadError(f"{folder}: no {INDEX} and no {SINGLE}")


_LAYER = re.compile(r"^model\.layers\.(\d+)\.")


def _fmt_names(names, limit=6) -> str:
    names = sorted(names)
    more = f" ... ({len(names)} in all)" if len(names) > limit else ""
    return ", ".join(names[:limit]) + more


def inspect_checkpoint(folder, *, context_limit: int = 4096) -> CheckpointPlan:
    """Every check that needs no weight: config, shard headers, names, shapes, dtypes."""
    folder = Path(folder)
    cfg = _read_config(folder, context_limit)
    shards, weight_map = _shard_files(folder)
    found: dict[str, tuple[Path, dict]] = {}
    file_bytes = 0
    for shard in shards:
        try:
            header = read_safetensors_header(shard)
        except CheckpointError as e:
            raise DeepseekLoadError(str(e)) from e
        file_bytes += shard.stat().st_size
        for name, info in header.items():
            if name == "__metadata__":
                continue
            if name in found:
                raise DeepseekLoadError(f"{shard}: tensor {name!r} also in {found[name][0].name}")
            found[name] = (shard, info)
    if weight_map is not None:
        for name, shard_name in weight_map.items():
            if name in found and found[name][0].name != shard_name:
                raise DeepseekLoadError(f"{folder / INDEX}: says {name!r} is in {shard_name}, "
                                        f"but it is in {found[name][0].name}")
        absent = [n for n in weight_map if n not in found]
        if absent:
            raise DeepseekLoadError(f"{folder / INDEX}: lists tensors no shard holds: {_fmt_names(absent)}")

    shapes, quantized = tensor_shapes(cfg)
    tensors, scales, skipped, unknown = {}, {}, [], []
    for name, entry in found.items():
        m = _LAYER.match(name)
        if name in shapes:
            tensors[name] = entry
        elif m and int(m.group(1)) >= cfg.num_hidden_layers:
            skipped.append(name)                                    # multi-token prediction
        elif name.endswith(".weight_scale_inv") and name[:-len("_scale_inv")] in shapes:
            scales[name[:-len("_scale_inv")]] = entry
        elif cfg.tie_word_embeddings and name == "lm_head.weight":
            skipped.append(name)                                    # tied: the embedding serves
        else:
            unknown.append(name)
    missing = [n for n in shapes if n not in tensors]
    if missing:
        raise DeepseekLoadError(f"{folder}: missing tensors {_fmt_names(missing)}")
    if unknown:
        raise DeepseekLoadError(f"{folder}: unknown tensors {_fmt_names(unknown)} "
                                f"(not in a {cfg.model_type} model with this config.json)")
    for name, (shard, info) in tensors.items():
        got, want = list(info.get("shape", [])), list(shapes[name])
        if got != want:
            raise DeepseekLoadError(f"{shard}: tensor {name!r} has shape {got}, the config needs {want}")
        dtype = info.get("dtype")
        if dtype == FP8_DTYPE:
            _check_fp8(cfg, name, shard, want, scales.get(name))
        elif dtype not in FLOAT_DTYPES:
            raise DeepseekLoadError(f"{shard}: tensor {name!r} has dtype {dtype}, supported: "
                                    f"{', '.join(FLOAT_DTYPES)}, and {FP8_DTYPE} with a weight_scale_inv")
    for name, (shard, info) in scales.items():
        if tensors[name][1].get("dtype") != FP8_DTYPE:
            raise DeepseekLoadError(f"{shard}: {name}_scale_inv belongs to a {tensors[name][1].get('dtype')} "
                                    f"tensor (only {FP8_DTYPE} weights have block scales)")
    return CheckpointPlan(folder, cfg, shards, tensors, scales, quantized, sorted(skipped), file_bytes)


def _check_fp8(cfg, name, shard, shape, scale_entry):
    if scale_entry is None:
        raise DeepseekLoadError(f"{shard}: tensor {name!r} is {FP8_DTYPE} without {name}_scale_inv")
    if len(shape) != 2:
        raise DeepseekLoadError(f"{shard}: tensor {name!r} is {FP8_DTYPE} but not a matrix")
    bo, bi = cfg.fp8_block or (128, 128)
    want = [math.ceil(shape[0] / bo), math.ceil(shape[1] / bi)]
    s_shard, s_info = scale_entry
    if list(s_info.get("shape", [])) != want:
        raise DeepseekLoadError(f"{s_shard}: tensor {name + '_scale_inv'!r} has shape {s_info.get('shape')}, "
                                f"blocks {bo}x{bi} of {list(shape)} need {want}")
    if s_info.get("dtype") not in FLOAT_DTYPES:
        raise DeepseekLoadError(f"{s_shard}: tensor {name + '_scale_inv'!r} has dtype {s_info.get('dtype')}")


# --------------------------------------------------------------------------------------------
# memory

def available_bytes(device) -> int | None:
    """Free memory where the weights go: MemAvailable (host) or the GPU's free bytes."""
    device = torch.device(device)
    if device.type == "cuda":
        free, _ = torch.cuda.mem_get_info(device)
        return int(free)
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return None


def _proc_status(key: str) -> int | None:
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(key + ":"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError):
        pass
    return None


def _reset_peak_rss() -> bool:
    """Linux: writing 5 to clear_refs resets VmHWM to the current RSS."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
        return True
    except OSError:
        return False


# --------------------------------------------------------------------------------------------
# loading

@dataclass
class LoadReport:
    device: str
    quantization: str                  # "int8" | "none"
    mode: str                          # "w8a8" | "w8" | "bnb" | "none"
    dtype: str                         # compute dtype of the float parameters
    n_quantized: int = 0               # Linears converted to 8-bit
    weight_bytes: int = 0              # every parameter and buffer as loaded
    weight_bytes_int8: int = 0         # the converted Linears: int8 + scales
    weight_bytes_int8_as_fp32: int = 0  # ... the same Linears in fp32
    tensors_read: int = 0
    tensors_skipped: int = 0           # multi-token-prediction layers (and a tied lm_head)
    fp8_dequantized: int = 0
    shards: int = 0
    file_bytes: int = 0
    seconds: float = 0.0
    peak_rss_growth_bytes: int | None = None   # VmHWM during the load minus RSS before (Linux)
    peak_cuda_bytes: int | None = None

    def as_dict(self) -> dict:
        return asdict(self)


@dataclass
class LoadedDeepseek:
    model: nn.Module                   # DeepseekForCausalLM, eval mode
    config: DeepseekConfig
    tokenizer: object | None           # tokenizers.Tokenizer from tokenizer.json
    tokenizer_config: dict
    generation_config: dict
    report: LoadReport


def dequantize_fp8(weight: torch.Tensor, scale_inv: torch.Tensor, block: tuple[int, int]) -> torch.Tensor:
    """FP8 block weight (N, K) x scale_inv (ceil(N/bo), ceil(K/bi)) -> fp32 (N, K)."""
    n, k = weight.shape
    bo, bi = block
    s = scale_inv.float().repeat_interleave(bo, 0)[:n].repeat_interleave(bi, 1)[:, :k]
    return weight.float() * s


def _compute_dtype(device: torch.device, dtype, quantization: str) -> torch.dtype:
    if dtype is not None:
        return dtype
    return torch.float16 if device.type == "cuda" else torch.float32


def _int8_mode(device: torch.device) -> str:
    from model.quantize import int_mm_works

    if device.type == "cuda":
        try:
            import bitsandbytes  # noqa: F401
            return "bnb"
        except Exception:
            pass
    return "w8a8" if int_mm_works(device) else "w8"


def _read_json_optional(path: Path) -> dict:
    return read_json_object(path, DeepseekLoadError, missing_ok=True)


def _read_tokenizer(path: Path):
    if not path.exists():
        return None
    from tokenizers import Tokenizer

    try:
        return Tokenizer.from_file(str(path))
    except Exception as e:                                      # tokenizers raises its own types
        raise DeepseekLoadError(f"{path}: cannot load tokenizer ({e})") from e


def load_deepseek(folder, *, device="cpu", quantization: str = "int8", dtype: torch.dtype | None = None,
                  context_limit: int = 4096, memory_limit_bytes: int | None = None,
                  backend: str = "pread") -> LoadedDeepseek:
    """Load a DeepSeek-V2/V3 checkpoint folder; int8 ("int8") or in the compute dtype ("none").

    `backend`: how safetensors' safe_open serves bytes. "pread" (default) reads each tensor into
    its own buffer; "mmap" maps the shard, and the pages a shard's tensors touch count in the
    resident size until the shard closes (bench/deepseek_bench.py: peak growth 1.45x vs 1.78x the
    loaded int8 model with 40 MB shards)."""
    if quantization not in ("int8", "none"):
        raise ValueError(f"quantization must be 'int8' or 'none', not {quantization!r}")
    t0 = time.perf_counter()
    folder = Path(folder)
    device = torch.device(device)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise DeepseekLoadError(f"{folder}: device {device} asked for, but CUDA is not available")
    plan = inspect_checkpoint(folder, context_limit=context_limit)
    cfg = plan.config
    compute = _compute_dtype(device, dtype, quantization)
    mode = _int8_mode(device) if quantization == "int8" else "none"

    # memory: weights as loaded + the KV cache of one context + the largest tensor in transit
    elem = torch.finfo(compute).bits // 8
    weights = loaded_bytes(cfg, quantization, elem)
    cache = cfg.kv_cache_bytes_per_token(elem) * cfg.context_limit
    transit = 2 * 4 * max(math.prod(info["shape"]) for _, info in plan.tensors.values())
    need = weights + cache + transit
    have = memory_limit_bytes if memory_limit_bytes is not None else available_bytes(device)
    if have is not None and need > have:
        where = "GPU" if device.type == "cuda" else "host RAM"
        raise DeepseekLoadError(
            f"{folder}: model needs {need / GiB:.2f} GiB in {'int8' if quantization == 'int8' else str(compute)} "
            f"(weights {weights / GiB:.2f} GiB + KV cache {cache / GiB:.2f} GiB for {cfg.context_limit} tokens), "
            f"device has {have / GiB:.2f} GiB ({where} available)")

    tokenizer = _read_tokenizer(folder / "tokenizer.json")
    tokenizer_config = _read_json_optional(folder / "tokenizer_config.json")
    generation_config = _read_json_optional(folder / "generation_config.json")

    report = LoadReport(device=str(device), quantization=quantization, mode=mode, dtype=str(compute),
                        shards=len(plan.shards), file_bytes=plan.file_bytes,
                        tensors_skipped=len(plan.skipped))
    rss0 = _proc_status("VmRSS") if _reset_peak_rss() else None
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
        cuda0 = torch.cuda.memory_allocated(device)
    try:
        model = _stream(plan, device, compute, mode, report, backend)
    except DeepseekLoadError:
        raise
    except (RuntimeError, OSError, ValueError, TypeError) as e:             # safetensors, torch, bnb
        raise DeepseekLoadError(f"{folder}: loading failed ({e})") from e
    if rss0 is not None:
        hwm = _proc_status("VmHWM")
        report.peak_rss_growth_bytes = None if hwm is None else max(0, hwm - rss0)
    if device.type == "cuda":
        report.peak_cuda_bytes = int(torch.cuda.max_memory_allocated(device) - cuda0)
    report.seconds = round(time.perf_counter() - t0, 3)
    return LoadedDeepseek(model, cfg, tokenizer, tokenizer_config, generation_config, report)


def loaded_bytes(cfg: DeepseekConfig, quantization: str, elem: int) -> int:
    """Bytes of every tensor as loaded: int8 Linears + scales (if "int8"), the router in fp32,
    the rest `elem` bytes a value (the compute dtype)."""
    shapes, quantized = tensor_shapes(cfg)
    total = 0
    for name, shape in shapes.items():
        if quantization == "int8" and name in quantized:
            total += int8_bytes(shape)
        else:
            total += math.prod(shape) * (4 if any(k in name for k in FP32_KEPT) else elem)
    return total


def _release_freed_memory() -> None:
    """glibc keeps freed heap pages (the float tensors in transit) mapped; hand them back so the
    resident size tracks the loaded model. No-op elsewhere."""
    global _MALLOC_TRIM
    if _MALLOC_TRIM is None:
        try:
            import ctypes

            _MALLOC_TRIM = ctypes.CDLL("libc.so.6").malloc_trim
        except (OSError, AttributeError):
            _MALLOC_TRIM = False
    if _MALLOC_TRIM:
        _MALLOC_TRIM(0)


_MALLOC_TRIM = None


@torch.no_grad()
def _stream(plan: CheckpointPlan, device: torch.device, compute: torch.dtype, mode: str,
            report: LoadReport, backend: str) -> nn.Module:
    from safetensors import safe_open

    from model.deepseek.network import DeepseekForCausalLM, rope_inv_freq
    from model.quantize import Int8Linear, bnb_linear_from_weight

    cfg = plan.config
    with torch.device("meta"):
        model = DeepseekForCausalLM(cfg)
    by_shard: dict[Path, list[str]] = {s: [] for s in plan.shards}
    for name, (shard, info) in plan.tensors.items():
        by_shard[shard].append(name)
    pending_bias: dict[str, torch.Tensor] = {}
    block = cfg.fp8_block or (128, 128)
    scale_handles: dict[Path, object] = {}

    def open_shard(path):
        return safe_open(str(path), framework="pt", device="cpu", backend=backend)

    def read(handle, shard, name):
        try:
            return handle.get_tensor(name)
        except Exception as e:                                              # safetensors' own errors
            raise DeepseekLoadError(f"{shard}: cannot read tensor {name!r} ({e})") from e

    def read_scale(name):
        s_shard, _ = plan.scales[name]
        if s_shard not in scale_handles:
            scale_handles[s_shard] = open_shard(s_shard)
        return read(scale_handles[s_shard], s_shard, name + "_scale_inv")

    def place(module_name, attr, tensor, is_param=True):
        module = model.get_submodule(module_name) if module_name else model
        if is_param:
            module._parameters[attr] = nn.Parameter(tensor, requires_grad=False)
        else:
            module._buffers[attr] = tensor

    def swap_linear(module_name, weight):
        parent, _, attr = module_name.rpartition(".")
        old = model.get_submodule(module_name)
        bias = pending_bias.pop(module_name, None)
        if mode == "bnb":
            new = bnb_linear_from_weight(weight, bias, device)
        else:
            new = Int8Linear.from_weight(weight.to(device), None if bias is None else bias.to(device),
                                         act_int8=mode == "w8a8")
        if old.bias is not None and bias is None:
            new.bias = old.bias                                            # still meta: filled later
        setattr(model.get_submodule(parent) if parent else model, attr, new)
        report.n_quantized += 1
        report.weight_bytes_int8 += int8_bytes(weight.shape)
        report.weight_bytes_int8_as_fp32 += weight.numel() * 4

    buffers = {n for n, _ in model.named_buffers()}
    for shard in plan.shards:
        names = sorted(by_shard[shard], key=lambda n: plan.tensors[n][1]["data_offsets"][0])
        if not names:
            continue
        try:
            handle_cm = open_shard(shard)
        except Exception as e:
            raise DeepseekLoadError(f"{shard}: cannot open ({e})") from e
        with handle_cm as handle:
            for name in names:
                t = read(handle, shard, name)
                report.tensors_read += 1
                if name in plan.scales:
                    t = dequantize_fp8(t, read_scale(name), block)
                    report.fp8_dequantized += 1
                module_name, _, attr = name.rpartition(".")
                if mode != "none" and name in plan.quantized:
                    swap_linear(module_name, t)
                elif attr == "bias" and mode != "none" and module_name + ".weight" in plan.quantized:
                    module = model.get_submodule(module_name)
                    if isinstance(module, nn.Linear):                     # its weight comes later
                        pending_bias[module_name] = t
                    elif mode == "bnb":
                        module.bias = nn.Parameter(t.to(device=device, dtype=torch.float16), requires_grad=False)
                    else:
                        module.bias = nn.Parameter(t.float().to(device), requires_grad=False)
                else:
                    keep32 = any(k in name for k in FP32_KEPT)
                    value = t.to(device=device, dtype=torch.float32 if keep32 else compute)
                    if value.data_ptr() == t.data_ptr():
                        value = value.clone()          # own memory: a view would pin the whole mmap'd shard
                    place(module_name, attr, value, is_param=name not in buffers)
                del t
        _release_freed_memory()
    scale_handles.clear()
    if pending_bias:
        raise DeepseekLoadError(f"{plan.folder}: biases without their weight: {_fmt_names(pending_bias)}")
    if cfg.tie_word_embeddings:
        model.lm_head.weight = model.model.embed_tokens.weight
    inv_freq, _ = rope_inv_freq(cfg)
    model.inv_freq = inv_freq.to(device)
    still_meta = [n for n, p in list(model.named_parameters()) + list(model.named_buffers()) if p.is_meta]
    if still_meta:
        raise DeepseekLoadError(f"{plan.folder}: parameters left unloaded: {_fmt_names(still_meta)}")
    model.eval()
    for n, p in model.named_parameters():
        p.requires_grad_(False)
    weight_bytes = sum(t.numel() * t.element_size() for t in
                       {id(t): t for t in list(model.parameters()) + list(model.buffers())}.values())
    report.weight_bytes = weight_bytes
    return model
