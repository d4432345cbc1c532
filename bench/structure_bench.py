"""Structure mapping bench: full parse+map vs incremental re-parse+remap after typing one
character inside a method body, on a generated ~2,000-line Java file.

    python bench/structure_bench.py [--quick] [--json] [--repeats N]

With --json the last stdout line is one JSON object.
"""
from __future__ import annotations

import argparse
import json
import statistics
import time

from model.structure import Level, StructuredDocument, map_structure

METHOD = """\
    /** Returns the {kind} total for {name}, skipping empty entries. */
    public Optional<Long> {name}(List<Entry<String, Integer>> entries, int limit) {{
        long total = 0L;
        Map<String, Integer> seen = new HashMap<>();
        for (Entry<String, Integer> e : entries) {{
            if (e.getValue() == null || e.getValue() <= 0) {{
                continue;
            }}
            seen.merge(e.getKey(), e.getValue(), Integer::sum);
            total += (long) e.getValue() * {n};
        }}
        entries.stream()
            .filter(e -> e.getKey().startsWith("{kind}"))
            .map(e -> e.getValue() + limit)
            .forEach(v -> log.info("value " + v));
        return total > limit ? Optional.of(total) : Optional.empty();
    }}

"""

CLASS_HEAD = """\
/** Generated class {c} for the structure bench. */
@SuppressWarnings("unchecked")
public final class Ledger{c}<T extends Comparable<T>> implements Iterable<T> {{
    private static final Logger log = Logger.getLogger("ledger{c}");
    private final List<T> items = new ArrayList<>();

    public Ledger{c}(Collection<? extends T> initial) {{
        items.addAll(initial);
    }}

    @Override
    public Iterator<T> iterator() {{
        return items.iterator();
    }}

"""


def make_java(target_lines: int = 2000) -> str:
    """A deterministic, realistic Java file of about `target_lines` lines."""
    parts = ["package bench.ledger;\n\n", "import java.util.*;\n", "import java.util.Map.Entry;\n",
             "import java.util.logging.Logger;\n\n"]
    lines = 6
    c = 0
    while lines < target_lines:
        parts.append(CLASS_HEAD.format(c=c))
        for m in range(6):
            parts.append(METHOD.format(kind=("net", "gross", "tax")[m % 3], name=f"total{c}_{m}", n=m + 1))
        parts.append("    enum Kind { NET, GROSS, TAX }\n}\n\n")
        lines = sum(p.count("\n") for p in parts)
        c += 1
    return "".join(parts)


def percentile(xs, q):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(q * (len(xs) - 1))))]


def timed(fn, repeats):
    out = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        out.append((time.perf_counter() - t0) * 1000)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="fewer repeats (< 1 minute on 2 cores)")
    ap.add_argument("--json", action="store_true", help="last stdout line: one JSON object")
    ap.add_argument("--repeats", type=int, default=None)
    ap.add_argument("--lines", type=int, default=2000)
    args = ap.parse_args()
    repeats = args.repeats or (20 if args.quick else 100)

    text = make_java(args.lines)
    n_lines = text.count("\n")
    map_structure(text, "java")  # warm up: grammar, query compile

    full = timed(lambda: map_structure(text, "java"), repeats)
    materialize = timed(lambda: map_structure(text, "java").spans, max(3, repeats // 5))

    # incremental: type one character inside a method body, then delete it, alternating,
    # walking through the file's method bodies
    doc = StructuredDocument(text, "java")
    targets = [i for i, line in enumerate(text.splitlines()) if line.strip() == "long total = 0L;"]
    inc = []
    for k in range(repeats):
        line = targets[(k * 7) % len(targets)]
        t0 = time.perf_counter()
        doc.apply_change("1", (line, 23), (line, 23))              # 0L -> 01L
        inc.append((time.perf_counter() - t0) * 1000)
        t0 = time.perf_counter()
        doc.apply_change("", (line, 23), (line, 24))
        inc.append((time.perf_counter() - t0) * 1000)
    assert doc.text == text
    assert doc.hierarchy == map_structure(text, "java"), "incremental result differs from a fresh map"
    h = doc.hierarchy

    res = {
        "lines": n_lines,
        "bytes": len(text.encode()),
        "units": {lv.name.lower(): h.count(lv) for lv in Level},
        "repeats": repeats,
        "full_parse_ms_p50": round(statistics.median(full), 3),
        "full_parse_ms_p95": round(percentile(full, 0.95), 3),
        "full_with_span_objects_ms_p50": round(statistics.median(materialize), 3),
        "incremental_remap_ms_p50": round(statistics.median(inc), 3),
        "incremental_remap_ms_p95": round(percentile(inc, 0.95), 3),
        "local_remaps": doc.local_remaps,
        "edits": len(inc),
    }
    res["incremental_speedup"] = round(res["full_parse_ms_p50"] / res["incremental_remap_ms_p50"], 2)

    print(f"structure bench: {n_lines} lines, {res['bytes']} bytes, units {res['units']}")
    print(f"{'measure':<44}{'p50 ms':>10}{'p95 ms':>10}")
    print(f"{'full parse + map (map_structure)':<44}{res['full_parse_ms_p50']:>10.3f}{res['full_parse_ms_p95']:>10.3f}")
    print(f"{'  ... + build every HierarchySpan object':<44}{res['full_with_span_objects_ms_p50']:>10.3f}{'':>10}")
    print(f"{'incremental re-parse + remap (1 char edit)':<44}{res['incremental_remap_ms_p50']:>10.3f}"
          f"{res['incremental_remap_ms_p95']:>10.3f}")
    print(f"speedup (full p50 / incremental p50): {res['incremental_speedup']}x; "
          f"{res['local_remaps']}/{res['edits']} edits remapped locally; result equals a fresh map")
    if args.json:
        print(json.dumps(res))


if __name__ == "__main__":
    main()
