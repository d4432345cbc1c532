"""Monitor-guided decoding (Agrawal et al., NeurIPS 2023, "Monitor-guided decoding of code LMs
with static analysis"): while the model writes ghost text, whenever the text reaches a member
access (`receiver.`) whose receiver the static analysis resolves, the next tokens are masked to
those that extend one of the analysis' candidate names (a trie over the names' spellings),
until the name is complete.

Language-agnostic: the candidates come from a function `names_at(text) -> list[str] | None`
given the document text with the generated part inserted, cut at the member position (None:
the analysis does not know the receiver; then nothing is masked). `r1lsp.inline` builds it from
the per-language candidate providers of `r1lsp.completion`.
"""
from __future__ import annotations

import re
from typing import Callable, Sequence

_MEMBER = re.compile(r"(?:[A-Za-z_$][\w$]*|[)\]])\s*\.([A-Za-z_$][\w$]*)?$")


def _is_ident(c: str) -> bool:
    return c.isalnum() or c in "_$"


class NameTrie:
    """The spellings of a set of names, for "does this string extend one of them?"."""

    def __init__(self, names: Sequence[str]):
        self.root: dict = {}
        for name in names:
            node = self.root
            for c in name:
                node = node.setdefault(c, {})
            node[""] = True                                             # a name ends here

    def node(self, prefix: str) -> dict | None:
        node = self.root
        for c in prefix:
            node = node.get(c)
            if node is None:
                return None
        return node

    def allows(self, node: dict, piece: str) -> bool:
        """Whether `piece`, written after the trie position `node`, stays on a name's spelling
        or completes a name and then leaves the identifier (`name(`, `name)`…)."""
        for i, c in enumerate(piece):
            if not _is_ident(c):
                return "" in node
            node = node.get(c)
            if node is None:
                return False
        return True


class MemberMonitor:
    """A logits processor for `Engine.submit_generate`: masks the tokens that cannot continue
    a valid member name. `head` is the text before the cursor on the document (its last part
    suffices), `names_at(generated_so_far)` gives the candidate names at a member position (the
    caller builds the document around it), `vocabulary` the token strings by id."""

    def __init__(self, head: str, names_at: Callable[[str], Sequence[str] | None],
                 vocabulary: Sequence[str], decode: Callable[[list[int]], str]):
        self.head, self.names_at = head, names_at
        self.vocabulary, self.decode = vocabulary, decode
        self._tries: dict[str, NameTrie | None] = {}
        self.masked_steps = 0

    def _trie(self, generated_to_dot: str) -> NameTrie | None:
        if generated_to_dot not in self._tries:
            names = self.names_at(generated_to_dot)
            self._tries[generated_to_dot] = NameTrie(names) if names else None
        return self._tries[generated_to_dot]

    def allowed(self, generated: str) -> list[int] | None:
        """Token ids allowed next after `generated` (None: no constraint here)."""
        m = _MEMBER.search((self.head + generated)[-200:])
        if m is None:
            return None
        typed = m.group(1) or ""
        to_dot = generated[:len(generated) - len(typed)]
        trie = self._trie(to_dot)
        if trie is None:
            return None
        node = trie.node(typed)
        if node is None:
            return None                                                 # already off every name: let it be
        return [i for i, piece in enumerate(self.vocabulary) if piece and trie.allows(node, piece)]

    def __call__(self, tokens: list[int], logits):
        allowed = self.allowed(self.decode(tokens))
        if not allowed:
            return None
        import torch
        mask = torch.full_like(logits, float("-inf"))
        idx = torch.tensor(allowed, device=logits.device)
        mask[idx] = logits[idx]
        self.masked_steps += 1
        return mask
