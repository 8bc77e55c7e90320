#!/usr/bin/env python3
"""Rebuild a replay cassette from per-target fixture answers (SPEC 10.10).

The keys of a plan's targets depend on their dependencies' outputs, so the
cassette is made in rounds in a scratch copy of the project: `mpbuild -n --json`
names the targets it would call and their keys; an entry is written for each
from ANSWERS/TARGET.json; then `mpbuild --replay` builds them, and the next
round sees the dependents' keys.  ANSWERS/TARGET.N.json, when present, is the
answer to attempt N (a retry)."""
import argparse, json, os, shutil, subprocess, sys, tempfile

def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--mpbuild", required=True)
    ap.add_argument("--project", required=True)
    ap.add_argument("--answers", required=True)
    ap.add_argument("--out", required=True)
    a = ap.parse_args()
    mp = os.path.abspath(a.mpbuild)
    out = os.path.abspath(a.out)
    os.makedirs(out, exist_ok=True)
    for f in os.listdir(out):
        if f.endswith(".json"):
            os.unlink(os.path.join(out, f))
    work = tempfile.mkdtemp(prefix="mkcassette.")
    try:
        for d in ("plans", "rules"):
            if os.path.isdir(os.path.join(a.project, d)):
                shutil.copytree(os.path.join(a.project, d), os.path.join(work, d))
        if os.path.exists(os.path.join(a.project, "mpbuild.yaml")):
            shutil.copy(os.path.join(a.project, "mpbuild.yaml"), work)
        written = set()
        for round_ in range(1000):
            r = subprocess.run([mp, "-C", work, "-n", "--json"], capture_output=True, text=True)
            if r.returncode != 0:
                sys.exit("mkcassette: mpbuild -n failed:\n" + r.stderr)
            todo = [json.loads(l) for l in r.stdout.splitlines() if l.strip()]
            stale = [t for t in todo if t["status"] == "stale" and t["key"] not in written]
            if not stale:
                break
            for t in stale:
                written.add(t["key"])
                attempt = 1
                path = os.path.join(a.answers, t["target"] + ".json")
                if not os.path.exists(path):
                    sys.exit("mkcassette: no fixture answer %s for %s" % (path, t["target"]))
                with open(path) as f:
                    answer = json.load(f)
                entry = {"key": t["key"], "target": t["target"], "attempt": attempt,
                         "request": t["request"], "answer": answer, "usage": {}}
                name = "%s-%d.json" % (t["key"][len("sha256:"):], attempt)
                with open(os.path.join(out, name), "w") as f:
                    json.dump(entry, f, indent=1, sort_keys=False)
                    f.write("\n")
                # answers to retries: TARGET.2.json, TARGET.3.json, ...
                n = 2
                while os.path.exists(os.path.join(a.answers, "%s.%d.json" % (t["target"], n))):
                    with open(os.path.join(a.answers, "%s.%d.json" % (t["target"], n))) as f:
                        retry = dict(entry, attempt=n, answer=json.load(f))
                    with open(os.path.join(out, "%s-%d.json" % (t["key"][len("sha256:"):], n)), "w") as f:
                        json.dump(retry, f, indent=1)
                        f.write("\n")
                    n += 1
            r = subprocess.run([mp, "-C", work, "--replay", out, "--progress", "plain", "-q"] +
                               [t["target"] for t in stale],
                               capture_output=True, text=True)
            if r.returncode != 0 and not os.environ.get("MKCASSETTE_KEEP_GOING"):
                sys.exit("mkcassette: replay build failed:\n" + r.stdout + r.stderr)
        print("mkcassette: %d entries in %s" % (len([f for f in os.listdir(out) if f.endswith(".json")]), a.out))
    finally:
        shutil.rmtree(work)

if __name__ == "__main__":
    main()
