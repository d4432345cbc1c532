"""Expert diagnostics benchmark: refreshing the expert diagnostics of a 2,000-line Java file
(600 with --quick) after a one-character edit, incrementally (apply_change + ExpertMap.refresh:
only the edited paragraph is routed, then the class / method units, their shares of code tokens
and diagnostic contents) against a full refresh (every paragraph routed again,
then the same units and contents), side by side in one run.

    python bench/experts_bench.py [--quick] [--json] [--threads N] [--checkpoint DIR] [--edits N]
                                  [--context-bytes N] [--no-int8]

Uses the shipped checkpoint (model/checkpoints/r1-tiny) when present, else a random-weight r1-tiny
(full preset shapes; the time depends on the shapes, not the weights). The engine runs as the
server runs it (CPU, int8 unless --no-int8); its result cache is cleared before every timed
refresh so that both sides route for real. The Java file is generated (deterministic): a class
of methods with loops, strings, SQL strings, calls, conditions.

Figures (with --json the LAST stdout line is one JSON object holding them all):
  edit_refresh_ms_p50 / _p95     one-character edit inside a method body -> the diagnostics'
                                 contents (apply_change + ExpertMap.refresh + reader_units +
                                 diagnostic_content for every unit), ms
  edit_refresh_cpu_ms_p50        the same, in CPU time of this process (engine thread included):
  full_refresh_cpu_ms_p50        what the refresh costs when other jobs share the cores (with
                                 --threads 1 it is the wall time of an idle machine)
  units_ms_p50                   reader_units + diagnostic_content alone (the units a reader
                                 thinks in, from the routed paragraphs), ms
  full_refresh_ms_p50            the same versions refreshed from scratch: every paragraph routed
                                 again (a fresh ExpertMap) + the same units and contents, ms
                                 (--quick: the first edit's version only)
  apply_change_ms_p50            the structure part of it (tree-sitter re-parse + remap)
  full_file_route_ms_p50 / _p95  the last version's whole file routed in context-size windows
                                 (route_document + aggregate over code tokens), ms
  incremental_speedup            full_refresh_ms_p50 / edit_refresh_ms_p50
  rerouted_per_edit              paragraphs routed per edit (should be 1)
  cold_map_ms                    the first refresh of the file (every paragraph on its own)
  top1_agreement                 share of paragraphs whose top expert is the same with per-paragraph
                                 routing and with whole-file routing (the cost of routing a
                                 paragraph without the rest of the file as context; meaningless
                                 with random weights, whose near-uniform routers flip on noise)
  mean_share_l1                  mean L1 distance between the two share vectors of a paragraph
  aggregate_ms                   aggregate() alone over the whole-file trace (last edit)
"""
from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
import torch  # noqa: E402

from r1lsp.engine import Engine, default_checkpoint  # noqa: E402
from r1lsp.code_roles import load_roles, roles_of  # noqa: E402
from r1lsp.expert_labels import diagnostic_content  # noqa: E402
from r1lsp.expert_units import reader_units  # noqa: E402
from r1lsp.experts import ExpertMap, aggregate, route_document  # noqa: E402
from r1lsp.settings import ModelSettings  # noqa: E402
from model.structure import Level, StructuredDocument  # noqa: E402

FIXTURES = ROOT / "tests" / "fixtures"

_BODIES = [
    '''        int total = 0;
        for (int i = 0; i < items.length; i++) {{
            if (items[i] > {n}) {{
                total += items[i] * {n};
            }}
        }}
        return total;''',
    '''        String sql = "SELECT id, name FROM table_{n} WHERE id = ?";
        try (PreparedStatement st = connection.prepareStatement(sql)) {{
            st.setInt(1, items.length);
            return st.executeUpdate();
        }} catch (SQLException e) {{
            throw new IllegalStateException("query {n} failed", e);
        }}''',
    '''        StringBuilder sb = new StringBuilder("item-{n}: ");
        for (int value : items) {{
            sb.append(value).append(", ");
        }}
        log.info(sb.toString());
        return sb.length();''',
    '''        List<Integer> out = new ArrayList<>();
        int k = {n};
        while (k > 0 && out.size() < items.length) {{
            out.add(items[k % items.length]);
            k = k / 2;
        }}
        return out.stream().mapToInt(Integer::intValue).sum();''',
    '''        Map<String, Integer> counts = new HashMap<>();
        for (int v : items) {{
            String key = v % 2 == 0 ? "even" : "odd";
            counts.merge(key, 1, Integer::sum);
        }}
        return counts.getOrDefault("even", {n});''',
]


def java_file(lines: int = 2000) -> str:
    rng = random.Random(0)
    out = ["package bench;", "", "import java.sql.*;", "import java.util.*;", "",
           "/** Generated for bench/experts_bench.py. */", "public class Big {",
           "    private final Connection connection;", "    private final java.util.logging.Logger log = null;", "",
           "    public Big(Connection connection) {", "        this.connection = connection;", "    }", ""]
    n = 0
    while len(out) < lines - 2:
        body = _BODIES[rng.randrange(len(_BODIES))].format(n=n)
        out += ["    /** Method number %d. */" % n, f"    public int method{n}(int[] items) throws SQLException {{",
                *body.splitlines(), "    }", ""]
        n += 1
    out.append("}")
    return "\n".join(out) + "\n"


def random_checkpoint(directory: Path) -> Path:
    from model import R1Config, R1Model, save_checkpoint
    from model.tokenizer import train_tokenizer
    texts = [p.read_text("utf-8", "replace") for p in sorted(FIXTURES.rglob("*"))
             if p.suffix in (".py", ".java") and p.is_file()]
    tok = train_tokenizer(texts * 2, vocab_size=2048)
    cfg = R1Config.preset("r1-tiny", vocab_size=tok.get_vocab_size())
    torch.manual_seed(0)
    return save_checkpoint(directory, R1Model(cfg).eval(), cfg, tok, {"note": "random weights (bench)"})


def pct(xs: list[float], q: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, max(0, round(q * (len(xs) - 1))))]


def edit_positions(doc: StructuredDocument, n: int) -> list[tuple[int, int]]:
    """(line, col) of a digit/letter inside n method bodies spread over the file."""
    paras = [p for p in doc.hierarchy.at_level(Level.PARAGRAPH) if p.kind == "method_declaration"]
    picks = [paras[int(i)] for i in np.linspace(0, len(paras) - 1, n)]
    out = []
    for p in picks:
        line = p.start[0] + 2                                    # first body line
        text = doc.line_text(line)
        col = next(i for i, c in enumerate(text) if c.isalnum())
        out.append((line, col))
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="fewer edits (< 1 min on 2 cores)")
    ap.add_argument("--json", action="store_true", help="the last stdout line is one JSON object")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--checkpoint", help="checkpoint folder (default: shipped, else random r1-tiny)")
    ap.add_argument("--edits", type=int, default=None)
    ap.add_argument("--lines", type=int, default=None, help="length of the Java file (default 2,000; --quick 600)")
    ap.add_argument("--no-int8", action="store_true", help="run the engine unquantized")
    ap.add_argument("--context-bytes", type=int, default=0,
                    help="ExpertMap left context per paragraph (default 0: the paragraph alone)")
    a = ap.parse_args(argv)
    torch.set_num_threads(a.threads)
    n_edits = a.edits or (3 if a.quick else 10)
    a.lines = a.lines or (600 if a.quick else 2000)
    full_edits = 1 if a.quick else n_edits      # a full refresh routes every paragraph: --quick times one

    tmp = None
    ckpt = Path(a.checkpoint) if a.checkpoint else default_checkpoint()
    source = "shipped" if not a.checkpoint else str(ckpt)
    if not (ckpt / "config.json").exists():
        tmp = tempfile.TemporaryDirectory()
        ckpt = random_checkpoint(Path(tmp.name))
        source = "random r1-tiny"
    eng = Engine(ModelSettings(path=str(ckpt), device="cpu", quantization="none" if a.no_int8 else "int8"),
                 batch_wait_ms=0.5).start()
    if not eng.wait_ready(300):
        print(f"engine failed: {eng.error}", file=sys.stderr)
        return 1
    text = java_file(a.lines)
    doc = StructuredDocument(text, "java", version=0)
    n_paras = doc.hierarchy.count(Level.PARAGRAPH)
    print(f"checkpoint: {source} ({eng.quantization}), {a.lines} lines, {len(text)} bytes, "
          f"{n_paras} paragraphs, {eng.config.n_layers} layers x {eng.config.n_experts} experts", file=sys.stderr)

    emap = ExpertMap(context_bytes=a.context_bytes)
    t0 = time.perf_counter()
    res, _ = emap.refresh(doc, None, eng)
    cold_ms = (time.perf_counter() - t0) * 1e3
    print(f"cold map: {cold_ms:.0f} ms ({res.requests} route requests)", file=sys.stderr)

    E = eng.config.n_experts

    def contents(results):
        units = reader_units(results, doc)
        return units, [diagnostic_content(u) for u in units]

    edit_ms, apply_ms, full_ms, full_refresh_ms, units_ms, rerouted = [], [], [], [], [], []
    edit_cpu, full_cpu = [], []
    for k, (line, col) in enumerate(edit_positions(doc, n_edits)):
        old = doc.line_text(line)[col]
        new = "q" if old != "q" else "z"
        eng.clear_cache()
        c0 = time.process_time()
        t0 = time.perf_counter()
        changed = doc.apply_change(new, (line, col), (line, col + 1), version=doc.version + 1)
        apply_ms.append((time.perf_counter() - t0) * 1e3)
        res, n = emap.refresh(doc, changed, eng)
        t1 = time.perf_counter()
        units, _ = contents(res)
        units_ms.append((time.perf_counter() - t1) * 1e3)
        edit_ms.append((time.perf_counter() - t0) * 1e3)
        edit_cpu.append((time.process_time() - c0) * 1e3)
        rerouted.append(n)
        if k >= full_edits:
            print(f"edit {k}: line {line + 1}: refresh {edit_ms[-1]:.0f} ms ({n} paragraph, units {units_ms[-1]:.0f} ms)",
                  file=sys.stderr)
            continue
        # a full refresh of the same version: every paragraph routed again, the same units
        eng.clear_cache()
        c0 = time.process_time()
        t0 = time.perf_counter()
        contents(ExpertMap(context_bytes=a.context_bytes).refresh(doc, None, eng)[0])
        full_refresh_ms.append((time.perf_counter() - t0) * 1e3)
        full_cpu.append((time.process_time() - c0) * 1e3)
        print(f"edit {k}: line {line + 1}: refresh {edit_ms[-1]:.0f} ms ({n} paragraph, units {units_ms[-1]:.0f} ms), "
              f"full refresh {full_refresh_ms[-1]:.0f} ms", file=sys.stderr)
    # the whole file routed in context-size windows (the last version): speed and agreement
    eng.clear_cache()
    t0 = time.perf_counter()
    full = route_document(doc, eng)
    t1 = time.perf_counter()
    code = load_roles().is_code[roles_of(doc.tree, doc.text.encode("utf-8"), "java", full.token_starts,
                                         full.token_ends)]
    ref = aggregate(full.trace, full.token_starts, doc.hierarchy, token_ends=full.token_ends, n_experts=E, code=code)
    agg_ms = (time.perf_counter() - t1) * 1e3
    full_ms.append((time.perf_counter() - t0) * 1e3)
    print(f"whole file routed in {full.requests} windows: {full_ms[-1]:.0f} ms", file=sys.stderr)
    # agreement of per-paragraph routing with whole-file routing (the last edit's version)
    by_id = {u.span.id: u for u in ref}
    same, l1 = [], []
    for u in res.units:
        r = by_id.get(u.span.id)
        if r is None:
            continue
        same.append(u.top_expert == r.top_expert)
        va, vb = np.zeros(E), np.zeros(E)
        for e, s in u.shares:
            va[e] = s
        for e, s in r.shares:
            vb[e] = s
        l1.append(float(np.abs(va - vb).sum()))
    eng.close()
    if tmp is not None:
        tmp.cleanup()

    fig = {
        "checkpoint": source,
        "quantization": eng.quantization,
        "threads": a.threads,
        "lines": a.lines,
        "paragraphs": n_paras,
        "edits": n_edits,
        "context_bytes": a.context_bytes,
        "edit_refresh_ms_p50": round(statistics.median(edit_ms), 1),
        "edit_refresh_ms_p95": round(pct(edit_ms, 0.95), 1),
        "edit_refresh_cpu_ms_p50": round(statistics.median(edit_cpu), 1),
        "full_refresh_cpu_ms_p50": round(statistics.median(full_cpu), 1),
        "units_ms_p50": round(statistics.median(units_ms), 1),
        "full_refresh_ms_p50": round(statistics.median(full_refresh_ms), 1),
        "full_file_route_ms_p50": round(statistics.median(full_ms), 1),
        "full_file_route_ms_p95": round(pct(full_ms, 0.95), 1),
        "incremental_speedup": round(statistics.median(full_refresh_ms) / statistics.median(edit_ms), 1),
        "apply_change_ms_p50": round(statistics.median(apply_ms), 1),
        "rerouted_per_edit": round(statistics.mean(rerouted), 2),
        "cold_map_ms": round(cold_ms, 1),
        "aggregate_ms": round(agg_ms, 2),
        "top1_agreement": round(float(np.mean(same)), 3) if same else None,
        "mean_share_l1": round(float(np.mean(l1)), 3) if l1 else None,
    }
    for k, v in fig.items():
        print(f"{k:>24}: {v}")
    if a.json:
        print(json.dumps(fig))
    return 0


if __name__ == "__main__":
    sys.exit(main())
