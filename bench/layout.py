#!/usr/bin/env python3
"""The old prompt layout against the new one, on the same generated plan.

    bench/layout.py [--workdir DIR] [--seed S] [--old REV] [--keep]

The old layout (commit 04bd307): layer 4 of a task's prompt holds every
output of every *direct* dependency in full; breakpoints only on layers 1-3
that reach the model's minimum.  The new layout (this worktree's HEAD): layer
4 shows the *interfaces* of all transitive dependencies (per rule: Python
signatures and docstrings, C headers whole, tests nothing), one block each,
in an order that makes a task's list begin with its largest dependency's
list and that dependency (src/layout.c); breakpoints end the rule layer and
the prefixes a task shares with others of its rule and model; keys on
interface hashes.

One run: builds the old binary in a temporary `git worktree` of REV under
$TMPDIR (removed at the end) and uses ./mpbuild as the new one (both built
with `make mpbuild`; each runs with its own revision's rules/), generates one
50-task plan (mostly Python; the last tenth integrate 12 modules each; fixture
answers of about 10 KB of realistic Python whose interface is a fraction of
the file), builds it with each binary at -j 1 against a server of this tree's
tests/fake_server.py (prompt caching emulated as the API documents it:
entries at breakpoints, found at a breakpoint or up to 20 blocks before
it), then changes
the implementation (not the interface) of the module most tasks depend on,
rebuilds that task with -B and runs a plain build.  It prints input-side
tokens per call (input + cache writes + cache reads: mean, p90, max), the
cache-read share, the bill (sum of the ledger's cost, mpbuild's model table),
the ratios new/old with the issue's aims (met or not; nothing is asserted),
the most any input-side change could cut from the bill (the output tokens
are the same in both layouts), and what the implementation-only change
costs in each layout.  Python 3
standard library only.  See bench/README.md.
"""
import argparse, json, os, random, shutil, signal, sqlite3, subprocess, sys, tempfile, time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
sys.path.insert(0, HERE)
import genplan  # noqa: E402  (discovery_yaml, CONTEXTS, PY_KINDS, copy_rules, snake, yq)
from cost import start_server_in  # noqa: E402

OLD_REV = "04bd307"
N_TASKS = 50
CORE = "T-00001"

# ------------------------------------------------------------------ Python code

VERBS = ["load", "store", "apply", "validate", "render", "merge", "reserve", "release", "settle",
         "schedule", "notify", "reconcile", "summarise", "archive", "restore", "normalise"]
NOUNS = ["batch", "entry", "record", "snapshot", "line", "window", "policy", "ledger", "cursor",
         "event", "request", "quota", "rule", "receipt", "draft", "total"]
FIELDS = [("ident", "str", None), ("created_at", "float", "0.0"), ("amount", "int", "0"),
          ("currency", "str", '"EUR"'), ("status", "str", '"open"'), ("attempts", "int", "0"),
          ("notes", "list[str]", "field(default_factory=list)"), ("version", "int", "0"),
          ("owner", "str", '""'), ("limit", "int", "100"), ("tags", "tuple[str, ...]", "()"),
          ("weight", "float", "1.0")]

# method bodies: each a list of lines (8 spaces of indent added), {a} an int
# attribute, {s} a str attribute, {err} the module's error class, {n} a noun
BODIES = [
    ["if not items:",
     "    return []",
     "seen: set[str] = set()",
     "out = []",
     "for item in items:",
     "    key = str(item).strip().lower()",
     "    if not key or key in seen:",
     "        continue",
     "    seen.add(key)",
     "    out.append(key)",
     "    if len(out) >= self.{a} + MAX_BATCH:",
     "        LOG.info(\"%s: {n} truncated at %d\", self.{s}, len(out))",
     "        break",
     "return sorted(out)"],
    ["if amount < 0:",
     "    raise {err}(f\"negative amount {{amount}} for {{self.{s}!r}}\")",
     "total = self.{a} + amount",
     "if total > LIMIT:",
     "    raise {err}(f\"{n} over the limit: {{total}} > {{LIMIT}}\")",
     "previous = self.{a}",
     "self.{a} = total",
     "self._history.append((\"{n}\", previous, total))",
     "LOG.debug(\"%s: {n} %d -> %d\", self.{s}, previous, total)",
     "return total"],
    ["rows = []",
     "with self._connect() as conn:",
     "    cur = conn.execute(",
     "        \"SELECT id, payload, version FROM {n}s WHERE owner = ? ORDER BY id LIMIT ?\",",
     "        (self.{s}, limit),",
     "    )",
     "    for ident, payload, version in cur.fetchall():",
     "        try:",
     "            data = json.loads(payload)",
     "        except json.JSONDecodeError as err:",
     "            raise {err}(f\"corrupt {n} {{ident}}: {{err}}\") from err",
     "        data[\"version\"] = version",
     "        rows.append(data)",
     "return rows"],
    ["parts = [p for p in text.split(\",\") if p.strip()]",
     "if not parts:",
     "    raise {err}(\"empty {n}: expected at least one value\")",
     "values: dict[str, int] = {{}}",
     "for part in parts:",
     "    name, _, raw = part.partition(\"=\")",
     "    name = name.strip()",
     "    if not name.isidentifier():",
     "        raise {err}(f\"bad {n} name {{name!r}}\")",
     "    try:",
     "        values[name] = int(raw)",
     "    except ValueError as err:",
     "        raise {err}(f\"{{name}}: not an integer: {{raw!r}}\") from err",
     "self.{a} = sum(values.values())",
     "return values"],
    ["now = self._clock()",
     "expired = [k for k, (t, _) in self._pending.items() if now - t > TIMEOUT]",
     "for key in sorted(expired):",
     "    _, value = self._pending.pop(key)",
     "    self.{a} += 1",
     "    LOG.info(\"%s: dropped {n} %s after %.1fs\", self.{s}, key, TIMEOUT)",
     "    if self.{a} > RETRIES:",
     "        raise {err}(f\"too many expired {n}s for {{self.{s}!r}}\")",
     "return len(expired)"],
    ["payload = {{",
     "    \"id\": self.{s},",
     "    \"{n}\": self.{a},",
     "    \"history\": [list(h) for h in self._history[-HISTORY:]],",
     "}}",
     "text = json.dumps(payload, sort_keys=True, separators=(\",\", \":\"))",
     "if len(text) > MAX_PAYLOAD:",
     "    raise {err}(f\"{n} payload of {{len(text)}} bytes is too large\")",
     "digest = hashlib.sha256(text.encode(\"utf-8\")).hexdigest()",
     "return f\"{{digest[:16]}}:{{text}}\""],
    ["if other.{s} != self.{s}:",
     "    raise {err}(f\"cannot merge {n} of {{other.{s}!r}} into {{self.{s}!r}}\")",
     "merged = type(self)(self.{s})",
     "merged.{a} = max(self.{a}, other.{a})",
     "merged._history = sorted(set(self._history) | set(other._history))",
     "for entry in merged._history:",
     "    if entry[0] == \"{n}\" and entry[2] < 0:",
     "        raise {err}(f\"negative {n} in history: {{entry!r}}\")",
     "return merged"],
    ["attempt = 0",
     "delay = BACKOFF",
     "while True:",
     "    attempt += 1",
     "    try:",
     "        return self._send(message)",
     "    except OSError as err:",
     "        if attempt >= RETRIES:",
     "            raise {err}(f\"{n} failed after {{attempt}} attempts\") from err",
     "        LOG.warning(\"%s: {n} attempt %d failed: %s\", self.{s}, attempt, err)",
     "        self._sleep(delay)",
     "        delay = min(delay * 2, MAX_DELAY)"],
]
# (parameters, return type) matching each body
BODY_SIGS = [("items: Iterable[str]", "list[str]"), ("amount: int", "int"), ("limit: int = 50", "list[dict]"),
             ("text: str", "dict[str, int]"), ("", "int"), ("", "str"), ("other: \"{cls}\"", "\"{cls}\""),
             ("message: bytes", "int")]

DOC_ENDS = ["Raises {err} when the {n} would break an invariant; state is unchanged then.",
            "The result is deterministic for the same inputs; nothing is written.",
            "Idempotent: applying the same {n} twice has the effect of once.",
            "Callers hold the unit of work; this method never commits."]


def py_module(rng, t, dep_imports, core_mod, changed=False):
    """About 10 KB of plausible Python: docstring, constants, an error class, a
    frozen value object, two classes with methods with bodies, functions.
    changed=True alters bodies and private helpers only (same interface)."""
    ent, kind, ctx = t["ent"], t["kind"], t["ctx"]
    cls = ent + kind.capitalize()
    err = cls + "Error"
    L = ['"""%s.' % t["title"], ""]
    L += ["The %s of the %s context: %s" % (kind, ctx, t["summary"]),
          "Every public name here is imported by other modules of the plan by this",
          "name; nothing here performs I/O at import time.", '"""',
          "from __future__ import annotations", "",
          "import hashlib", "import json", "import logging", "import sqlite3", "import time",
          "from dataclasses import dataclass, field", "from typing import Callable, Iterable", ""]
    if core_mod:
        L.append("from gen.core.%s import DomainError, Money, UnitOfWork" % core_mod)
    for pkg, mod, name in dep_imports:
        L.append("from gen.%s.%s import %s" % (pkg, mod, name))
    L += ["", "__all__ = [%s]" % ", ".join('"%s"' % x for x in (err, ent + "Ref", cls, cls + "Store",
                                                                   "build_" + genplan.snake(cls), "describe")),
          "", "LOG = logging.getLogger(__name__)",
          "MAX_BATCH = %d" % rng.choice([64, 128, 256]), "LIMIT = %d" % rng.choice([10_000, 50_000]),
          "TIMEOUT = %.1f" % rng.choice([5.0, 30.0]), "RETRIES = %d" % rng.choice([3, 5]),
          "HISTORY = 32", "MAX_PAYLOAD = 65536", "BACKOFF = 0.05", "MAX_DELAY = 2.0", "", ""]
    base = "DomainError" if core_mod else "Exception"
    L += ["class %s(%s):" % (err, base),
          '    """Raised when a %s %s operation cannot be applied; the message names' % (ent, kind),
          '    the offending value and what was expected."""', "", ""]
    L += ["@dataclass(frozen=True)", "class %sRef:" % ent,
          '    """A reference to a %s by id, validated on construction."""' % ent, "",
          "    ident: str", "    context: str = %s" % json.dumps(ctx), "",
          "    def __post_init__(self) -> None:",
          "        if not self.ident or not self.ident.isascii():",
          "            raise %s(f\"bad %s id {self.ident!r}: expected ASCII\")" % (err, ent.lower()),
          "        if len(self.ident) > 64:",
          "            raise %s(f\"%s id too long: {len(self.ident)} > 64\")" % (err, ent.lower()),
          "        if self.ident != self.ident.strip():",
          "            raise %s(f\"%s id {self.ident!r} has surrounding blanks\")" % (err, ent.lower()),
          "", ""]

    def klass(name, doc, methods):
        fields = rng.sample(FIELDS[1:], 4)
        out = ["@dataclass", "class %s:" % name, '    """%s' % doc, "",
               "    Attributes:", "        ident: the id, unique within the %s context." % ctx]
        out += ["        %s: %s" % (f, rng.choice(["kept across commands.", "set by the last command.",
                                                    "validated on assignment.", "for reporting only."]))
                for f, _, _ in fields]
        out += ['    """', "", "    ident: str"]
        out += ["    %s: %s = %s" % (f, ty, d) for f, ty, d in fields]
        out += ["    _history: list = field(default_factory=list, repr=False)",
                "    _pending: dict = field(default_factory=dict, repr=False)",
                "    _clock: Callable[[], float] = field(default=time.monotonic, repr=False)",
                "    _sleep: Callable[[float], None] = field(default=time.sleep, repr=False)", ""]
        ints = [f for f, ty, _ in fields if ty == "int"] or ["version"]
        for m in methods:
            b = rng.randrange(len(BODIES))
            params, ret = BODY_SIGS[b]
            params, ret = params.format(cls=name), ret.format(cls=name)
            n = rng.choice(NOUNS)
            fmt = dict(a=rng.choice(ints), s="ident", err=err, n=n, cls=name)
            out += ["    def %s(self%s) -> %s:" % (m, ", " + params if params else "", ret),
                    '        """%s the %s of this %s.' % (m.split("_")[0].capitalize(), n, ent.lower()),
                    "", "        %s" % rng.choice(DOC_ENDS).format(err=err, n=n), '        """']
            body = [line.format(**fmt) for line in BODIES[b]]
            if changed:
                body = ["LOG.debug(\"%s: %s\", self.ident, %s)" % (name, m, json.dumps(n))] + body
            out += ["        " + line for line in body]
            out.append("")
        out += ["    def _connect(self) -> sqlite3.Connection:",
                "        conn = sqlite3.connect(self._path if hasattr(self, \"_path\") else \":memory:\")",
                "        conn.execute(\"CREATE TABLE IF NOT EXISTS %ss(id TEXT PRIMARY KEY, owner TEXT,\"" % n,
                "                     \" payload TEXT, version INTEGER)\")",
                "        return conn", "",
                "    def _send(self, message: bytes) -> int:",
                "        if not message:",
                "            raise %s(\"empty message\")" % err,
                "        return len(message)%s" % (" + 0" if changed else ""), "", ""]
        return out

    names = rng.sample(["%s_%s" % (v, n) for v in VERBS for n in NOUNS], 10)
    L += klass(cls, "The %s of a %s: %s." % (kind, ent, t["summary"]), names[:5])
    L += klass(cls + "Store", "Where %s objects are kept between commands." % cls, names[5:8])
    fn = "build_" + genplan.snake(cls)
    L += ["def %s(ident: str, *, limit: int = 100) -> %s:" % (fn, cls),
          '    """A new %s with the given id and limit.' % cls, "",
          "    Raises %s when the id is not a valid %s id." % (err, ent.lower()), '    """',
          "    ref = %sRef(ident)" % ent,
          "    obj = %s(ref.ident)" % cls,
          "    if limit <= 0:",
          "        raise %s(f\"limit must be positive, not {limit}\")" % err,
          "    if hasattr(obj, \"limit\"):",
          "        object.__setattr__(obj, \"limit\", min(limit, LIMIT))",
          "    LOG.info(\"built %%s for %%s\", %s.__name__, ref.ident)" % cls,
          "    return obj", "", ""]
    L += ["def describe(obj: %s) -> str:" % cls,
          '    """One line naming the object and its state, for logs and errors."""',
          "    parts = [f\"{type(obj).__name__}({obj.ident!r})\"]",
          "    for name in sorted(vars(obj)):",
          "        if name.startswith(\"_\") or name == \"ident\":",
          "            continue",
          "        value = getattr(obj, name)",
          "        if isinstance(value, (list, tuple)) and len(value) > 3:",
          "            value = f\"[{len(value)} items]\"",
          "        parts.append(f\"{name}={value!r}\")",
          "    return \" \".join(parts)%s" % (".strip()" if changed else ""), "", ""]
    for v in names[8:]:
        L += ["def _%s(rows: list[dict]) -> list[dict]:" % v,
              "    out = []",
              "    for row in rows:",
              "        if row.get(\"status\") == \"%s\":" % rng.choice(["closed", "void", "draft"]),
              "            continue",
              "        out.append({k: row[k] for k in sorted(row) if not k.startswith(\"_\")})",
              "    return out%s" % ("[:]" if changed else ""), "", ""]
    return "\n".join(L).rstrip("\n") + "\n"


def py_core(changed=False):
    """The module most tasks import: Money, DomainError, UnitOfWork, events."""
    c = "        self._log(\"commit\", len(self._events))\n" if changed else ""
    return '''"""Shared domain primitives of the shop back office.

Money in integer minor units, the base error of every context, domain events
and the unit of work through which services load and save aggregates.  Every
context imports these names; nothing here performs I/O at import time.
"""
from __future__ import annotations

import logging
import sqlite3
import time
from dataclasses import dataclass, field
from typing import Callable, Iterator

__all__ = ["DomainError", "Money", "DomainEvent", "EventBus", "UnitOfWork", "CURRENCIES"]

LOG = logging.getLogger(__name__)
CURRENCIES = ("EUR", "USD", "GBP", "CHF", "SEK")
_MINOR = {"EUR": 2, "USD": 2, "GBP": 2, "CHF": 2, "SEK": 2}


class DomainError(Exception):
    """The base of every domain error: a command that cannot be applied.

    The message names the offending value and what was expected.
    """


@dataclass(frozen=True, order=True)
class Money:
    """An amount in integer minor units of an ISO 4217 currency.

    Raises DomainError on construction for an unknown currency.
    """

    amount: int
    currency: str = "EUR"

    def __post_init__(self) -> None:
        if self.currency not in _MINOR:
            raise DomainError(f"unknown currency {self.currency!r}: expected one of {CURRENCIES}")
        if not isinstance(self.amount, int) or isinstance(self.amount, bool):
            raise DomainError(f"amount must be an integer of minor units, not {self.amount!r}")

    def __add__(self, other: "Money") -> "Money":
        """The sum; DomainError when the currencies differ."""
        self._same(other)
        return Money(self.amount + other.amount, self.currency)

    def __sub__(self, other: "Money") -> "Money":
        """The difference; DomainError when the currencies differ."""
        self._same(other)
        return Money(self.amount - other.amount, self.currency)

    def times(self, factor: int) -> "Money":
        """This amount multiplied by a whole factor."""
        if not isinstance(factor, int):
            raise DomainError(f"factor must be an integer, not {factor!r}")
        return Money(self.amount * factor, self.currency)

    def allocate(self, ratios: list[int]) -> list["Money"]:
        """Split into parts proportional to ratios, the remainder to the first parts.

        The parts always sum to this amount; DomainError for empty or negative ratios.
        """
        if not ratios or any(r < 0 for r in ratios) or sum(ratios) == 0:
            raise DomainError(f"bad ratios {ratios!r}: expected non-negative, not all zero")
        total = sum(ratios)
        parts = [self.amount * r // total for r in ratios]
        rest = self.amount - sum(parts)
        for i in range(rest):
            parts[i % len(parts)] += 1
        return [Money(p, self.currency) for p in parts]

    def format(self) -> str:
        """The amount as text, e.g. 'EUR 12.30'."""
        digits = _MINOR[self.currency]
        sign = "-" if self.amount < 0 else ""
        whole, frac = divmod(abs(self.amount), 10 ** digits)
        return f"{self.currency} {sign}{whole}.{frac:0{digits}d}"

    def _same(self, other: "Money") -> None:
        if not isinstance(other, Money):
            raise DomainError(f"expected Money, not {type(other).__name__}")
        if other.currency != self.currency:
            raise DomainError(f"currency mismatch: {self.currency} and {other.currency}")


@dataclass(frozen=True)
class DomainEvent:
    """Something that happened to an aggregate: its name, the aggregate id, a version."""

    name: str
    aggregate: str
    version: int
    payload: dict = field(default_factory=dict)
    at: float = 0.0


class EventBus:
    """Delivers events to the handlers subscribed by event name, in subscription order."""

    def __init__(self) -> None:
        self._handlers: dict[str, list[Callable[[DomainEvent], None]]] = {}
        self._delivered: set[tuple[str, str, int]] = set()

    def subscribe(self, name: str, handler: Callable[[DomainEvent], None]) -> None:
        """Call handler for every event of that name published from now on."""
        if not name:
            raise DomainError("an event name cannot be empty")
        self._handlers.setdefault(name, []).append(handler)

    def publish(self, events: list[DomainEvent]) -> int:
        """Deliver each event once; a redelivered event is skipped. Returns the deliveries."""
        count = 0
        for event in events:
            key = (event.name, event.aggregate, event.version)
            if key in self._delivered:
                LOG.info("skipping redelivered %s of %s", event.name, event.aggregate)
                continue
            self._delivered.add(key)
            for handler in self._handlers.get(event.name, []):
                handler(event)
                count += 1
        return count


class UnitOfWork:
    """One transaction over the shop database: load and save aggregates, then commit.

    Use as a context manager; leaving it by an exception rolls back, and the
    events collected are published only after a successful commit.
    """

    def __init__(self, path: str, bus: EventBus | None = None,
                 clock: Callable[[], float] = time.time) -> None:
        self.path = path
        self.bus = bus or EventBus()
        self._clock = clock
        self._conn: sqlite3.Connection | None = None
        self._events: list[DomainEvent] = []

    def __enter__(self) -> "UnitOfWork":
        self._conn = sqlite3.connect(self.path)
        self._conn.execute("CREATE TABLE IF NOT EXISTS aggregates(kind TEXT, id TEXT, version INTEGER,"
                           " payload TEXT, PRIMARY KEY(kind, id))")
        return self

    def __exit__(self, kind, value, tb) -> None:
        assert self._conn is not None
        try:
            if kind is None:
                self._conn.commit()
                events, self._events = self._events, []
                self.bus.publish(events)
            else:
                self._conn.rollback()
                self._events = []
        finally:
            self._conn.close()
            self._conn = None

    def load(self, kind: str, ident: str) -> tuple[int, str]:
        """The version and payload of an aggregate; DomainError when there is none."""
        row = self._db().execute("SELECT version, payload FROM aggregates WHERE kind = ? AND id = ?",
                                 (kind, ident)).fetchone()
        if row is None:
            raise DomainError(f"no {kind} with id {ident!r}")
        return row[0], row[1]

    def save(self, kind: str, ident: str, version: int, payload: str) -> None:
        """Store an aggregate at version; DomainError when another writer got there first."""
        db = self._db()
        cur = db.execute("UPDATE aggregates SET version = ?, payload = ? WHERE kind = ? AND id = ?"
                         " AND version = ?", (version, payload, kind, ident, version - 1))
        if cur.rowcount == 0:
            try:
                db.execute("INSERT INTO aggregates VALUES (?, ?, ?, ?)", (kind, ident, version, payload))
            except sqlite3.IntegrityError as err:
                raise DomainError(f"{kind} {ident!r}: version {version} conflicts") from err

    def collect(self, events: list[DomainEvent]) -> None:
        """Queue events to publish after the commit."""
        now = self._clock()
        self._events.extend(DomainEvent(e.name, e.aggregate, e.version, e.payload, e.at or now)
                            for e in events)

    def pending(self) -> Iterator[DomainEvent]:
        """The events queued so far, oldest first."""
@CHANGE@        return iter(list(self._events))

    def _db(self) -> sqlite3.Connection:
        if self._conn is None:
            raise DomainError("the unit of work is not open")
        return self._conn

    def _log(self, what: str, n: int) -> None:
        LOG.debug("unit of work %s: %s (%d events)", self.path, what, n)
'''.replace("@CHANGE@", c)


def py_tests(t, mod, cls):
    err = cls + "Error"
    L = ['"""Tests for gen.%s.%s."""' % (t["pkg"], mod), "import pytest", "",
         "from gen.%s.%s import %s, %sRef, %s, describe" % (t["pkg"], mod, cls, t["ent"], err), "", ""]
    for i, bad in enumerate(['""', '"x" * 65', '" padded "', '"caf\\u00e9"']):
        L += ["def test_ref_rejects_%d():" % i, "    with pytest.raises(%s):" % err,
              "        %sRef(%s)" % (t["ent"], bad), "", ""]
    L += ["def test_describe_names_the_object():", "    obj = %s(\"a1\")" % cls,
          "    assert describe(obj).startswith(\"%s('a1')\")" % cls, ""]
    return "\n".join(L)


C_HEADER_EXTRA = ["/* the number of records an encoder buffer of n bytes can hold at most */",
                  "size_t {p}_capacity(size_t n);", "",
                  "/* the CRC-32 of the encoded form, for integrity checks */",
                  "uint32_t {p}_crc(const unsigned char *buf, size_t n);", ""]


# ------------------------------------------------------------------ the plan

def make_plan(root, rules_src, seed):
    """Write DIR/plans, DIR/answers, DIR/rules; the same seed gives the same files.
    Returns (tasks, the changed answer of CORE)."""
    rng = random.Random(seed)
    n = N_TASKS
    n_integ = n // 10                       # the last tenth integrate ~12 modules each
    body = n - n_integ
    layers = 5
    layer_of = [0] + [1 + (i - 1) * (layers - 1) // (body - 1) for i in range(1, body)]
    tasks = []
    for i in range(n):
        num = i + 1
        if i == 0:
            t = dict(kind="core", ent="Shop", ctx="Shared kernel", pkg="core", rule="python",
                     title="Shared kernel: Money, DomainError, events, unit of work (1)",
                     description=("Write the shared kernel every bounded context imports: Money in integer "
                                  "minor units with allocation and formatting, DomainError as the base of "
                                  "all domain errors, DomainEvent, an in-process EventBus that delivers each "
                                  "event once, and a sqlite3 UnitOfWork with optimistic versioning that "
                                  "publishes events after commit. " + " ".join(genplan.SENTENCES[:2])),
                     outputs=["gen/core/shop_core_00001.py"], deps=[], layer=0)
            tasks.append(t)
            continue
        c_idx = rng.randrange(len(genplan.CONTEXTS))
        ctx, ent, vos, cmds, evs, cdesc = genplan.CONTEXTS[c_idx]
        integ = i >= body
        is_c = not integ and rng.random() < 0.1
        kind, title, desc = rng.choice(genplan.C_KINDS if is_c else genplan.PY_KINDS)
        if integ:
            kind, title, desc = ("integration", "{C} integration of the {E} flows",
                                 "Wire the {C} context end to end: compose the repositories, services, "
                                 "handlers and endpoints of the modules it depends on into one facade, "
                                 "with one method per user-visible flow ({cmds}), each running in one "
                                 "unit of work and publishing its events after the commit.")
        fmt = dict(E=ent, e=ent.lower(), C=ctx, cmds=", ".join(cmds), vos=", ".join(vos), evs=", ".join(evs))
        pkg = genplan.snake(ctx)
        name = "%s_%s_%05d" % (genplan.snake(ent), kind, num)
        if is_c:
            outputs = ["gen/native/%s/%s.h" % (pkg, name), "gen/native/%s/%s.c" % (pkg, name)]
        else:
            outputs = ["gen/%s/%s.py" % (pkg, name)]
            if not integ and rng.random() < 0.4:
                outputs.append("gen/tests/%s/test_%s.py" % (pkg, name))
        # dependencies: integrators take 12 of the modules before them (most from
        # the last layers), others 1-3 from earlier layers near their position,
        # and Python tasks the shared kernel with probability 0.8
        L = layers - 1 if integ else layer_of[i]
        earlier = [j for j in range(1, i) if j < body and layer_of[j] < (layers if integ else L)]
        deps = set()
        if integ:
            recent = [j for j in earlier if layer_of[j] >= 3]
            deps.update(rng.sample(recent, min(8, len(recent))))
            rest = [j for j in earlier if j not in deps]
            deps.update(rng.sample(rest, 11 - len(deps)))
            deps.add(0)
        else:
            prev = [j for j in earlier if layer_of[j] == L - 1] or earlier
            if prev:
                pos = (i - min(j for j in range(body) if layer_of[j] == L)) / 10.0
                centre = int(pos * len(prev))
                deps.add(prev[max(0, min(len(prev) - 1, centre + rng.randrange(-2, 3)))])
                for _ in range(rng.choice([0, 1, 1, 2])):
                    deps.add(rng.choice(earlier))
            if not is_c and rng.random() < 0.8:
                deps.add(0)
        t = dict(kind=kind, ent=ent, ctx=ctx, pkg=pkg, rule="c" if is_c else "python",
                 title=title.format(**fmt) + " (%d)" % num, outputs=outputs, deps=sorted(deps),
                 layer=layers if integ else L,
                 description=desc.format(**fmt) + " " + " ".join(rng.sample(genplan.SENTENCES, 2)))
        tasks.append(t)
    for i, t in enumerate(tasks):
        t["id"] = "T-%05d" % (i + 1)
        t["summary"] = "%s, for the %s context" % (t["title"].rsplit(" (", 1)[0].lower(), t["ctx"])
    for t in tasks:
        t["depends_on"] = [tasks[d]["id"] for d in t["deps"]]
        t["complexity"] = "medium" if t["kind"] in ("integration", "core") else rng.choice(
            ["low", "low", "low", "medium"])

    os.makedirs(os.path.join(root, "plans"), exist_ok=True)
    os.makedirs(os.path.join(root, "answers"), exist_ok=True)
    with open(os.path.join(root, "plans", "discovery.yaml"), "w") as f:
        f.write(genplan.discovery_yaml())
    genplan.copy_rules(rules_src, os.path.join(root, "rules"), keep_validate=False)
    yq = genplan.yq
    P = ["version: 1", "project: shopdesk", "phases:",
         "  - {id: P1, title: \"Domain and persistence\", description: \"The kernel, aggregates, repositories.\"}",
         "  - {id: P2, title: \"Services and interfaces\", description: \"Services, handlers, the API, integration.\"}",
         "milestones:",
         "  - {id: M1, phase: P1, title: \"Kernel and aggregates\"}",
         "  - {id: M2, phase: P1, title: \"Repositories persist\"}",
         "  - {id: M3, phase: P2, title: \"Services and handlers\"}",
         "  - {id: M4, phase: P2, title: \"Flows integrated\"}",
         "tasks:"]
    for t in tasks:
        P += ["  - id: %s" % t["id"], "    title: %s" % yq(t["title"]), "    description: |"]
        line = ""
        for w in t["description"].split():
            if line and len(line) + 1 + len(w) > 74:
                P.append("      " + line)
                line = w
            else:
                line = (line + " " + w) if line else w
        P += ["      " + line,
              "    milestone: M%d" % min(4, 1 + t["layer"] * 4 // (layers + 1)),
              "    complexity: %s" % t["complexity"], "    rule: %s" % t["rule"],
              "    depends_on: [%s]" % ", ".join(t["depends_on"]),
              "    context: [%s]" % ", ".join(c[0] for c in genplan.CONTEXTS) if t["kind"] == "core"
              else "    context: [%s]" % t["ctx"], "    outputs: [%s]" % ", ".join(t["outputs"])]
    P.append("")
    with open(os.path.join(root, "plans", "masterplan.yaml"), "w") as f:
        f.write("\n".join(P))

    core_mod = "shop_core_00001"
    changed = None
    for t in tasks:
        trng = random.Random("%d:%s" % (seed, t["id"]))
        files = []
        if t["rule"] == "c":
            h, c = t["outputs"]
            p = os.path.basename(h)[:-2]
            head = genplan.c_header(p.upper() + "_H", p, t["ent"], t["title"]).split("\n")
            head[-3:-3] = [x.format(p=p) for x in C_HEADER_EXTRA]
            files.append({"path": h, "content": "\n".join(head)})
            files.append({"path": c, "content": genplan.c_source(os.path.basename(h), p, t["ent"])})
        elif t["kind"] == "core":
            files.append({"path": t["outputs"][0], "content": py_core()})
            changed = {"files": [{"path": t["outputs"][0], "content": py_core(changed=True)}],
                       "summary": "Wrote %s as described." % t["outputs"][0]}
        else:
            mod = os.path.basename(t["outputs"][0])[:-3]
            imports = []
            for d in t["deps"]:
                dt = tasks[d]
                if dt["rule"] == "python" and dt["kind"] != "core":
                    dm = os.path.basename(dt["outputs"][0])[:-3]
                    imports.append((dt["pkg"], dm, dt["ent"] + dt["kind"].capitalize()))
            files.append({"path": t["outputs"][0], "content": py_module(
                trng, t, imports, core_mod if 0 in t["deps"] else None)})
            if len(t["outputs"]) > 1:
                files.append({"path": t["outputs"][1], "content": py_tests(
                    t, mod, t["ent"] + t["kind"].capitalize())})
        with open(os.path.join(root, "answers", t["id"] + ".json"), "w") as f:
            json.dump({"files": files, "summary": "Wrote %s as described." % ", ".join(t["outputs"])}, f,
                      indent=1)
            f.write("\n")
    return tasks, changed


# ------------------------------------------------------------------ running

def sh(cmd, cwd=None, env=None, what=None):
    r = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True)
    if r.returncode != 0:
        sys.exit("layout.py: %s failed (exit %d):\n%s%s" % (what or " ".join(cmd), r.returncode,
                                                              r.stdout[-3000:], r.stderr[-3000:]))
    return r.stdout


def ledger(project):
    """the ledger rows of the latest run: (input, cache_write, cache_read, output, cost)"""
    db = sqlite3.connect(os.path.join(project, "cache", "state.db"))
    run = db.execute("SELECT max(id) FROM run").fetchone()[0]
    rows = db.execute("SELECT input, cache_write, cache_read, output, cost, model FROM ledger WHERE run = ?"
                      " ORDER BY id", (run,)).fetchall()
    db.close()
    return rows


# $ per million output tokens (src/models.c), to split the bill into input and output sides
OUT_PRICE = {"claude-haiku-5-5": 0.50}


def stats(rows):
    out_cost = sum(r[3] * OUT_PRICE[r[5]] / 1e6 for r in rows) if all(r[5] in OUT_PRICE for r in rows) else None
    rows = [r[:5] for r in rows]
    side = sorted(i + w + r for i, w, r, o, c in rows)
    tot = sum(side)
    p90 = side[min(len(side) - 1, max(0, -(-9 * len(side) // 10) - 1))] if side else 0
    return dict(calls=len(rows), mean=tot / len(side) if side else 0, p90=p90, max=side[-1] if side else 0,
                side=tot, read=sum(r for i, w, r, o, c in rows), write=sum(w for i, w, r, o, c in rows),
                input=sum(i for i, w, r, o, c in rows), output=sum(o for i, w, r, o, c in rows),
                cost=sum(c for i, w, r, o, c in rows), out_cost=out_cost,
                share=(sum(r for i, w, r, o, c in rows) / tot) if tot else 0.0)


class Layout:
    def __init__(self, name, binary, rules, project, work, key):
        self.name, self.binary, self.rules, self.project = name, binary, rules, project
        self.work, self.key = work, key
        pydir = os.path.dirname(os.path.realpath(sys.executable))
        self.env = dict(os.environ, ANTHROPIC_API_KEY=key, MPBUILD_RULES=rules,
                        PATH=pydir + os.pathsep + os.environ.get("PATH", ""))  # not a pyenv shim per extract

    def mp(self, *args, what):
        t0 = time.monotonic()
        sh([self.binary, "-C", self.project, "-j", "1", "--progress", "plain"] + list(args),
           env=self.env, what="%s layout: %s" % (self.name, what))
        return time.monotonic() - t0, stats(ledger(self.project))


def fmt_int(x):
    return "{:,}".format(int(round(x)))


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--workdir", help="keep the projects here (default: a new directory under $TMPDIR)")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--old", default=OLD_REV, help="the old layout's revision (default %s)" % OLD_REV)
    ap.add_argument("--keep", action="store_true", help="keep the work directory")
    a = ap.parse_args()
    new_bin = os.path.join(REPO, "mpbuild")
    sh(["make", "-C", REPO, "mpbuild"], what="make mpbuild (new)")
    tmp = os.environ.get("TMPDIR") or "/tmp"
    work = a.workdir or tempfile.mkdtemp(prefix="mpbuild-layout.", dir=tmp)
    os.makedirs(work, exist_ok=True)
    wt = tempfile.mkdtemp(prefix="mpbuild-old.", dir=tmp)
    old_rev = sh(["git", "-C", REPO, "rev-parse", "--short", a.old]).strip()
    new_rev = sh(["git", "-C", REPO, "rev-parse", "--short", "HEAD"]).strip()
    dirty = sh(["git", "-C", REPO, "status", "--porcelain", "--untracked-files=no", "--", "src", "rules"]).strip()
    key = "bench-key-" + os.urandom(6).hex()
    procs = []
    try:
        os.rmdir(wt)
        sh(["git", "-C", REPO, "worktree", "add", "--detach", wt, a.old], what="git worktree add")
        sh(["make", "-C", wt, "mpbuild"], what="make mpbuild (old)")
        results = {}
        for name, binary, rules in (("old", os.path.join(wt, "mpbuild"), os.path.join(wt, "rules")),
                                    ("new", new_bin, os.path.join(REPO, "rules"))):
            proj = os.path.join(work, name)
            if os.path.exists(proj):
                shutil.rmtree(proj)
            tasks, changed = make_plan(proj, rules, a.seed)
            p, url = start_server_in(os.path.join(work, "fake-" + name), os.path.join(proj, "answers"), key, [])
            procs.append(p)
            lay = Layout(name, binary, rules, proj, work, key)
            lay.env["ANTHROPIC_BASE_URL"] = url
            r = {}
            r["build_s"], r["build"] = lay.mp(what="the build")
            r["noop_s"], r["noop"] = lay.mp(what="the no-op build")
            # an implementation-only change of the module most tasks depend on
            with open(os.path.join(proj, "answers", CORE + ".json"), "w") as f:
                json.dump(changed, f, indent=1)
            r["force_s"], r["force"] = lay.mp("-B", CORE, what="-B " + CORE)
            r["after_s"], r["after"] = lay.mp(what="the build after the change")
            results[name] = r
        direct = sum(1 for t in tasks if CORE in t["depends_on"])
        sizes = []
        for t in tasks:
            ans = json.load(open(os.path.join(work, "new", "answers", t["id"] + ".json")))
            sizes.append(sum(len(f["content"].encode()) for f in ans["files"]))
    finally:
        for p in procs:
            p.send_signal(signal.SIGTERM)
            p.wait()
        subprocess.run(["git", "-C", REPO, "worktree", "remove", "--force", wt],
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        if os.path.isdir(wt):
            shutil.rmtree(wt, ignore_errors=True)
            subprocess.run(["git", "-C", REPO, "worktree", "prune"])
    report(results, tasks, sizes, direct, old_rev, new_rev + (" (src/ or rules/ modified)" if dirty else ""),
           work)
    if not a.keep and not a.workdir:
        shutil.rmtree(work, ignore_errors=True)
    else:
        print("work directory: %s" % work)


def report(R, tasks, sizes, direct, old_rev, new_rev, work):
    o, n = R["old"]["build"], R["new"]["build"]
    integ = [t for t in tasks if t["kind"] == "integration"]
    print("layout.py: %d tasks (%d Python, %d C), the last %d depending on %s tasks; fixture answers "
          "%s bytes on average; %s is a direct dependency of %d tasks; -j 1, fake server" % (
              len(tasks), sum(t["rule"] == "python" for t in tasks), sum(t["rule"] == "c" for t in tasks),
              len(integ), "/".join(str(len(t["deps"])) for t in integ), fmt_int(sum(sizes) / len(sizes)),
              CORE, direct))
    print("old layout: %s (built in a temporary worktree); new layout: %s (./mpbuild)" % (old_rev, new_rev))
    print()
    print("%-44s %14s %14s %8s" % ("whole build", "old", "new", "new/old"))

    def row(label, a, b, f=fmt_int, ratio=True):
        r = ("%.2f" % (b / a)) if ratio and a else ""
        print("%-44s %14s %14s %8s" % (label, f(a), f(b), r))
    row("calls", o["calls"], n["calls"])
    row("input-side tokens per call, mean", o["mean"], n["mean"])
    row("input-side tokens per call, p90", o["p90"], n["p90"])
    row("input-side tokens per call, max", o["max"], n["max"])
    row("input-side tokens, all calls", o["side"], n["side"])
    row("  of which plain input", o["input"], n["input"])
    row("  of which cache writes", o["write"], n["write"])
    row("  of which cache reads", o["read"], n["read"])
    row("cache-read share of input-side tokens", o["share"], n["share"], f=lambda x: "%.2f" % x)
    row("output tokens", o["output"], n["output"])
    row("bill $ (sum of the ledger's cost)", o["cost"], n["cost"], f=lambda x: "%.4f" % x)
    if o["out_cost"] is not None and n["out_cost"] is not None:
        row("  of which input side $", o["cost"] - o["out_cost"], n["cost"] - n["out_cost"],
            f=lambda x: "%.4f" % x)
        row("  of which output $", o["out_cost"], n["out_cost"], f=lambda x: "%.4f" % x)
    row("time s", R["old"]["build_s"], R["new"]["build_s"], f=lambda x: "%.1f" % x, ratio=False)
    print()
    aims = [("mean input-side tokens per call halved or better", n["mean"] <= 0.5 * o["mean"],
             "%.2f" % (n["mean"] / o["mean"])),
            ("max input-side tokens per call halved or better", n["max"] <= 0.5 * o["max"],
             "%.2f" % (n["max"] / o["max"])),
            ("cache-read share >= 0.80 (new layout)", n["share"] >= 0.80, "%.2f" % n["share"]),
            ("bill down 40% or more", n["cost"] <= 0.6 * o["cost"],
             "%.0f%% down" % (100 * (1 - n["cost"] / o["cost"])))]
    print("aims of the issue:")
    for label, ok, val in aims:
        print("  %-52s %-8s %s" % (label, val, "met" if ok else "NOT met"))
    if o["out_cost"] is not None and n["out_cost"] is not None and o["cost"]:
        # the output is the same in both layouts: a layout changes the input side only
        best = 1 - n["out_cost"] / o["cost"]
        print("  bound: output is %.0f%% of the old bill; with an input side that cost nothing the bill would be "
              "%.0f%% down, so 'down 40%%' is %s by the prompt's layout" % (
                  100 * o["out_cost"] / o["cost"], 100 * best, "reachable" if best >= 0.40 else "out of reach"))
    print()
    print("implementation-only change of %s (the body of UnitOfWork.pending; same signatures and "
          "docstrings), then -B %s, then a plain build:" % (CORE, CORE))
    print("%-30s %6s %12s %11s %11s %8s %9s" % ("", "calls", "input side", "cache read", "cache write",
                                                "output", "cost $"))
    for name in ("old", "new"):
        for what, label in (("force", "-B " + CORE), ("after", "the build after it")):
            s = R[name][what]
            print("%-30s %6d %12s %11s %11s %8s %9.4f" % ("%s: %s" % (name, label), s["calls"], fmt_int(s["side"]),
                                                      fmt_int(s["read"]), fmt_int(s["write"]),
                                                      fmt_int(s["output"]), s["cost"]))
    for name in ("old", "new"):
        s = R[name]["noop"]
        if s["calls"]:
            print("note: the %s layout's no-op build made %d calls" % (name, s["calls"]))
    tot = {k: R[k]["force"]["cost"] + R[k]["after"]["cost"] for k in R}
    print("the change costs: old $%.4f (%d calls), new $%.4f (%d calls)%s" % (
        tot["old"], R["old"]["force"]["calls"] + R["old"]["after"]["calls"],
        tot["new"], R["new"]["force"]["calls"] + R["new"]["after"]["calls"],
        ("; new/old %.2f" % (tot["new"] / tot["old"])) if tot["old"] else ""))


if __name__ == "__main__":
    main()
