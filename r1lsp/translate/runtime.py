"""Runtime helpers with Java semantics, inlined into translated files.

Each helper is Python source text; ``HELPERS[name] = (source, deps, imports)``.
The emitter copies only the helpers a translation used (plus their dependencies),
so the output is a standalone module with no r1lsp import.
"""
from __future__ import annotations

HELPERS: dict[str, tuple[str, tuple[str, ...], tuple[str, ...]]] = {}


def _h(name: str, src: str, deps: tuple[str, ...] = (), imports: tuple[str, ...] = ()) -> None:
    HELPERS[name] = (src.strip("\n") + "\n", deps, imports)


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
_h("StringBuilder", '''
class StringBuilder:
    """java.lang.StringBuilder."""

    def __init__(self, init=""):
        self._c = list(init) if isinstance(init, str) else []

    def append(self, x):
        self._c.extend(x if isinstance(x, str) else _jstr(x))
        return self

    def insert(self, i, x):
        self._c[i:i] = list(x if isinstance(x, str) else _jstr(x))
        return self

    def reverse(self):
        self._c.reverse()
        return self

    def length(self):
        return len(self._c)

    def charAt(self, i):
        return self._c[i]

    def setCharAt(self, i, c):
        self._c[i] = c

    def deleteCharAt(self, i):
        del self._c[i]
        return self

    def delete(self, a, b):
        del self._c[a:b]
        return self

    def setLength(self, n):
        self._c = self._c[:n] + ["\\0"] * (n - len(self._c))

    def indexOf(self, s):
        return str(self).find(s)

    def isEmpty(self):
        return not self._c

    def toString(self):
        return "".join(self._c)

    __str__ = toString
''', ("_jstr",))
_h("PriorityQueue", '''
class PriorityQueue:
    """java.util.PriorityQueue on heapq (with an optional comparator)."""

    def __init__(self, cmp=None):
        self._h, self._n = [], 0
        self._key = functools.cmp_to_key(cmp) if cmp else (lambda x: x)

    def add(self, x):
        heapq.heappush(self._h, (self._key(x), self._n, x))
        self._n += 1
        return True

    offer = add

    def poll(self):
        return heapq.heappop(self._h)[2] if self._h else None

    def remove(self):
        return heapq.heappop(self._h)[2]

    def peek(self):
        return self._h[0][2] if self._h else None

    def size(self):
        return len(self._h)

    def __len__(self):
        return len(self._h)

    def isEmpty(self):
        return not self._h

    def clear(self):
        self._h.clear()

    def __iter__(self):
        return iter([e[2] for e in self._h])
''', (), ("import functools", "import heapq"))
_h("TreeMap", '''
class TreeMap(dict):
    """java.util.TreeMap: a dict iterated in key order."""

    def __iter__(self):
        return iter(sorted(dict.keys(self)))

    def keys(self):
        return list(iter(self))

    def values(self):
        return [self[k] for k in self]

    def items(self):
        return [(k, self[k]) for k in self]

    def firstKey(self):
        return min(dict.keys(self))

    def lastKey(self):
        return max(dict.keys(self))

    def floorKey(self, k):
        c = [x for x in dict.keys(self) if x <= k]
        return max(c) if c else None

    def ceilingKey(self, k):
        c = [x for x in dict.keys(self) if x >= k]
        return min(c) if c else None
''')
_h("TreeSet", '''
class TreeSet(set):
    """java.util.TreeSet: a set iterated in order."""

    def __iter__(self):
        return iter(sorted(set.__iter__(self)))

    def first(self):
        return min(set.__iter__(self))

    def last(self):
        return max(set.__iter__(self))

    def floor(self, k):
        c = [x for x in set.__iter__(self) if x <= k]
        return max(c) if c else None

    def ceiling(self, k):
        c = [x for x in set.__iter__(self) if x >= k]
        return min(c) if c else None
''')
_h("Scanner", '''
class Scanner:
    """java.util.Scanner on standard input."""

    def __init__(self, stream=None):
        self._data = sys.stdin.read()
        self._pos = 0

    def _skip(self):
        while self._pos < len(self._data) and self._data[self._pos].isspace():
            self._pos += 1

    def hasNext(self):
        self._skip()
        return self._pos < len(self._data)

    def next(self):
        self._skip()
        start = self._pos
        while self._pos < len(self._data) and not self._data[self._pos].isspace():
            self._pos += 1
        return self._data[start:self._pos]

    def hasNextInt(self):
        save = self._pos
        tok = self.next()
        self._pos = save
        return tok.lstrip("-+").isdigit()

    def nextInt(self):
        return int(self.next())

    nextLong = nextInt

    def nextDouble(self):
        return float(self.next())

    def hasNextLine(self):
        return self._pos < len(self._data)

    def nextLine(self):
        end = self._data.find("\\n", self._pos)
        if end < 0:
            end = len(self._data)
        line = self._data[self._pos:end]
        self._pos = end + 1
        return line.rstrip("\\r")

    def close(self):
        pass
''', (), ("import sys",))
_h("IllegalStateException", '''
class IllegalStateException(RuntimeError):
    """java.lang.IllegalStateException."""
''')
_h("NoSuchElementException", '''
class NoSuchElementException(LookupError):
    """java.util.NoSuchElementException."""
''')
_h("Optional", """
class Optional:
    \"\"\"java.util.Optional / OptionalInt / OptionalDouble.\"\"\"
    __slots__ = ("_v", "_kind")

    def __init__(self, v=None, kind=""):
        self._v = v
        self._kind = kind

    @staticmethod
    def of(v):
        if v is None:
            raise AttributeError("Optional.of(null)")
        return Optional(v)

    @staticmethod
    def ofNullable(v):
        return Optional(v)

    @staticmethod
    def empty():
        return Optional()

    def isPresent(self):
        return self._v is not None

    def isEmpty(self):
        return self._v is None

    def get(self):
        if self._v is None:
            raise NoSuchElementException("No value present")
        return self._v

    getAsInt = getAsDouble = getAsLong = get

    def orElseThrow(self, exc=None):
        if self._v is None:
            raise exc() if exc is not None else NoSuchElementException("No value present")
        return self._v

    def orElse(self, other):
        return self._v if self._v is not None else other

    def orElseGet(self, supplier):
        return self._v if self._v is not None else supplier()

    def map(self, f):
        return Optional(f(self._v)) if self._v is not None else self

    def flatMap(self, f):
        return f(self._v) if self._v is not None else self

    def filter(self, p):
        return self if self._v is not None and p(self._v) else Optional(None, self._kind)

    def ifPresent(self, f):
        if self._v is not None:
            f(self._v)

    def ifPresentOrElse(self, f, g):
        if self._v is not None:
            f(self._v)
        else:
            g()

    def __eq__(self, other):
        return isinstance(other, Optional) and self._v == other._v

    def __hash__(self):
        return hash(self._v)

    def __str__(self):
        name = "Optional" + self._kind
        return name + "[" + _jstr(self._v) + "]" if self._v is not None else name + ".empty"
""", ("NoSuchElementException", "_jstr"))
_h("_natural", """
def _natural(a, b):
    \"\"\"Comparator.naturalOrder().\"\"\"
    return _compare_to(a, b)
""", ("_compare_to",))
_h("_reverse_order", """
def _reverse_order(a, b):
    \"\"\"Comparator.reverseOrder().\"\"\"
    return _compare_to(b, a)
""", ("_compare_to",))
_h("_comparing", """
def _comparing(key, cmp=None):
    \"\"\"Comparator.comparing(key[, cmp]) / comparingInt / comparingDouble.\"\"\"
    if cmp is None:
        return lambda a, b: _compare_to(key(a), key(b))
    return lambda a, b: cmp(key(a), key(b))
""", ("_compare_to",))
_h("_reversed", """
def _reversed(cmp):
    \"\"\"Comparator.reversed().\"\"\"
    return lambda a, b: cmp(b, a)
""")
_h("_then", """
def _then(cmp, other):
    \"\"\"Comparator.thenComparing(other).\"\"\"
    def both(a, b):
        r = cmp(a, b)
        return r if r != 0 else other(a, b)
    return both
""")
_h("_smin", """
def _smin(xs, cmp=None):
    \"\"\"Stream.min(cmp) / IntStream.min(): an Optional (the first of equal minima).\"\"\"
    best, found = None, False
    for x in xs:
        if not found or (cmp(x, best) < 0 if cmp else x < best):
            best, found = x, True
    return Optional(best if found else None)
""", ("Optional",))
_h("_smax", """
def _smax(xs, cmp=None):
    \"\"\"Stream.max(cmp) / IntStream.max(): an Optional (the first of equal maxima).\"\"\"
    best, found = None, False
    for x in xs:
        if not found or (cmp(x, best) > 0 if cmp else x > best):
            best, found = x, True
    return Optional(best if found else None)
""", ("Optional",))
_h("_first", """
def _first(xs):
    \"\"\"Stream.findFirst() / findAny().\"\"\"
    for x in xs:
        return Optional(x)
    return Optional()
""", ("Optional",))
_h("_dsum", """
def _dsum(xs):
    \"\"\"DoubleStream.sum(): Kahan-compensated like Java.\"\"\"
    s = c = simple = 0.0
    for v in xs:
        simple += v
        t = v - c
        velvel = s + t
        c = (velvel - s) - t
        s = velvel
    r = s - c
    if r != r and simple in (float("inf"), float("-inf")):
        return simple
    return r
""")
_h("_average", """
def _average(xs, double=False):
    \"\"\"IntStream/DoubleStream.average(): an OptionalDouble.\"\"\"
    xs = list(xs)
    if not xs:
        return Optional(None, "Double")
    return Optional((_dsum(xs) if double else sum(xs)) / len(xs), "Double")
""", ("Optional", "_dsum"))
_h("_reduce", """
def _reduce(xs, op):
    \"\"\"Stream.reduce(op): an Optional.\"\"\"
    acc, found = None, False
    for x in xs:
        acc, found = (op(acc, x) if found else x), True
    return Optional(acc if found else None)
""", ("Optional",))
_h("_grouping", """
def _grouping(xs, key, factory=dict, down=None):
    \"\"\"Collectors.groupingBy(key[, factory][, downstream]).\"\"\"
    groups = factory()
    for x in xs:
        groups.setdefault(key(x), []).append(x)
    if down is not None:
        for k in list(groups.keys()):
            groups[k] = down(groups[k])
    return groups
""")
_h("_merge", """
def _merge(m, k, v, f):
    \"\"\"Map.merge(k, v, f): the new value (None removes the key).\"\"\"
    old = m.get(k)
    nv = v if old is None else f(old, v)
    if nv is None:
        m.pop(k, None)
    else:
        m[k] = nv
    return nv
""")
_h("_compute", """
def _compute(m, k, f):
    \"\"\"Map.compute(k, f): the new value (None removes the key).\"\"\"
    nv = f(k, m.get(k))
    if nv is None:
        m.pop(k, None)
    else:
        m[k] = nv
    return nv
""")
_h("_compute_if_absent", """
def _compute_if_absent(m, k, f):
    \"\"\"Map.computeIfAbsent(k, f).\"\"\"
    v = m.get(k)
    if v is None:
        v = f(k)
        if v is not None:
            m[k] = v
    return v
""")
_h("_put", """
def _put(m, k, v):
    \"\"\"Map.put as an expression: the previous value.\"\"\"
    old = m.get(k)
    m[k] = v
    return old
""")
_h("_put_if_absent", """
def _put_if_absent(m, k, v):
    \"\"\"Map.putIfAbsent: the current value (None when v was stored).\"\"\"
    old = m.get(k)
    if old is None:
        m[k] = v
    return old
""")
_h("_set_remove_if", """
def _set_remove_if(s, pred):
    \"\"\"Collection.removeIf on a set.\"\"\"
    gone = [x for x in s if pred(x)]
    s.difference_update(gone)
    return bool(gone)
""")
_h("_untranslated", '''
def _untranslated(java_text):
    raise NotImplementedError("r1lsp: untranslated Java: " + java_text)
''')


_h("_JRandom", '''
class _JRandom:
    """java.util.Random: the same 48-bit generator, so a seed gives Java's sequence."""

    def __init__(self, seed=None):
        if seed is None:
            import time
            seed = time.time_ns()
        self.setSeed(seed)

    def setSeed(self, seed):
        self._s = (seed ^ 0x5DEECE66D) & ((1 << 48) - 1)
        self._g = None

    def _next(self, bits):
        self._s = (self._s * 0x5DEECE66D + 0xB) & ((1 << 48) - 1)
        r = self._s >> (48 - bits)
        return r - (1 << 32) if r & (1 << 31) and bits == 32 else r

    def nextInt(self, bound=None, hi=None):
        if hi is not None:  # nextInt(origin, bound), as Java 17's RandomSupport does it
            origin = bound
            if origin >= hi:
                raise ValueError("bound must be greater than origin")
            r = self._next(32)
            n = hi - origin
            if n < (1 << 31):
                m = n - 1
                if n & m == 0:
                    return (r & m) + origin
                u = (r & 0xFFFFFFFF) >> 1
                while True:
                    r = u % n
                    if u + m - r < (1 << 31):
                        return r + origin
                    u = (self._next(32) & 0xFFFFFFFF) >> 1
            while r < origin or r >= hi:
                r = self._next(32)
            return r
        if bound is None:
            return self._next(32)
        if bound <= 0:
            raise ValueError("bound must be positive")
        if bound & -bound == bound:
            return (bound * self._next(31)) >> 31
        while True:
            bits = self._next(31)
            val = bits % bound
            if bits - val + (bound - 1) < (1 << 31):
                return val

    def nextLong(self):
        v = (self._next(32) << 32) + self._next(32)
        v &= (1 << 64) - 1
        return v - (1 << 64) if v >> 63 else v

    def nextDouble(self):
        return ((self._next(26) << 27) + self._next(27)) * (1.0 / (1 << 53))

    def nextFloat(self):
        return self._next(24) / float(1 << 24)

    def nextBoolean(self):
        return self._next(1) != 0

    def nextGaussian(self):
        import math
        if self._g is not None:
            g, self._g = self._g, None
            return g
        while True:
            v1 = 2 * self.nextDouble() - 1
            v2 = 2 * self.nextDouble() - 1
            s = v1 * v1 + v2 * v2
            if 0 < s < 1:
                break
        m = math.sqrt(-2 * math.log(s) / s)
        self._g = v2 * m
        return v1 * m
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
