package cardcore_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cardcore/cardcore/internal/faultdb"
	"github.com/uptrace/bun"
)

// storeSnap is what the store holds of one org, read with SQL past the
// store (and past the fault plan).
type storeSnap struct {
	// raw is every row as stored, for comparisons within the org.
	raw string
	// norm is the rows with what differs from org to org left out or
	// replaced by the card's (or bulk's) place in the org: ids, tokens,
	// event ids, correlation ids, PAN data drawn at random, the request
	// fingerprints (they hash the org) and the times the store takes from
	// the wall clock (an idempotency key's created_at); the use cases'
	// times come from the test's clock and are kept. Two orgs with the same
	// fixture and the same calls have the same norm.
	norm string
	// cards holds norm per card, its row and its events; rest the other
	// lines of norm.
	cards []string
	rest  string
	// problems are broken invariants: an event without its change.
	problems []string
}

// wantSound fails t when s breaks an invariant.
func wantSound(t *testing.T, when string, s storeSnap) {
	t.Helper()
	if len(s.problems) > 0 {
		t.Fatalf("%s: %s", when, strings.Join(s.problems, "; "))
	}
}

// dbRow is a row read by column, its values as text.
type dbRow struct {
	cols []string
	vals map[string]string
}

// readRows reads the rows of query, every value as text (NULL for NULL).
func readRows(t *testing.T, db *bun.DB, query string, args ...any) []dbRow {
	t.Helper()
	rows, err := db.QueryContext(t.Context(), query, args...)
	if err != nil {
		t.Fatalf("%s: %v", query, err)
	}
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		t.Fatal(err)
	}
	var out []dbRow
	for rows.Next() {
		vals := make([]any, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			t.Fatal(err)
		}
		r := dbRow{cols: cols, vals: make(map[string]string, len(cols))}
		for i, c := range cols {
			r.vals[c] = text(vals[i])
		}
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

func text(v any) string {
	switch v := v.(type) {
	case nil:
		return "NULL"
	case []byte:
		return string(v)
	case time.Time:
		return v.UTC().Format(time.RFC3339Nano)
	}
	return fmt.Sprint(v)
}

// with returns r with column c set to v.
func (r dbRow) with(c, v string) dbRow {
	vals := make(map[string]string, len(r.vals))
	for k, x := range r.vals {
		vals[k] = x
	}
	vals[c] = v
	return dbRow{cols: r.cols, vals: vals}
}

// render writes r's columns but skip, each through norm when it has a
// rule for it.
func (r dbRow) render(skip []string, norm map[string]func(string) string) string {
	var b strings.Builder
	for _, c := range r.cols {
		if slices.Contains(skip, c) {
			continue
		}
		v := r.vals[c]
		if f, ok := norm[c]; ok {
			v = f(v)
		}
		fmt.Fprintf(&b, " %s=%s", c, v)
	}
	return b.String()
}

// snapOrg reads what the store holds of org.
func snapOrg(t *testing.T, db *faultdb.DB, org string) storeSnap {
	t.Helper()
	d := db.Direct
	cards := readRows(t, d, "SELECT * FROM cardcore_cards WHERE org_id = ? ORDER BY id", org)
	evs := readRows(t, d, "SELECT * FROM cardcore_outbox WHERE org_id = ? ORDER BY seq", org)
	keys := readRows(t, d, "SELECT * FROM cardcore_idempotency WHERE org_id = ? ORDER BY scope, key", org)
	bulks := readRows(t, d, "SELECT * FROM cardcore_bulks WHERE org_id = ? ORDER BY created_at, version, id", org)
	extIDs := readRows(t, d, `SELECT e.* FROM cardcore_bulk_external_ids e JOIN cardcore_bulks b ON b.id = e.bulk_id
WHERE b.org_id = ? ORDER BY b.created_at, b.version, b.id, e.position`, org)
	reasons := readRows(t, d, "SELECT * FROM cardcore_reasons WHERE org_id = ? ORDER BY id", org)

	n := newNormalizer(cards, bulks, evs)
	var s storeSnap
	var raw, rest strings.Builder
	// The sequencer of the PostgreSQL feed numbers events when the feed is
	// read: feed_pos is the reader's, not the use case's.
	rawSkip := []string{"feed_pos"}
	for _, set := range []struct {
		name string
		rows []dbRow
	}{{"card", cards}, {"event", evs}, {"key", keys}, {"bulk", bulks}, {"external id", extIDs}, {"reason", reasons}} {
		for _, r := range set.rows {
			fmt.Fprintf(&raw, "%s%s\n", set.name, r.render(rawSkip, nil))
		}
	}
	s.raw = raw.String()

	cardLines := make([][]string, len(cards))
	for i, r := range cards {
		if r.vals["pan_hash"] != "" {
			// The provisioner draws the PAN at random.
			r = r.with("last4", "<drawn>")
		}
		cardLines[i] = append(cardLines[i], "card"+r.render([]string{"org_id"}, n.cardRules()))
	}
	for _, r := range evs {
		line := "event" + r.render([]string{"seq", "event_id", "org_id", "cid", "feed_pos"}, n.eventRules())
		if i, ok := n.cards[r.vals["card_id"]]; ok {
			cardLines[i] = append(cardLines[i], line)
		} else {
			fmt.Fprintln(&rest, line)
		}
	}
	for _, r := range keys {
		fmt.Fprintln(&rest, "key"+r.render([]string{"org_id", "fingerprint", "created_at"}, n.keyRules()))
	}
	for _, r := range bulks {
		fmt.Fprintln(&rest, "bulk"+r.render([]string{"org_id"}, map[string]func(string) string{"id": n.bulk}))
	}
	for _, r := range extIDs {
		fmt.Fprintln(&rest, "external id"+r.render(nil, map[string]func(string) string{"bulk_id": n.bulk}))
	}
	for _, r := range reasons {
		fmt.Fprintln(&rest, "reason"+r.render([]string{"id", "org_id"}, nil))
	}
	var norm strings.Builder
	for _, ls := range cardLines {
		c := strings.Join(ls, "\n")
		s.cards = append(s.cards, c)
		fmt.Fprintln(&norm, c)
	}
	s.rest = rest.String()
	norm.WriteString(s.rest)
	s.norm = norm.String()
	s.problems = problemsOf(cards, evs)
	return s
}

// normalizer replaces an org's own ids by places.
type normalizer struct {
	cards  map[string]int // card id -> its place in the org, by id
	tokens map[string]int // card token -> the same
	bulks  map[string]int // bulk id -> its place, by creation
	events map[string]int // event seq -> its place in the org's outbox, by seq
}

func newNormalizer(cards, bulks, evs []dbRow) *normalizer {
	n := &normalizer{cards: map[string]int{}, tokens: map[string]int{}, bulks: map[string]int{}, events: map[string]int{}}
	for i, r := range cards {
		n.cards[r.vals["id"]] = i
		n.tokens[r.vals["token"]] = i
	}
	for i, r := range bulks {
		n.bulks[r.vals["id"]] = i
	}
	for i, r := range evs {
		n.events[r.vals["seq"]] = i
	}
	return n
}

// event names the event of seq v by its place: SQLite's card chain
// (last_seq, prev_seq) is compared by the events it links, not by seqs,
// which differ from run to run.
func (n *normalizer) event(v string) string {
	if i, ok := n.events[v]; ok {
		return "event#" + strconv.Itoa(i)
	}
	return v
}

func (n *normalizer) card(v string) string {
	if i, ok := n.cards[v]; ok {
		return "card#" + strconv.Itoa(i)
	}
	return v
}

func (n *normalizer) token(v string) string {
	if i, ok := n.tokens[v]; ok {
		return "token#" + strconv.Itoa(i)
	}
	return v
}

func (n *normalizer) bulk(v string) string {
	if i, ok := n.bulks[v]; ok {
		return "bulk#" + strconv.Itoa(i)
	}
	return v
}

// sandboxName hides the token in the alias the sandbox draws from it.
func sandboxName(v string) string {
	if strings.HasPrefix(v, "sandbox-") {
		return "sandbox-<token>"
	}
	return v
}

func present(v string) string {
	if v == "" || v == "NULL" {
		return v
	}
	return "<set>"
}

func (n *normalizer) cardRules() map[string]func(string) string {
	return map[string]func(string) string{
		"id": n.card, "token": n.token, "reissued_card_id": n.card, "bulk_id": n.bulk,
		"name": sandboxName, "alias_key": sandboxName, "pan_hash": present, "last_seq": n.event,
	}
}

func (n *normalizer) eventRules() map[string]func(string) string {
	return map[string]func(string) string{"card_id": n.card, "data": n.data, "prev_seq": n.event}
}

func (n *normalizer) keyRules() map[string]func(string) string {
	return map[string]func(string) string{"scope": n.scope, "result": present}
}

// scope replaces the card a key's scope names ("reissue:card=12",
// "sandbox_issue_card:card=<token>").
func (n *normalizer) scope(v string) string {
	head, id, ok := strings.Cut(v, ":card=")
	if !ok {
		return v
	}
	if c := n.card(id); c != id {
		return head + ":card=" + c
	}
	return head + ":card=" + n.token(id)
}

// data normalizes an event's data.
func (n *normalizer) data(v string) string {
	dec := json.NewDecoder(strings.NewReader(v))
	dec.UseNumber()
	var m map[string]any
	if err := dec.Decode(&m); err != nil {
		return v
	}
	str := func(x any) string { return fmt.Sprint(x) }
	for k, x := range m {
		switch k {
		case "card_id", "reissued_card_id":
			m[k] = n.card(str(x))
		case "card_token":
			m[k] = n.token(str(x))
		case "bulk_id":
			m[k] = n.bulk(str(x))
		case "card_ids":
			if ids, ok := x.([]any); ok {
				for i := range ids {
					ids[i] = n.card(str(ids[i]))
				}
			}
		case "card_name":
			m[k] = sandboxName(str(x))
		}
	}
	if h, ok := m["card_hash"]; ok {
		m["card_hash"] = present(str(h))
		if _, ok := m["card_last_four_numbers"]; ok {
			m["card_last_four_numbers"] = "<set>"
		}
	}
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(m); err != nil {
		return v
	}
	return strings.TrimSpace(b.String())
}

// problemsOf checks that every event names a card of the org and that each
// card's events, in seq order, carry versions 1..version, the last one
// with the card's status: no event without its change, no change without
// its event.
func problemsOf(cards, evs []dbRow) []string {
	type cardEvent struct {
		Version int64  `json:"version"`
		Status  string `json:"card_status"`
	}
	byCard := make(map[string][]cardEvent)
	var problems []string
	known := make(map[string]bool, len(cards))
	for _, c := range cards {
		known[c.vals["id"]] = true
	}
	for _, e := range evs {
		id := e.vals["card_id"]
		if id == "NULL" {
			continue
		}
		if !known[id] {
			problems = append(problems, fmt.Sprintf("event %s names card %s, which the org does not have", e.vals["event_id"], id))
			continue
		}
		var ce cardEvent
		if err := json.Unmarshal([]byte(e.vals["data"]), &ce); err != nil {
			problems = append(problems, fmt.Sprintf("event %s: data %v", e.vals["event_id"], err))
			continue
		}
		byCard[id] = append(byCard[id], ce)
	}
	for _, c := range cards {
		id := c.vals["id"]
		v, err := strconv.ParseInt(c.vals["version"], 10, 64)
		if err != nil {
			problems = append(problems, fmt.Sprintf("card %s: version %q", id, c.vals["version"]))
			continue
		}
		es := byCard[id]
		versions := make([]int64, len(es))
		ok := int64(len(es)) == v
		for i, e := range es {
			versions[i] = e.Version
			ok = ok && e.Version == int64(i+1)
		}
		if ok && len(es) > 0 && es[len(es)-1].Status != c.vals["status"] {
			ok = false
		}
		if !ok {
			problems = append(problems, fmt.Sprintf("card %s is %s at version %d, with events of versions %v", id, c.vals["status"], v, versions))
		}
	}
	return problems
}
