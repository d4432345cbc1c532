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


@pytest.fixture
def one_thread():
    """Tiny ops on a shared 2-core machine: one torch thread avoids OpenMP spin contention
    (measured up to 100x slower with two). Model test modules opt in with `usefixtures`."""
    import torch

    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


@pytest.fixture(scope="session")
def tiny_checkpoint(tmp_path_factory) -> Path:
    """Path of a random-weight r1-tiny-shaped checkpoint (config, safetensors, tokenizer)."""
    return build_tiny_checkpoint(tmp_path_factory.mktemp("r1-tiny-random"))


class StubEngine:
    """Stands in for r1lsp.engine.Engine in completion/inline tests: characters as token ids,
    fixed generated text (cut by the request's stop rule as the engine does, character by
    character), each token's log-probability `logprob`, and scores from a function of the
    candidate text."""

    state = "ready"
    context_tokens = 4096

    def __init__(self, text: str = "", score=None, logprob: float | None = None):
        import types
        self.text, self.score = text, score or (lambda s: 0.0)
        self.logprob = logprob                                          # each generated token's log p
        self.special = types.SimpleNamespace(lang=lambda language: 1, fim_prefix=2, fim_suffix=3,
                                             fim_middle=4, endoftext=0)
        from model.prompts import R1Prompts
        self.prompts = R1Prompts(self.special)
        self.requests = []

    def encode(self, text):
        return [ord(c) for c in text]

    def decode(self, ids):
        return "".join(chr(i) for i in ids)

    def encode_with_offsets(self, text, start=0):
        import numpy as np
        lens = [len(c.encode("utf-8", "surrogatepass")) for c in text]
        return [ord(c) for c in text], np.cumsum([start] + lens[:-1]).astype(np.int64) if text else np.zeros(0, np.int64)

    def _done(self, value):
        from concurrent.futures import Future
        f = Future()
        f.set_result(value)
        return f

    def submit_generate(self, key, prompt_ids, level_ids=None, max_new_tokens=16, stop_strings=(), *,
                        stop_fn=None, temperature=0.0, cancel=None, logits_processor=None, prefix_key=None,
                        cold_prompt=None, best_of=1, length_penalty=1.0):
        from model.generate import GenerationResult
        self.requests.append(("generate", key, list(prompt_ids), level_ids))
        self.logits_processor, self.cold_prompt = logits_processor, cold_prompt
        out, reason = "", "length"
        for c in self.text:
            out += c
            cut = stop_fn(out) if stop_fn is not None else None
            if cut is not None:
                out, reason = out[:cut], "stop"
                break
        logprobs = None if self.logprob is None else [self.logprob] * len(out)
        return self._done(GenerationResult(self.encode(out), reason, out, logprobs))

    def cancel(self, key):
        return False

    def submit_score(self, key, context_ids, level_ids, candidates, *, cancel=None, prefix_key=None):
        self.requests.append(("score", key, list(context_ids), level_ids))
        return self._done([self.score(self.decode(c)) for c in candidates])


@pytest.fixture
def stub_engine():
    """The StubEngine class (call it with the generated text and/or a score function)."""
    return StubEngine
