#!/usr/bin/env python3
"""What prompt caching and incremental builds save, against a reference run.

    bench/cost.py [N] [--workdir DIR] [-j J] [--mpbuild BIN]

Builds the same generated N-task plan (bench/genplan.py, default 50 tasks,
the seed's MVP size) twice against tests/fake_server.py, which speaks the
Messages API and emulates prompt caching and usage figures:

  1. as mpbuild lays out prompts, with the fake server caching prefixes;
  2. the reference: the same requests to a server that caches nothing
     (--no-prompt-cache), which is what every call costs without caching.

Then, in the first project, a no-op build and an edit of one task's
description. Costs are mpbuild's own (its model table, from its ledger).
It prints tokens by kind and cost per run, and the ratios: cost with
caching / without, in all and on the input side only (the seed's cost model
claims 0.42, "58% savings", on input tokens for its 50-task MVP; output
prices, solved from the reference run's ledger, are the same in both runs),
the cache-read share of input-side tokens, and the cost of
the edit against the whole build, which is what a pipeline without
incremental builds (the seed's) pays again for any change. A benchmark, not
a test: nothing here asserts a figure. See bench/README.md.
"""
import argparse, os, shutil, signal, sqlite3, subprocess, sys, tempfile, time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
SEED_RATIO = 3.16 / 7.50    # seed notes: 50 tasks, $3.16 with caching against $7.50 without


def start_server(workdir, name, answers, key, extra):
    return start_server_in(os.path.join(workdir, "fake-" + name), answers, key, extra)


def start_server_in(d, answers, key, extra):
    """tests/fake_server.py answering from answers in directory d: (process, base URL)"""
    os.makedirs(d, exist_ok=True)
    port_file = os.path.join(d, "port")
    if os.path.exists(port_file):
        os.unlink(port_file)        # a previous run's port
    proc = subprocess.Popen([sys.executable, os.path.join(REPO, "tests", "fake_server.py"),
                             "--port-file", port_file, "--log", os.path.join(d, "log"),
                             "--answers", answers, "--api-key", key] + extra,
                            stdout=subprocess.DEVNULL, stderr=open(os.path.join(d, "err"), "w"))
    for _ in range(100):
        if os.path.exists(port_file) and open(port_file).read().strip():
            return proc, "http://127.0.0.1:" + open(port_file).read().strip()
        if proc.poll() is not None:
            break
        time.sleep(0.1)
    proc.kill()
    sys.exit("%s: the fake server did not start; see %s" % (os.path.basename(sys.argv[0]), os.path.join(d, "err")))


def run(mpbuild, project, url, key, jobs, what):
    env = dict(os.environ, ANTHROPIC_BASE_URL=url, ANTHROPIC_API_KEY=key,
               MPBUILD_RULES=os.environ.get("MPBUILD_RULES", os.path.join(REPO, "rules")))
    t0 = time.monotonic()
    r = subprocess.run([mpbuild, "-C", project, "-j", str(jobs), "--progress", "plain"],
                       env=env, capture_output=True, text=True)
    if r.returncode != 0:
        sys.exit("cost.py: %s failed (exit %d):\n%s%s" % (what, r.returncode, r.stdout, r.stderr))
    return time.monotonic() - t0


def last_run(project):
    """tokens by kind, cost and calls of the latest run in the ledger"""
    db = sqlite3.connect(os.path.join(project, "cache", "state.db"))
    run = db.execute("SELECT max(id) FROM run").fetchone()[0]
    row = db.execute("SELECT count(*), coalesce(sum(input), 0), coalesce(sum(cache_write), 0),"
                     " coalesce(sum(cache_read), 0), coalesce(sum(output), 0), coalesce(sum(cost), 0)"
                     " FROM ledger WHERE run = ?", (run,)).fetchone()
    db.close()
    return dict(zip(("calls", "input", "write", "read", "output", "cost"), row))


def output_cost(project):
    """what the output tokens of the latest run cost.  Its rows were billed
    without caching (the reference), so per model cost = input x a + output x b:
    a and b are solved from the rows (least squares; exact when prices are
    linear, as mpbuild's are below a price band)"""
    db = sqlite3.connect(os.path.join(project, "cache", "state.db"))
    run = db.execute("SELECT max(id) FROM run").fetchone()[0]
    total = 0.0
    for (model,) in db.execute("SELECT DISTINCT model FROM ledger WHERE run = ?", (run,)).fetchall():
        rows = db.execute("SELECT input, output, cost FROM ledger WHERE run = ? AND model = ?",
                          (run, model)).fetchall()
        sxx = sum(x * x for x, y, c in rows)
        sxy = sum(x * y for x, y, c in rows)
        syy = sum(y * y for x, y, c in rows)
        sxc = sum(x * c for x, y, c in rows)
        syc = sum(y * c for x, y, c in rows)
        det = sxx * syy - sxy * sxy
        if not det:
            return None
        b = (sxx * syc - sxy * sxc) / det
        total += b * sum(y for x, y, c in rows)
    db.close()
    return total


def line(name, r, secs):
    return "%-34s %6d %10d %11d %10d %8d %9.4f %7.1f" % (
        name, r["calls"], r["input"], r["write"], r["read"], r["output"], r["cost"], secs)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("n", nargs="?", type=int, default=50)
    ap.add_argument("--workdir")
    ap.add_argument("-j", type=int, default=4)
    ap.add_argument("--mpbuild", default=os.path.join(REPO, "mpbuild"))
    a = ap.parse_args()
    mpbuild = os.path.abspath(a.mpbuild)
    if not os.access(mpbuild, os.X_OK):
        sys.exit("cost.py: no mpbuild binary at %s (run make, or use --mpbuild)" % mpbuild)
    work = a.workdir or tempfile.mkdtemp(prefix="mpbuild-cost.")
    rules = os.environ.get("MPBUILD_RULES", os.path.join(REPO, "rules"))
    key = "bench-key-" + os.urandom(6).hex()
    cached, ref = os.path.join(work, "cached"), os.path.join(work, "reference")
    for d in (cached, ref):
        if os.path.exists(d):
            shutil.rmtree(d)
    subprocess.run([sys.executable, os.path.join(HERE, "genplan.py"), str(a.n), cached, "--rules", rules,
                    "--layers", "5"], check=True, stdout=subprocess.DEVNULL)
    shutil.copytree(cached, ref)
    answers = os.path.join(cached, "answers")
    rows = []
    procs = []
    try:
        p, url = start_server(work, "cached", answers, key, [])
        procs.append(p)
        secs = run(mpbuild, cached, url, key, a.j, "the build")
        build = last_run(cached)
        rows.append(line("build, prompt caching", build, secs))
        secs = run(mpbuild, cached, url, key, a.j, "the no-op")
        rows.append(line("no-op build", last_run(cached), secs))
        # edit the title of the last task (what a person does most: fix one entry)
        plan = os.path.join(cached, "plans", "masterplan.yaml")
        text = open(plan).read()
        at = text.index("\n", text.rindex("    title: "))
        at -= text[at - 1] == '"'       # inside the quotes of a quoted title
        open(plan, "w").write(text[:at] + ", revised" + text[at:])
        secs = run(mpbuild, cached, url, key, a.j, "the build after an edit")
        edit = last_run(cached)
        rows.append(line("after editing one task", edit, secs))
        p, url = start_server(work, "reference", answers, key, ["--no-prompt-cache"])
        procs.append(p)
        secs = run(mpbuild, ref, url, key, a.j, "the reference build")
        refb = last_run(ref)
        rows.append(line("reference: no prompt caching", refb, secs))
        out = output_cost(ref)
    finally:
        for p in procs:
            p.send_signal(signal.SIGTERM)
            p.wait()
    print("cost.py: %d tasks (bench/genplan.py, 5 layers), -j %d, fake server with usage figures; in %s" %
          (a.n, a.j, work))
    print("%-34s %6s %10s %11s %10s %8s %9s %7s" % ("run", "calls", "input", "cache write", "cache read",
                                                   "output", "cost $", "time s"))
    for r in rows:
        print(r)
    side = build["input"] + build["write"] + build["read"]
    ratio = build["cost"] / refb["cost"] if refb["cost"] else float("nan")
    print()
    print("cost with caching / without:   %.2f (%.0f%% saved)" % (ratio, 100 * (1 - ratio)))
    if out is not None and refb["cost"] > out:
        # the seed's 58% counts input tokens only; so does this line
        side_ratio = (build["cost"] - out) / (refb["cost"] - out)
        print("input side only:               %.2f (%.0f%% saved); the seed's cost model: %.2f (58%% saved)" %
              (side_ratio, 100 * (1 - side_ratio), SEED_RATIO))
    print("cache-read share of input-side tokens: %.0f%%" % (100.0 * build["read"] / side if side else 0))
    print("editing one task / the whole build: %.3f (%d of %d calls); without incremental builds: 1.00" %
          (edit["cost"] / build["cost"] if build["cost"] else float("nan"), edit["calls"], build["calls"]))


if __name__ == "__main__":
    main()
