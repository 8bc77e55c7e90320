#!/usr/bin/env python3
"""Write the build.ninja equivalent to a genplan.py project.

    bench/mkninja.py GRAPH.json NINJADIR [--prebuilt]

One build statement per task: its outputs are the task's outputs, its inputs the
plan file and the outputs of the tasks it depends on, its command `touch $out`.
NINJADIR/plans/masterplan.yaml must exist (the plan file is an input of every edge).

--prebuilt creates the outputs (empty, in plan order, which is a topological
order) and writes the .ninja_log that a build would have left (log v5: command
hash MurmurHash64A, recorded mtime not older than the inputs), so that the first
`ninja` is already a no-op.  On this 2-core VM, spawning 10,000 `sh -c touch`
takes about five minutes, which says nothing about ninja's no-op.  The caller
checks with `ninja -n` that the result is a no-op and otherwise builds for real
(another log format, ninja >= 1.13).
"""
import json, os, sys

M = 0xC6A4A7935BD1E995
MASK = (1 << 64) - 1


def murmur64a(data, seed=0xDECAFBADDECAFBAD):
    """ninja's BuildLog::LogEntry::HashCommand"""
    n = len(data)
    h = (seed ^ (n * M)) & MASK
    end = n - n % 8
    for i in range(0, end, 8):
        k = int.from_bytes(data[i:i + 8], "little")
        k = (k * M) & MASK
        k ^= k >> 47
        k = (k * M) & MASK
        h ^= k
        h = (h * M) & MASK
    rem = n % 8
    if rem:
        for i in range(rem - 1, -1, -1):
            h ^= data[end + i] << (8 * i)
        h = (h * M) & MASK
    h ^= h >> 47
    h = (h * M) & MASK
    h ^= h >> 47
    return h


def main():
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    prebuilt = "--prebuilt" in sys.argv[1:]
    if len(args) != 2:
        sys.exit("usage: bench/mkninja.py GRAPH.json NINJADIR [--prebuilt]")
    g = json.load(open(args[0]))
    ndir = args[1]
    outs = {t["id"]: t["outputs"] for t in g["targets"]}
    with open(os.path.join(ndir, "build.ninja"), "w") as f:
        f.write("ninja_required_version = 1.5\n\nrule touch\n  command = touch $out\n  description = GEN $out\n\n")
        for t in g["targets"]:
            ins = ["plans/masterplan.yaml"] + [o for d in t["deps"] for o in outs[d]]
            f.write("build %s: touch %s\n" % (" ".join(t["outputs"]), " ".join(ins)))
        f.write("\nbuild all: phony %s\ndefault all\n" % " ".join(o for t in g["targets"] for o in t["outputs"]))
    if not prebuilt:
        return
    log = ["# ninja log v5\n"]
    for t in g["targets"]:
        mtime = 0
        for o in t["outputs"]:
            p = os.path.join(ndir, o)
            os.makedirs(os.path.dirname(p), exist_ok=True)
            open(p, "w").close()
            mtime = max(mtime, os.stat(p).st_mtime_ns)
        h = murmur64a(("touch " + " ".join(t["outputs"])).encode())
        for o in t["outputs"]:
            log.append("0\t1\t%d\t%s\t%x\n" % (mtime, o, h))
    with open(os.path.join(ndir, ".ninja_log"), "w") as f:
        f.writelines(log)


if __name__ == "__main__":
    main()
