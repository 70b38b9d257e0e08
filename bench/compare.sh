#!/usr/bin/env bash
# Runs the raw-SQL baseline (shared/bench/baseline) and `cardcore bench`
# one after the other, workload by workload, on SQLite and PostgreSQL, and
# prints the ratio cardcore / raw for each line. For the bulk it also
# measures its ceiling, the same card and event rows written raw into
# cardcore's own migrated tables (`cardcore bench --workload bulk-ceiling`:
# pgx's COPY on PostgreSQL, multi-row INSERTs on SQLite), and prints the
# bulk's ratio to it. Likewise read, transition and bind are measured
# next to their ceilings (`cardcore bench --workload read-ceiling`...: the
# SQL cardcore sends for each, sent raw with database/sql, and pgx's API
# for PostgreSQL's reads as the store, on cardcore's tables and fixtures),
# and a second table prints cardcore / ceiling (what the library costs)
# and ceiling / raw (what cardcore's schema costs against the
# baseline's). Then it starts a noname bulk of 1,000,000 cards on
# SQLite and prints its peak RSS, and another with status updates running
# beside it (workload bulk+transition), whose p99 is how long an update
# waits for the bulk's chunks.
#
#   BASELINE  the baseline's directory (default ../shared/bench/baseline)
#   PG_DSN    PostgreSQL URL (default postgres://postgres@127.0.0.1:5432/test?sslmode=disable);
#             cardcore runs in a fresh schema cardcore_bench of that database
#   DURATION  measured time per line (default 10s); WARMUP (default 1s)
#   TARGETS   "sqlite postgres" (default both)
#   BIG       set to 0 to skip the 1,000,000-card bulk
#   SQLITE_SYNC  SQLite's synchronous settings to measure, each against the
#             baseline at the same one (default "FULL NORMAL"; serve runs FULL)
#   ROUNDS    how many times each line is measured (default 1). With more,
#             every round runs raw, cardcore and ceiling, in the opposite
#             order to the round before (ABBA), so that a machine whose speed
#             drifts over minutes does not favour one of them; each ratio is
#             then the median of the rounds' ratios (each round's cardcore
#             over the same round's raw), with their min-max beside it.
#   JSONL_DIR set: every measurement's JSON line is kept there (raw.jsonl,
#             cardcore.jsonl, ceiling.jsonl, reqceiling.jsonl), each with its
#             round
#
# Example: bench/compare.sh | tee bench/results/$(date +%F).txt
set -euo pipefail
cd "$(dirname "$0")/.."
BASELINE=${BASELINE:-../shared/bench/baseline}
PG_DSN=${PG_DSN:-postgres://postgres@127.0.0.1:5432/test?sslmode=disable}
DURATION=${DURATION:-10s}
WARMUP=${WARMUP:-1s}
TARGETS=${TARGETS:-sqlite postgres}
BIG=${BIG:-1}
ROUNDS=${ROUNDS:-1}

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
log() { echo "# $*" >&2; }

log "building cardcore and the baseline"
go build -o "$work/cardcore" ./cmd/cardcore
(cd "$BASELINE" && CGO_ENABLED=0 go build -o "$work/baseline" .)

raw="$work/raw.jsonl"
lib="$work/cardcore.jsonl"
ceil="$work/ceiling.jsonl"
reqceil="$work/reqceiling.jsonl"
: >"$reqceil"
: >"$raw"
: >"$lib"
: >"$ceil"
B=("$work/baseline" -duration "$DURATION" -warmup "$WARMUP")
C=("$work/cardcore" bench --duration "$DURATION" --warmup "$WARMUP")

# triple runs the baseline, cardcore and cardcore's ceiling of one line,
# in this order on odd rounds and the reverse on even ones; each output is
# tagged with the round and with the db's name ($tag).
triple() { # round, then three commands separated by "--" (each: file then argv)
  local round=$1; shift
  local -a cmds=() cur=()
  for a in "$@"; do
    if [[ $a == -- ]]; then cmds+=("$(printf '%q ' "${cur[@]}")"); cur=(); else cur+=("$a"); fi
  done
  cmds+=("$(printf '%q ' "${cur[@]}")")
  local order=(0 1 2)
  ((round % 2 == 0)) && order=(2 1 0)
  for i in "${order[@]}"; do
    eval "set -- ${cmds[$i]}"
    local out=$1; shift
    "$@" | sed "s/^{/{\"round\":$round,/" | $tag >>"$out"
  done
}
notag() { cat; }

for round in $(seq "$ROUNDS"); do
for t in $TARGETS; do
  case $t in
  sqlite)
    # Each synchronous setting against the raw baseline at the same one:
    # serve's default FULL, and NORMAL (--sqlite-synchronous NORMAL).
    for sync in ${SQLITE_SYNC:-FULL NORMAL}; do
      log "== round $round: sqlite (modernc, WAL, synchronous $sync)"
      sqlitetag() { sed "s/\"db\":\"sqlite\"/\"db\":\"sqlite\/$sync\"/"; }
      tag=sqlitetag
      for w in read transition bind; do
        triple "$round" "$raw" "${B[@]}" -db sqlite -driver modernc -sync "$sync" -workload "$w" -workers 1,16 -- \
          "$lib" "${C[@]}" --sqlite-synchronous "$sync" --workload "$w" --workers 1,16 -- \
          "$reqceil" "${C[@]}" --sqlite-synchronous "$sync" --workload "$w-ceiling" --workers 1,16
      done
      triple "$round" "$raw" "${B[@]}" -db sqlite -driver modernc -sync "$sync" -workload bulk -mode multirow -n 100000 -- \
        "$lib" "${C[@]}" --sqlite-synchronous "$sync" --workload bulk --n 100000 -- \
        "$ceil" "${C[@]}" --sqlite-synchronous "$sync" --workload bulk-ceiling --n 100000
      if ((round == 1)); then
        "${C[@]}" --sqlite-synchronous "$sync" --workload reissue --workers 1,16 | sed 's/^{/{"round":1,/' | sqlitetag >>"$lib"
      fi
    done
    ;;
  postgres)
    log "== round $round: postgres (fsync and synchronous_commit on)"
    base=${PG_DSN%%\?*}
    psql "$base" -qc 'DROP SCHEMA IF EXISTS cardcore_bench CASCADE; CREATE SCHEMA cardcore_bench' >&2
    sep='?'
    [[ $PG_DSN == *\?* ]] && sep='&'
    lib_dsn="$PG_DSN${sep}search_path=cardcore_bench"
    tag=notag
    for w in read transition bind; do
      triple "$round" "$raw" "${B[@]}" -db postgres -dsn "$PG_DSN" -workload "$w" -workers 1,16 -- \
        "$lib" "${C[@]}" --db "$lib_dsn" --workload "$w" --workers 1,16 -- \
        "$reqceil" "${C[@]}" --db "$lib_dsn" --workload "$w-ceiling" --workers 1,16
    done
    triple "$round" "$raw" "${B[@]}" -db postgres -dsn "$PG_DSN" -workload bulk -mode copy -n 100000 -- \
      "$lib" "${C[@]}" --db "$lib_dsn" --workload bulk --n 100000 -- \
      "$ceil" "${C[@]}" --db "$lib_dsn" --workload bulk-ceiling --n 100000
    if ((round == 1)); then
      "${C[@]}" --db "$lib_dsn" --workload reissue --workers 1,16 | sed 's/^{/{"round":1,/' >>"$lib"
    fi
    ;;
  esac
done
done

if [[ $BIG != 0 ]]; then
  log "== a 1,000,000-card noname bulk on SQLite"
  "${C[@]}" --workload bulk --n 1000000 >"$work/big.jsonl"
  log "== status updates during a 1,000,000-card noname bulk on SQLite"
  "${C[@]}" --workload bulk+transition --n 1000000 | sed 's/^{/{"round":1,/' >>"$lib"
fi

if [[ -n ${JSONL_DIR:-} ]]; then
  mkdir -p "$JSONL_DIR"
  cp "$raw" "$lib" "$ceil" "$reqceil" "$JSONL_DIR"/
fi

python3 - "$raw" "$lib" "$work/big.jsonl" "$ceil" "$reqceil" <<'PY'
import json, sys
from statistics import median
def load(path):
    return [json.loads(l) for l in open(path) if l.strip()]
def key(r):
    w = r["workload"].removesuffix("-ceiling")
    w = "bulk" if w.startswith("bulk") and w != "bulk+transition" else w
    return (r["db"], w, r["workers"])
def group(rows):
    """Lines of the same db, workload and workers, by round, in first-seen order."""
    out = {}
    for r in rows:
        out.setdefault(key(r), {})[r["round"]] = r
    return out
raw, lib, ceil, reqceil = (group(load(p)) for p in (sys.argv[1], sys.argv[2], sys.argv[4], sys.argv[5]))
rounds = max((rd for g in lib.values() for rd in g), default=1)
def ops(g):
    return median(r["ops_per_s"] for r in g.values())
def ratio(num, den):
    """The median of each round's num/den, with the rounds' min-max when there are several."""
    if not num or not den:
        return "n/a", ""
    rs = sorted(num[rd]["ops_per_s"] / den[rd]["ops_per_s"] for rd in num if rd in den)
    if not rs:
        return "n/a", ""
    spread = f"{rs[0]:.2f}-{rs[-1]:.2f}" if len(rs) > 1 else ""
    return f"{median(rs):.2f}", spread
if rounds > 1:
    print(f"{rounds} rounds, ABBA: figures are medians; a ratio is the median of the rounds' ratios, min-max beside it\n")
print(f'{"db":13} {"workload":15} {"workers":>7} {"cardcore":>11} {"raw":>11} {"ratio":>6} {"min-max":>9} {"p50 µs":>9} {"p99 µs":>9} {"rss MiB":>8}')
for k, g in lib.items():
    b = raw.get(k) if k[1] != "bulk+transition" else None  # status updates during a bulk: no baseline; see its p99
    rt, spread = ratio(g, b)
    rawops = f'{ops(b):.0f}' if b else "-"
    p50 = median(r["p50_us"] for r in g.values())
    p99 = median(r["p99_us"] for r in g.values())
    rss = max(r["peak_rss_mib"] for r in g.values())
    w = next(iter(g.values()))["workload"]
    print(f'{k[0]:13} {w:15} {k[2]:>7} {ops(g):>11.0f} {rawops:>11} {rt:>6} {spread:>9} {p50:>9.0f} {p99:>9.0f} {rss:>8.1f}')
try:
    for l in open(sys.argv[3]):
        if l.strip():
            r = json.loads(l)
            print(f'\n1,000,000-card bulk on {r["db"]}: {r["ops_per_s"]:.0f} cards/s, peak RSS {r["peak_rss_mib"]:.1f} MiB (target <= 100)')
except FileNotFoundError:
    pass
if ceil:
    print(f'\n{"db":13} {"bulk":>8} {"ceiling":>8} {"ratio":>6} {"min-max":>9}  (ceiling: the same card and event rows written raw into cardcore\'s tables; target >= 0.80)')
    for k, g in lib.items():
        c = ceil.get(k)
        if k[1] == "bulk" and c:
            rt, spread = ratio(g, c)
            print(f'{k[0]:13} {ops(g):>8.0f} {ops(c):>8.0f} {rt:>6} {spread:>9}')
if reqceil:
    print(f'\n{"db":13} {"workload":10} {"workers":>7} {"cardcore":>9} {"ceiling":>9} {"ratio":>6} {"min-max":>9} {"raw":>9} {"ceil/raw":>8}'
          '  (ceiling: cardcore\'s SQL sent raw on its tables; ratio cardcore/ceiling is the library\'s cost, ceil/raw the schema\'s)')
    for k, g in lib.items():
        c = reqceil.get(k)
        if k[1] not in ("read", "transition", "bind") or not c:
            continue
        b = raw.get(k)
        rt, spread = ratio(g, c)
        cr, _ = ratio(c, b)
        rawops = f'{ops(b):.0f}' if b else "-"
        print(f'{k[0]:13} {k[1]:10} {k[2]:>7} {ops(g):>9.0f} {ops(c):>9.0f} {rt:>6} {spread:>9} {rawops:>9} {cr:>8}')
PY
