"""Checkpoints: a directory with model.safetensors, config.json, card.json and tokenizer.json.

  config.json       R1Config (R1Config.to_json)
  model.safetensors every parameter, one floating dtype; no pickle anywhere
  card.json         free-form metadata (tokens seen, model-card figures), optional
  tokenizer.json    a `tokenizers.Tokenizer`, optional
Loading builds the model on the meta device, validates the safetensors header against it (every
name, shape and dtype, and that the data lies inside the file), then assigns the tensors.
Any problem raises CheckpointError naming the file.
"""
from __future__ import annotations

import json
import os
import struct
from dataclasses import dataclass, field
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file

from model.config import R1Config
from model.jsonfile import read_json_object
from model.network import R1Model

WEIGHTS, CONFIG, CARD, TOKENIZER = "model.safetensors", "config.json", "card.json", "tokenizer.json"
_DTYPES = {"F32": torch.float32, "F16": torch.float16, "BF16": torch.bfloat16}


class CheckpointError(RuntimeError):
    pass


@dataclass
class LoadedCheckpoint:
    model: R1Model
    config: R1Config
    tokenizer: object | None          # tokenizers.Tokenizer
    meta: dict = field(default_factory=dict)


def save_checkpoint(directory, model: R1Model, config: R1Config, tokenizer=None,
                    extra_meta: dict | None = None, dtype: torch.dtype | None = None) -> Path:
    """Write the checkpoint files into `directory` (created if needed); return its path.

    `dtype` (e.g. torch.bfloat16): store every floating tensor in that dtype (half the file);
    load_checkpoint then returns a model of that dtype, `.float()` brings it back to fp32."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    state = {k: v.detach().to(dtype if dtype is not None and v.is_floating_point() else v.dtype)
             .contiguous().cpu() for k, v in model.state_dict().items()}
    _atomic(directory / WEIGHTS, lambda p: save_file(state, str(p), metadata={"format": "pt"}))
    _atomic(directory / CONFIG, lambda p: p.write_text(config.to_json()))
    if extra_meta is not None:
        _atomic(directory / CARD, lambda p: p.write_text(json.dumps(extra_meta, indent=2)))
    if tokenizer is not None:
        _atomic(directory / TOKENIZER, lambda p: tokenizer.save(str(p)))
    return directory


def _atomic(path: Path, write):
    tmp = path.with_name(path.name + ".tmp")
    write(tmp)
    os.replace(tmp, path)


class _SkipInit(torch.overrides.TorchFunctionMode):
    """The skeleton's parameters need no initial values (the checkpoint's replace them): torch's
    initialisers are skipped. On meta tensors they go through torch._refs, which imports
    torch._dynamo and sympy: 68 MB of a language server's memory for nothing."""

    def __torch_function__(self, func, types, args=(), kwargs=None):
        name = getattr(func, "__name__", "")
        if getattr(func, "__module__", None) == "torch.nn.init" and name.endswith("_") and not name.startswith("_"):
            return args[0] if args else kwargs["tensor"]           # an in-place initialiser: left as it is
        return func(*args, **(kwargs or {}))


def load_checkpoint(directory, device="cpu") -> LoadedCheckpoint:
    directory = Path(directory)
    config = _read_config(directory / CONFIG)
    meta = _read_json(directory / CARD) if (directory / CARD).exists() else {}
    tokenizer = _read_tokenizer(directory / TOKENIZER) if (directory / TOKENIZER).exists() else None

    path = directory / WEIGHTS
    header = read_safetensors_header(path)
    with torch.device("meta"), _SkipInit():
        skeleton = R1Model(config)
    expected = skeleton.state_dict()
    dtype = _check_tensors(path, header, expected)
    try:
        tensors = load_file(str(path), device=str(device))
    except Exception as e:                                                        # safetensors' own checks
        raise CheckpointError(f"{path}: cannot read tensors ({e})") from e
    model = skeleton.to(dtype)
    model.load_state_dict(tensors, strict=True, assign=True)
    return LoadedCheckpoint(model.eval(), config, tokenizer, meta)


def read_safetensors_header(path: Path) -> dict:
    """The JSON header of a safetensors file, checked against the file's size."""
    if not path.exists():
        raise CheckpointError(f"{path}: missing file")
    size = path.stat().st_size
    with open(path, "rb") as f:
        head = f.read(8)
        if len(head) < 8:
            raise CheckpointError(f"{path}: truncated (no header length, {size} bytes)")
        (n,) = struct.unpack("<Q", head)
        if n > size - 8:
            raise CheckpointError(f"{path}: truncated header (needs {n} bytes, file has {size - 8})")
        raw = f.read(n)
    try:
        header = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise CheckpointError(f"{path}: bad header JSON ({e})") from e
    if not isinstance(header, dict):
        raise CheckpointError(f"{path}: header is not a JSON object")
    data_len = size - 8 - n
    for name, info in header.items():
        if name == "__metadata__":
            continue
        try:
            begin, end = info["data_offsets"]
        except (TypeError, KeyError, ValueError) as e:
            raise CheckpointError(f"{path}: tensor {name!r} has no valid data_offsets") from e
        if not 0 <= begin <= end <= data_len:
            raise CheckpointError(f"{path}: truncated data (tensor {name!r} ends at {end}, data has {data_len} bytes)")
    return header


def _check_tensors(path: Path, header: dict, expected: dict) -> torch.dtype:
    names = {k for k in header if k != "__metadata__"}
    missing, unknown = sorted(set(expected) - names), sorted(names - set(expected))
    if missing:
        raise CheckpointError(f"{path}: missing tensors {missing[:5]}{' ...' if len(missing) > 5 else ''}")
    if unknown:
        raise CheckpointError(f"{path}: unknown tensors {unknown[:5]}{' ...' if len(unknown) > 5 else ''}")
    dtypes = set()
    for name, want in expected.items():
        info = header[name]
        if list(info.get("shape", [])) != list(want.shape):
            raise CheckpointError(f"{path}: tensor {name!r} has shape {info.get('shape')}, expected {list(want.shape)}")
        if info.get("dtype") not in _DTYPES:
            raise CheckpointError(f"{path}: tensor {name!r} has dtype {info.get('dtype')}, expected a float dtype")
        dtypes.add(info["dtype"])
    if len(dtypes) > 1:
        raise CheckpointError(f"{path}: mixed dtypes {sorted(dtypes)}")
    return _DTYPES[dtypes.pop()] if dtypes else torch.float32


def _read_json(path: Path) -> dict:
    return read_json_object(path, CheckpointError)


def _read_config(path: Path) -> R1Config:
    data = _read_json(path)
    try:
        return R1Config.from_dict(data)
    except (TypeError, ValueError) as e:
        raise CheckpointError(f"{path}: bad config ({e})") from e


def _read_tokenizer(path: Path):
    from tokenizers import Tokenizer

    try:
        return Tokenizer.from_file(str(path))
    except Exception as e:                                                        # tokenizers raises its own types
        raise CheckpointError(f"{path}: cannot load tokenizer ({e})") from e
