"""Runtime helpers with Java semantics, inlined into translated files.

Each helper is Python source text; ``HELPERS[name] = (source, deps, imports)`` (runtime_table).
The emitter copies only the helpers a translation used (plus their dependencies),
so the output is a standalone module with no r1lsp import. Here: numbers and strings; the Java
library's classes are in runtime_classes, comparators / streams / map updates in runtime_streams.
"""
from __future__ import annotations

from . import runtime_classes, runtime_streams  # noqa: F401  (their helpers join the table)
from .runtime_table import HELPERS, _h

_h("_i32", '''
def _i32(x):
    """Wrap to a Java int (32-bit two's complement)."""
    x &= 0xFFFFFFFF
    return x - 0x100000000 if x & 0x80000000 else x
''')
_h("_i64", '''
def _i64(x):
    """Wrap to a Java long (64-bit two's complement)."""
    x &= 0xFFFFFFFFFFFFFFFF
    return x - 0x10000000000000000 if x & 0x8000000000000000 else x
''')
_h("_i16", '''
def _i16(x):
    x &= 0xFFFF
    return x - 0x10000 if x & 0x8000 else x
''')
_h("_i8", '''
def _i8(x):
    x &= 0xFF
    return x - 0x100 if x & 0x80 else x
''')
_h("_idiv", '''
def _idiv(a, b):
    """Java integer division: truncates toward zero."""
    if b == 0:
        raise ZeroDivisionError("/ by zero")
    q = a // b
    return q + 1 if q < 0 and q * b != a else q
''')
_h("_irem", '''
def _irem(a, b):
    """Java integer remainder: sign follows the dividend."""
    if b == 0:
        raise ZeroDivisionError("/ by zero")
    return a - b * _idiv(a, b)
''', ("_idiv",))
_h("_div", '''
def _div(a, b):
    """Division on operands whose Java type is unknown here."""
    if isinstance(a, int) and isinstance(b, int):
        return _idiv(a, b)
    return a / b
''', ("_idiv",))
_h("_fdiv", '''
def _fdiv(a, b):
    """Java floating division: a zero divisor gives Infinity or NaN, not an error."""
    try:
        return a / b
    except ZeroDivisionError:
        if a != a or a == 0:
            return math.nan
        return math.copysign(math.inf, a) * math.copysign(1.0, b)
''', (), ("import math",))
_h("_ushr32", '''
def _ushr32(a, n):
    """Java int >>> n."""
    return _i32((a & 0xFFFFFFFF) >> (n & 31))
''', ("_i32",))
_h("_ushr64", '''
def _ushr64(a, n):
    """Java long >>> n."""
    return _i64((a & 0xFFFFFFFFFFFFFFFF) >> (n & 63))
''', ("_i64",))
_h("_d2i", '''
def _d2i(d, lo=-2147483648, hi=2147483647):
    """Java (int)/(long) cast of a double: truncate, saturate, NaN -> 0."""
    if d != d:
        return 0
    if d >= hi:
        return hi
    if d <= lo:
        return lo
    return int(d)
''')
_h("_jdouble", '''
def _jdouble(d):
    """Double.toString."""
    if d != d:
        return "NaN"
    if d in (float("inf"), float("-inf")):
        return "Infinity" if d > 0 else "-Infinity"
    if d == 0:
        return "-0.0" if str(d).startswith("-") else "0.0"
    a = abs(d)
    if 1e-3 <= a < 1e7:
        r = repr(d)
        return r if "." in r else r + ".0"
    digits, exp = repr(a).split("e") if "e" in repr(a) else (repr(a), "0")
    if "." in digits:
        ip, fp = digits.split(".")
    else:
        ip, fp = digits, ""
    e = int(exp)
    ds = (ip + fp).lstrip("0")
    e += len(ip.lstrip("0")) - 1 if ip.strip("0") else -(len(fp) - len(fp.lstrip("0")) + 1)
    ds = ds.rstrip("0") or "0"
    m = ds[0] + "." + (ds[1:] or "0")
    return ("-" if d < 0 else "") + m + "E" + str(e)
''')
_h("_f32", '''
def _f32(x):
    """Round a number to Java float (32-bit) precision."""
    return struct.unpack("f", struct.pack("f", x))[0]
''', (), ("import struct",))
_h("_jfloat", '''
def _jfloat(x):
    """Float.toString: the shortest digits that read back as the same float."""
    if x != x or x in (float("inf"), float("-inf")) or x == 0:
        return _jdouble(x)
    x = struct.unpack("f", struct.pack("f", x))[0]
    for p in range(1, 10):
        s = "%.*g" % (p, x)
        if struct.unpack("f", struct.pack("f", float(s)))[0] == x:
            return _jdouble(float(s))
    return _jdouble(x)
''', ("_jdouble",), ("import struct",))
_h("_jstr", '''
def _jstr(x):
    """String.valueOf with Java formatting (booleans, null, doubles, collections)."""
    if x is None:
        return "null"
    if x is True:
        return "true"
    if x is False:
        return "false"
    if isinstance(x, float):
        return _jdouble(x)
    if isinstance(x, str):
        return x
    if isinstance(x, dict):
        return "{" + ", ".join(_jstr(k) + "=" + _jstr(v) for k, v in x.items()) + "}"
    if isinstance(x, (list, tuple, set, frozenset)) or type(x).__name__ == "deque":
        return "[" + ", ".join(_jstr(e) for e in x) + "]"
    return str(x)
''', ("_jdouble",))
_h("_jformat", '''
def _jformat(fmt, *args):
    """String.format for a format string only known at run time."""
    out, i, k = [], 0, 0
    spec = re.compile(r"%([-#+ 0,(]*)(\\d+)?(\\.\\d+)?([a-zA-Z%])")
    for m in spec.finditer(fmt):
        out.append(fmt[i:m.start()])
        i = m.end()
        flags, width, prec, conv = m.group(1), m.group(2) or "", m.group(3) or "", m.group(4)
        if conv == "n":
            out.append("\\n")
            continue
        if conv == "%":
            out.append("%")
            continue
        a = args[k]
        k += 1
        if conv in "bB":
            a, conv = _jstr(bool(a) if a is not None else False), "s"
        elif conv in "sS":
            a = _jstr(a)
        elif conv == "c" and isinstance(a, int):
            a = chr(a)
        comma = "," in flags
        flags = flags.replace(",", "")
        if conv == "f" and isinstance(a, (int, float)) and a == a and abs(a) != float("inf"):
            q = decimal.Decimal(a).quantize(decimal.Decimal(1).scaleb(-int(prec[1:] or 6)),
                                            rounding=decimal.ROUND_HALF_UP)
            body = format(q, ",f" if comma else "f")
            if "+" in flags and q >= 0:
                body = "+" + body
            w = int(width or 0)
            if "-" in flags:
                s = body.ljust(w)
            elif "0" in flags:
                sign = body[0] if body[0] in "+-" else ""
                s = sign + body[len(sign):].rjust(w - len(sign), "0")
            else:
                s = body.rjust(w)
        elif comma and conv in "df":
            body = format(a, "," + (prec or "") + ("f" if conv == "f" else "d"))
            s = body.rjust(int(width)) if width and "-" not in flags else body.ljust(int(width or 0))
        else:
            s = ("%" + flags + width + prec + conv) % (a,)
        out.append(s.upper() if conv in "SX" else s)
    out.append(fmt[i:])
    return "".join(out)
''', ("_jstr",), ("import decimal", "import re"))
_h("JavaIterator", '''
class JavaIterator:
    """java.util.Iterator over a Python iterable."""

    def __init__(self, iterable):
        self._it = iter(list(iterable))
        self._next = self._sentinel = object()
        self._advance()

    def _advance(self):
        self._next = next(self._it, self._sentinel)

    def hasNext(self):
        return self._next is not self._sentinel

    def next(self):
        v = self._next
        self._advance()
        return v
''')
_h("_split", '''
def _split(s, regex, limit=0):
    """String.split: regex, trailing empty strings removed."""
    if regex and len(regex) == 1 and regex not in ".$|()[{^?*+\\\\":
        parts = s.split(regex)
    else:
        parts = re.split(regex, s)
    if limit == 0:
        while parts and parts[-1] == "":
            parts.pop()
    return parts if s != "" else [""]
''', (), ("import re",))
_h("_cmp_str", '''
def _cmp_str(a, b):
    """String.compareTo."""
    for x, y in zip(a, b):
        if x != y:
            return ord(x) - ord(y)
    return len(a) - len(b)
''')
_h("_str_hash", '''
def _str_hash(s):
    """String.hashCode."""
    h = 0
    for c in s:
        h = (31 * h + ord(c)) & 0xFFFFFFFF
    return h - 0x100000000 if h & 0x80000000 else h
''')
_h("_index_of", '''
def _index_of(seq, x):
    """List.indexOf."""
    try:
        return seq.index(x)
    except ValueError:
        return -1
''')
_h("_cmp", '''
def _cmp(a, b):
    """Integer.compare / Double.compare."""
    return (a > b) - (a < b)
''')
_h("_compare_to", '''
def _compare_to(a, b):
    """Comparable.compareTo on a value whose class is only known at run time."""
    if hasattr(a, "compareTo"):
        return a.compareTo(b)
    if isinstance(a, str):
        for x, y in zip(a, b):
            if x != y:
                return ord(x) - ord(y)
        return len(a) - len(b)
    return (a > b) - (a < b)
''')
_h("_set_add", '''
def _set_add(s, x):
    """Set.add returning whether the element was new."""
    if x in s:
        return False
    s.add(x)
    return True
''')
_h("_parse_int", '''
def _parse_int(s, radix=10):
    """Integer.parseInt (no surrounding blanks allowed)."""
    if s is None or s != s.strip() or not s or "_" in s:
        raise ValueError("For input string: \\"%s\\"" % s)
    return int(s, radix)
''')
_h("_pinc_attr", '''
def _pinc_attr(obj, name, delta, post=True):
    """obj.name++ / ++obj.name used as a value."""
    old = getattr(obj, name)
    setattr(obj, name, old + delta)
    return old if post else old + delta
''')
_h("_pinc_item", '''
def _pinc_item(seq, i, delta, post=True):
    """a[i]++ / ++a[i] used as a value."""
    old = seq[i]
    seq[i] = old + delta
    return old if post else old + delta
''')
_h("_round", '''
def _round(x):
    """Math.round."""
    return math.floor(x + 0.5)
''', (), ("import math",))
_h("_bin", '''
def _bin(x, bits=32, base=2):
    """Integer.toBinaryString / toHexString / toOctalString (two's complement)."""
    if x < 0:
        x += 1 << bits
    return {2: format(x, "b"), 8: format(x, "o"), 16: format(x, "x")}[base]
''')
_h("_untranslated", '''
def _untranslated(java_text):
    raise NotImplementedError("r1lsp: untranslated Java: " + java_text)
''')


def render(names: set[str]) -> tuple[list[str], str]:
    """Imports and source for the named helpers and everything they depend on."""
    order: list[str] = []
    seen: set[str] = set()

    def visit(n: str) -> None:
        if n in seen:
            return
        seen.add(n)
        for d in HELPERS[n][1]:
            visit(d)
        order.append(n)

    for n in sorted(names):
        visit(n)
    imports: list[str] = []
    for n in order:
        for imp in HELPERS[n][2]:
            if imp not in imports:
                imports.append(imp)
    return imports, "\n\n".join(HELPERS[n][0] for n in order)
