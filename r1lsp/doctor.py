"""`r1lsp doctor`: what this installation can do, one check per line with a verdict.

Verdicts: ``ok``; ``warn`` (works with a fallback: no GPU, no shipped checkpoint yet);
``fail`` (a feature cannot work). Pure logic: returns data, the CLI prints it.

`--model PATH` may name an R1 checkpoint or a public DeepSeek-V2/V3 folder (config.json with
model_type deepseek_v2/v3, sharded safetensors). A DeepSeek folder is checked without reading
its weights (config, every shard header, names, shapes, dtypes), and the "memory" check says
from config.json alone whether the model fits this device in int8, so a folder holding only
config.json answers "would it fit?" before a download.
"""

from __future__ import annotations

import importlib
import importlib.metadata
import platform
import sys
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable

OK, WARN, FAIL = "ok", "warn", "fail"


@dataclass
class Check:
    name: str
    verdict: str
    detail: str
    data: dict[str, Any] = field(default_factory=dict)


def check_python() -> Check:
    ok = sys.version_info >= (3, 10)
    return Check("python", OK if ok else FAIL, f"{platform.python_implementation()} {platform.python_version()}"
                 + ("" if ok else " (r1lsp needs 3.10 or newer)"))


def check_torch() -> Check:
    try:
        import torch
    except Exception as exc:  # ImportError, or a broken wheel
        return Check("torch", FAIL, f"cannot import torch: {exc}")
    cuda = torch.cuda.is_available()
    data = {"version": torch.__version__, "cuda": cuda, "threads": torch.get_num_threads()}
    if cuda:
        name = torch.cuda.get_device_name(0)
        data["device"] = name
        return Check("torch", OK, f"{torch.__version__}, CUDA {torch.version.cuda} on {name}", data)
    return Check("torch", WARN, f"{torch.__version__}, no CUDA GPU: the model runs on CPU "
                 f"({torch.get_num_threads()} threads)", data)


def check_bitsandbytes() -> Check:
    try:
        version = importlib.metadata.version("bitsandbytes")
    except importlib.metadata.PackageNotFoundError:
        return Check("bitsandbytes", WARN, "not installed: int8 on CUDA unavailable (CPU int8 path still works)")
    try:
        import torch

        cuda = torch.cuda.is_available()
    except Exception:
        cuda = False
    if not cuda:
        # Importing bitsandbytes without a GPU only prints noise; the CPU path does not use it.
        return Check("bitsandbytes", OK, f"{version} installed; used for int8 on CUDA (this machine: CPU int8 path)",
                     {"version": version})
    try:
        importlib.import_module("bitsandbytes")
    except Exception as exc:
        return Check("bitsandbytes", WARN, f"{version} installed but fails to import ({exc}): "
                     "the model will run unquantized on the GPU", {"version": version})
    return Check("bitsandbytes", OK, f"{version}, LLM.int8 on CUDA", {"version": version})


def check_grammars() -> Check:
    from model.structure import map_structure

    samples = {
        "java": "class A { int f(int x) { return x + 1; } }\n",
        "python": "def f(x):\n    return x + 1\n",
    }
    found, problems = {}, []
    for language, text in samples.items():
        try:
            h = map_structure(text, language)
            if h.has_errors:
                problems.append(f"{language}: sample parsed with errors")
            found[language] = importlib.metadata.version(f"tree-sitter-{language}")
        except Exception as exc:
            problems.append(f"{language}: {exc}")
    ts = importlib.metadata.version("tree-sitter")
    if problems:
        return Check("tree-sitter", FAIL, f"tree-sitter {ts}: " + "; ".join(problems), {"grammars": found})
    grammars = ", ".join(f"{k} {v}" for k, v in found.items())
    return Check("tree-sitter", OK, f"tree-sitter {ts}; grammars: {grammars}", {"grammars": found})


GiB = 2 ** 30
CONTEXT_TOKENS = 4096          # the KV cache the memory check adds: one context of this many tokens


def _gib(n: float) -> str:
    if n < GiB:
        return f"{n / 2 ** 20:.1f} MiB"
    return f"{n / GiB:.2f} GiB" if n < 10 * GiB else f"{n / GiB:.1f} GiB"


def _count(n: float) -> str:
    return f"{n / 1e9:.1f}B" if n >= 1e9 else f"{n / 1e6:.1f}M"


def check_deepseek(path: Path) -> Check:
    """A public DeepSeek-V2/V3 folder: everything but the weights themselves."""
    from model.deepseek.config import DeepseekConfig, DeepseekConfigError
    from model.deepseek.loader import DeepseekLoadError, estimate, inspect_checkpoint

    data: dict[str, Any] = {"path": str(path), "present": True, "family": "deepseek"}
    try:
        cfg = DeepseekConfig.from_folder(path, context_limit=CONTEXT_TOKENS)
    except DeepseekConfigError as exc:
        return Check("checkpoint", FAIL, str(exc), data)
    est = estimate(cfg, "int8", "cpu")
    data.update(model_type=cfg.model_type, parameters=est["params_total"], active_parameters=est["params_active"],
                weight_bytes_int8_cpu=est["weight_bytes_int8"],
                weight_bytes_int8_cuda=estimate(cfg, "int8", "cuda")["weight_bytes_int8"],
                weight_bytes_bf16=est["weight_bytes_bf16"],
                kv_cache_bytes_per_token_bf16=est["kv_cache_bytes_per_token_bf16"],
                kv_cache_bytes_per_token_fp32=est["kv_cache_bytes_per_token"],
                config={"n_layers": cfg.num_hidden_layers, "d_model": cfg.hidden_size, "n_experts": cfg.n_routed_experts,
                        "n_active": cfg.num_experts_per_tok, "n_shared_experts": cfg.n_shared_experts,
                        "vocab_size": cfg.vocab_size, "kv_lora_rank": cfg.kv_lora_rank,
                        "fp8_block": list(cfg.fp8_block) if cfg.fp8_block else None})
    summary = (f"DeepSeek checkpoint ({cfg.model_type}{', FP8 blocks' if cfg.fp8_block else ''}), "
               f"{cfg.num_hidden_layers} layers, d_model {cfg.hidden_size}, {cfg.n_routed_experts} experts "
               f"top-{cfg.num_experts_per_tok}, {_count(est['params_total'])} parameters "
               f"({_count(est['params_active'])} active); weights int8 {_gib(est['weight_bytes_int8'])} (CPU) / "
               f"{_gib(data['weight_bytes_int8_cuda'])} (GPU), bf16 {_gib(est['weight_bytes_bf16'])}; "
               f"KV cache {est['kv_cache_bytes_per_token_bf16'] / 1024:.1f} KiB/token (bf16)")
    try:
        plan = inspect_checkpoint(path, context_limit=CONTEXT_TOKENS)
    except DeepseekLoadError as exc:
        return Check("checkpoint", FAIL, f"{summary}; cannot run: {exc}", data)
    data.update(shards=len(plan.shards), file_bytes=plan.file_bytes, skipped_tensors=len(plan.skipped),
                tokenizer=(path / "tokenizer.json").is_file())
    if not data["tokenizer"]:
        return Check("checkpoint", FAIL, f"{path}: {summary}; no tokenizer.json (r1lsp needs it to prompt the model)", data)
    return Check("checkpoint", OK, f"{path}: {summary}; {len(plan.shards)} shard(s) checked", data)


def check_memory(checkpoint: Check) -> Check:
    """Does the checkpoint fit this machine in int8: the GPU if there is one, else host RAM."""
    from model.deepseek.loader import available_bytes

    data = dict(checkpoint.data)
    try:
        import torch

        cuda = torch.cuda.is_available()
    except Exception:
        cuda = False
    kv = data.get("kv_cache_bytes_per_token_bf16" if cuda else "kv_cache_bytes_per_token_fp32", 0) * CONTEXT_TOKENS
    cpu_need = data["weight_bytes_int8_cpu"] + data.get("kv_cache_bytes_per_token_fp32", 0) * CONTEXT_TOKENS
    cpu_have = available_bytes("cpu")
    out = {"context_tokens": CONTEXT_TOKENS, "cpu_needs_bytes": cpu_need, "cpu_available_bytes": cpu_have}
    if cuda:
        need = data["weight_bytes_int8_cuda"] + kv
        have = available_bytes("cuda")
        out.update(device="cuda", needs_bytes=need, available_bytes=have)
        if need <= have:
            return Check("memory", OK, f"fits the GPU: int8 needs {_gib(need)} (with a {CONTEXT_TOKENS}-token "
                         f"KV cache), {_gib(have)} free", out)
        if cpu_have is not None and cpu_need <= cpu_have:
            return Check("memory", WARN, f"does not fit the GPU (int8 needs {_gib(need)}, {_gib(have)} free); "
                         f"fits host RAM ({_gib(cpu_need)} of {_gib(cpu_have)} available): use --device cpu", out)
        return Check("memory", FAIL, f"does not fit: int8 needs {_gib(need)} on the GPU ({_gib(have)} free) "
                     f"or {_gib(cpu_need)} of host RAM ({_gib(cpu_have or 0)} available)", out)
    out.update(device="cpu", needs_bytes=cpu_need, available_bytes=cpu_have)
    if cpu_have is None:
        return Check("memory", WARN, f"int8 needs {_gib(cpu_need)} of RAM; available memory unknown here", out)
    if cpu_need <= cpu_have:
        return Check("memory", OK, f"fits host RAM: int8 needs {_gib(cpu_need)} (with a {CONTEXT_TOKENS}-token "
                     f"KV cache), {_gib(cpu_have)} available", out)
    return Check("memory", FAIL, f"does not fit: int8 needs {_gib(cpu_need)} of host RAM, {_gib(cpu_have)} available "
                 "(no CUDA GPU here)", out)


def _r1_sizes(model) -> dict:
    """int8 / bf16 bytes of a loaded R1 model as the engine quantizes it (Linears but the indexer;
    their biases stay in the compute dtype: fp32 on CPU, fp16 on CUDA)."""
    import torch.nn as nn

    from model.deepseek.loader import int8_bytes

    int8, seen = 0, set()
    for name, mod in model.named_modules():
        if isinstance(mod, nn.Linear) and "indexer" not in name.split("."):
            int8 += int8_bytes(mod.weight.shape)
            seen.add(id(mod.weight))
    rest = sum(p.numel() for p in model.parameters() if id(p) not in seen)     # biases included
    total = sum(p.numel() for p in model.parameters())
    cfg = model.cfg
    kv = cfg.n_layers * 2 * cfg.n_heads * cfg.head_dim if hasattr(cfg, "n_heads") and hasattr(cfg, "head_dim") else None
    return {"weight_bytes_int8_cpu": int8 + 4 * rest, "weight_bytes_int8_cuda": int8 + 2 * rest,
            "weight_bytes_bf16": 2 * total,
            **({"kv_cache_bytes_per_token_bf16": 2 * kv, "kv_cache_bytes_per_token_fp32": 4 * kv} if kv else {})}


def _json_or_empty(path: Path) -> dict:
    from model.jsonfile import read_json_object
    try:
        return read_json_object(path, missing_ok=True)
    except ValueError:
        return {}


def check_checkpoint(path: Path | None = None) -> Check:
    from r1lsp.engine import default_checkpoint

    explicit = path is not None
    path = Path(path) if path else default_checkpoint()
    from model.deepseek.config import is_deepseek_folder

    if is_deepseek_folder(path):
        return check_deepseek(path)
    if explicit and not path.is_dir():
        return Check("checkpoint", FAIL, f"{path}: no such folder", {"path": str(path), "present": False})
    needed = ["config.json", "model.safetensors", "tokenizer.json"]
    missing = [n for n in needed if not (path / n).is_file()]
    if missing:
        if explicit and not (path / "model.safetensors").is_file() and "model_type" in _json_or_empty(path / "config.json"):
            return Check("checkpoint", FAIL, f"{path}: config.json is neither an R1 nor a DeepSeek-V2/V3 checkpoint "
                         "(model_type must be deepseek_v2 or deepseek_v3)", {"path": str(path), "present": True})
        return Check("checkpoint", FAIL if explicit else WARN, f"{path}: missing {', '.join(missing)} "
                     + ("(not a checkpoint r1lsp can run)" if explicit else
                        "(model features unavailable until a checkpoint is trained or configured)"),
                     {"path": str(path), "present": False})
    try:
        from model.checkpoint import load_checkpoint
    except ImportError as exc:
        return Check("checkpoint", WARN, f"{path}: present, but the model package cannot load it ({exc})",
                     {"path": str(path), "present": True})
    try:
        loaded = load_checkpoint(path)
    except Exception as exc:
        return Check("checkpoint", FAIL, f"{path}: {exc}", {"path": str(path), "present": True})
    config = loaded.config.to_dict() if hasattr(loaded.config, "to_dict") else asdict(loaded.config)
    params = sum(p.numel() for p in loaded.model.parameters())
    data = {"path": str(path), "present": True, "family": "r1", "config": config, "parameters": params}
    try:
        data["active_parameters"] = loaded.model.num_params(active=True)
    except Exception:
        pass
    data.update(_r1_sizes(loaded.model))
    data.update(loaded.meta or {})
    size_mb = (path / "model.safetensors").stat().st_size / 1e6
    card = loaded.meta or {}
    figures = [f"{card['tokens_seen'] / 1e6:.1f}M tokens seen" if card.get("tokens_seen") else None,
               f"held-out bpb python {card['heldout_bpb_python']:.2f}" if card.get("heldout_bpb_python") else None,
               f"java {card['heldout_bpb_java']:.2f}" if card.get("heldout_bpb_java") else None,
               f"next-token top-1 {card['next_token_top1']:.0%}" if card.get("next_token_top1") else None]
    card_text = "; ".join(f for f in figures if f)
    return Check("checkpoint", OK, f"{path}: R1 checkpoint, {config.get('n_layers', '?')} layers, d_model {config.get('d_model', '?')}, "
                 f"{config.get('n_experts', '?')} experts top-{config.get('n_active', '?')}, "
                 f"{params / 1e6:.1f}M parameters, {size_mb:.1f} MB; int8 {_gib(data['weight_bytes_int8_cpu'])} (CPU)"
                 + (f"; {card_text}" if card_text else ""), data)


def _cpu_features() -> list[str]:
    try:
        flags = next((line.split(":", 1)[1].split() for line in open("/proc/cpuinfo") if line.startswith("flags")), [])
    except OSError:
        return []
    return sorted(f for f in set(flags) if f.startswith(("amx", "avx512_bf16", "avx512_vnni", "avx512f", "avx2")))


def check_int8_kernels(checkpoint: Check | None = None) -> Check:
    """Which int8 kernels the CPU path runs, per phase, measured here on the checkpoint's Linear
    shapes (r1-tiny's without an R1 checkpoint): model.quantize.select_kernels, as the engine
    does at load."""
    import torch

    from model import R1Config, R1Model, quantize_model
    from model.quantize import select_kernels

    cfg_dict = (checkpoint.data.get("config") if checkpoint is not None and checkpoint.data.get("family") == "r1"
                else None)
    cfg = R1Config.from_dict(cfg_dict) if cfg_dict else R1Config.preset("r1-tiny")
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        model = R1Model(cfg).eval()                                  # random weights: shapes are what count
        quantize_model(model, "cpu", probe=torch.zeros(1, 4, dtype=torch.long))
        chosen = select_kernels(model)
    finally:
        torch.set_num_threads(threads)
    from model.generate import decode_step_mode
    features = _cpu_features()
    mode = decode_step_mode(model)
    from model import w8a8
    prefill = f" ({w8a8.status()})" if chosen["prefill"] == "w8a8" else ""
    prefill += "".join(f"; {s} decodes with {k}" for s, k in chosen.get("decode_by_shape", {}).items())
    data = {**chosen, "cpu_features": features, "shapes": "checkpoint" if cfg_dict else "r1-tiny",
            "decode_step": mode, "prefill_w8a8": w8a8.status()}
    return Check("int8 kernels", OK, f"CPU int8 runs decode: {chosen['decode']}, prefill: {chosen['prefill']}{prefill} "
                 f"(fastest measured here, 1 thread; CPU: {', '.join(features) or 'no AVX2'}); decode step: {mode}",
                 data)


CHECKS: list[Callable[[], Check]] = [check_python, check_torch, check_bitsandbytes, check_grammars, check_checkpoint]


def run_checks(checkpoint: Path | None = None) -> list[Check]:
    results = []
    for check in CHECKS:
        try:
            results.append(check_checkpoint(checkpoint) if check is check_checkpoint else check())
        except Exception as exc:  # a check must never take the others down
            results.append(Check(check.__name__.removeprefix("check_"), FAIL, f"check crashed: {exc!r}"))
    ckpt = next((c for c in results if c.name == "checkpoint"), None)
    try:
        results.append(check_int8_kernels(ckpt))
    except Exception as exc:
        results.append(Check("int8 kernels", WARN, f"could not measure the int8 kernels: {exc!r}"))
    if ckpt is not None and "weight_bytes_int8_cpu" in ckpt.data:
        try:
            results.append(check_memory(ckpt))
        except Exception as exc:
            results.append(Check("memory", FAIL, f"check crashed: {exc!r}"))
    return results


def verdict(checks: list[Check], model: Path | None = None) -> Check:
    """One line: can this machine run the checkpoint (and r1lsp)?"""
    by = {c.name: c for c in checks}
    failed = [c for c in checks if c.verdict == FAIL]
    ckpt, mem = by.get("checkpoint"), by.get("memory")
    what = ""
    if ckpt is not None and ckpt.data.get("parameters"):
        d = ckpt.data
        kind = d.get("model_type") or d.get("family", "")
        what = f" ({kind}, {_count(d['parameters'])} parameters"
        what += f", {_count(d['active_parameters'])} active)" if d.get("active_parameters") else ")"
    target = f"{model}{what}" if model else "this installation"
    if failed:
        reasons = "; ".join(f"{c.name}: {c.detail.rpartition('cannot run: ')[2]}" for c in failed)
        return Check("summary", FAIL, f"{target} cannot run here: {reasons}")
    if mem is not None:
        return Check("summary", mem.verdict, f"{target} can run here: {mem.detail}")
    warned = [c.name for c in checks if c.verdict == WARN]
    return Check("summary", WARN if warned else OK, f"{target} works" + (f" (with fallbacks: {', '.join(warned)})" if warned else ""))
