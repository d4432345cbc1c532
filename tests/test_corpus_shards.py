"""The large-corpus pipeline on a tiny fixture (no network): archives as fetched (an sdist and a
Debian source package, made here from tests/fixtures/data), licences per file, exact and MinHash
near-duplicate removal, licence headers masked out of the loss, held-out split by package, the
dev-set packages refused, a bounded encode that resumes, and a corpus the trainer reads."""
import io
import json
import tarfile
from pathlib import Path

import numpy as np
import pytest

from model import corpus_shards as S
from model.corpus_fetch import Pinned, read_sources
from model.data import CorpusDataset
from model.tokenizer import train_tokenizer

FIX = Path(__file__).parent / "fixtures" / "data"
ROOT = Path(__file__).parent.parent

JAVA_HEADER = """/*
 * Copyright 2020 The Fixture Authors.
 * Licensed under the Apache License, Version 2.0.
 */
"""
PY_HEADER = "#!/usr/bin/env python\n# Copyright (c) 2021 Fixture Authors\n# SPDX-License-Identifier: MIT\n\n"


def _tar(path: Path, members: dict[str, str], mode: str = "w:gz"):
    with tarfile.open(path, mode) as t:
        for name, text in members.items():
            data = text.encode("utf-8")
            info = tarfile.TarInfo(name)
            info.size = len(data)
            t.addfile(info, io.BytesIO(data))


def _python_files() -> dict[str, str]:
    out = {}
    for p in sorted((FIX / "python").rglob("*.py")):
        try:
            out[p.relative_to(FIX / "python").as_posix()] = p.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            continue
    return out


def _fake_sources(src: Path) -> list[Pinned]:
    """Two Python sdists (one MIT, one GPL), a Debian Java package, and a dev-set package."""
    py = _python_files()
    cart = py["shop/cart.py"]
    mit = {f"shopkit-1.0/{k}": v for k, v in py.items()}
    mit["shopkit-1.0/shop/licensed.py"] = PY_HEADER + cart.replace("Cart", "Basket")
    # near duplicate of cart.py: one identifier renamed in one place only
    mit["shopkit-1.0/shop/cart_near.py"] = cart.replace("def ", "def  ", 1) + "\n# one more comment line\n"
    mit["shopkit-1.0/PKG-INFO"] = "Metadata-Version: 2.4\nName: shopkit\nVersion: 1.0\nLicense-Expression: MIT\n"
    (src / "sdist").mkdir(parents=True)
    _tar(src / "sdist" / "shopkit-1.0.tar.gz", mit)
    gpl = {"gplthing-2.0/gpl/mod.py": "def f(x):\n    return x * 2 + 1  # a GPL function body long enough\n" * 3,
           "gplthing-2.0/PKG-INFO": "Metadata-Version: 2.1\nName: gplthing\nVersion: 2.0\nLicense: GPL-3.0-only\n"}
    _tar(src / "sdist" / "gplthing-2.0.tar.gz", gpl)
    java = {f"inventory-3.1/src/main/java/{p.name}": p.read_text() for p in (FIX / "java").rglob("*.java")}
    java["inventory-3.1/src/main/java/Licensed.java"] = JAVA_HEADER + "\n" + java[
        "inventory-3.1/src/main/java/Item.java"].replace("Item", "Licensed")
    deb = src / "debsrc" / "libinventory-java"
    deb.mkdir(parents=True)
    _tar(deb / "libinventory-java_3.1.orig.tar.gz", java)
    _tar(deb / "libinventory-java_3.1-1.debian.tar.xz",
         {"debian/copyright": "Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/\n\n"
                              "Files: *\nCopyright: 2020 Fixture\nLicense: Apache-2.0\n\n"
                              "Files: debian/*\nLicense: GPL-2+\n"}, "w:xz")
    other = "".join(f"def step_{i}(state, n):\n    total = state.get({i}, 0) + n * {i}\n    return total\n\n\n"
                    for i in range(40))
    _tar(src / "sdist" / "stepper-0.3.tar.gz",
         {"stepper-0.3/stepper/core.py": other,
          "stepper-0.3/PKG-INFO": "Metadata-Version: 2.1\nName: stepper\nVersion: 0.3\nClassifier: License :: OSI Approved :: BSD License\n"})
    _tar(src / "sdist" / "toolz-1.2.0.tar.gz", {"toolz-1.2.0/toolz/x.py": cart,
                                                "toolz-1.2.0/PKG-INFO": "Name: toolz\nLicense: BSD\n"})
    return [Pinned("python", "stepper", "0.3"), Pinned("python", "shopkit", "1.0"), Pinned("python", "gplthing", "2.0"),
            Pinned("java", "libinventory-java", "3.1-1"), Pinned("python", "toolz", "1.2.0")]


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("shards")
    src, out = tmp / "src", tmp / "corpus"
    entries = _fake_sources(src)
    listing = tmp / "sources.txt"
    listing.write_text("".join(f"{e.lang} {e.name} {e.version}\n" for e in entries))
    tok = train_tokenizer(iter(_python_files().values()), 400)
    tok.save(str(tmp / "tokenizer.json"))
    packages = list(S.pinned_packages(src, listing, log=lambda *a: None))
    # val_fraction 0 by hash: _ensure_val_per_language still holds one package of each language out
    g = S.gather(packages, out, val_fraction=0.0, log=lambda *a: None)
    first = S.encode(out, tmp / "tokenizer.json", max_minutes=1e-9, log=lambda *a: None)
    rest = S.encode(out, tmp / "tokenizer.json", log=lambda *a: None)
    m = S.pack(out, tmp / "tokenizer.json", log=lambda *a: None)
    return {"out": out, "gather": g, "manifest": m, "first": first, "rest": rest, "listing": listing}


def test_licences_split_by_package_and_exclusions(built):
    pk = {r["name"]: r for r in built["gather"]["packages"]}
    assert "toolz" not in pk                                     # bench/devset.json package refused
    assert "not permissive" in pk["gplthing"]["excluded"] and "text" not in pk["gplthing"]
    assert pk["shopkit"]["license"] == "MIT" and pk["libinventory-java"]["license"] == "Apache-2.0"
    rows = [json.loads(l) for l in (built["out"] / "files.jsonl").read_text().splitlines()]
    assert {(r["package"], r["license"]) for r in rows} == {("shopkit", "MIT"), ("libinventory-java", "Apache-2.0"),
                                                            ("stepper", "BSD License")}
    # held out by package: every file of a package lies in one split, and each language has val text
    by_pkg = {}
    for r in rows:
        by_pkg.setdefault(r["package"], set()).add(r["split"])
    assert all(len(s) == 1 for s in by_pkg.values())
    assert by_pkg["shopkit"] != by_pkg["stepper"]                  # one Python package held out, one trained
    assert built["manifest"]["splits"]["val"]["files_by_lang"].keys() == {"python", "java"}
    lic = {k for split in ("train", "val") for k in built["manifest"]["splits"][split]["bytes_by_license"]}
    assert lic == {"MIT", "Apache-2.0", "BSD License"}


def test_exact_and_near_duplicates_dropped(built):
    dropped = built["manifest"]["gathered"]["dropped"]
    assert dropped.get("duplicate", 0) >= 1          # cart_copy.py: same text, CRLF
    assert dropped.get("near_duplicate", 0) >= 1     # cart_near.py: one extra space and a comment line
    paths = {json.loads(l)["path"] for l in (built["out"] / "files.jsonl").read_text().splitlines()}
    assert "shop/cart.py" in paths and "shop/cart_near.py" not in paths and "shop/cart_copy.py" not in paths


def test_licence_headers_are_left_out_of_the_loss(built):
    ds = CorpusDataset(built["out"])
    rows = [json.loads(l) for l in (built["out"] / "files.jsonl").read_text().splitlines()]
    for name in ("shop/licensed.py", "src/main/java/Licensed.java"):
        r = next(r for r in rows if r["path"] == name)
        assert r["header_bytes"] > 40
        docs, mask = ds.docs(r["split"]), ds.mask(r["split"])
        m = np.asarray(mask[docs[r["sample"]]:docs[r["sample"] + 1]])
        assert 0 < (m == 0).sum() < len(m)                        # header masked, code kept
    plain = next(r for r in rows if r["path"] == "shop/cart.py")
    m = np.asarray(ds.mask(plain["split"])[ds.docs(plain["split"])[plain["sample"]]:][:plain["tokens"]])
    assert m.all()
    x, y, lv = ds.batch("val", 8, 16, rng=0)
    assert x.shape == y.shape == (8, 16) and lv.shape == (8, 16, 3)


def test_header_detection():
    assert S.licence_header_end(JAVA_HEADER + "package a;\n", "java") == len(JAVA_HEADER.encode())
    assert S.licence_header_end(PY_HEADER + "import os\n", "python") == len(PY_HEADER.encode())
    assert S.licence_header_end("/* A helper for lists. */\nclass A {}\n", "java") == 0
    assert S.licence_header_end("# utilities\nimport os\n", "python") == 0
    assert S.is_permissive("MIT") and S.is_permissive("BSD-3-Clause") and S.is_permissive("Apache-2.0 OR GPL-2.0")
    assert not S.is_permissive("GPL-3.0-only") and not S.is_permissive("MPL-2.0") and not S.is_permissive("")


def test_encode_is_bounded_and_resumes(built):
    assert built["first"]["encoded_now"] == 1 and built["first"]["pending"] == 2
    assert built["rest"]["encoded_now"] == 2 and built["rest"]["pending"] == 0
    assert built["manifest"]["pending_packages"] == []


def test_encode_only_the_named_packages(built, tmp_path):
    """``only`` (``--packages``) encodes just those packages: a training mix can be re-encoded
    (new FIM cuts, more Java) while the held-out packages' shards stay as they are."""
    import shutil
    out = tmp_path / "corpus"
    shutil.copytree(built["out"], out)
    names = sorted(r["name"] for r in built["gather"]["packages"] if r.get("text"))
    for n in names:
        (out / "shards" / f"{S._safe(n)}.npz").unlink()
    res = S.encode(out, built["out"].parent / "tokenizer.json", only=[names[0]], log=lambda *a: None)
    assert res["encoded_now"] == 1 and res["pending"] == 0
    assert sorted(p.stem for p in (out / "shards").glob("*.npz")) == [S._safe(names[0])]


def test_encode_part_of_a_package_by_path(built, tmp_path):
    """``path_prefixes`` (``--paths``) encodes only the files under those paths (a part of a big
    package such as OpenJDK's java.base/): the packed corpus lists exactly those files."""
    import shutil
    out = tmp_path / "corpus"
    shutil.copytree(built["out"], out)
    java = next(r for r in built["gather"]["packages"] if r["lang"] == "java" and r.get("text"))
    paths = sorted(d["path"] for d in S.read_text_shard(out / "text" / java["text"]))
    keep = [p for p in paths if p.endswith(("Item.java", "Licensed.java"))]
    assert 0 < len(keep) < len(paths)
    (out / "shards" / f"{S._safe(java['name'])}.npz").unlink()
    res = S.encode(out, built["out"].parent / "tokenizer.json", only=[java["name"]], path_prefixes=keep,
                   log=lambda *a: None)
    assert res["encoded_now"] == 1
    S.pack(out, built["out"].parent / "tokenizer.json", log=lambda *a: None)
    rows = [json.loads(l) for l in (out / "files.jsonl").read_text().splitlines()]
    assert sorted(r["path"] for r in rows if r["package"] == java["name"]) == keep
    before = [json.loads(l) for l in (built["out"] / "files.jsonl").read_text().splitlines()]
    assert [r for r in rows if r["package"] != java["name"]] == [r for r in before if r["package"] != java["name"]]


def test_devset_and_pinned_list_agree():
    devset = json.loads((ROOT / "bench" / "devset.json").read_text())
    names = {e["name"] for lang in ("python", "java") for e in devset[lang]}
    assert names <= S.DEVSET_EXCLUDED
    pinned = {e.name for e in read_sources()}
    assert not pinned & names
