#!/usr/bin/env python3
"""Build a benchmark project and its replay cassette in one pass (SPEC 10.10).

    bench/mkcassette.py --mpbuild BIN --project DIR --answers DIR/answers --out CASSETTE

The same rounds as tests/mkcassette.py (one per level of the graph: `mpbuild -n
--json` names the stale targets and their keys, an entry KEYHEX-1.json is written
for each from ANSWERS/TARGET.json, then one `mpbuild --replay` builds just those
targets), but faster for 10,000-task plans:

- it builds in PROJECT itself instead of a scratch copy, so the project is left
  built and the benchmark needs no second full build;
- entries are written compactly (no indentation);
- it only handles first attempts (the fixture answers of the benchmark are valid).

Setting LD_PRELOAD to a library that makes fsync a no-op (bench/noop.sh does) cuts
the time spent in mpbuild's durable writes; the result is the same.
"""
import argparse, json, os, subprocess, sys, time


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--mpbuild", required=True)
    ap.add_argument("--project", required=True)
    ap.add_argument("--answers", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("-v", action="store_true", help="print the time of every round")
    a = ap.parse_args()
    mp, proj, out = os.path.abspath(a.mpbuild), os.path.abspath(a.project), os.path.abspath(a.out)
    os.makedirs(out, exist_ok=True)
    for f in os.listdir(out):
        if f.endswith(".json"):
            os.unlink(os.path.join(out, f))
    written, entries, t_plan, t_build = set(), 0, 0.0, 0.0
    for round_ in range(1, 100000):
        t0 = time.perf_counter()
        r = subprocess.run([mp, "-C", proj, "-n", "--json"], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        t1 = time.perf_counter()
        t_plan += t1 - t0
        if r.returncode != 0:
            sys.exit("mkcassette: mpbuild -n failed:\n" + r.stderr.decode(errors="replace"))
        stale = []
        for line in r.stdout.splitlines():
            if not line.strip():
                continue
            t = json.loads(line)
            if t["status"] == "stale" and t["key"] not in written:
                stale.append(t)
        if not stale:
            break
        for t in stale:
            written.add(t["key"])
            with open(os.path.join(a.answers, t["target"] + ".json")) as f:
                answer = json.load(f)
            entry = {"key": t["key"], "target": t["target"], "attempt": 1,
                     "request": t["request"], "answer": answer, "usage": {}}
            name = "%s-1.json" % t["key"][len("sha256:"):]
            with open(os.path.join(out, name), "w") as f:
                json.dump(entry, f, separators=(",", ":"))
                f.write("\n")
            entries += 1
        t2 = time.perf_counter()
        r = subprocess.run([mp, "-C", proj, "--replay", out, "--progress", "plain", "-q"] +
                           [t["target"] for t in stale], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        t3 = time.perf_counter()
        t_build += t3 - t2
        if a.v:
            print("mkcassette: round %d: %d targets; mpbuild -n %.2fs, entries %.2fs, build %.2fs" %
                  (round_, len(stale), t1 - t0, t2 - t1, t3 - t2), file=sys.stderr)
        if r.returncode != 0:
            sys.exit("mkcassette: replay build failed:\n" + (r.stdout + r.stderr).decode(errors="replace"))
    print("mkcassette: %d entries in %s after %d rounds (mpbuild -n %.1fs, builds %.1fs)" %
          (entries, a.out, round_ - 1, t_plan, t_build))


if __name__ == "__main__":
    main()
