"""Instance methods of String, List/Deque/Stack, Map and Set mapped to Python."""
from __future__ import annotations

import re

from .core import E, P_ADD, P_ATOM, P_CMP, P_MUL, P_NOT, par  # noqa: F401
from .library import pystr_
from .types import DEQUES, LISTS, elem, is_int, targs, unbox


class CollectionsMixin:
    def string_call(self, o, oc, name, raw, n):
        a = [self.expr(x) for x in raw]
        if name == "length":
            return E(f"len({o.code})", "int", nonneg=True)
        if name == "charAt":
            return E(f"{oc}[{a[0].code}]", "char")
        if name == "substring":
            if len(a) == 1:
                return E(f"{oc}[{a[0].code}:]", "String")
            return E(f"{oc}[{a[0].code}:{a[1].code}]", "String")
        if name in ("indexOf", "lastIndexOf"):
            x = a[0] if not is_int(a[0].type) else E(f"chr({a[0].code})", "char")
            fn = "find" if name == "indexOf" else "rfind"
            if len(a) > 1:
                if name == "lastIndexOf":
                    return E(f"{oc}.rfind({x.code}, 0, {a[1].code} + len({x.code}))", "int")
                return E(f"{oc}.find({x.code}, {a[1].code})", "int")
            return E(f"{oc}.{fn}({x.code})", "int")
        if name == "split":
            lim = f", {a[1].code}" if len(a) > 1 else ""
            return E(f"{self.use('_split')}({o.code}, {a[0].code}{lim})", "String[]")
        if name in ("trim", "strip"):
            return E(f"{oc}.strip()", "String")
        if name == "toUpperCase":
            return E(f"{oc}.upper()", "String")
        if name == "toLowerCase":
            return E(f"{oc}.lower()", "String")
        if name == "contains":
            return E(f"{par(a[0], P_CMP + 1)} in {par(o, P_CMP + 1)}", "boolean", P_CMP)
        if name == "startsWith":
            if len(a) == 2:
                return E(f"{oc}.startswith({a[0].code}, {a[1].code})", "boolean")
            return E(f"{oc}.startswith({a[0].code})", "boolean")
        if name == "endsWith":
            return E(f"{oc}.endswith({a[0].code})", "boolean")
        if name == "replace":
            return E(f"{oc}.replace({a[0].code}, {a[1].code})", "String")
        if name in ("replaceAll", "replaceFirst"):
            self.need("import re")
            rep = a[1].code
            if a[1].lit is not None and "$" in a[1].lit:
                rep = pystr_(re.sub(r"\$(\d)", r"\\\1", a[1].lit))
            cnt = ", count=1" if name == "replaceFirst" else ""
            return E(f"re.sub({a[0].code}, {rep}, {o.code}{cnt})", "String")
        if name == "matches":
            self.need("import re")
            return E(f"re.fullmatch({a[0].code}, {o.code}) is not None", "boolean", P_CMP)
        if name == "toCharArray":
            return E(f"list({o.code})", "char[]")
        if name == "chars":
            return E(f"map(ord, {o.code})", "Stream<int>")
        if name == "equals":
            return E(f"{par(o, P_CMP + 1)} == {par(a[0], P_CMP + 1)}", "boolean", P_CMP)
        if name == "equalsIgnoreCase":
            return E(f"{oc}.lower() == {par(a[0], P_ATOM)}.lower()", "boolean", P_CMP)
        if name == "compareTo":
            return E(f"{self.use('_cmp_str')}({o.code}, {a[0].code})", "int")
        if name == "compareToIgnoreCase":
            return E(f"{self.use('_cmp_str')}({oc}.lower(), {par(a[0], P_ATOM)}.lower())", "int")
        if name == "isEmpty":
            return E(f"len({o.code}) == 0", "boolean", P_CMP)
        if name == "isBlank":
            return E(f"{oc}.strip() == \"\"", "boolean", P_CMP)
        if name == "hashCode":
            return E(f"{self.use('_str_hash')}({o.code})", "int")
        if name == "repeat":
            return E(f"{par(o, P_MUL)} * {par(a[0], P_MUL + 1)}", "String", P_MUL)
        if name == "concat":
            return E(f"{par(o, P_ADD)} + {par(a[0], P_ADD + 1)}", "String", P_ADD)
        if name == "toString" or name == "intern":
            return o
        if name == "valueOf":
            return E(self.to_str(a[0]), "String")
        if name == "codePointAt":
            return E(f"ord({oc}[{a[0].code}])", "int")
        return None

    def collection_call(self, o, oc, b, name, raw, n):
        t = o.type
        et = elem(t)
        deque_ = b in DEQUES
        a = [self.expr(x) for x in raw]
        if a and et:
            a = [self.coerce(a[0], et)] + a[1:] if name in ("add", "offer", "push", "addLast",
                                                            "addFirst", "offerLast", "offerFirst",
                                                            "contains") else a
        L = len(a)
        if name == "size":
            return E(f"len({o.code})", "int", nonneg=True)
        if name == "isEmpty":
            return E(f"not {par(o, P_NOT)}", "boolean", P_NOT)
        if name == "clear":
            return E(f"{oc}.clear()", "void")
        if name == "contains":
            return E(f"{par(a[0], P_CMP + 1)} in {par(o, P_CMP + 1)}", "boolean", P_CMP)
        if name == "clone":
            return E(f"{oc}[:]" if not deque_ else f"{oc}.copy()", t)
        if b == "Stack" or (b in LISTS and not deque_):
            if name == "push":
                return E(f"{oc}.append({a[0].code})", et)
            if name == "pop" and b == "Stack":
                return E(f"{oc}.pop()", et)
            if name == "peek" and b == "Stack":
                return E(f"{oc}[-1]", et)
            if name == "empty":
                return E(f"not {par(o, P_NOT)}", "boolean", P_NOT)
            if name == "add" and L == 1:
                return E(f"{oc}.append({a[0].code})", "boolean")
            if name == "add" and L == 2:
                return E(f"{oc}.insert({a[0].code}, {self.coerce(a[1], et).code})", "void")
            if name == "addAll":
                return E(f"{oc}.extend({a[-1].code})", "boolean")
            if name == "get":
                return E(f"{oc}[{a[0].code}]", et)
            if name == "set":
                return E(f"{oc}[{a[0].code}] = {self.coerce(a[1], et).code}", "void")
            if name == "remove":
                if is_int(a[0].type) and not (et in ("Integer", "Long") and unbox(a[0].type) != a[0].type):
                    return E(f"{oc}.pop({a[0].code})", et)
                return E(f"{oc}.remove({a[0].code})", "boolean")
            if name == "indexOf":
                return E(f"{self.use('_index_of')}({o.code}, {a[0].code})", "int")
            if name == "lastIndexOf":
                return E(f"len({o.code}) - 1 - {self.use('_index_of')}({oc}[::-1], {a[0].code})", "int", P_ADD)
            if name == "sort":
                kw = self.sort_key(raw[0], et) if raw else ""
                return E(f"{oc}.sort({kw})", "void")
            if name == "subList":
                return E(f"{oc}[{a[0].code}:{a[1].code}]", t)
            if name == "forEach":
                return E(self.loop_code(self.fn_arg(raw[0], [et]), o.code), "void")
            if name == "removeIf":
                f = self.x_lambda_expression(raw[0], None, [et]) if raw[0].type == "lambda_expression" \
                    else self.expr(raw[0])
                v = self.tmp("x")
                return E(f"{oc}[:] = [{v} for {v} in {o.code} if not {par(f, P_ATOM)}({v})]", "void")
            if name == "toArray":
                return E(f"list({o.code})", (et or "Object") + "[]")
            if name == "stream":
                return E(o.code, "Stream<" + (et or "Object") + ">")
            if name in ("getFirst", "peekFirst", "element"):
                return E(f"{oc}[0]", et)
            if name in ("getLast", "peekLast"):
                return E(f"{oc}[-1]", et)
            if name in ("removeFirst", "poll", "pollFirst"):
                return E(f"{oc}.pop(0)", et)
            if name in ("removeLast", "pollLast"):
                return E(f"{oc}.pop()", et)
            if name in ("addFirst", "offerFirst"):
                return E(f"{oc}.insert(0, {a[0].code})", "void")
            if name in ("addLast", "offer", "offerLast"):
                return E(f"{oc}.append({a[0].code})", "void")
            if name == "peek":
                return E(f"{oc}[0] if {o.code} else None", et, 1)
            if name == "iterator":
                return E(f"{self.use('JavaIterator')}({o.code})", "Iterator")
            if name == "equals":
                return E(f"{par(o, P_CMP + 1)} == {par(a[0], P_CMP + 1)}", "boolean", P_CMP)
            if name == "hashCode":
                return None
            return None
        # deque / queue
        if name in ("add", "offer", "addLast", "offerLast"):
            return E(f"{oc}.append({a[0].code})", "boolean")
        if name in ("push", "addFirst", "offerFirst"):
            return E(f"{oc}.appendleft({a[0].code})", "void")
        if name in ("poll", "pollFirst"):
            return E(f"{oc}.popleft() if {o.code} else None", et, 1)
        if name in ("pop", "remove", "removeFirst") and not a:
            return E(f"{oc}.popleft()", et)
        if name == "remove" and a:
            return E(f"{oc}.remove({a[0].code})", "boolean")
        if name in ("pollLast",):
            return E(f"{oc}.pop() if {o.code} else None", et, 1)
        if name == "removeLast":
            return E(f"{oc}.pop()", et)
        if name in ("peek", "peekFirst"):
            return E(f"{oc}[0] if {o.code} else None", et, 1)
        if name in ("element", "getFirst"):
            return E(f"{oc}[0]", et)
        if name in ("peekLast",):
            return E(f"{oc}[-1] if {o.code} else None", et, 1)
        if name == "getLast":
            return E(f"{oc}[-1]", et)
        if name == "iterator":
            return E(f"{self.use('JavaIterator')}({o.code})", "Iterator")
        if name == "stream":
            return E(o.code, "Stream<" + (et or "Object") + ">")
        return None

    def map_call(self, o, oc, b, name, raw, n):
        ta = targs(o.type) + [None, None]
        kt, vt = ta[0], ta[1]
        a = [self.expr(x) for x in raw]
        if a and kt:
            a[0] = self.coerce(a[0], kt)
        if len(a) > 1 and vt and name in ("put", "getOrDefault", "putIfAbsent"):
            a[1] = self.coerce(a[1], vt)
        top = self.is_stmt_top(n)
        if name == "put":
            if not top:
                return E(f"{self.use('_put')}({o.code}, {a[0].code}, {a[1].code})", vt)
            return E(f"{oc}[{a[0].code}] = {a[1].code}", "void")
        if name == "get":
            return E(f"{oc}.get({a[0].code})", vt)
        if name == "getOrDefault":
            return E(f"{oc}.get({a[0].code}, {a[1].code})", vt)
        if name == "containsKey":
            return E(f"{par(a[0], P_CMP + 1)} in {par(o, P_CMP + 1)}", "boolean", P_CMP)
        if name == "containsValue":
            return E(f"{par(a[0], P_CMP + 1)} in {oc}.values()", "boolean", P_CMP)
        if name == "remove":
            return E(f"{oc}.pop({a[0].code}, None)", vt)
        if name == "size":
            return E(f"len({o.code})", "int", nonneg=True)
        if name == "isEmpty":
            return E(f"not {par(o, P_NOT)}", "boolean", P_NOT)
        if name == "clear":
            return E(f"{oc}.clear()", "void")
        if name == "keySet":
            return E(f"{oc}.keys()", f"Set<{kt}>")
        if name == "values":
            return E(f"{oc}.values()", f"Collection<{vt}>")
        if name == "entrySet":
            return E(f"{oc}.items()", f"Set<Entry<{kt},{vt}>>")
        if name == "putIfAbsent":
            if top:
                return E(f"{oc}.setdefault({a[0].code}, {a[1].code})", "void")
            return E(f"{self.use('_put_if_absent')}({o.code}, {a[0].code}, {a[1].code})", vt)
        if name == "merge" and len(raw) == 3:
            fn = "".join(self.text(raw[2]).split())
            if vt and a[1].type and vt != a[1].type:
                a[1] = self.coerce(a[1], vt)
            if top and fn in ("Integer::sum", "Long::sum", "Double::sum") and \
                    (a[0].prec == P_ATOM and "(" not in a[0].code or a[0].lit is not None):
                zero = "0.0" if fn == "Double::sum" else "0"
                return E(f"{oc}[{a[0].code}] = {oc}.get({a[0].code}, {zero}) + {par(a[1], P_ADD + 1)}",
                         "void")
            f = self.fn_arg(raw[2], [vt, vt])
            return E(f"{self.use('_merge')}({o.code}, {a[0].code}, {a[1].code}, {f.code})", vt)
        if name == "compute" and len(raw) == 2:
            f = self.fn_arg(raw[1], [kt, vt])
            return E(f"{self.use('_compute')}({o.code}, {a[0].code}, {f.code})", vt)
        if name == "computeIfAbsent":
            lam = raw[1]
            if lam.type == "lambda_expression" and lam.child_by_field_name("body").type != "block" \
                    and lam.child_by_field_name("body").type == "object_creation_expression":
                body = self.expr(lam.child_by_field_name("body"), vt)
                return E(f"{oc}.setdefault({a[0].code}, {body.code})", vt)
            f = self.fn_arg(raw[1], [kt])
            return E(f"{self.use('_compute_if_absent')}({o.code}, {a[0].code}, {f.code})", vt)
        if name in ("firstKey", "lastKey", "floorKey", "ceilingKey"):
            return E(f"{oc}.{name}({', '.join(x.code for x in a)})", kt)
        if name == "forEach":
            return E(self.loop_code(self.fn_arg(raw[0], [kt, vt]), f"{oc}.items()", 2), "void")
        return None

    def set_call(self, o, oc, name, raw, n):
        et = elem(o.type)
        a = [self.expr(x) for x in raw]
        if a and et:
            a[0] = self.coerce(a[0], et)
        if name == "add":
            return E(f"{self.use('_set_add')}({o.code}, {a[0].code})", "boolean")
        if name == "contains":
            return E(f"{par(a[0], P_CMP + 1)} in {par(o, P_CMP + 1)}", "boolean", P_CMP)
        if name == "remove":
            return E(f"{oc}.discard({a[0].code})", "void")
        if name == "size":
            return E(f"len({o.code})", "int", nonneg=True)
        if name == "isEmpty":
            return E(f"not {par(o, P_NOT)}", "boolean", P_NOT)
        if name == "clear":
            return E(f"{oc}.clear()", "void")
        if name == "addAll":
            return E(f"{oc}.update({a[0].code})", "void")
        if name == "retainAll":
            return E(f"{oc}.intersection_update({a[0].code})", "void")
        if name == "removeAll":
            return E(f"{oc}.difference_update({a[0].code})", "void")
        if name in ("first", "last", "floor", "ceiling"):
            return E(f"{oc}.{name}({', '.join(x.code for x in a)})", et)
        if name == "stream":
            return E(o.code, "Stream<" + (et or "Object") + ">")
        if name == "iterator":
            return E(f"{self.use('JavaIterator')}({o.code})", "Iterator")
        if name == "forEach":
            return E(self.loop_code(self.fn_arg(raw[0], [et]), o.code), "void")
        if name == "removeIf":
            f = self.fn_arg(raw[0], [et])
            v = self.tmp("x")
            return E(f"{self.use('_set_remove_if')}({o.code}, {f.code})", "boolean")
        return None
