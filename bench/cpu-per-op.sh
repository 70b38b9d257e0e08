#!/usr/bin/env bash
# CPU per operation of a benchmark's own process and of the rest of the
# machine (on a machine that runs nothing else, the database), over a
# window of a run's steady state: it starts the command, waits START
# seconds (default 10, past fixtures and warm-up), samples /proc/stat and
# the process's /proc/PID/stat for WINDOW seconds (default 10), and
# divides by the operations of the window (the run's ops_per_s times the
# window). Run a command whose measured time covers the window, e.g.:
#
#   bench/cpu-per-op.sh cardcore bench --db "$PG" --workload transition --workers 16 --duration 25s
#   bench/cpu-per-op.sh baseline -db postgres -dsn "$PG" -workload transition -workers 16 -duration 25s
set -euo pipefail
START=${START:-10} WINDOW=${WINDOW:-10}
busy() { awk '/^cpu / {print $2 + $3 + $4 + $7 + $8}' /proc/stat; } # user nice system irq softirq
own() { awk '{print $14 + $15}' "/proc/$1/stat"; }                 # utime stime
out=$(mktemp)
trap 'rm -f "$out"' EXIT
"$@" >"$out" 2>&1 &
pid=$!
sleep "$START"
b0=$(busy) c0=$(own "$pid") t0=$(date +%s.%N)
sleep "$WINDOW"
b1=$(busy) c1=$(own "$pid") t1=$(date +%s.%N)
wait "$pid"
rate=$(grep -o '"ops_per_s":[0-9.]*' "$out" | head -1 | cut -d: -f2 || true)
if [[ -z $rate ]]; then
	echo "no ops_per_s in the command's output:" >&2
	cat "$out" >&2
	exit 1
fi
hz=$(getconf CLK_TCK) cores=$(nproc)
awk -v r="$rate" -v b="$((b1 - b0))" -v c="$((c1 - c0))" -v t0="$t0" -v t1="$t1" -v hz="$hz" -v n="$cores" 'BEGIN {
	dt = t1 - t0; ops = r * dt
	printf "ops/s %.0f  own us/op %.0f  rest us/op %.0f  machine busy %.0f%%\n", r, c / hz / ops * 1e6, (b - c) / hz / ops * 1e6, b / hz / dt / n * 100
}'
