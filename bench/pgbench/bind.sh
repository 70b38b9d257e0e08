#!/usr/bin/env bash
# PostgreSQL's side of a bind, with pgbench (see run.sh): the baseline's
# (bind-raw.sql: a conditional UPDATE, then the event's INSERT), cardcore's
# before 2026-12-07 (bind-cardcore.sql: BEGIN, the card's SELECT ... FOR
# UPDATE, the save with its event, COMMIT), cardcore's since
# (bind-cardcore-pipelined.sql: BEGIN and the SELECT in one pipeline), and
# two that cardcore does not send, to show what each part costs:
# bind-cardcore-nolock.sql (the SELECT without FOR UPDATE) and
# bind-cardcore-blind.sql (no SELECT at all). 16 clients, T seconds per run
# (8), R rounds (2) in alternating order.
#
# Each run binds UNBOUND cards that no run bound before: client k of a run
# binds ids base + 3000k + 1, + 2, ...; base starts at CARDCORE_FROM and
# RAW_FROM and grows by 50,000 a run. Make the cards first, from an UNBOUND
# card of a bind fixture (`cardcore bench --workload bind` in CARDCORE_SCHEMA,
# the baseline's `-workload bind` in RAW_SCHEMA), for example:
#
#   INSERT INTO cc.cardcore_cards SELECT (json_populate_record(c, json_build_object(
#     'id', g, 'token', md5(g::text), 'external_id', 'x' || g))).*
#     FROM cc.cardcore_cards c, generate_series(1000001, 1800000) g WHERE c.id = <an UNBOUND card>;
#   INSERT INTO public.cards SELECT g, NULL, NULL, 'UNBOUND', type, 1, bulk_id, 'x' || g,
#     product_code, last4, now(), now() FROM public.cards c, generate_series(1000001, 1800000) g
#     WHERE c.id = <an UNBOUND card>;
#
# ORG is the org of the cardcore cards.
set -euo pipefail
cd "$(dirname "$0")"
export PGHOST=${PGHOST:-127.0.0.1} PGUSER=${PGUSER:-postgres}
CC=${CARDCORE_SCHEMA:-cardcore_bench} RAW=${RAW_SCHEMA:-public}
ORG=${ORG:?set ORG to the org of the cardcore cards}
q() { psql -d test -Atc "$1"; }
declare -A base=([$CC]=${CARDCORE_FROM:-1000000} [$RAW]=${RAW_FROM:-1000000})
declare -A table=([$CC]=cardcore_cards [$RAW]=cards)
one() { # schema script
	local a b out tx
	# the run's cards must be there and UNBOUND: an UPDATE that finds none binds nothing, and is cheap
	if [[ $(q "SELECT count(*) FROM $1.${table[$1]} WHERE id IN (${base[$1]} + 1, ${base[$1]} + 45000) AND status = 'UNBOUND'") != 2 ]]; then
		echo "bind.sh: $1 has no UNBOUND cards ${base[$1]}+1 and +45000: make them first (see the comment)" >&2
		exit 1
	fi
	a=$(q "SELECT pg_current_wal_lsn()")
	out=$(PGOPTIONS="-c search_path=$1" pgbench -n -M prepared -c 16 -j 2 -T "${T:-8}" -D org="$ORG" -D n=0 \
		-D base="${base[$1]}" -f "$2" test 2>&1)
	base[$1]=$((base[$1] + 50000))
	b=$(q "SELECT pg_current_wal_lsn()")
	tx=$(echo "$out" | awk '/actually processed/ {print $NF}')
	printf '%-14s %-30s tps %8.0f  WAL bytes/tx %s\n' "$1" "$2" "$(echo "$out" | awk '/^tps/ {print $3}')" \
		"$(q "SELECT round(pg_wal_lsn_diff('$b', '$a') / greatest($tx, 1))")"
}
runs=("$RAW bind-raw.sql" "$CC bind-cardcore.sql" "$CC bind-cardcore-pipelined.sql" "$CC bind-cardcore-nolock.sql" "$CC bind-cardcore-blind.sql")
for r in $(seq "${R:-2}"); do
	if ((r % 2)); then order=(0 1 2 3 4); else order=(4 3 2 1 0); fi
	for i in "${order[@]}"; do one ${runs[$i]}; done
done
