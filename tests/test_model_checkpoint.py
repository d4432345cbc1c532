"""Checkpoints: exact round trip, and every corruption raises CheckpointError naming the file."""
import json
import pathlib
import struct

import pytest
import torch
from safetensors.torch import save_file

from model import CheckpointError, R1Config, R1Model, load_checkpoint, save_checkpoint


pytestmark = pytest.mark.usefixtures("one_thread")


CFG = R1Config(vocab_size=64, max_seq_len=128, d_model=64, n_layers=2, n_heads=4, index_heads=2,
               index_dim=8, attn_topk=12, local_window=4, n_experts=8, n_active=2, expert_hidden=32,
               level_dims=(64, 48, 32, 16), hier_layers=(1,))


def tiny_tokenizer():
    from tokenizers import Tokenizer, models, pre_tokenizers
    tok = Tokenizer(models.WordLevel({"[UNK]": 0, "def": 1, "f": 2}, unk_token="[UNK]"))
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    return tok


@pytest.fixture
def saved(tmp_path):
    torch.manual_seed(0)
    m = R1Model(CFG).eval()
    save_checkpoint(tmp_path / "ck", m, CFG, tiny_tokenizer(), {"tokens_seen": 1234, "loss": 4.2})
    return tmp_path / "ck", m


def test_round_trip_is_exact(saved):
    path, m = saved
    assert sorted(p.name for p in path.iterdir()) == ["card.json", "config.json", "model.safetensors", "tokenizer.json"]
    ck = load_checkpoint(path)
    assert ck.config == CFG and ck.meta == {"tokens_seen": 1234, "loss": 4.2}
    assert ck.tokenizer.encode("def f").ids == [1, 2]
    a, b = m.state_dict(), ck.model.state_dict()
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    x = torch.randint(0, 64, (2, 30))
    with torch.no_grad():
        assert torch.equal(m(x).logits, ck.model(x).logits)
    assert not ck.model.training


def test_no_pickle_in_model_package():
    src = pathlib.Path(__file__).parents[1] / "model"
    for f in src.glob("*.py"):
        text = f.read_text()
        assert "torch.save(" not in text and "torch.load(" not in text and "import pickle" not in text, f


def _rewrite_weights(path, state):
    save_file(state, str(path / "model.safetensors"))


def corrupt_truncated(path):
    w = path / "model.safetensors"
    w.write_bytes(w.read_bytes()[: w.stat().st_size // 2])


def corrupt_header_length(path):
    w = path / "model.safetensors"
    w.write_bytes(struct.pack("<Q", 10**9) + w.read_bytes()[8:])


def corrupt_header_json(path):
    w = path / "model.safetensors"
    data = bytearray(w.read_bytes())
    data[8:12] = b"\xff{{{"
    w.write_bytes(bytes(data))


def corrupt_missing_tensor(path):
    state = R1Model(CFG).state_dict()
    state.pop("head.weight")
    _rewrite_weights(path, state)


def corrupt_unknown_tensor(path):
    state = R1Model(CFG).state_dict()
    state["extra.weight"] = torch.zeros(2)
    _rewrite_weights(path, state)


def corrupt_shape(path):
    state = R1Model(CFG).state_dict()
    state["embed.weight"] = torch.zeros(65, 64)
    _rewrite_weights(path, state)


def corrupt_config_json(path):
    (path / "config.json").write_text('{"d_model": 64,')


def corrupt_config_field(path):
    (path / "config.json").write_text(json.dumps({**CFG.to_dict(), "n_experts": "many", "nope": 1}))


def missing_weights(path):
    (path / "model.safetensors").unlink()


def missing_config(path):
    (path / "config.json").unlink()


def corrupt_card(path):
    (path / "card.json").write_text("[1, 2")


def corrupt_tokenizer(path):
    (path / "tokenizer.json").write_text('{"model": 3}')


@pytest.mark.parametrize("corrupt,file,words", [
    (corrupt_truncated, "model.safetensors", "truncated"),
    (corrupt_header_length, "model.safetensors", "truncated header"),
    (corrupt_header_json, "model.safetensors", "header"),
    (corrupt_missing_tensor, "model.safetensors", "missing tensors"),
    (corrupt_unknown_tensor, "model.safetensors", "unknown tensors"),
    (corrupt_shape, "model.safetensors", "shape"),
    (corrupt_config_json, "config.json", "bad JSON"),
    (corrupt_config_field, "config.json", "bad config"),
    (missing_weights, "model.safetensors", "missing file"),
    (missing_config, "config.json", "missing file"),
    (corrupt_card, "card.json", "bad JSON"),
    (corrupt_tokenizer, "tokenizer.json", "tokenizer"),
])
def test_corrupt_checkpoint_raises_checkpoint_error_naming_the_file(saved, corrupt, file, words):
    path, _ = saved
    corrupt(path)
    with pytest.raises(CheckpointError) as err:
        load_checkpoint(path)
    assert file in str(err.value) and words in str(err.value), str(err.value)


def test_loading_leaves_torch_compiler_unimported(tiny_checkpoint):
    """A server loads a checkpoint: torch._dynamo and sympy (68 MB resident) stay out."""
    import subprocess
    import sys
    code = ("import sys; from model import load_checkpoint; load_checkpoint(sys.argv[1]); "
            "print(sorted(m for m in ('torch._dynamo', 'sympy') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code, str(tiny_checkpoint)], cwd=pathlib.Path(__file__).parents[1],
                         capture_output=True, text=True, check=True, timeout=300).stdout
    assert out.strip() == "[]"
