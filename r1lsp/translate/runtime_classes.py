"""Runtime helpers for the Java library's classes a translation uses (StringBuilder, PriorityQueue,
TreeMap, TreeSet, Scanner, Optional, java.util.Random, two exceptions): Python source text in
the runtime table (r1lsp.translate.runtime)."""
from __future__ import annotations

from .runtime_table import _h

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
