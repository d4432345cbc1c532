"""Java member top-5 on extra code that neither the dev nor the test split has and no ranking
weight was fitted or chosen on: a generalisation check of the list's ranking beside the dev
figures (`tune_completion.py --ranking`). The code is jackson-core 2.14.1 and commons-lang3
3.12.0 (in the model's training corpus: the model plays no part in this static ranking),
unpacked by the corpus fetcher under cache/devset/java/; positions drawn as completion_quality
draws them (the member name deleted, the rest of the line kept), each list ranked as the server
ranks it (`served_top5`).

    python bench/member_probe.py [--quick] [--positions N] [--seed S] [--json]
"""
from __future__ import annotations

import json
import sys
import time

import completion_quality as cq
import devset
import tune_completion as tc

REPOS = ("jackson-core", "libcommons-lang3-java")


def probe_files(language: str, split: str, out=None) -> dict:
    """devset.files for the split 'probe': the REPOS' main sources (Java only)."""
    if split != "probe":
        return _files(language, split, out)
    root = cq.ROOT / "cache" / "devset" / "java"
    if language != "java":
        return {}
    return {name: sorted(p for p in (root / name).rglob("*.java") if "/test/" not in str(p))
            for name in REPOS if (root / name).is_dir()}


_files = devset.files


def main() -> int:
    n = int(sys.argv[sys.argv.index("--positions") + 1]) if "--positions" in sys.argv else \
        200 if "--quick" in sys.argv else 1500
    seed = int(sys.argv[sys.argv.index("--seed") + 1]) if "--seed" in sys.argv else 3
    cq.devset.files = probe_files
    t0 = time.perf_counter()
    pos = cq.positions("probe", n, 0, seed=seed)
    if not pos:
        print(json.dumps({"error": f"none of {REPOS} under cache/devset/java (the corpus fetcher unpacks them)"}))
        return 1
    got = tc.member_samples(len(pos), pos=pos, languages=("java",), names=False)["java"]
    out = {"member_top5_java_probe": round(tc.served_top5(got, "java"), 2), "positions": len(got),
           "resolved_pct": round(100.0 * sum(s.resolved for s in got) / max(1, len(got)), 1),
           "per_repository": {r: round(tc.served_top5([s for s in got if s.position.repo == r], "java"), 1)
                              for r in sorted({s.position.repo for s in got})},
           "seed": seed, "seconds": round(time.perf_counter() - t0, 1)}
    print(json.dumps(out) if "--json" in sys.argv else json.dumps(out, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
