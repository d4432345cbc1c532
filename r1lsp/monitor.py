"""Monitor-guided decoding (Agrawal et al., NeurIPS 2023, "Monitor-guided decoding of code LMs
with static analysis"): while the model writes ghost text, whenever the text reaches a member
access (`receiver.`) whose receiver the static analysis resolves, the next tokens are masked to
those that extend one of the analysis' candidate names (a trie over the names' spellings),
until the name is complete.

Language-agnostic: the candidates come from a function `names_at(text) -> list[str] | None`
given the document text with the generated part inserted, cut at the member position (None:
the analysis does not know the receiver; then nothing is masked), best first: the allowed tokens'
logits get the log of the prior mass of the names each token stays on (a name's prior falls with
its rank in the static ranking), so the model chooses among names the ranking also likes.
`r1lsp.inline` builds it from the per-language candidate providers of `r1lsp.completion`.

Where a name starts, only the first token of each name's own tokenization is allowed (`encode`):
a short piece such as `s` extends many names, and a char-level mask let the model take it
wherever its spelling split was likeliest, then finish it with whatever `s…` name followed
(`select`, `size`, `sort` at most positions of samples/, whatever the receiver).
"""
from __future__ import annotations

import math
import re
from typing import Callable, Sequence

_MEMBER = re.compile(r"(?:[A-Za-z_$][\w$]*|[)\]])\s*\.([A-Za-z_$][\w$]*)?$")


def _is_ident(c: str) -> bool:
    return c.isalnum() or c in "_$"


_MASS = "\0"                                                  # a node's key for its names' prior mass


def rank_prior(rank: int) -> float:
    """The prior weight of the name ranked `rank` (0: first) by the static ranking."""
    return 1.0 / (rank + 1) ** 2


class NameTrie:
    """The spellings of a set of names, for "does this string extend one of them?", and the
    prior mass of the names under each node (`weights`: one per name, default 1)."""

    def __init__(self, names: Sequence[str], weights: Sequence[float] | None = None):
        self.root: dict = {_MASS: 0.0}
        for k, name in enumerate(names):
            w = 1.0 if weights is None else float(weights[k])
            node = self.root
            node[_MASS] += w
            for c in name:
                node = node.setdefault(c, {_MASS: 0.0})
                node[_MASS] += w
            node[""] = node.get("", 0.0) + w                            # a name ends here (its weight)

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

    def mass(self, node: dict, piece: str) -> float:
        """The prior mass of the names `piece` stays on after `node` (0: none; a piece that
        leaves the identifier counts the name it completes)."""
        for c in piece:
            if not _is_ident(c):
                return node.get("", 0.0)
            node = node.get(c)
            if node is None:
                return 0.0
        return node[_MASS]


class MemberMonitor:
    """A logits processor for `Engine.submit_generate`: masks the tokens that cannot continue
    a valid member name. `head` is the text before the cursor on the document (its last part
    suffices), `names_at(generated_so_far)` gives the candidate names at a member position (the
    caller builds the document around it), `vocabulary` the token strings by id."""

    def __init__(self, head: str, names_at: Callable[[str], Sequence[str] | None],
                 vocabulary: Sequence[str], decode: Callable[[list[int]], str],
                 encode: Callable[[str], list[int]] | None = None):
        self.head, self.names_at = head, names_at
        self.vocabulary, self.decode, self.encode = vocabulary, decode, encode
        self._tries: dict[str, NameTrie | None] = {}
        self._starts: dict[str, set[int]] = {}
        self.masked_steps = 0

    def _trie(self, generated_to_dot: str) -> NameTrie | None:
        if generated_to_dot not in self._tries:
            names = list(self.names_at(generated_to_dot) or ())
            trie = None
            if names:
                trie = NameTrie(names, [rank_prior(k) for k in range(len(names))])
                if self.encode is not None:             # each name's own first token
                    self._starts[generated_to_dot] = {ids[0] for ids in map(self.encode, names) if ids}
            self._tries[generated_to_dot] = trie
        return self._tries[generated_to_dot]

    def allowed(self, generated: str) -> list[int] | None:
        """Token ids allowed next after `generated` (None: no constraint here)."""
        site = self._site(generated)
        if site is None:
            return None
        trie, node, typed, to_dot = site
        starts = self._starts.get(to_dot) if typed == "" else None
        return [i for i, piece in enumerate(self.vocabulary)
                if piece and (starts is None or i in starts) and trie.allows(node, piece)]

    def _site(self, generated: str):
        """(trie, node, typed, generated up to the dot) at a member name being written, or None."""
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
        return trie, node, typed, to_dot

    def __call__(self, tokens: list[int], logits):
        generated = self.decode(tokens)
        allowed = self.allowed(generated)
        if not allowed:
            return None
        import torch
        trie, node, _, _ = self._site(generated)
        total = node[_MASS]
        prior = [math.log(max(trie.mass(node, self.vocabulary[i]), 1e-12) / total) for i in allowed]
        mask = torch.full_like(logits, float("-inf"))
        idx = torch.tensor(allowed, device=logits.device)
        mask[idx] = logits[idx] + torch.tensor(prior, dtype=logits.dtype, device=logits.device)
        self.masked_steps += 1
        return mask
