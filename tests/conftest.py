"""Shared fixtures: a small random-weight R1 checkpoint (session-scoped, built once in a tmp dir).

The shipped checkpoint is trained elsewhere; tests never depend on it. The checkpoint here has
the r1-tiny layout at toy sizes and a byte-level BPE trained on the fixture sources, so the
engine loads it through the real `load_checkpoint` path.
"""
from pathlib import Path

import pytest

FIXTURES = Path(__file__).parent / "fixtures"


def build_tiny_checkpoint(directory: Path, *, vocab_size: int = 512, max_seq_len: int = 512) -> Path:
    import torch

    from model import R1Config, R1Model, save_checkpoint
    from model.tokenizer import train_tokenizer

    texts = [p.read_text("utf-8", "replace") for p in sorted(FIXTURES.rglob("*"))
             if p.suffix in (".py", ".java") and p.is_file()]
    tok = train_tokenizer(texts * 2, vocab_size=vocab_size)
    cfg = R1Config.preset("r1-tiny", vocab_size=tok.get_vocab_size(), max_seq_len=max_seq_len,
                          d_model=64, n_layers=2, n_heads=4, index_heads=2, index_dim=8,
                          attn_topk=64, local_window=16, key_block=16, n_experts=8, n_active=2,
                          expert_hidden=64, level_dims=(64, 48, 32, 16), hier_layers=(1,))
    torch.manual_seed(0)
    model = R1Model(cfg).eval()
    return save_checkpoint(directory, model, cfg, tok, {"note": "random weights, tests only"})


@pytest.fixture(scope="session")
def tiny_checkpoint(tmp_path_factory) -> Path:
    """Path of a random-weight r1-tiny-shaped checkpoint (config, safetensors, tokenizer)."""
    return build_tiny_checkpoint(tmp_path_factory.mktemp("r1-tiny-random"))
