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

for t in $TARGETS; do
  case $t in
  sqlite)
    # Each synchronous setting against the raw baseline at the same one:
    # serve's default FULL, and NORMAL (--sqlite-synchronous NORMAL).
    for sync in ${SQLITE_SYNC:-FULL NORMAL}; do
      log "== sqlite (modernc, WAL, synchronous $sync)"
      tag() { sed "s/\"db\":\"sqlite\"/\"db\":\"sqlite\/$sync\"/"; }
      for w in read transition bind; do
        "${B[@]}" -db sqlite -driver modernc -sync "$sync" -workload "$w" -workers 1,16 | tag >>"$raw"
        "${C[@]}" --sqlite-synchronous "$sync" --workload "$w" --workers 1,16 | tag >>"$lib"
        "${C[@]}" --sqlite-synchronous "$sync" --workload "$w-ceiling" --workers 1,16 | tag >>"$reqceil"
      done
      "${B[@]}" -db sqlite -driver modernc -sync "$sync" -workload bulk -mode multirow -n 100000 | tag >>"$raw"
      "${C[@]}" --sqlite-synchronous "$sync" --workload bulk --n 100000 | tag >>"$lib"
      "${C[@]}" --sqlite-synchronous "$sync" --workload bulk-ceiling --n 100000 | tag >>"$ceil"
      "${C[@]}" --sqlite-synchronous "$sync" --workload reissue --workers 1,16 | tag >>"$lib"
    done
    ;;
  postgres)
    log "== postgres (fsync and synchronous_commit on)"
    base=${PG_DSN%%\?*}
    psql "$base" -qc 'DROP SCHEMA IF EXISTS cardcore_bench CASCADE; CREATE SCHEMA cardcore_bench' >&2
    sep='?'
    [[ $PG_DSN == *\?* ]] && sep='&'
    lib_dsn="$PG_DSN${sep}search_path=cardcore_bench"
    for w in read transition bind; do
      "${B[@]}" -db postgres -dsn "$PG_DSN" -workload "$w" -workers 1,16 >>"$raw"
      "${C[@]}" --db "$lib_dsn" --workload "$w" --workers 1,16 >>"$lib"
      "${C[@]}" --db "$lib_dsn" --workload "$w-ceiling" --workers 1,16 >>"$reqceil"
    done
    "${B[@]}" -db postgres -dsn "$PG_DSN" -workload bulk -mode copy -n 100000 >>"$raw"
    "${C[@]}" --db "$lib_dsn" --workload bulk --n 100000 >>"$lib"
    "${C[@]}" --db "$lib_dsn" --workload bulk-ceiling --n 100000 >>"$ceil"
    "${C[@]}" --db "$lib_dsn" --workload reissue --workers 1,16 >>"$lib"
    ;;
  esac
done

if [[ $BIG != 0 ]]; then
  log "== a 1,000,000-card noname bulk on SQLite"
  "${C[@]}" --workload bulk --n 1000000 >"$work/big.jsonl"
  log "== status updates during a 1,000,000-card noname bulk on SQLite"
  "${C[@]}" --workload bulk+transition --n 1000000 >>"$lib"
fi

python3 - "$raw" "$lib" "$work/big.jsonl" "$ceil" "$reqceil" <<'PY'
import json, sys
raw = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
lib = [json.loads(l) for l in open(sys.argv[2]) if l.strip()]
ceil = {r["db"]: r for r in (json.loads(l) for l in open(sys.argv[4]) if l.strip())}
def key(r):
    w = "bulk" if r["workload"].startswith("bulk") else r["workload"]
    return (r["db"], w, r["workers"])
base = {key(r): r for r in raw}
print(f'{"db":13} {"workload":10} {"workers":>7} {"cardcore":>11} {"raw":>11} {"ratio":>6} {"p50 µs":>9} {"p99 µs":>9} {"rss MiB":>8}')
for r in lib:
    b = base.get(key(r))
    if r["workload"] == "bulk+transition":
        b = None  # status updates during a bulk: no baseline; see its p99
    ratio = f'{r["ops_per_s"] / b["ops_per_s"]:.2f}' if b else "n/a"
    rawops = f'{b["ops_per_s"]:.0f}' if b else "-"
    print(f'{r["db"]:13} {r["workload"]:10} {r["workers"]:>7} {r["ops_per_s"]:>11.0f} {rawops:>11} {ratio:>6} {r["p50_us"]:>9.0f} {r["p99_us"]:>9.0f} {r["peak_rss_mib"]:>8.1f}')
try:
    for l in open(sys.argv[3]):
        if l.strip():
            r = json.loads(l)
            print(f'\n1,000,000-card bulk on {r["db"]}: {r["ops_per_s"]:.0f} cards/s, peak RSS {r["peak_rss_mib"]:.1f} MiB (target <= 100)')
except FileNotFoundError:
    pass
if ceil:
    print(f'\n{"db":13} {"bulk":>8} {"ceiling":>8} {"ratio":>6}  (ceiling: the same card and event rows written raw into cardcore\'s tables; target >= 0.80)')
    for r in lib:
        c = ceil.get(r["db"])
        if r["workload"] == "bulk" and c:
            print(f'{r["db"]:13} {r["ops_per_s"]:>8.0f} {c["ops_per_s"]:>8.0f} {r["ops_per_s"] / c["ops_per_s"]:>6.2f}')
reqceil = {(r["db"], r["workload"].removesuffix("-ceiling"), r["workers"]): r
           for r in (json.loads(l) for l in open(sys.argv[5]) if l.strip())}
if reqceil:
    print(f'\n{"db":13} {"workload":10} {"workers":>7} {"cardcore":>9} {"ceiling":>9} {"ratio":>6} {"raw":>9} {"ceil/raw":>8}'
          '  (ceiling: cardcore\'s SQL sent raw on its tables; ratio cardcore/ceiling is the library\'s cost, ceil/raw the schema\'s)')
    for r in lib:
        c = reqceil.get(key(r))
        if r["workload"] not in ("read", "transition", "bind") or not c:
            continue
        b = base.get(key(r))
        rawops = f'{b["ops_per_s"]:.0f}' if b else "-"
        cr = f'{c["ops_per_s"] / b["ops_per_s"]:.2f}' if b else "n/a"
        print(f'{r["db"]:13} {r["workload"]:10} {r["workers"]:>7} {r["ops_per_s"]:>9.0f} {c["ops_per_s"]:>9.0f} '
              f'{r["ops_per_s"] / c["ops_per_s"]:>6.2f} {rawops:>9} {cr:>8}')
PY
