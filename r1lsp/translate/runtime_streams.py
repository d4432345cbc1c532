"""Runtime helpers for comparators, stream reductions and map updates (Comparator.comparing,
Stream.min / max / reduce / average, Collectors.groupingBy, Map.merge / compute ...): Python
source text in the runtime table (r1lsp.translate.runtime)."""
from __future__ import annotations

from .runtime_table import _h

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
