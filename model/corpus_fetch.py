"""Fetch the pinned corpus sources of ``model/corpus_sources.txt`` into a cache folder.

    python -m model.corpus_fetch [--sources model/corpus_sources.txt] [--out cache/corpus-src]

Python: ``pip download --no-binary :all: --no-deps NAME==VERSION`` (a source distribution)
into ``OUT/sdist/``. Java: ``apt-get source --download-only SRCPKG=VERSION`` with a private
deb-src list (the machine's apt setup is untouched) into ``OUT/debsrc/SRCPKG/`` (.dsc, upstream
tarball(s), debian tarball). Archives are kept as they are: the build reads them without
unpacking. Idempotent: an entry whose files are there is skipped; a failure is logged and the
other entries go on (``OUT/fetch.json`` records what was fetched and what failed).
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

DEFAULT_SOURCES = Path(__file__).with_name("corpus_sources.txt")
DEBIAN_SUITE = "bookworm"
ARCHIVE_SUFFIXES = (".tar.gz", ".tar.xz", ".tar.bz2", ".tgz", ".zip", ".tar.lzma")


@dataclass(frozen=True)
class Pinned:
    lang: str           # "python" | "java"
    name: str           # PyPI name or Debian source package
    version: str


def read_sources(path: Path = DEFAULT_SOURCES) -> list[Pinned]:
    out = []
    for n, line in enumerate(Path(path).read_text().splitlines(), 1):
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        parts = line.split()
        if len(parts) != 3 or parts[0] not in ("python", "java"):
            raise ValueError(f"{path}:{n}: expected 'python|java NAME VERSION', got {line!r}")
        out.append(Pinned(*parts))
    return out


def _norm(name: str) -> str:
    return name.lower().replace("-", "_").replace(".", "_")


def sdist_of(entry: Pinned, sdist_dir: Path) -> Path | None:
    """The downloaded sdist archive of ``entry`` in ``sdist_dir`` (names normalise - . _)."""
    want = f"{_norm(entry.name)}-{entry.version}".lower()
    for p in sorted(Path(sdist_dir).glob("*")) if Path(sdist_dir).is_dir() else []:
        stem = p.name
        for suf in ARCHIVE_SUFFIXES:
            if stem.endswith(suf):
                stem = stem[: -len(suf)]
                break
        else:
            continue
        base, _, ver = stem.rpartition("-")
        if f"{_norm(base)}-{ver}".lower() == want:
            return p
    return None


def debsrc_dir(entry: Pinned, root: Path) -> Path:
    return Path(root) / "debsrc" / entry.name


def debsrc_archives(entry: Pinned, root: Path) -> list[Path]:
    """The package's archives: upstream tarball(s) + debian tarball, or a native tarball; [] when
    no source tarball is there (a debian tarball alone holds no upstream code)."""
    d = debsrc_dir(entry, root)
    found = sorted(p for p in d.glob("*") if p.name.endswith(ARCHIVE_SUFFIXES)) if d.is_dir() else []
    return found if any(".debian.tar." not in p.name for p in found) else []


def fetch_python(entry: Pinned, root: Path, pip: list[str]) -> str:
    sdists = Path(root) / "sdist"
    sdists.mkdir(parents=True, exist_ok=True)
    if sdist_of(entry, sdists):
        return "cached"
    # pip prepares an sdist's metadata before saving it: --no-build-isolation runs the build
    # backend of the fetching environment (no build dependencies installed per package)
    r = subprocess.run([*pip, "download", "-q", "--no-binary", ":all:", "--no-deps", "--no-build-isolation",
                        "--ignore-requires-python", "-d", str(sdists), f"{entry.name}=={entry.version}"],
                       capture_output=True, text=True, timeout=900)
    if sdist_of(entry, sdists):
        return "fetched"
    raise RuntimeError((r.stderr or r.stdout).strip().splitlines()[-1:] or "no sdist")


def apt_options(root: Path) -> list[str]:
    apt = Path(root) / "apt"
    (apt / "lists" / "partial").mkdir(parents=True, exist_ok=True)
    (apt / "cache" / "archives" / "partial").mkdir(parents=True, exist_ok=True)
    (apt / "sources.list").write_text(f"deb-src http://deb.debian.org/debian {DEBIAN_SUITE} main\n"
                                      f"deb-src http://deb.debian.org/debian {DEBIAN_SUITE}-updates main\n"
                                      f"deb-src http://deb.debian.org/debian-security {DEBIAN_SUITE}-security main\n")
    return ["-o", f"Dir::Etc::SourceList={apt / 'sources.list'}", "-o", "Dir::Etc::SourceParts=/dev/null",
            "-o", f"Dir::State::Lists={apt / 'lists'}", "-o", f"Dir::Cache={apt / 'cache'}"]


def fetch_java(entry: Pinned, root: Path, opts: list[str]) -> str:
    if debsrc_archives(entry, root):
        return "cached"
    d = debsrc_dir(entry, root)
    d.mkdir(parents=True, exist_ok=True)
    r = subprocess.run(["apt-get", "-q", *opts, "source", "--download-only", f"{entry.name}={entry.version}"],
                       cwd=d, capture_output=True, text=True, timeout=900)
    if debsrc_archives(entry, root):
        return "fetched"
    raise RuntimeError((r.stderr or r.stdout).strip().splitlines()[-1:] or "no source archive")


def fetch_all(entries: list[Pinned], root: Path, workers: int = 4, log=print,
              pip: list[str] | None = None) -> dict:
    root = Path(root).resolve()            # apt-get runs in each package's folder
    root.mkdir(parents=True, exist_ok=True)
    opts = None
    if any(e.lang == "java" for e in entries):
        opts = apt_options(root)
        if len(list((root / "apt" / "lists").glob("*Sources*"))) < 3:      # one per deb-src line
            subprocess.run(["apt-get", "-q", *opts, "update"], capture_output=True, timeout=900)
    report: dict[str, dict] = {}

    def one(e: Pinned):
        t = time.time()
        try:
            how = fetch_python(e, root, pip or [sys.executable, "-m", "pip"]) if e.lang == "python" else fetch_java(e, root, opts)
            rec = {"lang": e.lang, "version": e.version, "status": how}
        except Exception as exc:                         # network, a missing version, ...
            rec = {"lang": e.lang, "version": e.version, "status": "failed", "error": str(exc)[:300]}
        rec["seconds"] = round(time.time() - t, 1)
        log(f"  {e.lang} {e.name} {e.version}: {rec['status']}" + (f" ({rec.get('error')})" if "error" in rec else ""))
        return e.name, rec

    with ThreadPoolExecutor(max_workers=workers) as pool:
        for name, rec in pool.map(one, entries):
            report[name] = rec
    (root / "fetch.json").write_text(json.dumps(report, indent=1))
    return report


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m model.corpus_fetch", description=__doc__.split("\n")[0])
    ap.add_argument("--sources", type=Path, default=DEFAULT_SOURCES)
    ap.add_argument("--out", type=Path, default=Path("cache/corpus-src"))
    ap.add_argument("--workers", type=int, default=4, help="parallel downloads")
    ap.add_argument("--pip", default=None, help="pip executable whose environment holds the sdists' build "
                    "backends (make corpus makes one); default: this interpreter's pip")
    a = ap.parse_args(argv)
    rep = fetch_all(read_sources(a.sources), a.out, a.workers, pip=[a.pip] if a.pip else None)
    failed = sorted(k for k, v in rep.items() if v["status"] == "failed")
    print(f"{len(rep) - len(failed)}/{len(rep)} sources present in {a.out}" + (f"; failed: {failed}" if failed else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
