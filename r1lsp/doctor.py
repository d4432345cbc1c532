"""`r1lsp doctor`: what this installation can do, one check per line with a verdict.

Verdicts: ``ok``; ``warn`` (works with a fallback: no GPU, no shipped checkpoint yet);
``fail`` (a feature cannot work). Pure logic: returns data, the CLI prints it.
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
    from r1lsp.structure import map_structure

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


def check_checkpoint(path: Path | None = None) -> Check:
    from r1lsp.engine import default_checkpoint

    path = Path(path) if path else default_checkpoint()
    needed = ["config.json", "model.safetensors", "tokenizer.json"]
    missing = [n for n in needed if not (path / n).is_file()]
    if missing:
        return Check("checkpoint", WARN, f"{path}: missing {', '.join(missing)} "
                     "(model features unavailable until a checkpoint is trained or configured)",
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
    data = {"path": str(path), "present": True, "config": config, "parameters": params}
    data.update(loaded.meta or {})
    size_mb = (path / "model.safetensors").stat().st_size / 1e6
    card = loaded.meta or {}
    figures = [f"{card['tokens_seen'] / 1e6:.1f}M tokens seen" if card.get("tokens_seen") else None,
               f"held-out bpb python {card['heldout_bpb_python']:.2f}" if card.get("heldout_bpb_python") else None,
               f"java {card['heldout_bpb_java']:.2f}" if card.get("heldout_bpb_java") else None,
               f"next-token top-1 {card['next_token_top1']:.0%}" if card.get("next_token_top1") else None]
    card_text = "; ".join(f for f in figures if f)
    return Check("checkpoint", OK, f"{path}: {config.get('n_layers', '?')} layers, d_model {config.get('d_model', '?')}, "
                 f"{config.get('n_experts', '?')} experts top-{config.get('n_active', '?')}, "
                 f"{params / 1e6:.1f}M parameters, {size_mb:.1f} MB" + (f"; {card_text}" if card_text else ""), data)


CHECKS: list[Callable[[], Check]] = [check_python, check_torch, check_bitsandbytes, check_grammars, check_checkpoint]


def run_checks(checkpoint: Path | None = None) -> list[Check]:
    results = []
    for check in CHECKS:
        try:
            results.append(check_checkpoint(checkpoint) if check is check_checkpoint else check())
        except Exception as exc:  # a check must never take the others down
            results.append(Check(check.__name__.removeprefix("check_"), FAIL, f"check crashed: {exc!r}"))
    return results
