"""The large corpus (``make corpus``): archives in, a corpus folder out, in resumable stages.

    python -m model.corpus_shards gather --src cache/corpus-src --out cache/corpus
    python -m model.corpus_shards encode --out cache/corpus [--max-minutes 10] [--packages NAME...] [--paths PREFIX...]
    python -m model.corpus_shards pack   --out cache/corpus
    python -m model.corpus_shards all    --src cache/corpus-src --out cache/corpus [--max-minutes M]

Stages (each skips what an earlier run finished, so a big build adds up over several runs):

1. **gather**: reads every fetched archive of ``model/corpus_sources.txt`` without unpacking it
   (sdists: ``.py``; Debian source packages: ``.java`` of the upstream tarballs), plus the
   interpreter's standard library and Debian's OpenJDK ``src.zip``; keeps a file that passes
   :func:`model.corpus.check_text`; drops exact duplicates (hash of the normalised text) and
   near duplicates (MinHash LSH over word 5-grams, :mod:`datasketch`); records its licence
   (sdist ``PKG-INFO``; Debian ``debian/copyright``'s ``Files: *`` stanza) and the byte length of
   its licence header (a leading comment block naming a copyright or licence). Python packages
   whose licence is not permissive are left out; so are the completion dev/test packages
   (:data:`DEVSET_EXCLUDED`). Split **by package**: a package goes wholly to ``val`` or
   ``train`` (hash of its name), so held-out figures measure code whose siblings the model has
   not seen. Output: ``text/<package>.jsonl.gz`` + ``gather.json``.
2. **encode**: each package's text becomes samples (:class:`model.data.SampleBuilder`: level ids
   from the structure mapping, FIM) in ``shards/<package>.npz``, with a loss mask that is 0 on
   licence-header tokens. ``--max-minutes`` bounds a run; the next run goes on.
3. **pack**: the encoded shards become the corpus folder the trainer reads
   (:class:`model.data.CorpusDataset`: ``{split}.tokens/levels/docs.npy``, ``files.jsonl``,
   ``manifest.json``) plus ``{split}.mask.npy``. Packages not encoded yet are listed as pending.

The tokenizer is the shipped model's (``--tokenizer``), so training can go on from its weights.
"""
from __future__ import annotations

import argparse
import email
import gzip
import hashlib
import io
import itertools
import json
import re
import sys
import sysconfig
import tarfile
import time
import zipfile
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable, Iterable, Iterator

import numpy as np

from model import corpus as C
from model.corpus_fetch import DEFAULT_SOURCES, Pinned, debsrc_archives, read_sources, sdist_of

FORMAT_VERSION = 2
DEFAULT_TOKENIZER = Path(__file__).parent / "checkpoints" / "r1-tiny" / "tokenizer.json"
# bench/devset.json's repositories: completion figures are measured on them, so never trained on
DEVSET_EXCLUDED = frozenset({"boltons", "toolz", "more-itertools", "cachetools", "commons-io", "commons-csv",
                             "jsoup", "pyrsistent", "funcy", "glom", "tabulate", "jpype1", "commons-exec"})
SKIP_DIRS = set(C.VENDOR_DIRS) | {"third_party", "thirdparty", "site-packages", "node_modules", "debian",
                                  "__pycache__", ".git", ".tox", "build", "dist"}
PERMISSIVE = re.compile(r"(?i)\b(MIT|BSD|Apache|PSF|Python Software Foundation|ISC|ZPL|Zope|HPND|Unlicense|"
                        r"CC0|0BSD|Historical Permission|Public Domain|MIT-CMU)\b")
COPYLEFT = re.compile(r"(?i)\b(A?GPL|LGPL|General Public|MPL|Mozilla)\b")
_HEADER_WORDS = re.compile(r"(?i)copyright|licen[cs]e|\(c\)|©|spdx|gnu general|apache|warrant")


# ---------------------------------------------------------------------------- licences

def pkginfo_license(pkginfo: str) -> str:
    """Licence of an sdist from its PKG-INFO text (same rules as installed distributions)."""
    class _Dist:
        metadata = email.message_from_string(pkginfo)
    return C.license_of_distribution(_Dist())


def is_permissive(lic: str) -> bool:
    """True for MIT / BSD / Apache / PSF / ISC / ZPL / HPND ... licences; an expression that
    offers only copyleft terms is not ("MIT OR GPL" is: a choice includes MIT)."""
    if not lic:
        return False
    if " OR " in lic or " or " in lic:
        return any(is_permissive(p) for p in re.split(r"\s+(?:OR|or)\s+", lic))
    return bool(PERMISSIVE.search(lic)) and not COPYLEFT.search(lic.replace("WITH", ""))


def debian_copyright_license(text: str) -> str:
    """The ``License:`` of the ``Files: *`` stanza of a DEP-5 ``debian/copyright`` (else the
    first ``License:`` line; "" when there is none)."""
    first = ""
    for stanza in re.split(r"\n\s*\n", text):
        m_files = re.search(r"(?mi)^Files:\s*(.+)$", stanza)
        m_lic = re.search(r"(?mi)^License:\s*(.+)$", stanza)
        if m_lic and not first:
            first = m_lic.group(1).strip()
        if m_files and m_lic and m_files.group(1).split()[0] == "*":
            return m_lic.group(1).strip()
    return first


def licence_header_end(text: str, lang: str) -> int:
    """UTF-8 byte length of the file's leading licence header: the first comment block (Java
    ``/* */`` or ``//`` lines; Python ``#`` lines after a shebang / coding line) when it names a
    copyright or licence, with the blank lines after it; 0 when there is none."""
    i, n = 0, len(text)
    while i < n and text[i] in " \t\r\n":
        i += 1
    end = 0
    if lang == "java" and text.startswith("/*", i):
        j = text.find("*/", i + 2)
        if j >= 0:
            end = j + 2
    elif lang == "java" and text.startswith("//", i):
        end = _line_comment_run(text, i, "//")
    elif lang == "python":
        lines_start = i
        # a shebang / coding line is not part of the header but may precede it
        while text.startswith("#!", lines_start) or re.match(r"#.*coding[:=]", text[lines_start:lines_start + 80]):
            nl = text.find("\n", lines_start)
            lines_start = n if nl < 0 else nl + 1
        if text.startswith("#", lines_start):
            end = _line_comment_run(text, lines_start, "#")
            i = lines_start
    if not end or not _HEADER_WORDS.search(text[i:end]):
        return 0
    while end < n and text[end] in " \t\r\n":
        end += 1
    return len(text[:end].encode("utf-8"))


def _line_comment_run(text: str, i: int, mark: str) -> int:
    end = i
    for m in re.finditer(r"[^\n]*(?:\n|$)", text[i:]):
        line = m.group(0)
        if not line or not line.lstrip().startswith(mark):
            break
        end = i + m.end()
    return end


# ---------------------------------------------------------------------------- archives as packages

@dataclass
class PackageFiles:
    """One package's candidate files, read from wherever it lives."""
    name: str
    lang: str
    version: str
    license: str
    origin: str
    files: Iterable[tuple[str, bytes]]          # (path, data)
    forced_split: str | None = None              # "train" for the standard libraries
    notes: list[str] = field(default_factory=list)


def _skip_path(path: str) -> bool:
    return any(p in SKIP_DIRS or p.startswith(".") for p in path.split("/")[:-1])


def iter_archive(path: Path, suffix: str, keep: Callable[[str], bool] = lambda p: True) -> Iterator[tuple[str, bytes]]:
    """``(member path, bytes)`` of an archive's regular files ending in ``suffix``, read in one
    pass (tar.* or zip)."""
    if path.name.endswith(".zip"):
        with zipfile.ZipFile(path) as z:
            for info in z.infolist():
                if not info.is_dir() and info.filename.endswith(suffix) and keep(info.filename):
                    yield info.filename, z.read(info)
        return
    with tarfile.open(path, "r:*") as t:
        for m in t:
            if m.isfile() and m.name.endswith(suffix) and keep(m.name):
                f = t.extractfile(m)
                if f is not None:
                    yield m.name, f.read()


def _strip_top(path: str) -> str:
    return path.split("/", 1)[1] if "/" in path else path


def sdist_package(entry: Pinned, archive: Path) -> PackageFiles:
    files, pkginfo = [], ""
    for p, data in iter_archive(archive, "", lambda p: p.endswith(".py") or p.endswith("PKG-INFO")):
        rel = _strip_top(p)
        if rel == "PKG-INFO":
            pkginfo = data.decode("utf-8", "replace")
        elif rel.endswith(".py") and not _skip_path(rel):
            files.append((rel, data))
    return PackageFiles(entry.name, "python", entry.version, pkginfo_license(pkginfo), archive.name, files)


def debian_package(entry: Pinned, archives: list[Path]) -> PackageFiles:
    files, lic, origin = [], "", []
    for a in archives:
        if ".debian.tar." in a.name:
            for p, data in iter_archive(a, "copyright", lambda p: p.endswith("debian/copyright")):
                lic = debian_copyright_license(data.decode("utf-8", "replace"))
            continue
        origin.append(a.name)
        for p, data in iter_archive(a, ".java"):
            rel = _strip_top(p)
            if rel.startswith("debian/") and "/" in rel:
                if rel == "debian/copyright":
                    lic = lic or debian_copyright_license(data.decode("utf-8", "replace"))
                continue
            if not _skip_path(rel):
                files.append((rel, data))
        if not lic:     # a native package carries debian/copyright in its only tarball
            for p, data in iter_archive(a, "debian/copyright"):
                lic = debian_copyright_license(data.decode("utf-8", "replace"))
    return PackageFiles(entry.name, "java", entry.version, lic, ", ".join(origin), files)


def directory_package(name: str, lang: str, root: Path, license: str, version: str = "",
                      forced_split: str | None = None, exclude_dirs: tuple[str, ...] = ()) -> PackageFiles:
    src = C.DirectorySource(name=name, lang=lang, license=license, package=name, version=version,
                            origin=str(root), root=root, suffixes=(".py",) if lang == "python" else (".java",),
                            exclude_dirs=exclude_dirs)
    return PackageFiles(name, lang, version, license, str(root),
                        ((p, src.read(p).data) for p in src.paths()), forced_split)


def standard_packages(jdk_cache: Path, notes: list[str]) -> list[PackageFiles]:
    """CPython's standard library and OpenJDK's src.zip (both always in the training split)."""
    out = [directory_package("cpython", "python", Path(sysconfig.get_paths()["stdlib"]), C.PSF_LICENSE,
                             ".".join(map(str, sys.version_info[:3])), "train", C.DEFAULT_TEST_DIRS)]
    jdk = C.fetch_openjdk_sources(jdk_cache, notes=notes)
    if jdk is not None:
        out.append(PackageFiles("openjdk-17", "java", jdk.version, jdk.license, jdk.origin,
                                ((p, jdk.read(p).data) for p in jdk.paths()), "train"))
    return out


def pinned_packages(src: Path, sources: Path = DEFAULT_SOURCES, log=print) -> Iterator[PackageFiles]:
    for e in read_sources(sources):
        if e.name in DEVSET_EXCLUDED:
            log(f"  {e.name}: in bench/devset.json, excluded")
            continue
        if e.lang == "python":
            a = sdist_of(e, Path(src) / "sdist")
            if a is not None:
                yield sdist_package(e, a)
        else:
            arcs = debsrc_archives(e, src)
            if arcs:
                yield debian_package(e, arcs)


# ---------------------------------------------------------------------------- split and dedup

def package_split(name: str, val_fraction: float, salt: str = "r1-corpus") -> str:
    """The split of a whole package: corpus.split_of's hash over ``salt:name``."""
    return C.split_of(salt, name, val_fraction)


class NearDuplicates:
    """MinHash LSH (datasketch) over word 5-grams: ``seen(text)`` is True when a kept text's
    estimated Jaccard similarity is at least ``threshold``; otherwise the text is recorded. The
    LSH index (at a lower threshold, so that few true pairs are missed) proposes candidates; the
    stored signatures confirm them."""

    def __init__(self, threshold: float = 0.85, num_perm: int = 128, ngram: int = 5):
        from datasketch import MinHash, MinHashLSH
        self._MinHash = MinHash
        self.lsh = MinHashLSH(threshold=max(0.5, threshold - 0.2), num_perm=num_perm)
        self.threshold, self.num_perm, self.ngram = threshold, num_perm, ngram
        self.signatures: list[np.ndarray] = []

    def seen(self, text: str) -> bool:
        words = re.findall(r"\w+", text)
        grams = {" ".join(words[i:i + self.ngram]).encode() for i in range(max(1, len(words) - self.ngram + 1))}
        m = self._MinHash(num_perm=self.num_perm)
        m.update_batch(list(grams))
        sig = m.hashvalues.astype(np.uint32)
        for key in self.lsh.query(m):
            if float(np.mean(self.signatures[int(key)] == sig)) >= self.threshold:
                return True
        self.lsh.insert(str(len(self.signatures)), m)
        self.signatures.append(sig)
        return False


# ---------------------------------------------------------------------------- stage 1: gather

def _safe(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.+-]", "_", name)


def gather(packages: Iterable[PackageFiles], out: Path, val_fraction: float = 0.06,
           cfg: C.FilterConfig = C.FilterConfig(), near_threshold: float = 0.85, log=print) -> dict:
    """Stage 1 (see the module doc). Rewrites ``out/text/`` and ``out/gather.json``."""
    out = Path(out)
    text_dir = out / "text"
    text_dir.mkdir(parents=True, exist_ok=True)
    seen: set[str] = set()
    near = NearDuplicates(near_threshold)
    records, t0 = [], time.time()
    for pkg in packages:
        if pkg.name in DEVSET_EXCLUDED:
            continue
        rec = {"name": pkg.name, "lang": pkg.lang, "version": pkg.version, "license": pkg.license,
               "origin": pkg.origin, "files_seen": 0, "files": 0, "bytes": 0, "header_bytes": 0,
               "dropped": {}, "notes": pkg.notes}
        if pkg.lang == "python" and not is_permissive(pkg.license):
            rec["excluded"] = f"licence not permissive or unknown: {pkg.license!r}"
            records.append(rec)
            log(f"  {pkg.name}: {rec['excluded']}")
            continue
        if not pkg.license:
            rec["excluded"] = "no licence found"
            records.append(rec)
            continue
        rec["split"] = pkg.forced_split or package_split(pkg.name, val_fraction)
        path = text_dir / f"{_safe(pkg.name)}.jsonl.gz"
        with gzip.open(path.with_suffix(".tmp"), "wt", encoding="utf-8") as f:
            for p, data in pkg.files:
                rec["files_seen"] += 1
                text, reason = C.check_text(data, cfg)
                if text is None:
                    rec["dropped"][reason] = rec["dropped"].get(reason, 0) + 1
                    continue
                key = C.dedup_key(text)
                if key in seen:
                    rec["dropped"]["duplicate"] = rec["dropped"].get("duplicate", 0) + 1
                    continue
                seen.add(key)
                if near.seen(text):
                    rec["dropped"]["near_duplicate"] = rec["dropped"].get("near_duplicate", 0) + 1
                    continue
                hb = licence_header_end(text, pkg.lang)
                nb = len(text.encode("utf-8"))
                f.write(json.dumps({"path": p, "text": text, "sha1": key, "bytes": nb, "header_bytes": hb}) + "\n")
                rec["files"] += 1
                rec["bytes"] += nb
                rec["header_bytes"] += hb
        path.with_suffix(".tmp").replace(path)
        rec["text"] = path.name
        records.append(rec)
        _write_gather(out, records, val_fraction, near, cfg, t0, complete=False)   # encode may start early
        log(f"  {pkg.lang} {pkg.name} [{pkg.license}] {rec['split']}: {rec['files']}/{rec['files_seen']} files, "
            f"{rec['bytes'] / 1e6:.1f} MB, dropped {rec['dropped']} ({time.time() - t0:.0f} s)")
    _ensure_val_per_language(records, val_fraction)
    return _write_gather(out, records, val_fraction, near, cfg, t0, complete=True)


def _write_gather(out: Path, records: list[dict], val_fraction: float, near: "NearDuplicates",
                  cfg: C.FilterConfig, t0: float, complete: bool) -> dict:
    summary = {"format_version": FORMAT_VERSION, "val_fraction": val_fraction, "complete": complete,
               "near_duplicate": {"method": "datasketch MinHashLSH, word 5-grams", "threshold": near.threshold,
                                  "num_perm": near.num_perm},
               "filter": asdict(cfg), "packages": records, "gather_seconds": round(time.time() - t0, 1)}
    tmp = out / "gather.json.tmp"
    tmp.write_text(json.dumps(summary, indent=1))
    tmp.replace(out / "gather.json")
    return summary


def _ensure_val_per_language(records: list[dict], val_fraction: float):
    """Each language needs held-out packages: when the hash gave one none, its package with the
    smallest hash (not a forced-train one) goes to val."""
    for lang in ("python", "java"):
        cands = [r for r in records if r["lang"] == lang and "split" in r and r["name"] not in ("cpython", "openjdk-17")]
        if cands and not any(r["split"] == "val" for r in cands):
            pick = min(cands, key=lambda r: hashlib.sha1(f"r1-corpus:{r['name']}".encode()).digest())
            pick["split"] = "val"


def read_text_shard(path: Path) -> Iterator[dict]:
    with gzip.open(path, "rt", encoding="utf-8") as f:
        for line in f:
            yield json.loads(line)


# ---------------------------------------------------------------------------- stage 2: encode

def sample_mask(offsets: np.ndarray, header_bytes: int) -> np.ndarray:
    """uint8 per token: 0 where the token is a text token inside the licence header."""
    return (~((offsets >= 0) & (offsets < header_bytes))).astype(np.uint8)


def encode(out: Path, tokenizer: Path = DEFAULT_TOKENIZER, max_minutes: float = 0.0, fim_rate: float = 0.5,
           fim_window_kb: float = 4.0, seed: int = 0, map_structure=None, log=print,
           only: Iterable[str] | None = None, path_prefixes: Iterable[str] | None = None) -> dict:
    """Stage 2: ``shards/<package>.npz`` for each gathered package without one (train packages
    after val ones, small before large, so a bounded run ends with usable splits); ``only``: just
    these package names; ``path_prefixes``: encode only the files whose path starts with one of
    them (a part of a big package, e.g. OpenJDK's ``java.base/``; the shard then holds that part,
    its files listed in ``files.jsonl`` as always)."""
    from model.data import SampleBuilder, _doc_seed_key
    from model.tokenizer import load_tokenizer
    out = Path(out)
    g = json.loads((out / "gather.json").read_text())
    tok = load_tokenizer(tokenizer)
    kw = {"structure": map_structure} if map_structure is not None else {}
    builder = SampleBuilder(tok, fim_rate=fim_rate, fim_window_bytes=int(fim_window_kb * 1024), **kw)
    shard_dir = out / "shards"
    shard_dir.mkdir(parents=True, exist_ok=True)
    todo = [r for r in g["packages"] if r.get("text") and not (shard_dir / f"{_safe(r['name'])}.npz").exists()
            and (only is None or r["name"] in set(only))]
    todo.sort(key=lambda r: (r["split"] != "val", r["bytes"]))
    prefixes = tuple(path_prefixes) if path_prefixes else None
    t0, done = time.time(), 0
    for r in todo:
        if done and max_minutes and time.time() - t0 > max_minutes * 60:
            break                                       # at least one package per run
        ids_l, lev_l, mask_l, starts, rows = [], [], [], [0], []
        offset = np.zeros(3, dtype=np.int64)
        docs = [d for d in read_text_shard(out / "text" / r["text"])
                if prefixes is None or d["path"].startswith(prefixes)]
        for c0 in range(0, len(docs), 128):
            batch = docs[c0:c0 + 128]
            for d, ids in zip(batch, builder.encode_texts([d["text"] for d in batch])):
                rng = np.random.default_rng(_doc_seed_key(seed, r["name"], d["path"]))
                s = builder.build(d["text"], r["lang"], rng, ids=ids)
                lev = s.levels.astype(np.int64) + offset
                offset = lev.max(axis=0) + 1
                ids_l.append(s.ids.astype(np.uint16))
                lev_l.append(lev)
                mask_l.append(sample_mask(s.offsets, d["header_bytes"]))
                starts.append(starts[-1] + len(s.ids))
                rows.append({"path": d["path"], "sha1": d["sha1"], "bytes": d["bytes"], "tokens": len(s.ids),
                             "fim": s.fim, "header_bytes": d["header_bytes"],
                             "masked_tokens": int(len(s.ids) - mask_l[-1].sum())})
        tmp = shard_dir / f"{_safe(r['name'])}.tmp.npz"
        np.savez(tmp, tokens=np.concatenate(ids_l) if ids_l else np.zeros(0, np.uint16),
                 levels=(np.concatenate(lev_l) if lev_l else np.zeros((0, 3))).astype(np.int64),
                 mask=np.concatenate(mask_l) if mask_l else np.zeros(0, np.uint8),
                 docs=np.asarray(starts, dtype=np.int64), rows=np.frombuffer(json.dumps(rows).encode(), np.uint8))
        tmp.replace(shard_dir / f"{_safe(r['name'])}.npz")
        done += 1
        log(f"  encoded {r['lang']} {r['name']} ({r['split']}): {len(rows)} files, {starts[-1]:,} tokens "
            f"({time.time() - t0:.0f} s)")
    pending = len(todo) - done
    return {"encoded_now": done, "pending": pending, "seconds": round(time.time() - t0, 1)}


# ---------------------------------------------------------------------------- stage 3: pack

def pack(out: Path, tokenizer: Path = DEFAULT_TOKENIZER, log=print) -> dict:
    """Stage 3: the corpus folder from the encoded shards (see the module doc)."""
    import shutil
    from model.data import SPLITS
    from model.tokenizer import SpecialTokens, load_tokenizer
    out = Path(out)
    g = json.loads((out / "gather.json").read_text())
    shutil.copyfile(tokenizer, out / "tokenizer.json")
    tok = load_tokenizer(tokenizer)
    kept = [r for r in g["packages"] if r.get("text")]
    encoded = [r for r in kept if (out / "shards" / f"{_safe(r['name'])}.npz").exists()]
    files_f = open(out / "files.jsonl.tmp", "w", encoding="utf-8")
    splits = {}
    for split in SPLITS:
        recs = [r for r in encoded if r["split"] == split]
        shards = [np.load(out / "shards" / f"{_safe(r['name'])}.npz") for r in recs]
        n = sum(len(s["tokens"]) for s in shards)
        tokens = np.lib.format.open_memmap(out / f"{split}.tokens.npy.tmp", "w+", np.uint16, (n,))
        levels = np.lib.format.open_memmap(out / f"{split}.levels.npy.tmp", "w+", np.int32, (n, 3))
        mask = np.lib.format.open_memmap(out / f"{split}.mask.npy.tmp", "w+", np.uint8, (n,))
        docs, pos, sample = [0], 0, 0
        lev_off = np.zeros(3, dtype=np.int64)
        st = {"files": 0, "tokens": 0, "bytes": 0, "masked_tokens": 0, "packages": len(recs),
              "tokens_by_lang": {}, "bytes_by_lang": {}, "files_by_lang": {}, "tokens_by_license": {},
              "bytes_by_license": {}, "files_by_license": {}}
        for r, s in zip(recs, shards):
            k = len(s["tokens"])
            tokens[pos:pos + k] = s["tokens"]
            lev = s["levels"] + lev_off
            if k:
                lev_off = lev.max(axis=0) + 1
                if lev_off.max() >= 2 ** 31 - 1:
                    raise OverflowError("level ids exceed int32")
            levels[pos:pos + k] = lev
            mask[pos:pos + k] = s["mask"]
            rows = json.loads(bytes(s["rows"]).decode())
            for row, a, b in zip(rows, s["docs"][:-1], s["docs"][1:]):
                docs.append(pos + int(b))
                files_f.write(json.dumps({"source": r["name"], "path": row["path"], "package": r["name"],
                                          "version": r["version"], "license": r["license"], "lang": r["lang"],
                                          "split": split, "sha1": row["sha1"], "bytes": row["bytes"],
                                          "tokens": row["tokens"], "fim": row["fim"], "sample": sample,
                                          "header_bytes": row["header_bytes"]}) + "\n")
                sample += 1
                for key, v in (("tokens", row["tokens"]), ("bytes", row["bytes"]), ("files", 1)):
                    st[f"{key}_by_lang"][r["lang"]] = st[f"{key}_by_lang"].get(r["lang"], 0) + v
                    st[f"{key}_by_license"][r["license"]] = st[f"{key}_by_license"].get(r["license"], 0) + v
                st["files"] += 1
                st["bytes"] += row["bytes"]
            st["masked_tokens"] += int(k - int(s["mask"].sum()))
            pos += k
        st["tokens"] = pos
        st["bytes_per_token_by_lang"] = {k: round(st["bytes_by_lang"][k] / max(1, v), 3)
                                         for k, v in st["tokens_by_lang"].items()}
        for arr, name in ((tokens, "tokens"), (levels, "levels"), (mask, "mask")):
            arr.flush()
            del arr
            (out / f"{split}.{name}.npy.tmp").replace(out / f"{split}.{name}.npy")
        np.save(out / f"{split}.docs.npy", np.asarray(docs, dtype=np.int64))
        splits[split] = st
        log(f"  {split}: {st['packages']} packages, {st['files']} files, {st['tokens']:,} tokens, "
            f"{st['bytes'] / 1e6:.1f} MB ({st['masked_tokens']:,} licence-header tokens masked)")
    files_f.close()
    (out / "files.jsonl.tmp").replace(out / "files.jsonl")
    gathered = {"packages": len(kept), "files": sum(r["files"] for r in kept), "bytes": sum(r["bytes"] for r in kept),
                "header_bytes": sum(r["header_bytes"] for r in kept),
                "by_split": {s: {"packages": sum(1 for r in kept if r["split"] == s),
                                 "files": sum(r["files"] for r in kept if r["split"] == s),
                                 "bytes": sum(r["bytes"] for r in kept if r["split"] == s)} for s in SPLITS},
                "by_lang": {l: sum(r["bytes"] for r in kept if r["lang"] == l) for l in ("python", "java")},
                "dropped": _sum_dropped(g["packages"]),
                "excluded_packages": {r["name"]: r["excluded"] for r in g["packages"] if "excluded" in r}}
    manifest = {
        "format_version": FORMAT_VERSION, "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "split_by": "package (a package wholly in train or val; CPython and OpenJDK always train)",
        "level_columns": ["phrase", "sentence", "paragraph"],
        "mask": "{split}.mask.npy: 0 on tokens of a file's leading licence header (excluded from the loss)",
        "tokenizer": {"file": "tokenizer.json", "vocab_size": tok.get_vocab_size(),
                      "special_tokens": asdict(SpecialTokens.from_tokenizer(tok))},
        "licenses": sorted({r["license"] for r in encoded}),
        "gathered": gathered,
        "pending_packages": sorted(r["name"] for r in kept if r not in encoded),
        "sources": [{"name": r["name"], "lang": r["lang"], "license": r["license"], "split": r["split"],
                     "provenance": {"package": r["name"], "version": r["version"], "origin": r["origin"]},
                     "files_seen": r["files_seen"], "files_kept": r["files"], "bytes_kept": r["bytes"],
                     "dropped": r["dropped"], "encoded": r in encoded} for r in kept],
        "splits": splits,
        "near_duplicate": g["near_duplicate"],
    }
    (out / "manifest.json").write_text(json.dumps(manifest, indent=1))
    return manifest


def _sum_dropped(records: list[dict]) -> dict:
    tot: dict[str, int] = {}
    for r in records:
        for k, v in r.get("dropped", {}).items():
            tot[k] = tot.get(k, 0) + v
    return tot


# ---------------------------------------------------------------------------- CLI

def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m model.corpus_shards", description=__doc__.split("\n")[0])
    ap.add_argument("stage", choices=["gather", "encode", "pack", "all"])
    ap.add_argument("--src", type=Path, default=Path("cache/corpus-src"), help="model.corpus_fetch's folder")
    ap.add_argument("--out", type=Path, default=Path("cache/corpus"))
    ap.add_argument("--sources", type=Path, default=DEFAULT_SOURCES)
    ap.add_argument("--tokenizer", type=Path, default=DEFAULT_TOKENIZER)
    ap.add_argument("--val-fraction", type=float, default=0.06, help="share of packages held out")
    ap.add_argument("--no-standard", dest="standard", action="store_false",
                    help="leave out CPython's stdlib and OpenJDK's src.zip")
    ap.add_argument("--jdk-cache", type=Path, default=Path("cache/jdk"))
    ap.add_argument("--max-minutes", type=float, default=0.0, help="encode budget (0 = all)")
    ap.add_argument("--regather", action="store_true", help="gather again although gather.json exists")
    ap.add_argument("--packages", nargs="+", default=None, help="encode only these packages")
    ap.add_argument("--paths", nargs="+", default=None, metavar="PREFIX",
                    help="encode only files whose path starts with one of these (e.g. java.base/ java.sql/)")
    a = ap.parse_args(argv)
    if a.stage in ("gather", "all") and (a.regather or a.stage == "gather" or not (a.out / "gather.json").exists()):
        notes: list[str] = []
        pk: Iterable[PackageFiles] = pinned_packages(a.src, a.sources)
        if a.standard:
            pk = itertools.chain(standard_packages(a.jdk_cache, notes), pk)   # lazily: one package in memory
        g = gather(pk, a.out, a.val_fraction)
        print(f"gathered {sum(r['files'] for r in g['packages'])} files, "
              f"{sum(r['bytes'] for r in g['packages']) / 1e6:.1f} MB in {g['gather_seconds']} s")
    if a.stage in ("encode", "all"):
        print(json.dumps(encode(a.out, a.tokenizer, a.max_minutes, only=a.packages, path_prefixes=a.paths)))
    if a.stage in ("pack", "all"):
        m = pack(a.out, a.tokenizer)
        print(json.dumps({k: m[k] for k in ("gathered", "pending_packages")})[:2000])
    return 0


if __name__ == "__main__":
    sys.exit(main())
