"""Python analysis through jedi: what may follow at a position (members of the receiver's
inferred type, names in scope, imports, keywords), with kinds, signatures and types, and the
type a position expects (annotated assignment, call argument).

The workspace folder is jedi's Project (so its own modules resolve); the interpreter is the
one the `r1lsp.python.environment` setting names (a python executable or a virtualenv
folder), by default the server's own. Positions here are 0-based lines and columns in code
points (Python str indices).

Jedi is not thread-safe and its inference on a large file can take seconds: every jedi call
runs on one worker thread (`_WORKER`), the jobs a completion list waits for first
(`r1lsp.foreground.ListFirstWorker`). A request waits for an answer until its deadline
(`completions_within`, `describe_within`); a completion that misses it goes on in the worker
and its answer is kept, keyed by the text without the word being typed and the position, so
the client's next request there (the next keystroke) gets it. One `jedi.Script` per document
text serves every call on that text (its parse and inference caches are reused).
"""
from __future__ import annotations

import collections
import functools
import hashlib
import logging
import re
import sys
import threading
import time
from concurrent.futures import CancelledError, Future, TimeoutError as FutureTimeout
from dataclasses import dataclass, field

import jedi

from r1lsp.foreground import ListFirstWorker, making_a_list, yield_to_lists

_LOCK = threading.RLock()          # held by every jedi call (they run on the worker; the lock guards direct callers)
_STATE = threading.Lock()          # the worker's answer table

# jedi's completion types -> r1lsp.completion.KINDS (members get method / field)
_KIND = {"module": "module", "path": "module", "class": "class", "function": "function",
         "param": "parameter", "keyword": "keyword", "instance": "variable", "statement": "variable",
         "property": "field"}


class EnvironmentError_(ValueError):
    """The configured interpreter cannot be used."""


@dataclass
class PySymbol:
    name: str
    kind: str                          # r1lsp.completion.KINDS vocabulary
    in_file: bool                      # defined in the document itself
    line: int | None                   # 0-based line of the definition in the document
    builtin: bool
    private: bool                      # _name or __dunder__
    _jedi: object = field(default=None, repr=False, compare=False)
    # found on the worker once, then kept: the answer (and its symbols) serves every keystroke
    # of the word, so later lists show them without asking jedi again
    _found: dict = field(default_factory=dict, repr=False, compare=False)

    def detail(self) -> str:
        """Signature (callables) or type (values); '' when jedi does not know."""
        return describe(self._jedi)

    def value_type(self) -> str:
        """The type name a use of this name yields: a callable's return type, a value's type."""
        return value_type(self._jedi)


@dataclass
class PyCompletions:
    symbols: list[PySymbol]
    member: bool                       # the position follows `receiver.`
    resolved: bool                     # jedi offered names there (members: it inferred the receiver)


def _unsure_inside_functions() -> None:
    """Jedi decides whether a name assigned in an `if` branch can be reached by inferring the
    branch's condition, also inside functions, where the condition depends on the arguments:
    it infers them from the parameters' defaults and every call in the module (subprocess.py's
    `if self.text_mode and encoding is None:`, inside the function around the cursor, took
    295 ms of a 340 ms completion there; each edited text's Script infers it again) and then
    hides the names of a branch it guesses dead (`if size is None:` with `size=-1` as the
    default). Conditions inside a function (or lambda) are taken as unsure instead: both
    branches' names are offered and inferred; module- and class-level conditions
    (`sys.version_info`, `sys.platform`, `TYPE_CHECKING`) are still decided."""
    from jedi.inference import flow_analysis
    from jedi.parser_utils import get_parent_scope

    decide = getattr(flow_analysis, "_check_if", None)
    if decide is None or getattr(decide, "r1lsp_unsure_in_functions", False):
        return

    def _check_if(context, node):
        scope = get_parent_scope(node)
        if scope is not None and scope.type in ("funcdef", "lambdef"):
            return flow_analysis.UNSURE
        return decide(context, node)

    _check_if.r1lsp_unsure_in_functions = True
    flow_analysis._check_if = _check_if


_unsure_inside_functions()


@functools.lru_cache(maxsize=8)
def environment(path: str | None):
    """The jedi environment of an interpreter path (None: the server's own, in-process)."""
    if not path:
        return jedi.InterpreterEnvironment()
    try:
        return jedi.create_environment(path, safe=False)
    except (jedi.InvalidPythonEnvironment, OSError) as exc:
        raise EnvironmentError_(f"{path} is not a usable Python interpreter or virtualenv: {exc}") from None


def check_environment(path: str | None) -> str | None:
    """None when `path` names a usable interpreter, else the reason it does not."""
    try:
        env = environment(path)
        if path:
            env.version_info                                            # runs the interpreter once
    except EnvironmentError_ as exc:
        return str(exc)
    except Exception as exc:                                            # jedi's subprocess errors
        environment.cache_clear()
        return f"{path} is not a usable Python interpreter: {exc}"
    return None


@functools.lru_cache(maxsize=8)
def _project(root: str | None, env_path: str | None):
    return jedi.Project(root or ".", environment_path=env_path or None, smart_sys_path=True)


_SCRIPTS: collections.OrderedDict = collections.OrderedDict()     # (source, path, root, env) -> jedi.Script
_MAX_SCRIPTS = 4
_PARSED: set = set()              # (path, root, env) of every file jedi has parsed some text of


# how fast jedi (parso) parses a file it has not seen, in characters per second of wall time on
# a loaded 2-core machine (idle: ~600 K/s, tarfile.py's 2,900 lines in 170 ms of CPU)
FIRST_PARSE_CHARS_PER_S = 300_000


def first_parse_s(source: str) -> float:
    """About how long jedi's first parse of `source` takes (seconds)."""
    return len(source) / FIRST_PARSE_CHARS_PER_S


def parsed_before(path: str | None, root: str | None = None, env_path: str | None = None) -> bool:
    """Whether jedi holds a parse of some text of this file (a later text is then parsed
    incrementally, in tens of ms; the first parse of a ~2,000-line file takes ~0.2-1 s)."""
    return (path, root, env_path) in _PARSED                            # no lock: the worker holds _LOCK while it parses


def _script(source: str, path: str | None, root: str | None, env_path: str | None):
    """The Script of this text (reused while the text is the same: its inference caches too)."""
    key = (source, path, root, env_path)
    with _LOCK:
        script = _SCRIPTS.get(key)
        if script is None:
            script = jedi.Script(source, path=path, project=_project(root, env_path), environment=environment(env_path))
            _SCRIPTS[key] = script
            _PARSED.add(key[1:])
            while len(_SCRIPTS) > _MAX_SCRIPTS:
                _SCRIPTS.popitem(last=False)
        else:
            _SCRIPTS.move_to_end(key)
        return script


# ---------------------------------------------------------------------------- the worker

_WORKER = ListFirstWorker("jedi")
_ANSWERS: collections.OrderedDict = collections.OrderedDict()     # completion key -> Future[PyCompletions]
_MAX_ANSWERS = 8                  # each holds jedi's inference state of its text


def _on_worker() -> bool:
    return threading.current_thread().name.startswith("jedi")


def _submit(fn, *args, waited: bool = True, **kwargs) -> Future:
    """fn(*args, **kwargs) on the worker: before the other queued jobs when a completion list
    waits for it (`waited`, asked on the list's thread), else after the lists in flight."""
    return _WORKER.submit(fn, *args, urgent=waited and making_a_list(), **kwargs)


def _waited(deadline: float | None) -> bool:
    return deadline is None or deadline > time.monotonic()


def _wait(fut: Future, deadline: float | None):
    """The future's result by `deadline` (monotonic; None: however long it takes), else None."""
    try:
        return fut.result(timeout=None if deadline is None else max(0.0, deadline - time.monotonic()))
    except (FutureTimeout, CancelledError):
        return None
    except Exception:                                                   # jedi failed: no answer
        logging.getLogger(__name__).exception("jedi failed")
        return None


def _missed(fut: Future) -> bool:
    """A request waited its whole budget for this job, which is not done yet: the next request
    asking for it takes its answer once it is there instead of waiting again (a jedi job that
    misses a 40 ms budget is one of the long ones, 100-300 ms of CPU; each keystroke of the
    word waited its budget out behind it)."""
    return getattr(fut, "r1lsp_missed", False) and not fut.done()


def _wait_noting_miss(fut: Future, deadline: float | None):
    """`_wait`, noting on the future when a waited request missed it (`_missed`)."""
    waited = _waited(deadline)
    got = _wait(fut, deadline)
    if got is None and waited and not fut.done():
        fut.r1lsp_missed = True
    return got


def run_within(fn, deadline: float | None, default=None):
    """fn() on the jedi worker, waited for until `deadline`; `default` when it misses it (a
    call that has not started by then is dropped)."""
    if _on_worker():
        return fn()
    fut = _submit(fn, waited=_waited(deadline))
    got = _wait(fut, deadline)
    if got is None and not fut.done():
        fut.cancel()
        return default
    return default if got is None else got


def _completion_key(source: str, line: int, column: int, path, root, env_path):
    """The text without the identifier starting at (line, column), and the position: stays the
    same while a word is typed there."""
    lines = source.split("\n")
    rest = lines[line][column:] if line < len(lines) else ""
    word = re.match(r"[\w$]*", rest).group(0)
    start = sum(len(l) + 1 for l in lines[:line]) + column
    around = hashlib.blake2b((source[:start] + source[start + len(word):]).encode("utf-8", "surrogatepass"),
                             digest_size=16).digest()
    return (around, line, column, path, root, env_path)


def completions_within(source: str, line: int, column: int, *, path: str | None = None, root: str | None = None,
                       env_path: str | None = None, deadline: float | None = None,
                       keep: bool = True) -> PyCompletions | None:
    """`completions` from the worker, waited for until `deadline`; None when it is not ready by
    then (it goes on, and a later call at the same place with the same text around the word
    gets its answer; `keep` False: a job not started by then is dropped, for a text nobody
    asks about again, e.g. ghost text's own generated code)."""
    key = _completion_key(source, line, column, path, root, env_path)
    environment(env_path)                               # a bad interpreter raises here, not in the worker
    waited = _waited(deadline)
    with _STATE:
        fut = _ANSWERS.get(key)
        if fut is not None and fut.cancelled():
            fut = None
        if fut is None:
            for other_key, other in list(_ANSWERS.items()):
                if other_key[3] == path and other_key[1] != line and not other.done():
                    other.cancel()                      # the user moved to another line: drop work not yet started
            fut = _submit(completions, source, line, column, path=path, root=root, env_path=env_path, waited=waited)
            _ANSWERS[key] = fut
            while len(_ANSWERS) > _MAX_ANSWERS:
                _ANSWERS.popitem(last=False)
        else:
            _ANSWERS.move_to_end(key)
            if waited and making_a_list():
                _WORKER.hurry(fut)                      # asked unwaited before (on open, at a typed dot)
            if _missed(fut):
                deadline = time.monotonic()             # taken when it is there (`_missed`)
    got = _wait_noting_miss(fut, deadline)
    if got is None and not keep:
        fut.cancel()
    return got


def _each_within(fn, symbols: list["PySymbol"], deadline: float | None) -> dict[int, str]:
    """fn(jedi name) of each symbol in order (index -> answer), as far as the worker gets by
    `deadline` (answers found before, by any request, are kept on the symbol). The worker
    finishes the job after the deadline: the next keystroke's list (the same symbols: jedi's
    answer is kept while a word is typed) finds them all, instead of each keystroke waiting
    its budget out again behind the worker's other jobs and dropping the job unstarted; while
    a job that a request waited out its budget for is still at it, the next request takes what
    is found and does not wait again (`_missed`)."""
    what = fn.__name__
    out: dict[int, str] = {i: sym._found[what] for i, sym in enumerate(symbols) if what in sym._found}
    missing = [(i, sym) for i, sym in enumerate(symbols) if i not in out]
    if not missing:
        return out
    if _on_worker():
        for i, sym in missing:
            sym._found[what] = out[i] = fn(sym._jedi)
        return out
    jobs = {id(j): j for j in (sym._found.get(what + ":job") for _, sym in missing)}
    if all(j is not None and _missed(j) for j in jobs.values()):
        return out                                  # the worker is still at them (for an earlier list)

    def job():
        for i, sym in missing:
            if what not in sym._found:
                sym._found[what] = fn(sym._jedi)
            out[i] = sym._found[what]
        return True

    fut = _submit(job, waited=_waited(deadline))
    for _, sym in missing:
        sym._found[what + ":job"] = fut
    _wait_noting_miss(fut, deadline)
    return {i: sym._found[what] for i, sym in enumerate(symbols) if what in sym._found}


def describe_within(symbols: list["PySymbol"], deadline: float | None) -> dict[int, str]:
    """Signatures / types of `symbols` (index -> detail) that the worker finds by `deadline`."""
    return _each_within(describe, symbols, deadline)


def value_types_within(symbols: list["PySymbol"], deadline: float | None) -> dict[int, str]:
    """The value types of `symbols` (index -> type name) that the worker finds by `deadline`."""
    return _each_within(value_type, symbols, deadline)


def owner(c) -> str:
    """The class (or module) declaring a completion's name, by its simple name ('' unknown):
    `builtins.str.count` -> `str`."""
    parts = _full_name(c).split(".")
    return parts[-2] if len(parts) >= 2 else ""


def _owners_of(symbols: list[PySymbol]) -> None:
    """Each member's declaring class, kept on the symbol (~5 us a name: jedi's full name, no
    inference; found with the answer, a list that takes the kept answer has them within any
    budget). An attribute set in a method (`x.Shelf.__init__.books`) is the class's."""
    paths = [_full_name(s._jedi).split(".") for s in symbols]
    classes = {".".join(p[:-1]) for s, p in zip(symbols, paths) if s._jedi.type != "statement" and len(p) >= 2}
    for s, p in zip(symbols, paths):
        in_method = s._jedi.type == "statement" and len(p) >= 3 and ".".join(p[:-2]) in classes
        s._found[owner.__name__] = p[-3] if in_method else p[-2] if len(p) >= 2 else ""


def _full_name(c) -> str:
    try:
        return c.full_name or ""
    except Exception:                                                   # jedi on odd code: unknown
        return ""


def owners_within(symbols: list["PySymbol"], deadline: float | None) -> dict[int, str]:
    """The declaring class of each of `symbols` (index -> simple name) the worker finds by `deadline`."""
    return _each_within(owner, symbols, deadline)


_EXPECTED: collections.OrderedDict = collections.OrderedDict()   # completion key -> Future[expected type]


def expected_type_within(source: str, line: int, column: int, *, deadline: float | None = None, **where) -> str:
    """`expected_type` from the worker by `deadline` ('' when it misses it); kept per text
    around the word and position, like the completions: an answer that comes after the
    deadline serves the next request there (the next keystroke of the word)."""
    lines = source.split("\n")
    if "(" not in (lines[line][:column] if line < len(lines) else ""):
        return expected_type(source, line, column, **where)              # no call: jedi is not asked
    key = _completion_key(source, line, column, where.get("path"), where.get("root"), where.get("env_path"))
    with _STATE:
        fut = _EXPECTED.get(key)
        if fut is None or fut.cancelled():
            for other_key, other in _EXPECTED.items():
                if other_key[3] == key[3] and other_key[1] != line and not other.done():
                    other.cancel()                      # the user moved to another line: drop work not yet started
            fut = _EXPECTED[key] = _submit(expected_type, source, line, column, waited=_waited(deadline), **where)
            while len(_EXPECTED) > _MAX_ANSWERS:
                _EXPECTED.popitem(last=False)
        else:
            _EXPECTED.move_to_end(key)
            if _waited(deadline) and making_a_list():
                _WORKER.hurry(fut)
    return _wait(fut, deadline) or ""


_IMPORT_POSITION = re.compile(r"\s*(?:from|import)\s")


def _member_position(source_line: str) -> bool:
    return re.search(r"\.\s*$", source_line) is not None


def completions(source: str, line: int, column: int, *, path: str | None = None, root: str | None = None,
                env_path: str | None = None) -> PyCompletions:
    """Every name jedi offers at (line, column) (the column at the start of the word being
    typed: the caller filters by the typed prefix itself)."""
    lines = source.split("\n")
    before = lines[line][:column] if line < len(lines) else ""
    member = _member_position(before)
    # in an import statement jedi offers every module on the path (hundreds): asking each one
    # where it is defined imports it (18 s for `from dat|` here, the worker blocked meanwhile)
    importing = _IMPORT_POSITION.match(before) is not None
    with _LOCK:
        try:
            found = _script(source, path, root, env_path).complete(line + 1, column)
        except Exception:                                               # jedi on broken code: no answer
            return PyCompletions([], member, False)
        out = []
        for c in found:
            if c.type == "path":
                continue
            name = c.name
            if importing and c.type == "module":                        # a module is not defined in the file
                in_file, builtin = False, name in sys.builtin_module_names
            else:
                in_file = c.module_path is not None and path is not None and str(c.module_path) == str(path) \
                    or (path is None and c.module_name == "__main__")
                builtin = c.in_builtin_module()
            kind = _KIND.get(c.type, "variable")
            if member:
                kind = {"function": "method", "variable": "field"}.get(kind, kind)
            sym = PySymbol(name, kind, bool(in_file), (c.line - 1) if in_file and c.line else None,
                           builtin, name.startswith("_"), c)
            out.append(sym)
        if member:
            _owners_of(out)
    return PyCompletions(out, member, bool(out))


def describe(c) -> str:
    if c is None:
        return ""
    with _LOCK:
        try:
            if c.type in ("function", "class"):
                sigs = c.get_signatures()
                return sigs[0].to_string() if sigs else c.name
            if c.type == "keyword":
                return "keyword"
            hint = c.get_type_hint()
            return hint or ""
        except Exception:
            return ""


def value_type(c) -> str:
    """A name's value type (the return annotation of a callable), '' when unknown."""
    if c is None:
        return ""
    with _LOCK:
        try:
            if c.type == "function":
                sigs = c.get_signatures()
                text = sigs[0].to_string() if sigs else ""
                return text.rsplit("->", 1)[1].strip() if "->" in text else ""
            if c.type == "class":
                return c.name
            names = c.infer()
            return names[0].name if names else ""
        except Exception:
            return ""


def expected_type(source: str, line: int, column: int, *, path: str | None = None, root: str | None = None,
                  env_path: str | None = None) -> str:
    """The type a value at (line, column) should have, where the code says it: the annotation
    of an annotated assignment target (`x: T = ▮`), the parameter annotation of the call
    argument being written (`f(a, ▮`); '' elsewhere."""
    lines = source.split("\n")
    before = lines[line][:column] if line < len(lines) else ""
    m = re.match(r"\s*[\w.]+\s*:\s*([\w.\[\], ]+?)\s*=\s*$", before)
    if m:
        return m.group(1).split("[")[0].split(".")[-1]
    if "(" not in before:
        return ""
    with _LOCK:
        try:
            sigs = _script(source, path, root, env_path).get_signatures(line + 1, column)
            if not sigs or sigs[0].index is None:
                return ""
            param = sigs[0].params[sigs[0].index].to_string()
        except Exception:
            return ""
    m = re.match(r"[\w*]+\s*:\s*([\w.]+)", param)
    return m.group(1).split(".")[-1] if m else ""


def warm_up(env_path: str | None = None) -> None:
    """Load jedi's view of the builtins once (the first completion otherwise pays ~2 s)."""
    run_within(lambda: completions("x = 1\nx.", 1, 2, env_path=env_path), None)


def drop_queued_elsewhere(path: str | None) -> int:
    """Drop the answers asked for other files than `path` that the worker has not started (a
    document was opened: a list and ghost text there come next; what the file left asked,
    its ghost text's member checks above all, 130-180 ms of jedi CPU each, is asked again if
    the user comes back). The number dropped."""
    dropped = 0
    with _STATE:
        for table in (_ANSWERS, _EXPECTED):
            for key, fut in list(table.items()):
                if key[3] != path and fut.cancel():
                    del table[key]
                    dropped += 1
    return dropped


FIRST_PARSE_DELAY_S = 0.1        # a file's first parse waits this long for the requests that follow its opening
_PREWARM: dict = {}               # path -> the Future of its latest prewarm


def prewarm(source: str, *, path: str | None = None, root: str | None = None, env_path: str | None = None) -> None:
    """Parse `source` on the worker now (an opened or edited document), so that the next
    completion there starts from its parse; a prewarm of the same file not started yet is
    dropped (the text moved on)."""
    try:
        environment(env_path)
    except EnvironmentError_:
        return
    with _STATE:
        old = _PREWARM.pop(path, None)                  # (re)inserted last: the oldest path goes first
        if old is not None:
            old.cancel()
        _PREWARM[path] = _WORKER.submit(_parse, source, path, root, env_path)
        if len(_PREWARM) > _MAX_SCRIPTS:
            _PREWARM.pop(next(iter(_PREWARM)))


def _parse(source: str, path: str | None, root: str | None, env_path: str | None) -> None:
    if first_parse_s(source) > FIRST_PARSE_DELAY_S and not parsed_before(path, root, env_path):
        # a long first parse (pure Python, holding the GIL in turns with every other thread)
        # that no list waits for (`completion_candidates.python_candidates`) starts after the
        # requests an editor sends right after opening a document, once they are answered
        time.sleep(FIRST_PARSE_DELAY_S)
        yield_to_lists()
    with _LOCK:
        try:
            _script(source, path, root, env_path)
        except Exception:                                               # jedi on broken code: nothing to keep
            pass
