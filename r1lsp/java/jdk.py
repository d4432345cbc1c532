"""The JDK's public and protected API from the shipped `jdk-api.txt.gz` (`make jdk-index` regenerates it with
`JdkIndex.java`; no JDK is needed at run time). The file is read on first use; a class's JSON is
decoded when the class is first looked up."""
from __future__ import annotations

import functools
import gzip
import json
import threading
from importlib import resources

from r1lsp.java.types import ClassInfo, FieldInfo, MethodInfo

DATA = "jdk-api.txt.gz"
KINDS = {"c": "class", "i": "interface", "e": "enum", "r": "record", "a": "annotation"}


class JdkIndex:
    def __init__(self, lines: dict[str, str], header: dict):
        self._raw = lines                              # binary name -> JSON text
        self._classes: dict[str, ClassInfo | None] = {}
        self.header = header
        self._lock = threading.Lock()

    @classmethod
    def from_bytes(cls, data: bytes) -> "JdkIndex":
        text = gzip.decompress(data).decode("utf-8")
        head, _, body = text.partition("\n")
        lines = dict(line.split("\t", 1) for line in body.splitlines() if "\t" in line)
        return cls(lines, json.loads(head))

    def __contains__(self, name: str) -> bool:
        return name in self._raw

    def names(self):
        return self._raw.keys()

    @functools.cached_property
    def packages(self) -> dict[str, list[str]]:
        """Package -> binary names of its top-level classes."""
        out: dict[str, list[str]] = {}
        for name in self._raw:
            pkg, _, simple = name.rpartition(".")
            if "$" not in simple:
                out.setdefault(pkg, []).append(name)
        return out

    def get(self, name: str) -> ClassInfo | None:
        got = self._classes.get(name, False)
        if got is not False:
            return got
        raw = self._raw.get(name)
        info = None
        if raw is not None:
            kind, tparams, supers, fields, methods = json.loads(raw)
            prefix = name + "$"
            nested = {}
            info = ClassInfo(
                name, KINDS.get(kind, "class"), tuple(tparams), tuple(supers),
                [FieldInfo(f[0], f[1], bool(f[2]), len(f) > 3 and "p" in f[3]) for f in fields],
                [MethodInfo(m[0], tuple(m[1]), m[2], "s" in m[3], "a" in m[3], "v" in m[3],
                            tuple(m[4]) if len(m) > 4 else (), "p" in m[3]) for m in methods],
                nested=nested)
            # nested classes are looked up on demand by their binary names
            info.nested = _LazyNested(self, prefix)
        with self._lock:
            self._classes[name] = info
        return info


class _LazyNested(dict):
    """simple name -> binary name of a JDK class's public nested classes, filled on first use."""

    def __init__(self, jdk: JdkIndex, prefix: str):
        super().__init__()
        self._jdk, self._prefix, self._filled = jdk, prefix, False

    def _fill(self):
        if not self._filled:
            self._filled = True
            for n in self._jdk.names():
                if n.startswith(self._prefix) and "$" not in n[len(self._prefix):]:
                    dict.__setitem__(self, n[len(self._prefix):], n)

    def get(self, key, default=None):
        name = self._prefix + key
        return name if name in self._jdk else default

    def __contains__(self, key):
        return (self._prefix + key) in self._jdk

    def items(self):
        self._fill()
        return dict.items(self)

    def keys(self):
        self._fill()
        return dict.keys(self)

    def __iter__(self):
        self._fill()
        return dict.__iter__(self)


@functools.cache
def jdk_index() -> JdkIndex:
    """The shipped index (read once per process)."""
    data = resources.files("r1lsp.java").joinpath(DATA).read_bytes()
    return JdkIndex.from_bytes(data)
