"""Static library calls: Math, Integer/Long/Double/Character/Boolean, String, Arrays,
Collections, List/Set/Map.of, System, Objects."""
from __future__ import annotations

from .core import E, P_ADD, P_ATOM, P_CMP, P_MUL, par
from .types import BOUNDS, elem, is_char, is_string, promote, unbox


class StaticLibMixin:
    def static_call(self, cls, name, raw, n) -> E | None:
        args = lambda: [self.expr(a) for a in raw]  # noqa: E731
        if cls == "Math":
            a = args()
            if name in ("max", "min"):
                t = promote(a[0].type, a[1].type) or a[0].type
                a = [self.coerce(x, t) for x in a]
                return E(f"{name}({a[0].code}, {a[1].code})", t)
            if name == "abs":
                t = unbox(a[0].type)
                res = E(f"abs({a[0].code})", t)
                r = self.rng_of(a[0])
                if t in ("int", "long") and (r is None or r[0] == BOUNDS[t][0]):
                    return self.wrap(res, t)  # Math.abs(MIN_VALUE) is MIN_VALUE
                return res
            self.need("import math")
            if name in ("sqrt", "cbrt", "exp", "log", "log10", "sin", "cos", "tan", "atan",
                        "asin", "acos", "hypot", "atan2", "toRadians", "toDegrees"):
                if name == "cbrt":
                    return E(f"math.copysign(abs({a[0].code}) ** (1.0 / 3.0), {a[0].code})", "double")
                fn = {"toRadians": "radians", "toDegrees": "degrees"}.get(name, name)
                return E(f"math.{fn}({', '.join(x.code for x in a)})", "double")
            if name == "pow":
                return E(f"math.pow({a[0].code}, {a[1].code})", "double")
            if name in ("floor", "ceil"):
                return E(f"float(math.{name}({a[0].code}))", "double")
            if name == "round":
                return E(f"{self.use('_round')}({a[0].code})", "long")
            if name == "floorDiv":
                return E(f"{par(a[0], P_MUL)} // {par(a[1], P_MUL + 1)}", promote(a[0].type, a[1].type), P_MUL)
            if name == "floorMod":
                return E(f"{par(a[0], P_MUL)} % {par(a[1], P_MUL + 1)}", promote(a[0].type, a[1].type), P_MUL)
            if name == "signum":
                return E(f"float(({a[0].code} > 0) - ({a[0].code} < 0))", "double")
            if name == "random":
                self.need("import random")
                return E("random.random()", "double")
            if name in ("addExact", "multiplyExact", "subtractExact"):
                op = {"addExact": "+", "multiplyExact": "*", "subtractExact": "-"}[name]
                return E(f"{par(a[0], P_MUL)} {op} {par(a[1], P_MUL + 1)}", a[0].type, P_ADD)
            return None
        if cls in ("Integer", "Long", "Short", "Byte"):
            a = args()
            t = {"Integer": "int", "Long": "long", "Short": "short", "Byte": "byte"}[cls]
            if name in ("parseInt", "parseLong", "valueOf", "parseShort", "parseByte"):
                bt = cls if name == "valueOf" else t
                if a and is_string(a[0].type) or a and a[0].type is None:
                    rad = f", {a[1].code}" if len(a) > 1 else ""
                    return E(f"int({a[0].code}{rad})", bt)
                return E(a[0].code, bt, a[0].prec)
            if name == "toString" and len(a) == 1:
                return E(f"str({a[0].code})", "String")
            if name in ("toBinaryString", "toHexString", "toOctalString"):
                bse = {"toBinaryString": 2, "toHexString": 16, "toOctalString": 8}[name]
                bits = 64 if cls == "Long" else 32
                if a[0].nonneg:
                    return E(f"format({a[0].code}, \"{ {2: 'b', 8: 'o', 16: 'x'}[bse] }\")", "String")
                return E(f"{self.use('_bin')}({a[0].code}, {bits}, {bse})", "String")
            if name == "toString" and len(a) == 2:
                return E(f"{self.use('_bin')}({a[0].code}, 64, {a[1].code})", "String")
            if name == "compare":
                return E(f"{self.use('_cmp')}({a[0].code}, {a[1].code})", "int")
            if name == "bitCount":
                mask = "0xFFFFFFFFFFFFFFFF" if cls == "Long" else "0xFFFFFFFF"
                return E(f"bin({a[0].code} & {mask}).count(\"1\")", "int")
            if name in ("max", "min"):
                return E(f"{name}({a[0].code}, {a[1].code})", t)
            if name == "sum":
                return self.wrap(E(f"{par(a[0], P_ADD)} + {par(a[1], P_ADD + 1)}", t, P_ADD), t) \
                    if t in ("int", "long") else E(f"{par(a[0], P_ADD)} + {par(a[1], P_ADD + 1)}", t, P_ADD)
            if name == "signum":
                return E(f"({a[0].code} > 0) - ({a[0].code} < 0)", "int", P_ADD)
            if name == "abs":
                return E(f"abs({a[0].code})", t)
            if name in ("numberOfTrailingZeros",):
                return E(f"(({a[0].code}) & -({a[0].code})).bit_length() - 1 if {a[0].code} else 32", "int", P_MUL)
            if name == "highestOneBit":
                return E(f"1 << ({a[0].code}.bit_length() - 1) if {a[0].code} > 0 else 0", "int", P_MUL)
            return None
        if cls in ("Double", "Float"):
            a = args()
            if name in ("parseDouble", "valueOf", "parseFloat"):
                return E(f"float({a[0].code})", "double")
            if name == "compare":
                return E(f"{self.use('_cmp')}({a[0].code}, {a[1].code})", "int")
            if name == "toString":
                return E(self.to_str(E(a[0].code, "double")), "String")
            if name == "isNaN":
                self.need("import math")
                return E(f"math.isnan({a[0].code})", "boolean")
            if name in ("max", "min"):
                return E(f"{name}({a[0].code}, {a[1].code})", "double")
            return None
        if cls == "Boolean":
            a = args()
            if name == "parseBoolean":
                return E(f"{par(a[0], P_ATOM)}.lower() == \"true\"", "boolean", P_CMP)
            if name == "toString":
                return E(self.to_str(E(a[0].code, "boolean")), "String")
            return None
        if cls == "Character":
            a = args()
            c = a[0].code if a else ""
            if a and not is_char(a[0].type) and a[0].type is not None:
                c = f"chr({c})"
            m = {"isDigit": f"{par(E(c), P_ATOM)}.isdigit()",
                 "isLetter": f"{par(E(c), P_ATOM)}.isalpha()",
                 "isLetterOrDigit": f"{par(E(c), P_ATOM)}.isalnum()",
                 "isAlphabetic": f"{par(E(c), P_ATOM)}.isalpha()",
                 "isUpperCase": f"{par(E(c), P_ATOM)}.isupper()",
                 "isLowerCase": f"{par(E(c), P_ATOM)}.islower()",
                 "isWhitespace": f"{par(E(c), P_ATOM)}.isspace()",
                 "isSpaceChar": f"{c} == \" \""}
            if name in m:
                return E(m[name], "boolean", P_CMP if name == "isSpaceChar" else P_ATOM)
            if name == "toUpperCase":
                return E(f"{par(E(c), P_ATOM)}.upper()", "char")
            if name == "toLowerCase":
                return E(f"{par(E(c), P_ATOM)}.lower()", "char")
            if name == "getNumericValue":
                return E(f"int({c}, 36) if {c}.isalnum() else -1", "int", 1)
            if name == "toString" or name == "valueOf":
                return E(c, "String" if name == "toString" else "char")
            if name == "compare":
                return E(f"ord({c}) - ord({a[1].code})", "int", P_ADD)
            if name == "isDefined":
                return E("True", "boolean")
            return None
        if cls == "String":
            a = args()
            if name in ("valueOf", "copyValueOf"):
                if a[0].type == "char[]":
                    return E(f'"".join({a[0].code})', "String")
                return E(self.to_str(a[0]), "String")
            if name == "format":
                return self.format_expr(raw, n)
            if name == "join":
                if len(a) == 2 and (a[1].type is None or not is_string(a[1].type)):
                    return E(f"{par(a[0], P_ATOM)}.join({a[1].code})", "String")
                return E(f"{par(a[0], P_ATOM)}.join([{', '.join(x.code for x in a[1:])}])", "String")
            return None
        if cls == "Arrays":
            a = args()
            if name == "parallelSort":
                name = "sort"  # same result: a sort is a sort
            if name == "sort":
                if len(a) == 1:
                    return E(f"{par(a[0], P_ATOM)}.sort()", "void")
                if len(a) == 2:
                    kw = self.sort_key(raw[1], elem(a[0].type))
                    return E(f"{par(a[0], P_ATOM)}.sort({kw})", "void")
                if len(a) == 3:
                    x, lo, hi = a[0].code, a[1].code, a[2].code
                    return E(f"{x}[{lo}:{hi}] = sorted({x}[{lo}:{hi}])", "void")
            if name == "fill":
                if len(a) == 2:
                    v = self.coerce(a[1], elem(a[0].type))
                    return E(f"{par(a[0], P_ATOM)}[:] = [{v.code}] * len({a[0].code})", "void")
                v = self.coerce(a[3], elem(a[0].type))
                return E(f"{par(a[0], P_ATOM)}[{a[1].code}:{a[2].code}] = [{v.code}] * ({a[2].code} - {a[1].code})", "void")
            if name == "asList" or name == "stream" and False:
                if len(a) == 1 and a[0].type and a[0].type.endswith("[]"):
                    return E(f"list({a[0].code})", "List<" + a[0].type[:-2] + ">")
                return E("[" + ", ".join(x.code for x in a) + "]",
                         "List<" + (a[0].type or "Object") + ">" if a else "List")
            if name in ("toString", "deepToString"):
                return E(f"{self.use('_jstr')}({a[0].code})", "String")
            if name == "copyOf":
                d = {"int": "0", "long": "0", "double": "0.0", "boolean": "False", "char": "'\\x00'"}.get(
                    elem(a[0].type) or "", "None")
                return E(f"{par(a[0], P_ATOM)}[:{a[1].code}] + [{d}] * ({a[1].code} - len({a[0].code}))",
                         a[0].type, P_ADD)
            if name == "copyOfRange":
                return E(f"{par(a[0], P_ATOM)}[{a[1].code}:{a[2].code}]", a[0].type)
            if name == "equals":
                return E(f"{par(a[0], P_CMP + 1)} == {par(a[1], P_CMP + 1)}", "boolean", P_CMP)
            if name == "stream":
                return E(a[0].code, "Stream<" + (elem(a[0].type) or "Object") + ">")
            if name == "hashCode":
                return None
            return None
        if cls == "Collections":
            a = args()
            if name == "sort":
                kw = self.sort_key(raw[1], elem(a[0].type)) if len(a) > 1 else ""
                return E(f"{par(a[0], P_ATOM)}.sort({kw})", "void")
            if name == "reverse":
                return E(f"{par(a[0], P_ATOM)}.reverse()", "void")
            if name in ("max", "min"):
                if len(a) > 1:
                    kw = self.sort_key(raw[1], elem(a[0].type))
                    return E(f"{name}({a[0].code}, {kw})", elem(a[0].type))
                return E(f"{name}({a[0].code})", elem(a[0].type))
            if name == "swap":
                x, i, j = a[0].code, a[1].code, a[2].code
                return E(f"{x}[{i}], {x}[{j}] = {x}[{j}], {x}[{i}]", "void")
            if name in ("emptyList",):
                return E("[]", "List")
            if name == "frequency":
                return E(f"{par(a[0], P_ATOM)}.count({a[1].code})", "int")
            if name in ("unmodifiableList", "unmodifiableSet", "unmodifiableMap", "synchronizedList"):
                return a[0]
            if name == "nCopies":
                return E(f"[{a[1].code}] * {par(a[0], P_MUL + 1)}", "List<" + (a[1].type or "Object") + ">", P_MUL)
            return None
        if cls in ("List", "Set", "Map"):
            a = args()
            if name == "of" and cls == "List":
                return E("[" + ", ".join(x.code for x in a) + "]",
                         "List<" + (a[0].type if a and a[0].type else "Object") + ">")
            if name == "of" and cls == "Set":
                return E("{" + ", ".join(x.code for x in a) + "}" if a else "set()", "Set")
            if name == "of" and cls == "Map":
                pairs = [f"{a[i].code}: {a[i + 1].code}" for i in range(0, len(a) - 1, 2)]
                return E("{" + ", ".join(pairs) + "}", "Map")
            return None
        if cls == "System":
            a = args()
            if name == "currentTimeMillis":
                self.need("import time")
                return E("int(time.time() * 1000)", "long")
            if name == "nanoTime":
                self.need("import time")
                return E("time.perf_counter_ns()", "long")
            if name == "exit":
                self.need("import sys")
                return E(f"sys.exit({a[0].code})", "void")
            if name == "arraycopy":
                s, sp, d, dp, ln = (x.code for x in a)
                return E(f"{d}[{dp}:{dp} + {ln}] = {s}[{sp}:{sp} + {ln}]", "void")
            if name == "lineSeparator":
                return E('"\\n"', "String")
            return None
        if cls == "Objects":
            a = args()
            if name == "equals":
                return E(f"{par(a[0], P_CMP + 1)} == {par(a[1], P_CMP + 1)}", "boolean", P_CMP)
            if name == "hash":
                return E(f"hash(({', '.join(x.code for x in a)},))", "int")
            if name == "isNull":
                return E(f"{par(a[0], P_CMP + 1)} is None", "boolean", P_CMP)
            if name == "requireNonNull":
                return a[0]
            return None
        if cls == "Thread" and name == "sleep":
            self.need("import time")
            return E(f"time.sleep({self.code(raw[0])} / 1000)", "void")
        return None
