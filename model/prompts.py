"""How each model family is prompted: document start, fill-in-the-middle, translation requests,
and which tokens end or may never appear in a generation.

Two formats, one interface (what r1lsp's completion, ghost text, translation fallback and
expert routing call):
  R1Prompts         r1-tiny's own tokens: <|lang:x|> opens a document, <|fim_prefix|> P
                    <|fim_suffix|> S <|fim_middle|>, translation pairs <|lang:java|> J
                    <|translate|> <|lang:python|>, <|endoftext|> ends.
  CheckpointPrompts a public checkpoint (DeepSeek-V2/V3, Coder-V2, Moonlight, R1): everything
                    read from the checkpoint's own files, nothing keyed on its folder name:
                    bos/eos from config.json, generation_config.json and tokenizer_config.json;
                    FIM tokens found in the tokenizer's added tokens by their role words
                    (fim + begin|prefix, hole|suffix, end|middle: DeepSeek-Coder's
                    <｜fim▁begin｜> <｜fim▁hole｜> <｜fim▁end｜> as well as <|fim_prefix|> ...);
                    translation asked through the checkpoint's chat_template (jinja, sandboxed),
                    the answer's ```python block kept and any <think> part dropped.
                    No FIM tokens: ghost text continues the prefix alone (base models).
Level ids (the hierarchy fed to R1) are laid out here too; a checkpoint model ignores them.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

from model.jsonfile import read_json_object

Units = tuple

TRANSLATE_INSTRUCTION = ("Translate this Java code to Python 3. Keep the names. Reply with only the "
                         "Python code in one ```python block.\n\n```java\n{code}\n```")


class R1Prompts:
    """r1-tiny's format over its SpecialTokens (model.tokenizer)."""

    family = "r1"
    translation_stops = ("<|endoftext|>", "<|sep|>", "\n\n")

    def __init__(self, special):
        self.special = special
        self.eos_ids = frozenset({special.endoftext})
        all_ids = special.all_ids() if hasattr(special, "all_ids") else frozenset()
        self.banned_ids = frozenset(all_ids) - self.eos_ids
        self.pad_id = int(getattr(special, "pad", 0))
        self.has_fim = True

    def start(self, language: str) -> list[int]:
        return [self.special.lang(language)]

    def fim(self, language: str, prefix_ids: Sequence[int], suffix_ids: Sequence[int],
            prefix_units: Sequence[Units], suffix_units: Sequence[Units], cursor: Units):
        """(ids, levels): <|lang|> <|fim_prefix|> P <|fim_suffix|> S <|fim_middle|>; each special
        token takes the units of the text it opens, the last one the cursor's."""
        sp = self.special
        first_p = prefix_units[0] if prefix_units else cursor
        first_s = suffix_units[0] if suffix_units else cursor
        ids = [sp.lang(language), sp.fim_prefix, *prefix_ids, sp.fim_suffix, *suffix_ids, sp.fim_middle]
        levels = [first_p, first_p, *prefix_units, first_s, *suffix_units, cursor]
        return ids, levels

    def translation(self, encode, java_text: str) -> list[int]:
        sp = self.special
        return [sp.lang_java, *encode(java_text), sp.translate, sp.lang_python]

    def translation_answer(self, text: str) -> str:
        return text


@dataclass
class CheckpointPrompts:
    """A public checkpoint's format, read from its files (see the module docstring)."""

    bos_id: int | None
    eos_ids: frozenset
    banned_ids: frozenset
    pad_id: int
    fim_ids: tuple | None                     # (begin/prefix, hole/suffix, end/middle) or None
    add_bos: bool = True
    chat_template: str | None = None
    bos_token: str = ""
    eos_token: str = ""
    encode_text: object = None                # tokenizer text -> ids with special strings parsed
    family: str = "checkpoint"
    translation_stops: tuple = field(default=())

    @property
    def has_fim(self) -> bool:
        return self.fim_ids is not None

    @classmethod
    def from_folder(cls, folder, tokenizer, config: dict | None = None) -> "CheckpointPrompts":
        folder = Path(folder)
        config = config if config is not None else _read_json(folder / "config.json")
        tok_cfg = _read_json(folder / "tokenizer_config.json")
        gen_cfg = _read_json(folder / "generation_config.json")
        added = _added_tokens(tokenizer)                                       # content -> (id, special)

        def token_id(value):
            if isinstance(value, dict):
                value = value.get("content")
            if isinstance(value, str):
                return tokenizer.token_to_id(value)
            return None

        bos = config.get("bos_token_id", gen_cfg.get("bos_token_id"))
        if bos is None:
            bos = token_id(tok_cfg.get("bos_token"))
        eos: set[int] = set()
        for source in (config.get("eos_token_id"), gen_cfg.get("eos_token_id")):
            if isinstance(source, int):
                eos.add(source)
            elif isinstance(source, list):
                eos.update(int(e) for e in source)
        e = token_id(tok_cfg.get("eos_token"))
        if e is not None:
            eos.add(e)
        if not eos:
            raise ValueError(f"{folder}: no end-of-sequence token in config.json, generation_config.json "
                             "or tokenizer_config.json")
        pad = config.get("pad_token_id", gen_cfg.get("pad_token_id"))
        pad = pad if isinstance(pad, int) else min(eos)
        specials = frozenset(i for i, special in added.values() if special)
        template = tok_cfg.get("chat_template")
        if isinstance(template, list):                                         # [{"name", "template"}]
            template = next((t.get("template") for t in template if t.get("name") == "default"), None)

        def text_of(value):
            return value.get("content", "") if isinstance(value, dict) else (value or "")

        def encode_text(text: str) -> list[int]:
            return tokenizer.encode(text, add_special_tokens=False).ids

        fim = _find_fim(added)
        banned = (specials | frozenset(fim or ())) - frozenset(eos)          # FIM tokens may be non-special
        return cls(bos_id=bos, eos_ids=frozenset(eos), banned_ids=banned, pad_id=int(pad), fim_ids=fim, add_bos=bool(tok_cfg.get("add_bos_token", True)),
                   chat_template=template if isinstance(template, str) else None,
                   bos_token=text_of(tok_cfg.get("bos_token")), eos_token=text_of(tok_cfg.get("eos_token")),
                   encode_text=encode_text, family=str(config.get("model_type", "checkpoint")))

    def start(self, language: str) -> list[int]:
        return [self.bos_id] if self.add_bos and self.bos_id is not None else []

    def fim(self, language: str, prefix_ids: Sequence[int], suffix_ids: Sequence[int],
            prefix_units: Sequence[Units], suffix_units: Sequence[Units], cursor: Units):
        """(ids, levels): <bos> <begin> P <hole> S <end> (PSM), or <bos> P without FIM tokens."""
        start = self.start(language)
        first_p = prefix_units[0] if prefix_units else cursor
        if self.fim_ids is None:
            return [*start, *prefix_ids], [first_p] * len(start) + list(prefix_units)
        begin, hole, end = self.fim_ids
        first_s = suffix_units[0] if suffix_units else cursor
        ids = [*start, begin, *prefix_ids, hole, *suffix_ids, end]
        levels = [first_p] * (len(start) + 1) + list(prefix_units) + [first_s, *suffix_units, cursor]
        return ids, levels

    def translation(self, encode, java_text: str) -> list[int]:
        message = TRANSLATE_INSTRUCTION.format(code=java_text.strip("\n"))
        if self.chat_template:
            from jinja2.sandbox import ImmutableSandboxedEnvironment

            env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True)
            env.globals["raise_exception"] = _raise_template_error
            text = env.from_string(self.chat_template).render(
                messages=[{"role": "user", "content": message}], add_generation_prompt=True,
                bos_token=self.bos_token, eos_token=self.eos_token)
            return self.encode_text(text)                                      # the template writes <bos>
        return [*self.start("java"), *encode(f"User: {message}\n\nAssistant:")]

    def translation_answer(self, text: str) -> str:
        """The Python code of an instruct answer: after any </think>, inside ```python if fenced."""
        if "</think>" in text:
            text = text.split("</think>", 1)[1]
        m = re.search(r"```(?:python|py)?[^\n]*\n(.*?)(?:```|$)", text, re.S)
        return m.group(1).rstrip() if m else text.strip()


def _raise_template_error(message):
    raise ValueError(f"chat_template: {message}")


def _read_json(path: Path) -> dict:
    return read_json_object(path, ValueError, missing_ok=True)


def _added_tokens(tokenizer) -> dict[str, tuple[int, bool]]:
    return {t.content: (i, bool(t.special)) for i, t in tokenizer.get_added_tokens_decoder().items()}


_FIM_ROLES = (("begin", "prefix", "pre"), ("hole", "suffix", "suf"), ("end", "middle", "mid"))


def _find_fim(added: dict[str, tuple[int, bool]]) -> tuple[int, int, int] | None:
    """The three FIM tokens by their role words, or None unless all three are there."""
    found: list[int | None] = [None, None, None]
    for content, (i, _) in added.items():
        low = content.lower()
        if "fim" not in low:
            continue
        words = set(re.split(r"[^a-z]+", low))
        for role, names in enumerate(_FIM_ROLES):
            if found[role] is None and words & set(names):
                found[role] = i
    return tuple(found) if all(f is not None for f in found) else None       # type: ignore[return-value]
