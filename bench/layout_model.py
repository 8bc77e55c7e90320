#!/usr/bin/env python3
"""What other layouts of layer 4 would have cost on bench/layout.py's plan: a model.

    bench/layout.py --keep          # prints "work directory: DIR"
    bench/layout_model.py DIR

It reads what a kept run of bench/layout.py left: the plan (DIR/new/plans/
masterplan.yaml, as layout.py writes it), and from the fake server's request
log of the new layout (DIR/fake-new/log) each task's layers 1-3, its own part
of layer 4 and every interface it was shown.  It lays layer 4 out again in
each variant below, places the breakpoints as src/layout.c and src/anthropic.c
do, prices every call of the build in order with the cache rules of
tests/fake_server.py (entries at breakpoints that reach the model's minimum,
found at a breakpoint or up to 20 blocks before it; tokens = bytes / 4) and
prints the figures bench/layout.py prints, against the old layout's measured
ones (DIR/fake-old/log).  The first variant is the layout mpbuild sends: its
figures should match the measured ones of bench/layout.py to within a few
tenths of a percent; the others are estimates of layouts mpbuild does not
send:

- plan order: the interfaces in plan order instead of the canonical walk;
- brief: the interfaces of indirect dependencies with each docstring cut to
  its first paragraph (Python only; the direct ones whole);
- signatures: the interfaces of indirect dependencies with no docstrings but
  the module's first line, and no constants (Python only);
- brief everywhere: every Python interface brief, direct dependencies too.

Python 3 standard library only.  See bench/README.md.
"""
import ast, json, math, os, re, sys
from functools import lru_cache

LOOKBACK_API = 20       # tests/fake_server.py
LOOKBACK_PLACE = 16     # src/layout.h LAYOUT_LOOKBACK
MARKS = 3               # src/prompt.h PROMPT_MARKS
MIN = {"claude-haiku-5-5": 2048}
PRICE = {"claude-haiku-5-5": (0.10, 0.125, 0.01, 0.50)}  # input, 5m write, read, output ($/M, src/models.c)
HEADER = "# Interfaces of the tasks it depends on, directly or not (already in the tree; do not return them)\n"


def tokens(n):
    return int(math.ceil(n / 4.0))


def load_plan(path):
    """ids, depends_on, rule and outputs of each task, from the masterplan layout.py writes"""
    tasks, t = [], None
    for line in open(path):
        m = re.match(r"  - id: (\S+)$", line)
        if m:
            t = {"id": m.group(1), "deps": [], "outputs": [], "rule": ""}
            tasks.append(t)
            continue
        m = re.match(r"    (depends_on|outputs): \[(.*)\]$", line)
        if t and m:
            t["deps" if m.group(1) == "depends_on" else "outputs"] = [x.strip() for x in m.group(2).split(",")
                                                                        if x.strip()]
        m = re.match(r"    rule: (\S+)$", line)
        if t and m:
            t["rule"] = m.group(1)
    return tasks


def load_log(path):
    """per target, its first request: model, system texts, head (the task's own block), interfaces by path"""
    req, iface = {}, {}
    for line in open(path):
        e = json.loads(line)
        if e["target"] in req:
            continue
        b = json.loads(e["body"])
        blocks = [x["text"] for x in b["messages"][0]["content"]]
        head = blocks[-1][1:] if len(blocks) > 1 else blocks[-1]
        req[e["target"]] = dict(model=b["model"], system=[x["text"] for x in b["system"]], head=head,
                                usage=e["usage"])
        for x in blocks[:-1]:
            x = x[len(HEADER):] if x.startswith(HEADER) else x
            m = re.match(r"\n## (\S+) \(from (\S+)\)\n\n(`{3,})\n", x)
            fence = m.group(3)
            iface[m.group(1)] = x[m.end():len(x) - len(fence) - 2]
    return req, iface


def fenced(text):
    run = best = 0
    for ch in text:
        run = run + 1 if ch == "`" else 0
        best = max(best, run)
    f = "`" * (max(best, 2) + 1)
    return f + "\n" + text + ("" if not text or text.endswith("\n") else "\n") + f + "\n"


def first_paragraph(s):
    return " ".join(x.strip() for x in s.strip().split("\n\n")[0].split("\n"))


def brief(text, signatures=False):
    """a Python interface with docstrings cut (signatures: dropped, and constants too)"""
    try:
        tree = ast.parse(text)
    except SyntaxError:
        return text

    def cut(body, top):
        out = []
        for i, n in enumerate(body):
            doc = i == 0 and isinstance(n, ast.Expr) and isinstance(n.value, ast.Constant) \
                and isinstance(n.value.value, str)
            if doc:
                if signatures and not top:
                    continue
                n.value.value = first_paragraph(n.value.value)
            elif isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef)):
                n.body = cut(n.body, False) or [ast.Expr(ast.Constant(...))]
            elif isinstance(n, ast.ClassDef):
                n.body = cut(n.body, False) or [ast.Expr(ast.Constant(...))]
            elif signatures and top and isinstance(n, (ast.Assign, ast.AnnAssign)):
                continue
            out.append(n)
        return out
    tree.body = cut(tree.body, True)
    return ast.unparse(tree) + "\n"


class Model:
    def __init__(self, tasks, req, iface):
        self.tasks, self.req, self.iface = tasks, req, iface
        self.idx = {t["id"]: i for i, t in enumerate(tasks)}
        self.deps = [[self.idx[d] for d in t["deps"]] for t in tasks]

    @lru_cache(None)
    def closure(self, i):
        s = set()
        for d in self.deps[i]:
            s |= {d} | self.closure(d)
        return frozenset(s)

    def walk(self, i):
        """src/layout.c layout_deps"""
        out, seen = [], set()

        def visit(j):
            for d in sorted(self.deps[j], key=lambda d: (-len(self.closure(d)), d)):
                if d not in seen:
                    seen.add(d)
                    visit(d)
                    out.append(d)
        visit(i)
        return out

    def plan_order(self, i):
        return sorted(self.closure(i))

    def group(self, i):
        t = self.tasks[i]
        return (t["rule"], self.req[t["id"]]["model"])

    def run(self, order, shrink=None, everywhere=False):
        lists = [order(i) for i in range(len(self.tasks))]
        counts = {}
        for i, lst in enumerate(lists):
            for k in range(1, len(lst) + 1):
                key = (self.group(i),) + tuple(lst[:k])
                counts[key] = counts.get(key, 0) + 1
        cache, rows = set(), []
        for i, t in enumerate(self.tasks):
            r = self.req[t["id"]]
            direct = set(self.deps[i])
            blocks, ends = [], []
            for d in lists[i]:
                for o in self.tasks[d]["outputs"]:
                    text = self.iface.get(o, "")
                    if text and shrink and (everywhere or d not in direct) and o.endswith(".py"):
                        text = shrink(text)
                    if text:
                        blocks.append(("" if blocks else HEADER) + "\n## %s (from %s)\n\n" % (o, self.tasks[d]["id"])
                                      + fenced(text))
                ends.append(len(blocks))
            # src/layout.c layout_marks: the deepest shared boundaries first
            cand = []
            for k in range(len(lists[i])):
                if ends[k] and (k == 0 or ends[k - 1] != ends[k]) and \
                        counts.get((self.group(i),) + tuple(lists[i][:k + 1]), 0) >= 2:
                    cand.append(ends[k])
            l4 = []
            for c in sorted(cand, reverse=True):
                if len(l4) < MARKS and not any(m >= c and m - c <= LOOKBACK_PLACE for m in l4):
                    l4.append(c)
            # src/anthropic.c choose: layer 3, layer 4's, then layers 2 and 1
            sysmarks = [2] + [j for j in (1, 0)][:max(0, 4 - 1 - len(l4))]
            allb = list(r["system"]) + blocks + [("\n" if blocks else "") + r["head"]]
            marks = sorted(set(sysmarks) | {3 + m - 1 for m in l4})
            rows.append(self.price(cache, allb, marks, MIN.get(r["model"], 1024)) +
                        (r["usage"]["output_tokens"], r["model"]))
        return rows

    @staticmethod
    def price(cache, blocks, marks, minimum):
        """tests/fake_server.py anthropic_cache, without TTLs (a bench run lasts minutes)"""
        cum, ends = 0, []
        h = ""
        for b in blocks:
            cum += len(b.encode())
            h = str(hash((h, b)))
            ends.append((tokens(cum), h))
        total, hit = ends[-1][0], -1
        for m in marks:
            for j in range(max(0, m - LOOKBACK_API), m + 1):
                if j > hit and ends[j][0] >= minimum and ends[j][1] in cache:
                    hit = j
        read = ends[hit][0] if hit >= 0 else 0
        write, last = 0, read
        for m in marks:
            t, hx = ends[m]
            if m <= hit or t < minimum or t <= last:
                continue
            write += t - last
            last = t
            cache.add(hx)
        return (total - read - write, write, read)


def figures(rows):
    side = sorted(i + w + r for i, w, r, o, m in rows)
    tot = sum(side)
    cost = sum((i * PRICE[m][0] + w * PRICE[m][1] + r * PRICE[m][2] + o * PRICE[m][3]) / 1e6
               for i, w, r, o, m in rows)
    inside = sum((i * PRICE[m][0] + w * PRICE[m][1] + r * PRICE[m][2]) / 1e6 for i, w, r, o, m in rows)
    return dict(mean=tot / len(side), p90=side[-(-9 * len(side) // 10) - 1], max=side[-1],
                share=sum(r for i, w, r, o, m in rows) / tot, inside=inside, cost=cost)


def main():
    if len(sys.argv) != 2:
        sys.exit("usage: bench/layout_model.py DIR (a work directory bench/layout.py --keep left)")
    d = sys.argv[1]
    tasks = load_plan(os.path.join(d, "new", "plans", "masterplan.yaml"))
    req, iface = load_log(os.path.join(d, "fake-new", "log"))
    old, _ = load_log(os.path.join(d, "fake-old", "log"))
    m = Model(tasks, req, iface)
    o = figures([(u["input_tokens"], u["cache_creation_input_tokens"], u["cache_read_input_tokens"],
                  u["output_tokens"], r["model"]) for r in old.values() for u in [r["usage"]]])
    measured = figures([(u["input_tokens"], u["cache_creation_input_tokens"], u["cache_read_input_tokens"],
                         u["output_tokens"], r["model"]) for r in req.values() for u in [r["usage"]]])
    rows = [("old layout (measured)", o), ("new layout (measured)", measured),
            ("model: as mpbuild lays it out", figures(m.run(m.walk))),
            ("model: plan order", figures(m.run(m.plan_order))),
            ("model: brief indirect interfaces", figures(m.run(m.walk, brief))),
            ("model: signatures of indirect ones", figures(m.run(m.walk, lambda s: brief(s, True)))),
            ("model: brief interfaces everywhere", figures(m.run(m.walk, brief, True)))]
    print("%-36s %7s %7s %7s %7s %6s %7s %7s" % ("", "mean", "max", "mean/o", "max/o", "share", "input/o",
                                                 "bill/o"))
    for name, f in rows:
        print("%-36s %7s %7s %7.2f %7.2f %6.2f %7.2f %7.2f" % (
            name, "{:,}".format(round(f["mean"])), "{:,}".format(f["max"]), f["mean"] / o["mean"],
            f["max"] / o["max"], f["share"], f["inside"] / o["inside"], f["cost"] / o["cost"]))
    print("(mean, max: input-side tokens per call; share: cache reads / input side; input/o, bill/o: the\n"
          "input side of the bill and the bill against the old layout's)")


if __name__ == "__main__":
    main()
