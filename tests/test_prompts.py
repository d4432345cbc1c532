"""Prompt formats: a public checkpoint's tokens and chat template read from its own files."""
from __future__ import annotations

import json

import pytest
from tokenizers import Tokenizer

from deepseek_support import ASSISTANT, BOS, EOS, FIM, USER, write_tokenizer
from model.prompts import CheckpointPrompts


def prompts_for(tmp_path, **kw) -> tuple[CheckpointPrompts, Tokenizer]:
    tok = write_tokenizer(tmp_path, **kw)
    (tmp_path / "config.json").write_text(json.dumps({"model_type": "deepseek_v3", "bos_token_id": 0,
                                                      "eos_token_id": 1}))
    return CheckpointPrompts.from_folder(tmp_path, tok), tok


def encode(tok):
    return lambda text: tok.encode(text, add_special_tokens=False).ids


def test_tokens_come_from_the_checkpoint_files(tmp_path):
    p, tok = prompts_for(tmp_path)
    assert p.bos_id == tok.token_to_id(BOS) and p.eos_ids == {tok.token_to_id(EOS)}
    assert p.fim_ids == tuple(tok.token_to_id(t) for t in FIM)
    assert tok.token_to_id(USER) in p.banned_ids and tok.token_to_id(EOS) not in p.banned_ids
    assert set(p.fim_ids) <= p.banned_ids                                  # never generated
    assert p.start("java") == [p.bos_id]


def test_fim_is_prefix_suffix_middle_with_one_level_per_id(tmp_path):
    p, _ = prompts_for(tmp_path)
    u = (0, 0, 0)
    ids, levels = p.fim("python", [10, 11], [12], [u, u], [u], u)
    begin, hole, end = p.fim_ids
    assert ids == [p.bos_id, begin, 10, 11, hole, 12, end]
    assert len(levels) == len(ids)


def test_without_fim_tokens_ghost_text_continues_the_prefix(tmp_path):
    p, _ = prompts_for(tmp_path, fim=False)
    assert not p.has_fim
    u = (0, 0, 0)
    ids, levels = p.fim("java", [10, 11], [12], [u, u], [u], u)
    assert ids == [p.bos_id, 10, 11] and len(levels) == 3


def test_translation_goes_through_the_chat_template(tmp_path):
    p, tok = prompts_for(tmp_path, template="v3")
    ids = p.translation(encode(tok), "int x = 1;")
    assert ids[0] == tok.token_to_id(BOS) and tok.token_to_id(USER) in ids
    assert ids[-1] == tok.token_to_id(ASSISTANT)
    assert "int x = 1;" in tok.decode(ids) and "```java" in tok.decode(ids)


def test_v2_chat_template_and_no_template(tmp_path):
    p, tok = prompts_for(tmp_path, template="v2")
    assert tok.decode(p.translation(encode(tok), "x++;")).rstrip().endswith("Assistant:")
    (tmp_path / "plain").mkdir()
    q, tok2 = prompts_for(tmp_path / "plain", template=None)
    text = tok2.decode(q.translation(encode(tok2), "x++;"))
    assert text.startswith("User: ") and text.endswith("Assistant:")


def test_answer_keeps_the_python_block_and_drops_reasoning():
    p = CheckpointPrompts(bos_id=0, eos_ids=frozenset({1}), banned_ids=frozenset(), pad_id=1, fim_ids=None)
    answer = "<think>\nJava ints...\n</think>\nHere it is:\n```python\nx = 1\nprint(x)\n```\nDone."
    assert p.translation_answer(answer) == "x = 1\nprint(x)"
    assert p.translation_answer("y = 2") == "y = 2"
    assert p.translation_answer("```py\ny = 2") == "y = 2"                # cut by max tokens


def test_a_checkpoint_without_end_token_is_refused(tmp_path):
    tok = write_tokenizer(tmp_path)
    (tmp_path / "tokenizer_config.json").write_text("{}")
    (tmp_path / "config.json").write_text(json.dumps({"model_type": "deepseek_v2"}))
    with pytest.raises(ValueError, match="end-of-sequence"):
        CheckpointPrompts.from_folder(tmp_path, tok)
