"""Expert calibration: token categories from the data table, held-out text decoded from a corpus
(FIM put back), labels from a forced routing, and the CLI writing card.json."""
import hashlib
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

from model.calibrate import (ExpertStats, HeldoutDoc, calibrate, categorize, heldout_documents,
                             label_experts, load_categories, main)
from model.tokenizer import SpecialTokens, encode_with_byte_offsets, load_tokenizer, token_byte_lengths
from r1lsp.engine import RouteTrace

torch.set_num_threads(1)
FIXTURES = Path(__file__).parent / "fixtures"

JAVA = '''import java.util.List;

public class Q {
    @Override
    public int f(int[] a) { // note
        String q = "SELECT id FROM users WHERE x = ?";
        for (int i = 0; i < a.length; i++) { total += a[i]; }
        foo.bar("hello");
        return 42;
    }
}
'''
PY = '''@dec
def f(x: int):
    """doc"""
    for i in range(3):
        y = x[i] + "select a from b"
    return None
'''


@pytest.fixture(scope="module")
def tok(tiny_checkpoint):
    return load_tokenizer(tiny_checkpoint)


def _cats(tok, text, lang):
    table = load_categories()
    ids, starts = encode_with_byte_offsets(tok, text)
    ends = starts + token_byte_lengths(tok)[np.asarray(ids)]
    codes = categorize(text, lang, starts, ends, table)
    data = text.encode()
    return [(data[a:b].decode("utf-8", "replace"), table.names[c]) for a, b, c in zip(starts, ends, codes)]


def _category_of(pairs, text_piece):
    """Categories of the tokens that make up the first occurrence of `text_piece`."""
    joined, out = "", []
    for t, c in pairs:
        joined += t
        out.append((len(joined), len(t), c))
    i = joined.index(text_piece)
    return {c for end, n, c in out if end > i and end - n < i + len(text_piece) and joined[max(end - n, i):min(end, i + len(text_piece))].strip()}


def test_java_categories(tok):
    pairs = _cats(tok, JAVA, "java")
    assert _category_of(pairs, "java.util") == {"import"}
    assert _category_of(pairs, "Override") == {"annotation"}
    assert _category_of(pairs, "// note") == {"comment"}
    assert _category_of(pairs, "SELECT id FROM users") == {"sql"}
    assert _category_of(pairs, "hello") == {"string"}
    assert _category_of(pairs, "i < a.length") == {"loop"}
    assert _category_of(pairs, "a[i]") == {"indexing"}
    assert _category_of(pairs, "foo.bar") == {"call"}
    assert _category_of(pairs, "42") == {"number"}
    assert _category_of(pairs, "return") == {"jump"}
    assert _category_of(pairs, "String") == {"type"}
    # blank tokens are whitespace, except spaces inside a string or comment
    assert {c for t, c in pairs if not t.strip()} <= {"whitespace", "sql", "string", "comment"}


def test_python_categories(tok):
    pairs = _cats(tok, PY, "python")
    assert _category_of(pairs, "@dec") == {"annotation"}
    assert _category_of(pairs, '"""doc"""') == {"string"}
    assert _category_of(pairs, "for i in") == {"loop"}
    assert _category_of(pairs, "range") == {"call"}
    assert _category_of(pairs, "x[i]") == {"indexing"}
    assert _category_of(pairs, "select a from b") == {"sql"}
    assert _category_of(pairs, "None") == {"constant"}
    assert _category_of(pairs, "int") == {"type"}


def _write_corpus(root: Path, tok, tok_dir: Path, docs: list[tuple[str, str, str]], fim_index: int | None = None) -> Path:
    """A corpus folder in the built format (val split only): one plain sample per file; the file
    at `fim_index` as FIM samples (before, FIM, after) as model.data lays them out."""
    sp = SpecialTokens.from_tokenizer(tok)
    enc = lambda s: tok.encode(s, add_special_tokens=False).ids
    root.mkdir(parents=True, exist_ok=True)
    shutil.copy(Path(tok_dir) / "tokenizer.json", root / "tokenizer.json")
    tokens, starts, rows = [], [0], []
    for i, (path, lang, text) in enumerate(docs):
        lang_id = sp.lang(lang)
        if i == fim_index:
            n = len(text)
            a, b, c, d = n // 5, 2 * n // 5, 3 * n // 5, 4 * n // 5
            ids = ([lang_id] + enc(text[:a]) + [sp.endoftext]
                   + [lang_id, sp.fim_prefix] + enc(text[a:b]) + [sp.fim_suffix] + enc(text[c:d])
                   + [sp.fim_middle] + enc(text[b:c]) + [sp.endoftext]
                   + [lang_id] + enc(text[d:]) + [sp.endoftext])
        else:
            ids = [lang_id] + enc(text) + [sp.endoftext]
        tokens += ids
        starts.append(len(tokens))
        rows.append({"source": "test", "path": path, "lang": lang, "split": "val", "sample": i,
                     "sha1": hashlib.sha1(text.encode()).hexdigest(), "bytes": len(text.encode())})
        rows.append({"source": "test", "path": "train-" + path, "lang": lang, "split": "train", "sample": i})
    np.save(root / "val.tokens.npy", np.asarray(tokens, np.uint16))
    np.save(root / "val.docs.npy", np.asarray(starts, np.int64))
    (root / "files.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    return root



def _fixture_docs():
    out = []
    for p in sorted((FIXTURES / "heldout").iterdir()):
        if p.suffix in (".py", ".java"):
            out.append((p.name, "java" if p.suffix == ".java" else "python", p.read_text()))
    return out


def test_heldout_documents_round_trip_with_fim(tmp_path, tok, tiny_checkpoint):
    docs = _fixture_docs()
    root = _write_corpus(tmp_path / "corpus", tok, tiny_checkpoint, docs, fim_index=1)
    got = list(heldout_documents(root))
    assert [(d.path, d.language, d.text) for d in got] == docs


def _synthetic_docs(n: int = 6) -> list[HeldoutDoc]:
    docs = []
    for i in range(n):
        java = "\n".join(f'''    int m{i}_{j}(int[] xs) {{
        String s = "~~~ ~~~ {j}";
        int t = 0;
        for (int k = 0; k < xs.length; k++) {{ t += xs[k] * {j}; }}
        log(s, t);
        return t;
    }}''' for j in range(4))
        docs.append(HeldoutDoc(f"A{i}.java", "java", f"class A{i} {{\n{java}\n}}\n"))
        py = "\n\n".join(f'''def g{i}_{j}(xs):
    s = "~~~ ~~~ {j}"
    t = 0
    for x in xs:
        t += x * {j}
    print(s, t)
    return t''' for j in range(4))
        docs.append(HeldoutDoc(f"b{i}.py", "python", py + "\n"))
    return docs


def test_forced_string_expert_is_labelled_strings(tok):
    """A router that sends every string-literal token (they start with a quote or ~) to expert 5
    and never picks 5 otherwise: calibration must name expert 5 after strings, by measurement."""
    calls = []

    def route(ids, levels):
        calls.append(len(ids))
        texts = [tok.decode([i]).lstrip() for i in ids]
        is_str = np.array([t[:1] in ('"', "~") for t in texts])
        a = np.asarray(ids)
        first = np.where(is_str, 5, a % 4)
        second = np.where(is_str, a % 4, (a + 1) % 4)
        experts = np.stack([np.stack([first, second], -1)] * 2)           # (2 layers, T, 2)
        weights = np.broadcast_to(np.array([.8, .2], np.float32), experts.shape).copy()
        return RouteTrace(experts, weights)

    labels, stats = calibrate(_synthetic_docs(), route, tok, 8, seq_len=64)
    assert calls and max(calls) <= 64 and stats.files == 12
    five = labels["5"]
    assert five["label"] == "strings", five
    assert five["top"][0][0] == "string" and five["top"][0][1] > 0.9 and five["top"][0][2] > 2
    assert set(five["languages"]) == {"java", "python"}
    assert all("strings" not in labels[str(e)]["label"] for e in range(8) if e != 5)
    assert labels["6"]["label"] == "unused" and labels["6"]["load"] == 0


def test_label_ranking_by_excess_and_mixed():
    table = load_categories()
    C = len(table.names)
    st = ExpertStats(2, list(table.names))
    st.base[:] = 0
    loop, call, ident = table.code("loop"), table.code("call"), table.code("identifier")
    st.base[[loop, call, ident]] = [100, 100, 800]
    st.by_category[0, [loop, call, ident]] = [40, 30, 30]     # loops .4 vs .1, calls .3 vs .1
    st.by_category[1, [loop, call, ident]] = [10, 10, 80]     # the base rates: nothing stands out
    st.by_language = np.ones((2, 1))
    st.languages = ["java"]
    labels = label_experts(st, table)
    assert labels["0"]["label"] == "loops & calls"
    assert labels["0"]["top"][0] == ["loop", 0.4, 4.0]
    assert labels["1"]["label"] == "mixed" and C == len(table.labels)


def test_cli_writes_card_with_a_real_tiny_model(tmp_path, tok, tiny_checkpoint):
    ckpt = tmp_path / "ckpt"
    shutil.copytree(tiny_checkpoint, ckpt)
    weights_before = (ckpt / "model.safetensors").read_bytes()
    card_before = json.loads((ckpt / "card.json").read_text())
    root = _write_corpus(tmp_path / "corpus", tok, tiny_checkpoint, _fixture_docs(), fim_index=0)
    assert main(["--checkpoint", str(ckpt), "--corpus", str(root), "--max-tokens", "1500",
                 "--seq-len", "256", "--write", "--json", str(tmp_path / "out.json")]) == 0
    card = json.loads((ckpt / "card.json").read_text())
    assert (ckpt / "model.safetensors").read_bytes() == weights_before
    assert {k: v for k, v in card.items() if not k.startswith("expert_labels")} == card_before
    labels = card["expert_labels"]
    assert sorted(labels, key=int) == [str(e) for e in range(8)]
    assert all(isinstance(v["label"], str) and v["label"] for v in labels.values())
    assert 0.99 < sum(v["load"] for v in labels.values()) < 1.01
    meta = card["expert_labels_meta"]
    assert 1500 >= meta["tokens"] > 500 and meta["files"] >= 2
    assert json.loads((tmp_path / "out.json").read_text())["expert_labels"] == labels
    from r1lsp.expert_labels import load_expert_labels
    assert set(load_expert_labels(ckpt)) == set(range(8))
