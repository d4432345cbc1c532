"""Byte-level BPE tokenizer: special tokens, Unicode round trip, byte offsets."""

from pathlib import Path

import numpy as np
import pytest

from model.tokenizer import (SPECIAL_TOKENS, SpecialTokens, char_byte_starts, char_to_byte_offsets,
                             load_tokenizer, save_tokenizer, token_byte_lengths,
                             token_byte_offsets, train_tokenizer)

FIXTURES = Path(__file__).parent / "fixtures" / "data"

UNICODE_SAMPLES = [
    "def f(x):\n\treturn x  # tab-indented\n",
    "line one\r\nline two\r\n\r\n\tindented after CRLF\r\n",
    "lone\rcarriage return and trailing spaces   \n",
    'greeting = "こんにちは世界"  # CJK\n',
    's = "😀👋🏽 👨‍👩‍👧"  # emoji, skin tone, ZWJ family\n',
    "café naïve e\u0301 \u00a0nbsp \u200bzero-width \ufeffbom",
    "String s = \"中文\";\t// java\r\n",
    "",
    "   \n\n\t\t\n",
    "mixed\x00nul and \x7f del and \U0010fffd private use",
]


def _texts():
    out = []
    for p in sorted(FIXTURES.rglob("*")):
        if p.suffix in (".py", ".java"):
            out.append(p.read_bytes().decode("utf-8", "replace"))
    return out * 3 + UNICODE_SAMPLES


@pytest.fixture(scope="module")
def tok():
    return train_tokenizer(_texts(), vocab_size=700)


def test_special_tokens_are_single_ids_in_fixed_order(tok):
    sp = SpecialTokens.from_tokenizer(tok)
    assert [tok.token_to_id(s) for s in SPECIAL_TOKENS] == list(range(len(SPECIAL_TOKENS)))
    assert sp.endoftext == 0 and sp.pad == 1 and sp.fim_middle == 4
    assert sp.lang("java") == sp.lang_java and sp.lang("python") == sp.lang_python
    assert sp.lang("plaintext") == sp.lang_text
    for s in SPECIAL_TOKENS:
        assert tok.encode(s, add_special_tokens=False).ids == [tok.token_to_id(s)]
    # inside text, a special-token string is still one id by default ...
    ids = tok.encode("a<|fim_middle|>b", add_special_tokens=False).ids
    assert sp.fim_middle in ids
    # ... and decode drops special tokens unless asked
    assert tok.decode(ids) == "ab"
    assert tok.decode(ids, skip_special_tokens=False) == "a<|fim_middle|>b"


@pytest.mark.parametrize("text", UNICODE_SAMPLES)
def test_unicode_round_trip(tok, text):
    ids = tok.encode(text, add_special_tokens=False).ids
    assert tok.decode(ids) == text


def test_round_trip_fixture_sources_and_reload(tok, tmp_path):
    path = save_tokenizer(tok, tmp_path)
    assert path.name == "tokenizer.json"
    tok2 = load_tokenizer(tmp_path)
    for text in _texts():
        ids = tok.encode(text, add_special_tokens=False).ids
        assert tok2.encode(text, add_special_tokens=False).ids == ids
        assert tok2.decode(ids) == text


def test_byte_offsets_exact_on_unicode(tok):
    lengths = token_byte_lengths(tok)
    assert all(lengths[i] == 0 for i in range(len(SPECIAL_TOKENS)))
    for text in UNICODE_SAMPLES:
        data = text.encode("utf-8")
        enc = tok.encode(text, add_special_tokens=False)
        offs = token_byte_offsets(enc.ids, lengths)
        # the tokens tile the bytes exactly
        ends = list(offs[1:]) + [len(data)]
        assert b"".join(data[s:e] for s, e in zip(offs, ends)) == data
        for i, (s, e) in enumerate(zip(offs, ends)):
            assert e - s == lengths[enc.ids[i]] > 0
        # character offsets converted to bytes agree wherever a token starts a character
        conv = char_to_byte_offsets(text, [o[0] for o in enc.offsets])
        for s, c in zip(offs, conv):
            if s == len(data) or (data[s] & 0xC0) != 0x80:
                assert s == c
            else:                      # a token that starts inside a multi-byte character
                assert c < s


def test_char_byte_starts():
    text = "aé中😀"
    assert list(char_byte_starts(text)) == [0, 1, 3, 6, 10]
    assert char_to_byte_offsets(text, [0, 1, 2, 3, 4]) == [0, 1, 3, 6, 10]


def test_trained_vocab_size_and_load_rejects_foreign(tmp_path):
    big = train_tokenizer(_texts() * 5, vocab_size=400)
    assert big.get_vocab_size() == 400
    from tokenizers import Tokenizer, models
    bare = Tokenizer(models.BPE())
    bare.save(str(tmp_path / "tokenizer.json"))
    with pytest.raises(ValueError):
        load_tokenizer(tmp_path / "tokenizer.json")
    assert isinstance(token_byte_lengths(big), np.ndarray)
