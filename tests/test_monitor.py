"""Monitor-guided decoding: the name trie, the token mask, and jedi's names through inline."""
import math

import torch

from r1lsp.completion import AnalysisContext
from r1lsp.inline import member_monitor
from r1lsp.monitor import MemberMonitor, NameTrie, rank_prior
from model.structure import StructuredDocument

VOCAB = ["", "(", ".", " ", "ad", "add", "d", "count", "co", "unt", "x", "add(", "xyz", "len"]


def decode_with(vocab):
    return lambda ids: "".join(vocab[i] for i in ids)


def test_trie_allows_pieces_that_stay_on_a_name_or_finish_it():
    trie = NameTrie(["add", "count"])
    root = trie.root
    assert trie.allows(root, "ad") and trie.allows(root, "add") and trie.allows(root, "add(")
    assert trie.allows(root, "co") and not trie.allows(root, "x") and not trie.allows(root, "(")
    node = trie.node("co")
    assert trie.allows(node, "unt") and trie.allows(node, "unt(") and not trie.allows(node, "d")
    assert trie.node("zz") is None


def test_monitor_masks_tokens_after_a_resolved_member_access():
    asked = []

    def names_at(generated):
        asked.append(generated)
        return ["add", "count"] if generated.endswith("shelf.") or generated == "" else None

    mon = MemberMonitor("    shelf.", names_at, VOCAB, decode_with(VOCAB))
    allowed = {VOCAB[i] for i in mon.allowed("")}
    assert allowed == {"ad", "add", "co", "count", "add("}
    logits = torch.zeros(len(VOCAB))
    masked = mon([], logits)
    assert torch.isinf(masked[VOCAB.index("x")])
    # equal logits: the prior decides, and `add` (ranked first) outweighs `count` (second)
    assert masked[VOCAB.index("add")] > masked[VOCAB.index("count")] > float("-inf")
    assert abs(masked[VOCAB.index("add")] - math.log(rank_prior(0) / (rank_prior(0) + rank_prior(1)))) < 1e-6
    ad = VOCAB.index("ad")
    assert {VOCAB[i] for i in mon.allowed("ad")} == {"d"}          # a-d-d: only 'd' finishes it
    assert {VOCAB[i] for i in mon.allowed("add")} == {"(", ".", " "}   # `add` is complete: it must end
    assert mon([ad, VOCAB.index("d"), VOCAB.index("(")], logits) is None   # past the name: free again
    assert mon.allowed("") is not None and asked.count("") == 1     # candidates asked once per site
    free = MemberMonitor("    x = ", names_at, VOCAB, decode_with(VOCAB))
    assert free.allowed("") is None                                 # not a member position


def test_prior_mass_counts_the_names_a_piece_stays_on():
    trie = NameTrie(["size", "sort", "add"], [1.0, 0.5, 0.25])
    root = trie.root
    assert trie.mass(root, "s") == 1.5 and trie.mass(root, "so") == 0.5
    assert trie.mass(root, "add(") == 0.25 and trie.mass(root, "x") == 0.0


def test_a_name_starts_with_its_own_first_token_when_the_tokenizer_is_known():
    # `s` extends both names, but neither is tokenized starting with it: it is not allowed
    vocab = ["", "s", "size", "sort", "so", "rt", "."]
    tokens = {"size": [2], "sort": [4, 5]}
    mon = MemberMonitor("    shelf.", lambda g: ["size", "sort"] if g == "" else None, vocab, decode_with(vocab),
                        lambda name: tokens[name])
    assert {vocab[i] for i in mon.allowed("")} == {"size", "so"}
    assert {vocab[i] for i in mon.allowed("so")} == {"rt"}          # inside a name: any piece that extends it
    plain = MemberMonitor("    shelf.", lambda g: ["size", "sort"] if g == "" else None, vocab, decode_with(vocab))
    assert {vocab[i] for i in plain.allowed("")} == {"s", "size", "sort", "so"}


class _Tok:
    def __init__(self, vocab):
        self.vocab = vocab

    def get_vocab_size(self):
        return len(self.vocab)

    def decode(self, ids):
        return "".join(self.vocab[i] for i in ids)


class _Engine:
    def __init__(self, vocab):
        import types
        self.tokenizer = _Tok(vocab)
        self.config = types.SimpleNamespace(vocab_size=len(vocab))
        self.prompts = types.SimpleNamespace(banned_ids=[])
        self.decode = self.tokenizer.decode

    def encode(self, text):                                   # whole names that are one piece
        return [self.tokenizer.vocab.index(text)] if text in self.tokenizer.vocab else []


def test_python_monitor_takes_jedis_members_of_a_local_class():
    text = ("class Shelf:\n    def add(self, title):\n        pass\n\n    def count(self):\n        return 0\n\n"
            "s = Shelf()\nn = s.")
    doc = StructuredDocument(text, "python")
    mon = member_monitor(doc, len(text.encode()), _Engine(VOCAB), AnalysisContext())
    allowed = {VOCAB[i] for i in mon.allowed("")}
    assert allowed == {"add", "count"}                          # the names' own first tokens
