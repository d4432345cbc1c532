"""Fetch the completion dev set named in bench/devset.json into cache/devset (`make devset`).

Python: the pinned sdists (`pip download --no-binary :all: --no-deps`), unpacked to
cache/devset/python/<name>/. Java: the pinned Debian source packages' upstream tarballs
(`apt-get source --download-only` with a private deb-src list, so the machine's apt setup is
untouched), unpacked to cache/devset/java/<name>/; an entry with `"from": "pypi"` is a PyPI
sdist carrying Java sources (the Debian mirror reachable here holds few Java packages). Idempotent: what is there is kept.
"""
from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SPEC = Path(__file__).with_name("devset.json")


def _unpack(archive: Path, dest: Path) -> None:
    tmp = dest.with_suffix(".part")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    if archive.suffix == ".zip":
        with zipfile.ZipFile(archive) as z:
            z.extractall(tmp)
    else:
        with tarfile.open(archive) as t:
            t.extractall(tmp, filter="data")
    tmp.rename(dest)


def fetch_python(entry: dict, out: Path, language: str = "python") -> Path:
    dest = out / language / entry["name"]
    if dest.exists():
        return dest
    sdists = out / "sdist"
    sdists.mkdir(parents=True, exist_ok=True)
    subprocess.run([sys.executable, "-m", "pip", "download", "-q", "--no-binary", ":all:", "--no-deps",
                    "-d", str(sdists), f"{entry['name']}=={entry['version']}"],
                   check=True)
    stem = entry["name"].replace("-", "_").lower()
    found = [p for p in sdists.iterdir() if p.name.lower().replace("-", "_").startswith(f"{stem}_{entry['version']}".lower())
             or p.name.lower().replace("-", "_").startswith(f"{stem}-{entry['version']}".lower())]
    if not found:
        found = [p for p in sdists.iterdir() if entry["version"] in p.name
                 and p.name.lower().replace("-", "_").startswith(stem)]
    _unpack(found[0], dest)
    return dest


def fetch_java(entry: dict, out: Path) -> Path:
    if entry.get("from") == "pypi":                                     # Java sources inside a PyPI sdist
        return fetch_python(entry, out, "java")
    dest = out / "java" / entry["name"]
    if dest.exists():
        return dest
    apt = out / "apt"
    (apt / "lists" / "partial").mkdir(parents=True, exist_ok=True)
    (apt / "cache" / "archives" / "partial").mkdir(parents=True, exist_ok=True)
    (apt / "sources.list").write_text("deb-src http://deb.debian.org/debian bookworm main\n")
    opts = ["-o", f"Dir::Etc::SourceList={apt / 'sources.list'}", "-o", "Dir::Etc::SourceParts=/dev/null",
            "-o", f"Dir::State::Lists={apt / 'lists'}", "-o", f"Dir::Cache={apt / 'cache'}"]
    if not any((apt / "lists").glob("*Sources*")):
        subprocess.run(["apt-get", "-q", *opts, "update"], check=True)
    src = out / "debsrc"
    src.mkdir(parents=True, exist_ok=True)
    upstream = entry["version"].rsplit("-", 1)[0]
    orig = [p for p in src.glob(f"{entry['name']}_{upstream}.orig.tar.*")]
    if not orig:
        # the Debian part may be missing from the mirror: only the upstream tarball is needed
        subprocess.run(["apt-get", "-q", *opts, "source", "--download-only", f"{entry['name']}={entry['version']}"],
                       cwd=src, check=False)
        orig = [p for p in src.glob(f"{entry['name']}_{upstream}.orig.tar.*")]
    if not orig:
        raise SystemExit(f"could not fetch the source of {entry['name']} {entry['version']}")
    _unpack(orig[0], dest)
    return dest


def files(language: str, split: str, out: Path | None = None) -> dict[str, list[Path]]:
    """{repository: its source files} of one language and split (fetched already)."""
    out = out or ROOT / "cache" / "devset"
    spec = json.loads(SPEC.read_text())
    ext = {"python": ".py", "java": ".java"}[language]
    result = {}
    for entry in spec[language]:
        if entry["split"] != split:
            continue
        root = out / language / entry["name"]
        paths = sorted(p for p in root.rglob(f"*{ext}")
                       if not any(part in ("test", "tests", "testing", "docs", "examples") for part in p.relative_to(root).parts)
                       and "/src/test/" not in str(p))
        result[entry["name"]] = paths
    return result


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--out", type=Path, default=ROOT / "cache" / "devset")
    args = ap.parse_args()
    spec = json.loads(SPEC.read_text())
    for entry in spec["python"]:
        print("python", entry["name"], entry["version"], entry["split"], "->", fetch_python(entry, args.out))
    for entry in spec["java"]:
        print("java", entry["name"], entry["version"], entry["split"], "->", fetch_java(entry, args.out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
