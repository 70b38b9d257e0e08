#!/usr/bin/env bash
# The server's side of cardcore's and the baseline's SQL shapes, with
# pgbench (a C client, whose own CPU is small) instead of Go: 16 clients,
# prepared statements, alternating runs. It needs the tables and fixtures
# of a `cardcore bench` run in schema CARDCORE_SCHEMA and of a baseline run
# in RAW_SCHEMA, both of database test; the defaults are those that
# bench/compare.sh leaves (see the README's Performance).
#
#   WORKLOADS  "read transition" (default); T seconds per run (10); R rounds (3)
set -euo pipefail
cd "$(dirname "$0")"
PGHOST=${PGHOST:-127.0.0.1} PGUSER=${PGUSER:-postgres}
export PGHOST PGUSER
CC=${CARDCORE_SCHEMA:-cardcore_bench} RAW=${RAW_SCHEMA:-public}
T=${T:-10} R=${R:-3}
q() { psql -d test -Atc "$1"; }
# the last 100,000 cards of the newest cardcore bench's fixtures, and its org
read -r cclo cchi org < <(q "SELECT max(id) - 99999, max(id), (SELECT org_id FROM $CC.cardcore_cards ORDER BY id DESC LIMIT 1) FROM $CC.cardcore_cards" | tr '|' ' ')
read -r rawlo rawhi < <(q "SELECT min(id), least(max(id), min(id) + 99999) FROM $RAW.cards" | tr '|' ' ')
one() { # schema script lo hi
	local a b out tx
	a=$(q "SELECT pg_current_wal_lsn()")
	out=$(PGOPTIONS="-c search_path=$1" pgbench -n -M prepared -c 16 -j 2 -T "$T" -D lo="$3" -D hi="$4" -D org="$org" -f "$2" test 2>&1)
	b=$(q "SELECT pg_current_wal_lsn()")
	tx=$(echo "$out" | awk '/actually processed/ {print $NF}')
	printf '%-10s %-24s tps %8.0f  WAL bytes/tx %s\n' "$1" "$2" "$(echo "$out" | awk '/^tps/ {print $3}')" \
		"$(q "SELECT round(pg_wal_lsn_diff('$b', '$a') / greatest($tx, 1))")"
}
for r in $(seq "$R"); do
	for w in ${WORKLOADS:-read transition}; do
		if ((r % 2)); then
			one "$RAW" "$w-raw.sql" "$rawlo" "$rawhi"; one "$CC" "$w-cardcore.sql" "$cclo" "$cchi"
		else
			one "$CC" "$w-cardcore.sql" "$cclo" "$cchi"; one "$RAW" "$w-raw.sql" "$rawlo" "$rawhi"
		fi
	done
done
