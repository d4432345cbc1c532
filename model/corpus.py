"""Gathering the training text: sources, provenance/licences, filters, deduplication, split.

Sources (all open source, all present on the machine or fetched from Debian):

* ``python-stdlib``: the interpreter's standard library (``sysconfig.get_paths()['stdlib']``),
  PSF-2.0. Test folders (``test``, ``tests``, ``idle_test``, ...) are skipped unless asked.
* ``site-packages``: ``.py`` files of the installed distributions of the running interpreter's
  environment; each file is attributed to its distribution (via ``RECORD``) and its licence is
  read from the distribution metadata (``License-Expression``, ``License``, classifiers).
  Files owned by no distribution are skipped (unknown licence), and so are vendored copies of
  other projects (``_vendor/`` ...), whose licence is not the distribution's.
* ``openjdk-17-source``: ``src.zip`` of Debian's ``openjdk-17-source`` package, fetched with
  ``apt-get download`` into a cache folder and unpacked with ``dpkg-deb -x`` (the package is
  never installed). GPL-2.0 WITH Classpath-exception-2.0.
* ``DirectorySource``: any folder (used by the tests' fixture build).

Each file is filtered (:func:`check_text`), deduplicated on a hash of its normalised text
(:func:`normalise_for_dedup`), and assigned to a split by a hash of ``source:path``
(:func:`split_of`) so that the held-out split is chosen *by file*, deterministically.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import subprocess
import sys
import sysconfig
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

PSF_LICENSE = "PSF-2.0"
OPENJDK_LICENSE = "GPL-2.0-only WITH Classpath-exception-2.0"

LANG_BY_SUFFIX = {".py": "python", ".java": "java"}
DEFAULT_TEST_DIRS = ("test", "tests", "idle_test", "testing", "unittests")
# vendored copies of other projects inside a distribution carry their own licences
VENDOR_DIRS = ("_vendor", "vendor", "_vendored", "vendored", "_vendored_packages")


@dataclass
class RawFile:
    source: str
    lang: str
    path: str            # provenance path (relative to the source root, or inside the zip)
    data: bytes
    package: str
    version: str
    license: str


@dataclass
class Source:
    """Base: a named collection of files of one language and provenance."""

    name: str
    lang: str
    license: str
    package: str = ""
    version: str = ""
    origin: str = ""                     # where it was read from (folder, zip, .deb)
    notes: list[str] = field(default_factory=list)

    def paths(self) -> list[str]:        # pragma: no cover - abstract
        raise NotImplementedError

    def read(self, path: str) -> RawFile:  # pragma: no cover - abstract
        raise NotImplementedError

    def provenance(self) -> dict:
        return {"package": self.package, "version": self.version, "origin": self.origin}


def _is_excluded(rel_parts: tuple[str, ...], exclude_dirs: tuple[str, ...]) -> bool:
    return any(p in exclude_dirs for p in rel_parts[:-1])


@dataclass
class DirectorySource(Source):
    root: Path = Path(".")
    suffixes: tuple[str, ...] = (".py",)
    exclude_dirs: tuple[str, ...] = ()

    def paths(self) -> list[str]:
        root = Path(self.root)
        out = []
        for dirpath, dirnames, filenames in os.walk(root):
            rel_dir = Path(dirpath).relative_to(root)
            # prune excluded folders and caches early
            dirnames[:] = sorted(d for d in dirnames
                                 if d not in self.exclude_dirs and d != "__pycache__"
                                 and d != "site-packages" and not d.startswith("."))
            for fn in sorted(filenames):
                if fn.endswith(self.suffixes) and not os.path.islink(os.path.join(dirpath, fn)):
                    out.append((rel_dir / fn).as_posix())
        return out

    def read(self, path: str) -> RawFile:
        data = (Path(self.root) / path).read_bytes()
        return RawFile(self.name, self.lang, path, data, self.package, self.version, self.license)


@dataclass
class ZipSource(Source):
    zip_path: Path = Path(".")
    suffixes: tuple[str, ...] = (".java",)
    exclude_dirs: tuple[str, ...] = ()
    _zf: zipfile.ZipFile | None = None

    def _zip(self) -> zipfile.ZipFile:
        if self._zf is None:
            self._zf = zipfile.ZipFile(self.zip_path)
        return self._zf

    def paths(self) -> list[str]:
        return sorted(n for n in self._zip().namelist()
                      if n.endswith(self.suffixes)
                      and not _is_excluded(tuple(n.split("/")), self.exclude_dirs))

    def read(self, path: str) -> RawFile:
        data = self._zip().read(path)
        return RawFile(self.name, self.lang, path, data, self.package, self.version, self.license)


def license_of_distribution(dist) -> str:
    """SPDX-ish licence string of an ``importlib.metadata`` distribution ("" if unknown)."""
    md = dist.metadata
    expr = md.get("License-Expression")
    if expr:
        return expr.strip()
    lic = (md.get("License") or "").strip()
    if lic and lic.upper() != "UNKNOWN" and len(lic) <= 80 and "\n" not in lic:
        return lic
    classifiers = [c.split("::")[-1].strip() for c in (md.get_all("Classifier") or [])
                   if c.startswith("License ::")]
    if classifiers:
        return "; ".join(classifiers)
    if lic:  # a full licence text in the License field: keep its first line
        return lic.splitlines()[0].strip()[:80]
    return ""


@dataclass
class SitePackagesSource(Source):
    """``.py`` files of the distributions installed in ``root`` (licence per distribution)."""

    root: Path = Path(".")
    exclude_dists: tuple[str, ...] = ("r1lsp",)
    exclude_dirs: tuple[str, ...] = ()
    _owner: dict[str, tuple[str, str, str]] = field(default_factory=dict)
    packages: dict[str, dict] = field(default_factory=dict)

    def paths(self) -> list[str]:
        from importlib import metadata
        root = Path(self.root)
        self._owner.clear()
        for dist in sorted(metadata.distributions(path=[str(root)]),
                           key=lambda d: (d.metadata.get("Name") or "").lower()):
            name = dist.metadata.get("Name") or "?"
            if name.lower() in self.exclude_dists:
                continue
            lic = license_of_distribution(dist)
            if not lic:
                self.notes.append(f"{name}: no licence metadata, skipped")
                continue
            self.packages[name] = {"version": dist.version, "license": lic}
            for f in dist.files or ():
                p = f.as_posix()
                if not p.endswith(".py") or p.startswith("..") or "__pycache__" in p:
                    continue
                if _is_excluded(tuple(p.split("/")), self.exclude_dirs):
                    continue
                if (root / p).is_file() and p not in self._owner:
                    self._owner[p] = (name, dist.version, lic)
        return sorted(self._owner)

    def read(self, path: str) -> RawFile:
        name, version, lic = self._owner[path]
        data = (Path(self.root) / path).read_bytes()
        return RawFile(self.name, self.lang, path, data, name, version, lic)


def stdlib_source(include_tests: bool = False) -> DirectorySource:
    root = Path(sysconfig.get_paths()["stdlib"])
    return DirectorySource(
        name="python-stdlib", lang="python", license=PSF_LICENSE, package="cpython",
        version=".".join(map(str, sys.version_info[:3])), origin=str(root), root=root,
        suffixes=(".py",), exclude_dirs=() if include_tests else DEFAULT_TEST_DIRS,
    )


def site_packages_source(include_tests: bool = False) -> SitePackagesSource:
    root = Path(sysconfig.get_paths()["purelib"])
    return SitePackagesSource(
        name="site-packages", lang="python", license="per package (see packages)",
        package="site-packages", version="", origin=str(root), root=root,
        exclude_dirs=VENDOR_DIRS + (() if include_tests else DEFAULT_TEST_DIRS),
    )


def _run(cmd: list[str], cwd: Path | None = None, timeout: int = 600) -> bool:
    try:
        r = subprocess.run(cmd, cwd=cwd, capture_output=True, timeout=timeout)
        return r.returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


def fetch_openjdk_sources(cache_dir: Path, package: str = "openjdk-17-source",
                          notes: list[str] | None = None) -> ZipSource | None:
    """Debian's JDK ``src.zip`` as a source: ``apt-get download`` the .deb into ``cache_dir``
    (never installs it), ``dpkg-deb -x`` it, return a :class:`ZipSource`. If apt cannot be
    reached, use a .deb already in the cache, else an installed JDK's ``src.zip``; ``None``
    when there is none (the reason is appended to ``notes``)."""
    notes = notes if notes is not None else []
    cache_dir = Path(cache_dir)
    debs_dir = cache_dir / "debs"
    debs_dir.mkdir(parents=True, exist_ok=True)
    debs = sorted(debs_dir.glob(f"{package}_*.deb"))
    if not debs and shutil.which("apt-get"):
        if not _run(["apt-get", "download", package], cwd=debs_dir, timeout=600):
            _run(["apt-get", "update", "-qq"], timeout=600)
            _run(["apt-get", "download", package], cwd=debs_dir, timeout=600)
        debs = sorted(debs_dir.glob(f"{package}_*.deb"))
        if debs:
            notes.append(f"downloaded {debs[-1].name} with apt-get download")
    elif debs:
        notes.append(f"used cached {debs[-1].name} (apt-get download earlier)")
    if debs:
        deb = debs[-1]
        version = subprocess.run(["dpkg-deb", "-f", str(deb), "Version"], capture_output=True,
                                 text=True).stdout.strip() if shutil.which("dpkg-deb") else ""
        extract = cache_dir / "extract" / deb.stem
        zips = sorted(extract.glob("usr/lib/jvm/*/lib/src.zip")) if extract.exists() else []
        if not zips and shutil.which("dpkg-deb"):
            extract.mkdir(parents=True, exist_ok=True)
            _run(["dpkg-deb", "-x", str(deb), str(extract)])
            zips = sorted(extract.glob("usr/lib/jvm/*/lib/src.zip"))
        if zips:
            return ZipSource(name=package, lang="java", license=OPENJDK_LICENSE, package=package,
                             version=version, origin=f"{deb.name} -> {zips[0]}", zip_path=zips[0],
                             suffixes=(".java",), notes=notes)
        notes.append(f"could not unpack {deb}")
    # fall back to what is present on the machine
    for z in sorted(Path("/usr/lib/jvm").glob("*17*/lib/src.zip")) + \
            sorted(Path("/usr/lib/jvm").glob("*/lib/src.zip")):
        if z.is_file():
            notes.append(f"apt unreachable or no .deb: used installed {z}")
            return ZipSource(name=package, lang="java", license=OPENJDK_LICENSE,
                             package=z.parent.parent.name, version="installed",
                             origin=str(z.resolve()), zip_path=z, suffixes=(".java",), notes=notes)
    notes.append("no Java sources: apt-get download failed and no installed src.zip")
    return None


# ---------------------------------------------------------------------------- filters

_GENERATED_RE = re.compile(
    r"(?i)(@generated|auto-?generated|automatically generated|do not edit|"
    r"this (?:file|code|module|class) (?:is|was|has been) (?:\w+ )?generated|"
    r"generated (?:by|from|with)\b.*\b(?:compiler|tool|script|generator|gencodec|"
    r"\w+\.(?:py|proto|txt|xml|json|idl|g4)\b))")


@dataclass
class FilterConfig:
    max_file_bytes: int = 256 * 1024
    min_file_bytes: int = 64
    max_line_chars: int = 1000
    max_mean_line_chars: float = 100.0
    header_lines: int = 40                # where to look for "generated" markers


def check_text(data: bytes, cfg: FilterConfig = FilterConfig()) -> tuple[str | None, str]:
    """Return ``(text, "ok")`` or ``(None, reason)``; reasons: too_large, too_small,
    not_utf8, binary, long_lines, minified, generated."""
    if len(data) > cfg.max_file_bytes:
        return None, "too_large"
    if len(data.strip()) < cfg.min_file_bytes:
        return None, "too_small"
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return None, "not_utf8"
    if "\x00" in text:
        return None, "binary"
    if text.startswith("\ufeff"):
        text = text[1:]
    lines = text.splitlines() or [""]
    if max(len(l) for l in lines) > cfg.max_line_chars:
        return None, "long_lines"
    if len(text) / len(lines) > cfg.max_mean_line_chars:
        return None, "minified"
    if _GENERATED_RE.search("\n".join(lines[: cfg.header_lines])):
        return None, "generated"
    return text, "ok"


def normalise_for_dedup(text: str, near: bool = False) -> str:
    """Exact mode: unify line ends, drop trailing whitespace of lines and of the file.
    Near mode: also drop all whitespace (catches re-indented / re-wrapped copies)."""
    if near:
        return re.sub(r"\s+", "", text)
    return "\n".join(l.rstrip() for l in text.replace("\r\n", "\n").replace("\r", "\n")
                     .split("\n")).strip()


def dedup_key(text: str, near: bool = False) -> str:
    return hashlib.sha1(normalise_for_dedup(text, near).encode("utf-8")).hexdigest()


def split_of(source: str, path: str, val_fraction: float) -> str:
    """``"val"`` for a deterministic ``val_fraction`` of files (hash of ``source:path``)."""
    h = int.from_bytes(hashlib.sha1(f"{source}:{path}".encode()).digest()[:8], "big")
    return "val" if h / 2.0 ** 64 < val_fraction else "train"


def shuffled(paths: list[str], seed: int = 0) -> list[str]:
    """Deterministic order spread over packages (sorted by a salted hash of the path)."""
    return sorted(paths, key=lambda p: hashlib.sha1(f"{seed}:{p}".encode()).digest())


@dataclass
class Document:
    source: str
    lang: str
    path: str
    text: str
    package: str
    version: str
    license: str
    split: str
    sha1: str
    nbytes: int


def gather(sources: list[Source], budgets: dict[str, int] | None, val_fraction: float,
           cfg: FilterConfig = FilterConfig(), near_dup: bool = False, seed: int = 0,
           log=print) -> tuple[list[Document], list[dict]]:
    """Read, filter, deduplicate and split the files of ``sources`` (in order).

    ``budgets`` maps a language to the most UTF-8 bytes kept for it (shared by that
    language's sources, first source first); ``None`` = no limit. Within a source files are
    taken in a deterministic hashed order, so a budget samples across packages.
    Returns the kept documents and one statistics record per source (for the manifest)."""
    seen: set[str] = set()
    seen_near: set[str] = set()
    used: dict[str, int] = {}
    docs: list[Document] = []
    stats: list[dict] = []
    for src in sources:
        paths = shuffled(src.paths(), seed)
        st = {"name": src.name, "lang": src.lang, "license": src.license,
              "provenance": src.provenance(), "files_seen": len(paths), "files_kept": 0,
              "bytes_kept": 0, "dropped": {}, "notes": src.notes}
        per_pkg: dict[str, dict] = {}
        budget = None if budgets is None else budgets.get(src.lang)
        for p in paths:
            if budget is not None and used.get(src.lang, 0) >= budget:
                st["dropped"]["over_budget"] = st["dropped"].get("over_budget", 0) + 1
                continue
            try:
                raw = src.read(p)
            except (OSError, KeyError, zipfile.BadZipFile) as e:  # unreadable entry
                st["dropped"]["unreadable"] = st["dropped"].get("unreadable", 0) + 1
                log(f"  skip {src.name}:{p}: {e}")
                continue
            text, reason = check_text(raw.data, cfg)
            if text is None:
                st["dropped"][reason] = st["dropped"].get(reason, 0) + 1
                continue
            key = dedup_key(text)
            if key in seen:
                st["dropped"]["duplicate"] = st["dropped"].get("duplicate", 0) + 1
                continue
            if near_dup:
                nkey = dedup_key(text, near=True)
                if nkey in seen_near:
                    st["dropped"]["near_duplicate"] = st["dropped"].get("near_duplicate", 0) + 1
                    continue
                seen_near.add(nkey)
            seen.add(key)
            nbytes = len(text.encode("utf-8"))
            used[src.lang] = used.get(src.lang, 0) + nbytes
            docs.append(Document(src.name, src.lang, p, text, raw.package, raw.version,
                                 raw.license, split_of(src.name, p, val_fraction), key, nbytes))
            st["files_kept"] += 1
            st["bytes_kept"] += nbytes
            pk = per_pkg.setdefault(raw.package, {"name": raw.package, "version": raw.version,
                                                  "license": raw.license, "files": 0, "bytes": 0})
            pk["files"] += 1
            pk["bytes"] += nbytes
        st["packages"] = sorted(per_pkg.values(), key=lambda d: d["name"].lower())
        stats.append(st)
        log(f"  {src.name}: {st['files_kept']}/{st['files_seen']} files, "
            f"{st['bytes_kept'] / 1e6:.1f} MB kept, dropped {st['dropped']}")
    return docs, stats
