#!/usr/bin/env python3
"""Generate a synthetic mpbuild project of N tasks for the no-op benchmark.

    bench/genplan.py N DIR [--layers L] [--seed S]

writes
    DIR/plans/discovery.yaml    a small domain model (six bounded contexts)
    DIR/plans/masterplan.yaml   version 1, 3 phases, 6 milestones, N tasks T-00001...
    DIR/answers/T-xxxxx.json    one fixture answer per task: exactly its outputs
    DIR/graph.json              the targets and edges, for the equivalent build.ninja

The graph is layered so that its depth stays at L (default 20, fewer for tiny N):
the cassette is built in one round per level, so depth costs setup time.  Tasks
of layer 0 have no dependency; every other task depends on 1-3 tasks of earlier
layers (mostly the previous one), chosen near its own position in the layer, the
way one module of a real plan builds on its neighbours.  Outputs live under gen/:
a C task writes a header and its implementation (rule c), a Python task a module
and sometimes its test (rule python).  The same N and seed give the same files.
"""
import argparse, json, os, random

CONTEXTS = [
    ("Catalog", "Product", ["Sku", "Price", "Category"], ["AddProduct", "Reprice", "Retire"],
     ["ProductAdded", "ProductRepriced"], "the products on sale, their prices and categories"),
    ("Ordering", "Order", ["OrderLine", "Quantity", "Address"], ["PlaceOrder", "CancelOrder", "AddLine"],
     ["OrderPlaced", "OrderCancelled"], "customer orders from the basket to confirmation"),
    ("Billing", "Invoice", ["Money", "TaxRate", "DueDate"], ["IssueInvoice", "RecordPayment"],
     ["InvoiceIssued", "PaymentRecorded"], "invoices, payments and the tax computed on them"),
    ("Inventory", "StockItem", ["Location", "Quantity", "Reservation"], ["Reserve", "Release", "Restock"],
     ["StockReserved", "StockDepleted"], "stock levels per warehouse location and reservations against them"),
    ("Accounts", "Customer", ["Email", "PasswordHash", "Role"], ["Register", "ChangeEmail", "Disable"],
     ["CustomerRegistered", "EmailChanged"], "customer accounts, credentials and roles"),
    ("Notifications", "Message", ["Channel", "Template", "Recipient"], ["SendMessage", "Retry"],
     ["MessageSent", "MessageFailed"], "e-mail and webhook notifications sent on domain events"),
]

PY_KINDS = [
    ("repository", "{E} repository",
     "Implement the {E}Repository for the {C} context on top of sqlite3 from the standard library. "
     "It stores and loads {e} aggregates by id, keeps every write in one transaction, and raises "
     "{E}NotFound for an unknown id instead of returning None. Queries use parameters, never string "
     "formatting, and the schema is created on first use."),
    ("service", "{E} application service",
     "Write the {E}Service, the application service of the {C} context: one public method per command "
     "({cmds}), each validating its input, loading the aggregate through the repository, applying the "
     "command and publishing the resulting events. Invariants are enforced in the aggregate, not here; "
     "the service only orchestrates and translates errors into ServiceError with a short message."),
    ("model", "{E} aggregate and value objects",
     "Define the {E} aggregate of the {C} context as a dataclass with the value objects {vos}. Value "
     "objects are frozen and validate themselves on construction. Each command method returns the list "
     "of events it raised ({evs}) and never mutates state when it raises. Keep the module free of I/O."),
    ("handlers", "{E} event handlers",
     "Write the event handlers that react to {evs} in the {C} context. Each handler is a plain function "
     "taking the event and the unit of work, idempotent when the same event is delivered twice, and "
     "logging one line through the logging module at INFO level. Unknown events are ignored."),
    ("api", "{E} HTTP endpoints",
     "Expose the {C} commands as JSON endpoints with the standard library's http.server conventions: "
     "parse and validate the request body, call the {E}Service, and map ServiceError to 400 and "
     "{E}NotFound to 404 with a JSON error body. Responses are deterministic and sorted by key."),
]
C_KINDS = [
    ("codec", "{E} binary codec",
     "Write a C11 codec that serialises a {e} record into a compact length-prefixed binary form and "
     "back. The header declares the record struct and the encode and decode functions; decoding "
     "rejects truncated or oversized input and returns -1 without touching the output. No allocation "
     "happens on the decode path, and all integers are little-endian regardless of the host."),
    ("index", "{E} lookup index",
     "Implement an open-addressing hash index from {e} id to slot number in C11, with linear probing "
     "and doubling above 70% load. The header declares an opaque handle and new, free, put, get and "
     "size functions; put returns -1 when memory runs out and leaves the index unchanged. Guard every "
     "size computation against overflow."),
    ("checksum", "{E} checksum",
     "Write the CRC-32 (IEEE, reflected) used to protect persisted {e} records, C11 with a 256-entry "
     "table built at compile time. The header declares crc32_update for incremental use over chunks "
     "of any size and crc32_of for a whole buffer; feeding the same bytes in any split gives the same "
     "result."),
]

SENTENCES = [
    "Follow the conventions of the dependency modules exactly; do not redefine what they export.",
    "Keep public names stable: other tasks import them by the names given here.",
    "Every public function has a docstring or comment stating its contract and its failure modes.",
    "Prefer small pure functions; side effects belong at the edges of the module.",
    "Error messages name the offending value and what was expected.",
    "No global mutable state; configuration is passed in explicitly.",
]


def snake(s):
    out = ""
    for i, ch in enumerate(s):
        if ch.isupper() and i:
            out += "_"
        out += ch.lower()
    return out


def discovery_yaml():
    L = ["version: 1",
         "domain: Online shop back office",
         "summary: >-",
         "  A back-office service for a small online shop: a product catalog, orders,",
         "  invoices and payments, warehouse stock, customer accounts and notifications.",
         "  Python modules implement the domain and the HTTP API; a few C11 modules do",
         "  the hot paths (record codecs, lookup indexes, checksums) behind a small ABI.",
         "stack: {language: python, framework: none, storage: sqlite, tests: pytest}",
         "bounded_contexts:"]
    for name, ent, vos, cmds, evs, desc in CONTEXTS:
        L += ["  - name: %s" % name,
              "    description: >-",
              "      Owns %s. It publishes events for other contexts and never reads their tables." % desc,
              "    aggregates:",
              "      - name: %s" % ent,
              "        entities: [%s]" % ent,
              "        value_objects: [%s]" % ", ".join(vos),
              "        invariants:",
              "          - A %s is identified by an immutable id assigned on creation." % ent,
              "          - A failed command leaves the %s unchanged and raises no event." % ent,
              "        commands: [%s]" % ", ".join(cmds),
              "        events: [%s]" % ", ".join(evs),
              "    services: [%sService]" % ent,
              "    repositories: [%sRepository]" % ent]
    L += ["relationships:",
          "  - {from: Ordering, to: Catalog, kind: customer-supplier}",
          "  - {from: Ordering, to: Inventory, kind: customer-supplier}",
          "  - {from: Billing, to: Ordering, kind: conformist}",
          "  - {from: Notifications, to: Accounts, kind: customer-supplier}",
          "glossary:",
          "  Sku: The stock-keeping unit that identifies a product variant.",
          "  Reservation: Stock set aside for an order until it ships or is cancelled.",
          "  Money: An amount in integer minor units with an ISO 4217 currency.",
          ""]
    return "\n".join(L)


def yq(s):
    """a YAML double-quoted scalar"""
    return json.dumps(s)


def make_graph(n, layers, rng):
    layers = max(1, min(layers, n))
    layer_of = [i * layers // n for i in range(n)]
    starts = {}
    for i, l in enumerate(layer_of):
        starts.setdefault(l, []).append(i)
    deps = []
    for i in range(n):
        l = layer_of[i]
        if l == 0:
            deps.append([])
            continue
        pos = (i - starts[l][0]) / max(1, len(starts[l]))
        want = rng.choice([1, 1, 2, 2, 2, 3])
        chosen = set()
        # the first dependency comes from the previous layer (so depth == layers),
        # the others from the previous layer or, sometimes, an older one
        for k in range(want):
            src = l - 1 if k == 0 or rng.random() < 0.7 else rng.randrange(0, l)
            members = starts[src]
            centre = int(pos * len(members))
            lo, hi = max(0, centre - 12), min(len(members), centre + 13)
            chosen.add(members[rng.randrange(lo, hi)])
        deps.append(sorted(chosen))
    return layer_of, deps


def py_content(t, mod, ent, ctx, deps_mods, summary):
    lines = ['"""%s: %s.' % (t["title"], summary), "", "Part of the %s bounded context." % ctx, '"""']
    lines.append("from dataclasses import dataclass, field")
    for dm in deps_mods:
        lines.append("from gen.%s import %s as _%s" % (dm[0], dm[1], dm[1]))
    cls = ent + t["kind"].capitalize()
    lines += ["", "",
              "class %sError(Exception):" % cls,
              '    """Raised when a %s command cannot be applied."""' % ent,
              "", "",
              "@dataclass",
              "class %s:" % cls,
              '    """%s."""' % t["title"],
              "    ident: str",
              "    version: int = 0",
              "    events: list = field(default_factory=list)",
              "",
              "    def apply(self, command: dict) -> list:",
              '        """Apply one command and return the events it raised."""',
              "        if not isinstance(command, dict) or \"name\" not in command:",
              "            raise %sError(\"malformed command: %%r\" %% (command,))" % cls,
              "        event = {\"name\": command[\"name\"] + \"Applied\", \"id\": self.ident,",
              "                 \"version\": self.version + 1}",
              "        self.version += 1",
              "        self.events.append(event)",
              "        return [event]",
              ""]
    return "\n".join(lines)


def py_test_content(mod_pkg, mod, cls):
    return "\n".join([
        '"""Tests for gen.%s.%s."""' % (mod_pkg, mod),
        "import pytest",
        "",
        "from gen.%s.%s import %s, %sError" % (mod_pkg, mod, cls, cls),
        "", "",
        "def test_apply_bumps_version():",
        "    obj = %s(ident=\"x1\")" % cls,
        "    events = obj.apply({\"name\": \"Create\"})",
        "    assert obj.version == 1",
        "    assert events[0][\"name\"] == \"CreateApplied\"",
        "", "",
        "def test_malformed_command_raises():",
        "    with pytest.raises(%sError):" % cls,
        "        %s(ident=\"x2\").apply(\"nope\")" % cls,
        ""])


def c_header(guard, prefix, ent, title):
    return "\n".join([
        "/* %s */" % title,
        "#ifndef %s" % guard,
        "#define %s" % guard,
        "",
        "#include <stddef.h>",
        "#include <stdint.h>",
        "",
        "struct %s_rec {" % prefix,
        "\tuint64_t id;",
        "\tuint32_t version;",
        "\tuint32_t len;",
        "\tconst unsigned char *data;",
        "};",
        "",
        "/* encode r into out (cap bytes); the bytes written, or -1 when cap is too small */",
        "long %s_encode(const struct %s_rec *r, unsigned char *out, size_t cap);" % (prefix, prefix),
        "/* decode n bytes of in into r (pointing into in); 0, or -1 on bad input */",
        "int %s_decode(struct %s_rec *r, const unsigned char *in, size_t n);" % (prefix, prefix),
        "",
        "#endif /* %s */" % guard,
        ""])


def c_source(hname, prefix, ent):
    return "\n".join([
        "/* %s.c: the %s record codec. */" % (prefix, ent),
        "#include \"%s\"" % hname,
        "",
        "#include <string.h>",
        "",
        "static void put64(unsigned char *p, uint64_t v)",
        "{",
        "\tfor (int i = 0; i < 8; i++)",
        "\t\tp[i] = (unsigned char)(v >> (8 * i));",
        "}",
        "",
        "static uint64_t get64(const unsigned char *p)",
        "{",
        "\tuint64_t v = 0;",
        "",
        "\tfor (int i = 7; i >= 0; i--)",
        "\t\tv = (v << 8) | p[i];",
        "\treturn v;",
        "}",
        "",
        "long %s_encode(const struct %s_rec *r, unsigned char *out, size_t cap)" % (prefix, prefix),
        "{",
        "\tif (cap < 16 || cap - 16 < r->len)",
        "\t\treturn -1;",
        "\tput64(out, r->id);",
        "\tput64(out + 8, ((uint64_t)r->version << 32) | r->len);",
        "\tif (r->len)",
        "\t\tmemcpy(out + 16, r->data, r->len);",
        "\treturn (long)(16 + r->len);",
        "}",
        "",
        "int %s_decode(struct %s_rec *r, const unsigned char *in, size_t n)" % (prefix, prefix),
        "{",
        "\tuint64_t w;",
        "",
        "\tif (n < 16)",
        "\t\treturn -1;",
        "\tw = get64(in + 8);",
        "\tif ((w & 0xffffffffu) > n - 16)",
        "\t\treturn -1;",
        "\tr->id = get64(in);",
        "\tr->version = (uint32_t)(w >> 32);",
        "\tr->len = (uint32_t)(w & 0xffffffffu);",
        "\tr->data = in + 16;",
        "\treturn 0;",
        "}",
        ""])


def copy_rules(src, dst, keep_validate):
    """copy rules c and python; without keep_validate, replace their validate:
    block by `validate: {}` so that setup spawns no compiler per output file"""
    os.makedirs(dst, exist_ok=True)
    for name in ("c", "python"):
        with open(os.path.join(src, name + ".yaml")) as f:
            lines = f.read().split("\n")
        if not keep_validate:
            out, skip = [], False
            for line in lines:
                if line.startswith("validate:"):
                    out.append("validate: {}")
                    skip = True
                    continue
                if skip and (line.startswith(" ") or line.startswith("\t")):
                    continue
                skip = False
                out.append(line)
            lines = out
        with open(os.path.join(dst, name + ".yaml"), "w") as f:
            f.write("\n".join(lines))


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("n", type=int)
    ap.add_argument("dir")
    ap.add_argument("--layers", type=int, default=20)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--c-share", type=float, default=0.3, help="share of C tasks (default 0.3)")
    ap.add_argument("--rules", metavar="RULESDIR",
                    help="copy the c and python rules from RULESDIR into DIR/rules (as `mpbuild init` "
                         "does), with their validate: commands emptied unless --keep-validate")
    ap.add_argument("--keep-validate", action="store_true")
    a = ap.parse_args()
    n, rng = a.n, random.Random(a.seed)
    layers = min(a.layers, max(1, n // 5))
    layer_of, deps = make_graph(n, layers, rng)
    os.makedirs(os.path.join(a.dir, "plans"), exist_ok=True)
    os.makedirs(os.path.join(a.dir, "answers"), exist_ok=True)
    with open(os.path.join(a.dir, "plans", "discovery.yaml"), "w") as f:
        f.write(discovery_yaml())
    if a.rules:
        copy_rules(a.rules, os.path.join(a.dir, "rules"), a.keep_validate)

    phases = [("P1", "Domain", "Aggregates, value objects and their invariants, with unit tests."),
              ("P2", "Persistence and services", "Repositories, application services and native codecs."),
              ("P3", "Interfaces", "Event handlers and the HTTP API on top of the services.")]
    milestones = [("M%d" % (i + 1), phases[i // 2][0], t) for i, t in enumerate(
        ["Aggregates compile", "Domain tests pass", "Repositories persist aggregates",
         "Services orchestrate commands", "Handlers react to events", "API serves every command"])]
    ids = ["T-%05d" % (i + 1) for i in range(n)]
    tasks = []
    for i in range(n):
        c_idx = rng.randrange(len(CONTEXTS))
        ctx, ent, vos, cmds, evs, cdesc = CONTEXTS[c_idx]
        is_c = rng.random() < a.c_share
        kind, title, desc = rng.choice(C_KINDS if is_c else PY_KINDS)
        fmt = dict(E=ent, e=ent.lower(), C=ctx, cmds=", ".join(cmds), vos=", ".join(vos), evs=", ".join(evs))
        num = i + 1
        pkg = snake(ctx)
        if is_c:
            prefix = "%s_%s_%05d" % (snake(ent), kind, num)
            outputs = ["gen/native/%s/%s.h" % (pkg, prefix), "gen/native/%s/%s.c" % (pkg, prefix)]
        else:
            mod = "%s_%s_%05d" % (snake(ent), kind, num)
            outputs = ["gen/%s/%s.py" % (pkg, mod)]
            if rng.random() < 0.5:
                outputs.append("gen/tests/%s/test_%s.py" % (pkg, mod))
        extra = rng.sample(SENTENCES, 2)
        dep_note = ""
        if deps[i]:
            dep_note = " It builds on %s; use their public names as declared there." % ", ".join(ids[d] for d in deps[i])
        description = (desc.format(**fmt) + dep_note + " " + " ".join(extra))
        t = dict(id=ids[i], title=title.format(**fmt) + " (%s)" % num, description=description,
                 milestone=milestones[min(5, layer_of[i] * 6 // max(1, layers))][0],
                 complexity=rng.choice(["low", "low", "medium", "medium", "high"]),
                 rule="c" if is_c else "python", depends_on=[ids[d] for d in deps[i]],
                 context=sorted({ctx} | ({CONTEXTS[(c_idx + 1) % len(CONTEXTS)][0]} if rng.random() < 0.3 else set())),
                 outputs=outputs, kind=kind, ent=ent, ctx=ctx, pkg=pkg)
        tasks.append(t)

    L = ["version: 1", "project: shopdesk", "phases:"]
    L += ["  - {id: %s, title: %s, description: %s}" % (p, yq(t), yq(d)) for p, t, d in phases]
    L += ["milestones:"]
    L += ["  - {id: %s, phase: %s, title: %s}" % (m, p, yq(t)) for m, p, t in milestones]
    L += ["tasks:"]
    for t in tasks:
        L += ["  - id: %s" % t["id"],
              "    title: %s" % yq(t["title"]),
              "    description: |"]
        words, line = t["description"].split(), ""
        for w in words:
            if line and len(line) + 1 + len(w) > 74:
                L.append("      " + line)
                line = w
            else:
                line = (line + " " + w) if line else w
        if line:
            L.append("      " + line)
        L += ["    milestone: %s" % t["milestone"],
              "    complexity: %s" % t["complexity"],
              "    rule: %s" % t["rule"],
              "    depends_on: [%s]" % ", ".join(t["depends_on"]),
              "    context: [%s]" % ", ".join(t["context"]),
              "    outputs: [%s]" % ", ".join(t["outputs"])]
    L.append("")
    with open(os.path.join(a.dir, "plans", "masterplan.yaml"), "w") as f:
        f.write("\n".join(L))

    # fixture answers: exactly each task's outputs
    by_id = {t["id"]: t for t in tasks}
    for t in tasks:
        files = []
        if t["rule"] == "c":
            h, c = t["outputs"]
            prefix = os.path.basename(h)[:-2]
            files.append({"path": h, "content": c_header(prefix.upper() + "_H", prefix, t["ent"], t["title"])})
            files.append({"path": c, "content": c_source(os.path.basename(h), prefix, t["ent"])})
        else:
            mod = os.path.basename(t["outputs"][0])[:-3]
            dmods = []
            for d in t["depends_on"]:
                dt = by_id[d]
                if dt["rule"] == "python":
                    dmods.append((dt["pkg"], os.path.basename(dt["outputs"][0])[:-3]))
            summary = "the %s of the %s context" % (t["kind"], t["ctx"])
            files.append({"path": t["outputs"][0], "content": py_content(t, mod, t["ent"], t["ctx"], dmods, summary)})
            if len(t["outputs"]) > 1:
                cls = t["ent"] + t["kind"].capitalize()
                files.append({"path": t["outputs"][1], "content": py_test_content(t["pkg"], mod, cls)})
        with open(os.path.join(a.dir, "answers", t["id"] + ".json"), "w") as f:
            json.dump({"files": files, "summary": "Wrote %s as described." % ", ".join(t["outputs"])}, f, indent=1)
            f.write("\n")

    with open(os.path.join(a.dir, "graph.json"), "w") as f:
        json.dump({"layers": layers,
                   "targets": [{"id": t["id"], "outputs": t["outputs"], "deps": t["depends_on"]} for t in tasks]}, f)
    print("genplan: %d tasks, %d layers, %d edges, %d outputs in %s" % (
        n, layers, sum(len(d) for d in deps), sum(len(t["outputs"]) for t in tasks), a.dir))


if __name__ == "__main__":
    main()
