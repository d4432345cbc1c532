"""Public API of compiled classes (a jar's .class files) as `ClassInfo`s: the constant pool,
the access flags, fields and methods with their descriptors, and the `Signature` attributes
for generics (JVMS §4.7.9.1), written in the JDK index's notation (binary names,
`java.util.List<E>`, `? extends T`, `T[]`)."""
from __future__ import annotations

import struct
import zipfile
from pathlib import Path

from r1lsp.java.types import ClassInfo, FieldInfo, MethodInfo

ACC_PUBLIC, ACC_PROTECTED, ACC_STATIC, ACC_INTERFACE, ACC_ABSTRACT = 0x0001, 0x0004, 0x0008, 0x0200, 0x0400
ACC_SYNTHETIC, ACC_ANNOTATION, ACC_ENUM, ACC_BRIDGE, ACC_VARARGS = 0x1000, 0x2000, 0x4000, 0x0040, 0x0080
BASE = {"B": "byte", "C": "char", "D": "double", "F": "float", "I": "int", "J": "long", "S": "short",
        "Z": "boolean", "V": "void"}
MAX_JAR_CLASSES = 20000


class ClassFileError(ValueError):
    pass


def _pool(data: bytes, pos: int):
    count = struct.unpack_from(">H", data, pos)[0]
    pos += 2
    pool: list = [None] * count
    i = 1
    while i < count:
        tag = data[pos]
        if tag == 1:
            n = struct.unpack_from(">H", data, pos + 1)[0]
            pool[i] = data[pos + 3:pos + 3 + n].decode("utf-8", "replace")
            pos += 3 + n
        elif tag in (3, 4):
            pos += 5
        elif tag in (5, 6):
            pos += 9
            i += 1
        elif tag == 7:
            pool[i] = ("class", struct.unpack_from(">H", data, pos + 1)[0])
            pos += 3
        elif tag in (8, 16, 19, 20):
            pos += 3
        elif tag in (9, 10, 11, 12, 17, 18):
            pos += 5
        elif tag == 15:
            pos += 4
        else:
            raise ClassFileError(f"constant pool tag {tag}")
        i += 1
    return pool, pos


class _Sig:
    """A reader of descriptors and generic signatures."""

    def __init__(self, text: str):
        self.s, self.i = text, 0

    def peek(self) -> str:
        return self.s[self.i] if self.i < len(self.s) else ""

    def take(self) -> str:
        c = self.peek()
        self.i += 1
        return c

    def type_params(self) -> list[str]:
        out = []
        if self.peek() != "<":
            return out
        self.take()
        while self.peek() and self.peek() != ">":
            j = self.s.index(":", self.i)
            name = self.s[self.i:j]
            self.i = j
            bounds = []
            while self.peek() == ":":
                self.take()
                if self.peek() in (":", ">") or not self.peek():
                    continue                                          # empty class bound
                bounds.append(self.type())
            bound = next((b for b in bounds if b != "java.lang.Object"), "")
            out.append(name + (":" + bound if bound else ""))
        self.take()
        return out

    def type(self) -> str:
        c = self.take()
        if c in BASE:
            return BASE[c]
        if c == "[":
            return self.type() + "[]"
        if c == "T":
            j = self.s.index(";", self.i)
            name = self.s[self.i:j]
            self.i = j + 1
            return name
        if c == "L":
            name, args = "", ""
            while True:
                j = self.i
                while self.peek() not in ("<", ";", ".", ""):
                    self.i += 1
                part = self.s[j:self.i].replace("/", ".")
                name = part if not name else name + "$" + part
                if self.peek() == "<":
                    self.take()
                    items = []
                    while self.peek() != ">":
                        w = self.peek()
                        if w == "*":
                            self.take()
                            items.append("?")
                        elif w in "+-":
                            self.take()
                            items.append(("? extends " if w == "+" else "? super ") + self.type())
                        else:
                            items.append(self.type())
                    self.take()
                    args = "<" + ",".join(items) + ">"
                if self.take() == ".":
                    args = ""                                        # Outer<A>.Inner: keep the inner's
                    continue
                return name + args
        raise ClassFileError(f"bad signature {self.s!r}")

    def method(self) -> tuple[list[str], list[str], str]:
        tps = self.type_params()
        if self.take() != "(":
            raise ClassFileError(f"bad method signature {self.s!r}")
        params = []
        while self.peek() != ")":
            params.append(self.type())
        self.take()
        return tps, params, self.type()


def _attributes(data: bytes, pos: int, pool) -> tuple[dict[str, bytes], int]:
    n = struct.unpack_from(">H", data, pos)[0]
    pos += 2
    out = {}
    for _ in range(n):
        name_i, length = struct.unpack_from(">HI", data, pos)
        pos += 6
        name = pool[name_i]
        if name in ("Signature",):
            out[name] = data[pos:pos + length]
        pos += length
    return out, pos


def _signature(attrs: dict[str, bytes], pool) -> str | None:
    raw = attrs.get("Signature")
    return pool[struct.unpack(">H", raw)[0]] if raw else None


def read_class(data: bytes) -> ClassInfo | None:
    """A public class's API (None for a non-public or synthetic class, module-info, …)."""
    if data[:4] != b"\xca\xfe\xba\xbe":
        raise ClassFileError("not a class file")
    pool, pos = _pool(data, 8)
    access, this_i, super_i, n_if = struct.unpack_from(">HHHH", data, pos)
    pos += 8
    cls = lambda i: pool[pool[i][1]].replace("/", ".") if i else None
    interfaces = [cls(struct.unpack_from(">H", data, pos + 2 * k)[0]) for k in range(n_if)]
    pos += 2 * n_if
    name = cls(this_i)
    fields, methods = [], []
    for which in ("field", "method"):
        count = struct.unpack_from(">H", data, pos)[0]
        pos += 2
        for _ in range(count):
            acc, name_i, desc_i = struct.unpack_from(">HHH", data, pos)
            attrs, pos = _attributes(data, pos + 6, pool)
            if not acc & (ACC_PUBLIC | ACC_PROTECTED) or acc & ACC_SYNTHETIC or (which == "method" and acc & ACC_BRIDGE):
                continue
            protected = not acc & ACC_PUBLIC
            mname = pool[name_i]
            sig = _signature(attrs, pool) or pool[desc_i]
            try:
                if which == "field":
                    fields.append(FieldInfo(mname, _Sig(sig).type(), bool(acc & ACC_STATIC), protected))
                elif not mname.startswith("<"):
                    tps, params, ret = _Sig(sig).method()
                    methods.append(MethodInfo(mname, tuple(params), ret, bool(acc & ACC_STATIC),
                                              bool(acc & ACC_ABSTRACT), bool(acc & ACC_VARARGS), tuple(tps),
                                              protected))
            except (ClassFileError, ValueError, IndexError):
                continue
    attrs, _ = _attributes(data, pos, pool)
    if not access & ACC_PUBLIC or access & ACC_SYNTHETIC or name is None or name.endswith("module-info"):
        return None
    sig = _signature(attrs, pool)
    tparams: list[str] = []
    if sig:
        r = _Sig(sig)
        tparams = r.type_params()
        supers = []
        while r.peek():
            supers.append(r.type())
    else:
        supers = ([cls(super_i)] if super_i else []) + interfaces
    kind = "annotation" if access & ACC_ANNOTATION else "interface" if access & ACC_INTERFACE else \
        "enum" if access & ACC_ENUM else "record" if cls(super_i) == "java.lang.Record" else "class"
    if kind in ("interface", "annotation") and supers and supers[0] == "java.lang.Object":
        supers = supers[1:]
    return ClassInfo(name, kind, tuple(tparams), tuple(supers), fields, methods, source="jar")


def read_jar(path: Path, limit: int = MAX_JAR_CLASSES) -> list[ClassInfo]:
    """The public classes of a jar (unreadable entries skipped)."""
    out = []
    with zipfile.ZipFile(path) as z:
        for entry in z.namelist():
            if not entry.endswith(".class") or entry.startswith("META-INF/") or "module-info" in entry:
                continue
            try:
                info = read_class(z.read(entry))
            except (ClassFileError, struct.error, IndexError, KeyError, ValueError, zipfile.BadZipFile):
                continue
            if info is not None:
                out.append(info)
                if len(out) >= limit:
                    break
    return out
