#!/bin/sh
# rotate-logs.sh: keep the newest N compressed copies of each *.log file in a
# directory, rotating file.log to file.log.1.gz, file.log.1.gz to
# file.log.2.gz, and so on, then truncating file.log in place.
#
# usage: rotate-logs.sh [-n N] DIR
#   -n N   copies to keep (default 5, at least 1)
#   DIR    directory holding the *.log files
#
# Exit status: 0 on success (also when DIR has no *.log file), 1 when a file
# could not be rotated, 2 on bad usage.  Reads no environment variables.
set -eu

prog=$(basename "$0")
usage() { printf 'usage: %s [-n N] DIR\n' "$prog" >&2; exit 2; }

keep=5
while getopts n: opt; do
	case $opt in
	n) keep=$OPTARG ;;
	*) usage ;;
	esac
done
shift $((OPTIND - 1))
[ $# -eq 1 ] || usage
dir=$1
case $keep in
''|*[!0-9]*) printf '%s: -n takes a whole number, not %s\n' "$prog" "$keep" >&2; exit 2 ;;
esac
[ "$keep" -ge 1 ] || { printf '%s: -n must be at least 1\n' "$prog" >&2; exit 2; }
[ -d "$dir" ] || { printf '%s: %s is not a directory\n' "$prog" "$dir" >&2; exit 2; }

tmp=$(mktemp "${TMPDIR:-/tmp}/$prog.XXXXXX")
trap 'rm -f "$tmp"' EXIT HUP INT TERM

# rotate FILE: shift FILE.i.gz to FILE.(i+1).gz, newest last, then compress FILE
rotate() {
	i=$keep
	rm -f -- "$1.$i.gz"
	while [ "$i" -gt 1 ]; do
		prev=$((i - 1))
		if [ -f "$1.$prev.gz" ]; then
			mv -- "$1.$prev.gz" "$1.$i.gz" || return 1
		fi
		i=$prev
	done
	gzip -c -- "$1" >"$tmp" && mv -- "$tmp" "$1.1.gz" && : >"$1"
}

status=0
for f in "$dir"/*.log; do
	[ -f "$f" ] || continue          # no match: the pattern itself
	if ! rotate "$f"; then
		printf '%s: cannot rotate %s\n' "$prog" "$f" >&2
		status=1
	fi
done
exit "$status"
