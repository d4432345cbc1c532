"""Loading the engine's model: an R1 checkpoint (model.checkpoint) or a public
DeepSeek-V2/V3-layout folder (model.deepseek.loader, streamed and quantized as it loads), on
the device asked for (or the CPU, with a notice why), int8 by setting. `prompts`
(model.prompts) hides the family from completion, ghost text, translation and routing.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from r1lsp.settings import ModelSettings

ProgressFn = Callable[[str, "int | None"], None]
NoticeFn = Callable[[str], None]

DEFAULT_CHECKPOINT = Path(__file__).resolve().parent.parent / "model" / "checkpoints" / "r1-tiny"


class LoadError(RuntimeError):
    """The model cannot be loaded; the message says why, for the user."""


@dataclass
class LoadedModel:
    checkpoint: Path
    device: str
    model: object
    config: object
    tokenizer: object
    prompts: object                       # model.prompts: R1Prompts | CheckpointPrompts
    family: str                           # "r1" | "deepseek_v2" | "deepseek_v3"
    quantization: str                     # "int8 (...)" | "none"
    quant_report: object = None
    special: object = None                # R1: model.tokenizer.SpecialTokens
    kernels: dict | None = None           # CPU int8: the kernel per phase, chosen by measurement
    decode_mode: str | None = None        # "eager" | "compiled"


def default_checkpoint() -> Path:
    """The shipped checkpoint folder (may not exist yet)."""
    return DEFAULT_CHECKPOINT


def checkpoint_path(settings: ModelSettings) -> Path:
    return Path(settings.path).expanduser() if settings.path else default_checkpoint()


def cpu_threads(setting: int) -> int:
    """Threads for the model's CPU work: the setting if > 0; else OMP_NUM_THREADS if set; else
    half the cores, at most 8 (every core, torch's default, spins against the editor)."""
    if setting > 0:
        return setting
    env = os.environ.get("OMP_NUM_THREADS", "")
    if env.isdigit() and int(env) > 0:
        return int(env)
    return max(1, min(8, (os.cpu_count() or 2) // 2))


def load_model(settings: ModelSettings, progress: ProgressFn, notice: NoticeFn) -> LoadedModel:
    """Load what `settings` name; raises LoadError (or what a loader raised, unexpected)."""
    import torch
    from model.deepseek.config import is_deepseek_folder
    from model.generate import decode_step_mode

    path = checkpoint_path(settings)
    if not path.is_dir():
        where = "the shipped checkpoint" if not settings.path else "r1lsp.model.path"
        raise LoadError(f"No model checkpoint at {path} ({where}); completions fall back to the "
                        "structure alone. Set r1lsp.model.path to a checkpoint folder.")
    device = settings.device
    if device == "auto":
        device = "cuda" if torch.cuda.is_available() else "cpu"
    elif device == "cuda" and not torch.cuda.is_available():
        notice("device=cuda was asked for but CUDA is not available; running on the CPU.")
        device = "cpu"
    if device == "cuda" and settings.quantization == "int8":
        try:
            import bitsandbytes  # noqa: F401
        except Exception as e:
            notice(f"bitsandbytes is missing or broken ({e.__class__.__name__}); "
                   "int8 on CUDA needs it, running int8 on the CPU instead.")
            device = "cpu"
    torch.set_num_threads(cpu_threads(settings.threads))
    load = _load_deepseek if is_deepseek_folder(path) else _load_r1
    loaded = load(path, device, settings.quantization, progress)
    loaded.decode_mode = decode_step_mode(loaded.model)
    progress(f"Model loaded (decode step: {loaded.decode_mode})", 90)
    return loaded


def _load_r1(path: Path, device: str, quantization: str, progress: ProgressFn) -> LoadedModel:
    import torch
    from model.checkpoint import CheckpointError, load_checkpoint
    from model.prompts import R1Prompts
    from model.tokenizer import SpecialTokens

    progress(f"Loading R1 checkpoint {path.name}", 10)
    try:
        loaded = load_checkpoint(path, device="cpu")
    except CheckpointError as e:
        raise LoadError(f"The model checkpoint is corrupt or incomplete: {e}") from e
    if loaded.tokenizer is None:
        raise LoadError(f"The model checkpoint {path} has no tokenizer.json.")
    try:
        special = SpecialTokens.from_tokenizer(loaded.tokenizer)
    except ValueError as e:
        raise LoadError(f"{path / 'tokenizer.json'}: {e}") from e
    model = loaded.model.float().eval()
    # keys / values cached in bf16: half the bytes a decode step reads and a prompt state keeps
    # (r1-tiny ~21 -> ~13 MB at 2,048 slots); greedy tokens and held-out loss as with float32
    # caches (tests/test_kv_cache_dtype.py; 32,768 teacher-forced tokens: loss +0.008 %)
    model.kv_dtype = torch.bfloat16
    report = kernels = None
    if quantization == "int8":
        from model.quantize import quantize_model
        progress("Quantizing the model to int8", 60)
        report = quantize_model(model, device)
        label = f"int8 ({report.mode})"
        if device == "cpu":
            from model.quantize import select_kernels
            progress("Measuring the int8 kernels", 75)
            chosen = select_kernels(model)
            kernels = {"decode": chosen["decode"], "prefill": chosen["prefill"]}
            shapes = "".join(f", {s} decode {k}" for s, k in chosen.get("decode_by_shape", {}).items())
            label = f"int8 (decode {chosen['decode']}, prefill {chosen['prefill']}{shapes})"
    else:
        model.to(device)
        label = "none"
    return LoadedModel(path, device, model, loaded.config, loaded.tokenizer, R1Prompts(special), "r1", label,
                       quant_report=report, special=special, kernels=kernels)


def _load_deepseek(path: Path, device: str, quantization: str, progress: ProgressFn) -> LoadedModel:
    """A public DeepSeek-V2/V3-layout folder: streamed, quantized while it loads."""
    from model.deepseek.loader import DeepseekLoadError, load_deepseek
    from model.prompts import CheckpointPrompts

    progress(f"Loading {path.name} (DeepSeek layout, streamed{' to int8' if quantization == 'int8' else ''})", 10)
    try:
        loaded = load_deepseek(path, device=device, quantization=quantization)
    except DeepseekLoadError as e:
        raise LoadError(f"Cannot load the checkpoint {path}: {e}") from e
    if loaded.tokenizer is None:
        raise LoadError(f"The model checkpoint {path} has no tokenizer.json.")
    try:
        prompts = CheckpointPrompts.from_folder(path, loaded.tokenizer)
    except ValueError as e:
        raise LoadError(str(e)) from e
    mode = getattr(loaded.report, "mode", None)
    label = (f"int8 ({mode})" if mode else "int8") if quantization == "int8" else "none"
    return LoadedModel(path, device, loaded.model, loaded.config, loaded.tokenizer, prompts,
                       loaded.config.model_type, label, quant_report=loaded.report)
