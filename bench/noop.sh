#!/bin/sh
# bench/noop.sh N [WORKDIR]: no-op build time of mpbuild against ninja on the
# same graph.  Generates an N-task plan (bench/genplan.py) and its cassette
# (bench/mkcassette.py, which leaves the project built), writes an equivalent
# build.ninja (same targets, same edges), builds it once, then times the no-op
# runs of both and prints the medians and their ratio.  A benchmark, not a test:
# nothing here asserts a time.  See bench/README.md.
#
# Environment: MPBUILD (binary, default ./mpbuild of this repository),
# MPBUILD_RULES (default this repository's rules/), NINJA (default ninja),
# RUNS (timed runs per command, default 7), KEEP=1 (reuse an existing WORKDIR
# built for the same N: skips setup), BENCH_VALIDATE=1 (keep the rules'
# validate: commands during setup: one compiler process per output file),
# BENCH_FSYNC=1 (keep fsync during setup), BENCH_NINJA_BUILD=1 (build the
# ninja tree by running ninja rather than writing its outputs and log).
set -eu

usage() { echo "usage: bench/noop.sh N [WORKDIR]" >&2; exit 2; }
[ $# -ge 1 ] || usage
N=$1
case $N in ''|*[!0-9]*) usage ;; esac
HERE=$(cd "$(dirname "$0")" && pwd)
REPO=$(dirname "$HERE")
MPBUILD=${MPBUILD:-$REPO/mpbuild}
NINJA=${NINJA:-ninja}
RUNS=${RUNS:-7}
WORK=${2:-${TMPDIR:-/tmp}/mpbuild-bench-$N}
MPBUILD_RULES=${MPBUILD_RULES:-$REPO/rules}
export MPBUILD_RULES
case $MPBUILD in /*) ;; *) MPBUILD=$(pwd)/$MPBUILD ;; esac
[ -x "$MPBUILD" ] || { echo "noop.sh: no mpbuild binary at $MPBUILD (run make, or set MPBUILD)" >&2; exit 2; }
command -v "$NINJA" >/dev/null || { echo "noop.sh: $NINJA not found (set NINJA)" >&2; exit 2; }

PROJ=$WORK/project
CASSETTE=$WORK/cassette
EMPTY=$WORK/empty-cassette
NDIR=$WORK/ninja

ns() { date +%s%N; }
secs() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", (b - a) / 1e9 }'; }

if [ "${KEEP:-}" = 1 ] && [ -f "$WORK/.done-$N" ]; then
	echo "noop.sh: reusing $WORK"
else
	# WORKDIR is removed and made again: only when it is ours (or empty)
	if [ -d "$WORK" ] && [ ! -f "$WORK/.mpbuild-bench" ] && [ -n "$(ls -A "$WORK")" ]; then
		echo "noop.sh: $WORK exists and is not a work directory of noop.sh; not touching it" >&2
		exit 2
	fi
	rm -rf "$WORK"
	mkdir -p "$WORK" "$EMPTY"
	: >"$WORK/.mpbuild-bench"
	echo "noop.sh: setup of $N tasks in $WORK"
	t0=$(ns)
	validate=
	[ "${BENCH_VALIDATE:-}" = 1 ] && validate=--keep-validate
	python3 "$HERE/genplan.py" "$N" "$PROJ" --rules "$MPBUILD_RULES" $validate
	t1=$(ns)

	# setup only: a preloaded library that turns fsync into a no-op, since
	# mpbuild's durable writes (some 15 fsyncs per target) dominate a 10,000-target build
	preload=
	if [ "${BENCH_FSYNC:-}" != 1 ] && command -v cc >/dev/null 2>&1; then
		cat >"$WORK/nosync.c" <<-'EOF'
		/* setup of the benchmark only: durability is not what is measured */
		int fsync(int fd);
		int fdatasync(int fd);
		int fsync(int fd) { (void)fd; return 0; }
		int fdatasync(int fd) { (void)fd; return 0; }
		EOF
		if cc -O2 -shared -fPIC -o "$WORK/nosync.so" "$WORK/nosync.c" 2>/dev/null; then
			preload=$WORK/nosync.so
		fi
	fi
	# the validators run python3: prefer the interpreter itself to a wrapper (pyenv shims)
	pydir=$(python3 -c 'import os, sys; print(os.path.dirname(os.path.realpath(sys.executable)))')
	PATH=$pydir:$PATH LD_PRELOAD=${preload:-${LD_PRELOAD:-}} \
		python3 "$HERE/mkcassette.py" -v --mpbuild "$MPBUILD" --project "$PROJ" \
		--answers "$PROJ/answers" --out "$CASSETTE"
	t2=$(ns)

	# the equivalent ninja graph (bench/mkninja.py): one edge per task, outputs =
	# the task's outputs, inputs = the plan file and its dependencies' outputs.
	# Unless BENCH_NINJA_BUILD=1, the outputs and .ninja_log are written directly
	# (spawning N `sh -c touch` is slow here); ninja -n then must have no work to
	# do, else ninja builds it for real.
	mkdir -p "$NDIR/plans"
	cp "$PROJ/plans/masterplan.yaml" "$NDIR/plans/"
	prebuilt=--prebuilt
	[ "${BENCH_NINJA_BUILD:-}" = 1 ] && prebuilt=
	python3 "$HERE/mkninja.py" "$PROJ/graph.json" "$NDIR" $prebuilt
	case $("$NINJA" -C "$NDIR" -n) in
	*"no work to do"*) echo "noop.sh: ninja: outputs and log written directly, ninja -n has no work to do" ;;
	*)	rm -f "$NDIR/.ninja_log"
		"$NINJA" -C "$NDIR" -j 16 >/dev/null ;;   # touch is cheap: overlap the process start-ups
	esac
	t3=$(ns)
	echo "noop.sh: setup: plan $(secs "$t0" "$t1")s, cassette and mpbuild build $(secs "$t1" "$t2")s, ninja build $(secs "$t2" "$t3")s, total $(secs "$t0" "$t3")s"
	touch "$WORK/.done-$N"
fi

# one no-op of each first: mpbuild must make no call (the empty cassette would
# fail any), and ninja must have no work to do
if ! msg=$("$MPBUILD" -C "$PROJ" --replay "$EMPTY" 2>&1); then
	printf '%s\n' "$msg" >&2
	echo "noop.sh: the mpbuild no-op is not a no-op (a call was made or failed)" >&2
	exit 1
fi
printf '%s\n' "$msg" | tail -n 1
case $("$NINJA" -C "$NDIR") in *"no work to do"*) ;; *) echo "noop.sh: the ninja no-op is not a no-op" >&2; exit 1 ;; esac

python3 - "$RUNS" "$N" "$MPBUILD" "$PROJ" "$CASSETTE" "$EMPTY" "$NINJA" "$NDIR" <<'EOF'
import os, statistics, subprocess, sys, time
runs, n, mp, proj, cas, empty, ninja, ndir = sys.argv[1:]
runs = int(runs)
cmds = [
    ("mpbuild --replay CASSETTE -q", [mp, "-C", proj, "--replay", cas, "-q"]),
    ("mpbuild --replay EMPTY -q", [mp, "-C", proj, "--replay", empty, "-q"]),
    ("mpbuild check", [mp, "-C", proj, "check"]),
    ("ninja (no-op)", [ninja, "-C", ndir]),
    ("ninja -n (no-op)", [ninja, "-C", ndir, "-n"]),
]

def run(argv):
    """wall ms, cpu (user+sys) ms, max rss KiB, exit code of one run"""
    t0 = time.perf_counter()
    p = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _, status, ru = os.wait4(p.pid, 0)
    wall = (time.perf_counter() - t0) * 1000
    p.returncode = os.waitstatus_to_exitcode(status)
    return wall, (ru.ru_utime + ru.ru_stime) * 1000, ru.ru_maxrss, p.returncode

wall, cpu = {}, {}
print("\nno-op build, N = %s tasks, %d runs each; wall and cpu (user+sys) in ms" % (n, runs))
print("%-30s %8s %8s %8s %9s %9s" % ("command", "median", "min", "max", "cpu med", "rss MiB"))
for name, argv in cmds:
    run(argv)   # warm-up
# round-robin, so that a change of load on the machine hits every command alike
results = {name: [] for name, _ in cmds}
for _ in range(runs):
    for name, argv in cmds:
        r = run(argv)
        if r[3] != 0:
            sys.exit("noop.sh: %s exited %d" % (" ".join(argv), r[3]))
        results[name].append(r)
for name, argv in cmds:
    rs = results[name]
    ws = [r[0] for r in rs]
    wall[name] = statistics.median(ws)
    cpu[name] = statistics.median(r[1] for r in rs)
    print("%-30s %8.1f %8.1f %8.1f %9.1f %9.1f" % (name, wall[name], min(ws), max(ws), cpu[name],
                                                  max(r[2] for r in rs) / 1024))
m, c, nj = "mpbuild --replay CASSETTE -q", "mpbuild check", "ninja (no-op)"
print("\nratio mpbuild no-op / ninja no-op: %.1fx wall, %.1fx cpu" % (wall[m] / wall[nj], cpu[m] / max(cpu[nj], 0.001)))
print("ratio mpbuild check / ninja no-op: %.1fx wall, %.1fx cpu" % (wall[c] / wall[nj], cpu[c] / max(cpu[nj], 0.001)))
EOF
