"""Monitor-guided decoding: the name trie, the token mask, and jedi's names through inline."""
import torch

from r1lsp.completion import AnalysisContext
from r1lsp.inline import member_monitor
from r1lsp.monitor import MemberMonitor, NameTrie
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
    assert torch.isinf(masked[VOCAB.index("x")]) and masked[VOCAB.index("add")] == 0
    ad = VOCAB.index("ad")
    assert {VOCAB[i] for i in mon.allowed("ad")} == {"d"}          # a-d-d: only 'd' finishes it
    assert {VOCAB[i] for i in mon.allowed("add")} == {"(", ".", " "}   # `add` is complete: it must end
    assert mon([ad, VOCAB.index("d"), VOCAB.index("(")], logits) is None   # past the name: free again
    assert mon.allowed("") is not None and asked.count("") == 1     # candidates asked once per site
    free = MemberMonitor("    x = ", names_at, VOCAB, decode_with(VOCAB))
    assert free.allowed("") is None                                 # not a member position


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


def test_python_monitor_takes_jedis_members_of_a_local_class():
    text = ("class Shelf:\n    def add(self, title):\n        pass\n\n    def count(self):\n        return 0\n\n"
            "s = Shelf()\nn = s.")
    doc = StructuredDocument(text, "python")
    mon = member_monitor(doc, len(text.encode()), _Engine(VOCAB), AnalysisContext())
    allowed = {VOCAB[i] for i in mon.allowed("")}
    assert {"add", "count", "co", "ad"} <= allowed and not {"x", "xyz", "len", "("} & allowed
