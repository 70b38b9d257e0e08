package httpapi

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/json"
	"io"
	"log/slog"
	"maps"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/cardcore/cardcore/adapters/bunstore"
	"github.com/cardcore/cardcore/card"
	"github.com/cardcore/cardcore/datasync"
	"github.com/cardcore/cardcore/issuance"
	"github.com/cardcore/cardcore/lifecycle"
	"github.com/cardcore/cardcore/noname"
	"github.com/cardcore/cardcore/reissue"
	"github.com/cardcore/cardcore/storage"
	"github.com/uptrace/bun"
)

var testSecret = []byte("0123456789abcdef0123456789abcdef")

// smallBulks is a program whose bulk requests take at most 3 external ids.
const smallBulks = 2

// fixture is the API over a fresh database, served by httptest, with the
// sync and sandbox routes; client signs sandbox requests.
type fixture struct {
	store  *bunstore.Store
	srv    *httptest.Server
	client clientKey
	cfg    Config
}

func newFixture(t *testing.T, db *bun.DB) *fixture {
	t.Helper()
	store, err := bunstore.New(t.Context(), db)
	if err != nil {
		t.Fatal(err)
	}
	programs, err := card.NewPrograms(card.Program{ID: smallBulks, BIN: "12345678", Brand: card.Visa, BulkSizeLimit: 3})
	if err != nil {
		t.Fatal(err)
	}
	cards, err := lifecycle.NewCards(store, programs)
	if err != nil {
		t.Fatal(err)
	}
	rs, err := reissue.New(store, cards)
	if err != nil {
		t.Fatal(err)
	}
	nn, err := noname.New(store, cards)
	if err != nil {
		t.Fatal(err)
	}
	sync, err := datasync.New(store, cards)
	if err != nil {
		t.Fatal(err)
	}
	pans, err := issuance.NewHMACProvisioner([]byte("fixture-pan-key-0123456789abcdef"))
	if err != nil {
		t.Fatal(err)
	}
	iss, err := issuance.New(store, cards, pans)
	if err != nil {
		t.Fatal(err)
	}
	client := newClientKey(t, "client-1")
	f := &fixture{store: store, client: client, cfg: Config{Store: store, Cards: cards, Reissue: rs, Noname: nn,
		Secret: testSecret, Logger: slog.New(slog.DiscardHandler), Sync: sync, Issuance: iss,
		ClientKeys: map[string]ed25519.PublicKey{client.id: client.pub}}}
	h, err := New(f.cfg)
	if err != nil {
		t.Fatal(err)
	}
	f.srv = httptest.NewServer(h)
	t.Cleanup(f.srv.Close)
	return f
}

// config is a copy of the fixture's configuration.
func (f *fixture) config() Config {
	cfg := f.cfg
	cfg.ClientKeys = maps.Clone(cfg.ClientKeys)
	return cfg
}

// signer signs a test request with k, created at now.
func signer(k clientKey) func(*http.Request) {
	return func(r *http.Request) {
		if err := SignRequest(r, k.id, k.priv); err != nil {
			panic(err)
		}
	}
}

// unbound returns the ids of the bulk's UNBOUND cards.
func (f *fixture) unbound(t *testing.T, org, bulk string) []int64 {
	t.Helper()
	var ids []int64
	err := f.store.Update(t.Context(), func(ctx context.Context, tx storage.Tx) error {
		cs, err := tx.UnboundCards(ctx, org, bulk, nil, 0, 1000)
		for _, c := range cs {
			ids = append(ids, c.ID)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return ids
}

func token(t testing.TB, c Claims) string {
	t.Helper()
	tok, err := MintToken(testSecret, c, time.Hour, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// call is one request of a test.
type call struct {
	method, path string
	token        string
	header       map[string]string
	body         any // nil: none; string or []byte: sent as is; else JSON-encoded
	want         int
	// breaksDoc: the request breaks the OpenAPI document (a path id that is
	// not an integer, a value outside its schema...), so validating it
	// against the document must fail.
	breaksDoc bool
	// sign, when set, signs the request once its headers are set.
	sign func(*http.Request)
}

func (k call) rawBody(t testing.TB) []byte {
	switch b := k.body.(type) {
	case nil:
		return nil
	case string:
		return []byte(b)
	case []byte:
		return b
	}
	b, err := json.Marshal(k.body)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func (k call) request(ctx context.Context, base string, body []byte) *http.Request {
	var r io.Reader
	if body != nil {
		r = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, k.method, base+k.path, r)
	if err != nil {
		panic(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if k.token != "" {
		req.Header.Set("Authorization", "Bearer "+k.token)
	}
	for h, v := range k.header {
		req.Header.Set(h, v)
	}
	if k.sign != nil {
		k.sign(req)
	}
	return req
}

// answer is a response of a test.
type answer struct {
	status int
	header http.Header
	raw    []byte
	body   map[string]any
}

// send makes the request and checks its status.
func send(t testing.TB, base string, k call) answer {
	t.Helper()
	req := k.request(t.Context(), base, k.rawBody(t))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", k.method, k.path, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	a := answer{status: resp.StatusCode, header: resp.Header, raw: raw}
	_ = json.Unmarshal(raw, &a.body)
	if resp.StatusCode != k.want {
		t.Fatalf("%s %s: status %d, want %d; body %s", k.method, k.path, resp.StatusCode, k.want, raw)
	}
	return a
}

// num reads a JSON number of a body as an int64.
func num(t testing.TB, m map[string]any, key string) int64 {
	t.Helper()
	f, ok := m[key].(float64)
	if !ok {
		t.Fatalf("%s is %v (%T), want a number; body %v", key, m[key], m[key], m)
	}
	return int64(f)
}

func str(t testing.TB, m map[string]any, key string) string {
	t.Helper()
	s, ok := m[key].(string)
	if !ok {
		t.Fatalf("%s is %v (%T), want a string; body %v", key, m[key], m[key], m)
	}
	return s
}

func obj(t testing.TB, m map[string]any, key string) map[string]any {
	t.Helper()
	o, ok := m[key].(map[string]any)
	if !ok {
		t.Fatalf("%s is %v (%T), want an object; body %v", key, m[key], m[key], m)
	}
	return o
}
