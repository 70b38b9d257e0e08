package httpapi

// The harness of the HTTP tests: the API over a real database (SQLite,
// and PostgreSQL when CARDCORE_TEST_PG_DSN is set), wired by cardcore.New
// and New as a service wires it and served behind a real listener; tokens;
// requests and their answers; the checks every error answer passes. What
// the API's bodies hold is read in harness_bodies_test.go.

import (
	"bufio"
	"bytes"
	"crypto/ed25519"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cardcore/cardcore"
	"github.com/cardcore/cardcore/card"
	"github.com/cardcore/cardcore/internal/testdb"
	"github.com/cardcore/cardcore/issuance"
	"github.com/uptrace/bun"
)

var testSecret = []byte("0123456789abcdef0123456789abcdef")

// smallBulks is a program whose bulk requests take at most 3 external ids.
const smallBulks = 2

// The tests' account and customer: decimal integers, as the account routes
// want them.
const (
	acct     = "42"
	cust     = "7"
	otherAcc = "43"
	otherCus = "8"
)

// big is a JSON object just over the 1 MiB body limit.
var big = `{"pad":"` + strings.Repeat("a", maxBody) + `"}`

// env is the API over one database, with the sync and sandbox routes,
// behind a real listener; key signs the sandbox requests.
type env struct {
	core    *cardcore.Core
	cfg     Config
	key     clientKey
	handler http.Handler
	url     string
	client  *http.Client
}

// newEnv serves the API on cardcore over db, a fresh database.
func newEnv(tb testing.TB, db *bun.DB) *env {
	tb.Helper()
	pans, err := issuance.NewHMACProvisioner([]byte("fixture-pan-key-0123456789abcdef"))
	if err != nil {
		tb.Fatal(err)
	}
	core, err := cardcore.New(tb.Context(), db, cardcore.WithIssuance(pans),
		cardcore.WithPrograms(card.Program{ID: smallBulks, BIN: "12345678", Brand: card.Visa, BulkSizeLimit: 3}))
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { _ = core.Close() })
	key := newClientKey(tb, "client-1")
	e := &env{core: core, key: key, cfg: Config{
		Secret: testSecret, Logger: slog.New(slog.DiscardHandler),
		ClientKeys: map[string]ed25519.PublicKey{key.id: key.pub}}}
	h, err := New(core, e.cfg)
	if err != nil {
		tb.Fatal(err)
	}
	return e.serving(tb, h)
}

// eachEnv runs f on a fresh env over every database.
func eachEnv(t *testing.T, f func(t *testing.T, e *env)) {
	testdb.Each(t, func(t *testing.T, db *bun.DB) { f(t, newEnv(t, db)) })
}

// serving returns a copy of e that serves h, behind a listener of its own.
func (e *env) serving(tb testing.TB, h http.Handler) *env {
	srv := httptest.NewServer(h)
	tb.Cleanup(srv.Close)
	out := *e
	out.handler, out.url, out.client = h, srv.URL, srv.Client()
	return &out
}

// clientKey is the key pair of a client that signs sandbox requests.
type clientKey struct {
	id   string
	pub  ed25519.PublicKey
	priv ed25519.PrivateKey
}

func newClientKey(tb testing.TB, id string) clientKey {
	tb.Helper()
	pub, priv, err := ed25519.GenerateKey(nil)
	if err != nil {
		tb.Fatal(err)
	}
	return clientKey{id, pub, priv}
}

// sign signs a test request with k; a call's sign.
func (k clientKey) sign(r *http.Request) {
	if err := SignRequest(r, k.id, k.priv); err != nil {
		panic(err)
	}
}

// mintToken is a token of c signed with secret, issued at now for ttl.
func mintToken(tb testing.TB, secret []byte, c Claims, ttl time.Duration, now time.Time) string {
	tb.Helper()
	tok, err := MintToken(secret, c, ttl, now)
	if err != nil {
		tb.Fatal(err)
	}
	return tok
}

// serverTok is a valid server token of org.
func serverTok(tb testing.TB, org string) string {
	return mintToken(tb, testSecret, Claims{OrgID: org, Server: true}, time.Hour, time.Now())
}

// accountTok is a valid account token of org for account.
func accountTok(tb testing.TB, org, account string) string {
	return mintToken(tb, testSecret, Claims{OrgID: org, AccountID: account}, time.Hour, time.Now())
}

// tokens are a server token of org and an account token of org for acct.
func tokens(tb testing.TB, org string) (srv, acc string) {
	return serverTok(tb, org), accountTok(tb, org, acct)
}

// call is one request of a test.
type call struct {
	method, path string
	token        string
	header       []string // name/value pairs, set in order
	body         any      // nil: none; string or []byte: sent as is; else JSON-encoded
	// want, when set, is the status the answer must have.
	want int
	// breaksDoc: the request breaks the OpenAPI document (a path id that is
	// not an integer, a value outside its schema...), so validating it
	// against the document must fail.
	breaksDoc bool
	// sign, when set, signs the request once its headers are set.
	sign func(*http.Request)
}

// request builds the request of k to the API at base.
func (k call) request(tb testing.TB, base string) *http.Request {
	tb.Helper()
	var body []byte
	switch b := k.body.(type) {
	case nil:
	case string:
		body = []byte(b)
	case []byte:
		body = b
	default:
		var err error
		if body, err = json.Marshal(b); err != nil {
			tb.Fatal(err)
		}
	}
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(tb.Context(), k.method, base+k.path, rd)
	if err != nil {
		tb.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if k.token != "" {
		req.Header.Set("Authorization", "Bearer "+k.token)
	}
	for i := 0; i+1 < len(k.header); i += 2 {
		req.Header.Set(k.header[i], k.header[i+1])
	}
	if k.sign != nil {
		k.sign(req)
	}
	return req
}

// answer is a response of the API to a test.
type answer struct {
	method, path string
	status       int
	header       http.Header
	raw          []byte
	body         map[string]any // raw's JSON object, numbers as json.Number; nil when raw is not one
}

func (a answer) String() string {
	body := string(a.raw)
	if len(body) > 600 {
		body = body[:600] + "..."
	}
	return fmt.Sprintf("%s %s -> %d %s", a.method, a.path, a.status, body)
}

// send makes the request k and reads its answer (see read).
func (e *env) send(tb testing.TB, k call) answer {
	tb.Helper()
	res, err := e.client.Do(k.request(tb, e.url))
	if err != nil {
		tb.Fatalf("%s %s: %v", k.method, k.path, err)
	}
	return k.read(tb, res)
}

// do sends a request as tok; hdr holds header name/value pairs.
func (e *env) do(tb testing.TB, method, path, tok string, body any, hdr ...string) answer {
	tb.Helper()
	return e.send(tb, call{method: method, path: path, token: tok, body: body, header: hdr})
}

// doRaw sends a request on a connection of its own, writing the body while
// reading the answer, so an early answer to a large body (413) is read even
// when the server stops reading and closes. chunked sends the body without
// a Content-Length.
func (e *env) doRaw(tb testing.TB, method, path, tok string, body []byte, chunked bool, hdr ...string) answer {
	tb.Helper()
	k := call{method: method, path: path, token: tok, body: body, header: hdr}
	req := k.request(tb, e.url)
	if chunked {
		req.ContentLength = -1
		req.Body = io.NopCloser(bytes.NewReader(body))
	}
	u, err := url.Parse(e.url)
	if err != nil {
		tb.Fatal(err)
	}
	conn, err := net.Dial("tcp", u.Host)
	if err != nil {
		tb.Fatal(err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(30 * time.Second))
	go func() { _ = req.Write(conn) }()
	res, err := http.ReadResponse(bufio.NewReader(conn), req)
	if err != nil {
		tb.Fatalf("%s %s: %v", method, path, err)
	}
	return k.read(tb, res)
}

// read reads the answer to k. Every answer passes the checks of the SPEC:
// no 5xx (unless k wants it), the section 6 body on every error answer;
// then the status k wants, when it wants one.
func (k call) read(tb testing.TB, res *http.Response) answer {
	tb.Helper()
	defer res.Body.Close()
	raw, err := io.ReadAll(res.Body)
	if err != nil {
		tb.Fatalf("%s %s: read body: %v", k.method, k.path, err)
	}
	a := answer{method: k.method, path: k.path, status: res.StatusCode, header: res.Header, raw: raw}
	if v, err := decodeJSON(raw); err == nil {
		a.body, _ = v.(map[string]any)
	}
	if a.status >= 500 && a.status != k.want {
		tb.Errorf("server error: %s", a)
	}
	if a.status >= 400 {
		checkErrorBody(tb, a)
	}
	if k.want != 0 && a.status != k.want {
		tb.Fatalf("%s: status %d, want %d", a, a.status, k.want)
	}
	return a
}

// checkErrorBody checks the section 6 body of an error answer: code and
// message are non-empty strings, field a string when present.
func checkErrorBody(tb testing.TB, a answer) {
	tb.Helper()
	if a.body == nil {
		tb.Errorf("%s: error body is not a JSON object (SPEC 6, 7.1: every error answer has the section 6 body)", a)
		return
	}
	for _, k := range []string{"code", "message"} {
		if s, ok := a.body[k].(string); !ok || s == "" {
			tb.Errorf("%s: error body needs a non-empty string %q", a, k)
		}
	}
	if f, present := a.body["field"]; present {
		if s, ok := f.(string); !ok || s == "" {
			tb.Errorf("%s: error field must be a non-empty string when present, got %#v", a, f)
		}
	}
}

// obj is the answer's JSON object.
func (a answer) obj(tb testing.TB) map[string]any {
	tb.Helper()
	if a.body == nil {
		tb.Fatalf("%s: body is not a JSON object", a)
	}
	return a.body
}

// wantCode checks only the status code.
func (a answer) wantCode(tb testing.TB, status int) {
	tb.Helper()
	if a.status != status {
		tb.Fatalf("%s: status %d, want %d", a, a.status, status)
	}
}

// want checks the status code and returns the JSON object of the body.
func (a answer) want(tb testing.TB, status int) map[string]any {
	tb.Helper()
	a.wantCode(tb, status)
	return a.obj(tb)
}

// wantErr checks an error answer: status, section 6 body and, when field is
// not empty, the field it names.
func (a answer) wantErr(tb testing.TB, status int, field string) map[string]any {
	tb.Helper()
	m := a.want(tb, status)
	if field != "" && m["field"] != field {
		tb.Errorf("%s: error field %#v, want %q", a, m["field"], field)
	}
	return m
}

// wantConflict checks a 409 and its current_status / requested_status:
// current "" means the key must be absent, likewise requested.
func (a answer) wantConflict(tb testing.TB, current, requested string) map[string]any {
	tb.Helper()
	m := a.wantErr(tb, http.StatusConflict, "")
	for k, want := range map[string]string{"current_status": current, "requested_status": requested} {
		v, present := m[k]
		switch {
		case want == "" && present:
			tb.Errorf("%s: %s present (%#v), want it absent", a, k, v)
		case want != "" && v != want:
			tb.Errorf("%s: %s = %#v, want %q", a, k, v, want)
		}
	}
	return m
}

// decodeJSON decodes raw with numbers kept as json.Number.
func decodeJSON(raw []byte) (any, error) {
	d := json.NewDecoder(bytes.NewReader(raw))
	d.UseNumber()
	var v any
	if err := d.Decode(&v); err != nil {
		return nil, err
	}
	if d.More() {
		return nil, fmt.Errorf("trailing data after the JSON value")
	}
	return v, nil
}

// get walks a dotted path through nested objects.
func get(m map[string]any, path string) (any, bool) {
	var cur any = m
	for _, k := range strings.Split(path, ".") {
		o, ok := cur.(map[string]any)
		if !ok {
			return nil, false
		}
		cur, ok = o[k]
		if !ok {
			return nil, false
		}
	}
	return cur, true
}

// str returns the string at path, failing when it is absent or not a string.
func str(tb testing.TB, m map[string]any, path string) string {
	tb.Helper()
	v, ok := get(m, path)
	s, isStr := v.(string)
	if !ok || !isStr {
		tb.Fatalf("%s: want a string, got %#v (in %v)", path, v, m)
	}
	return s
}

// integer returns the JSON integer at path, failing when it is absent or
// not an integer number.
func integer(tb testing.TB, m map[string]any, path string) int64 {
	tb.Helper()
	v, ok := get(m, path)
	n, isNum := v.(json.Number)
	if !ok || !isNum {
		tb.Fatalf("%s: want an integer, got %#v (in %v)", path, v, m)
	}
	i, err := strconv.ParseInt(n.String(), 10, 64)
	if err != nil {
		tb.Fatalf("%s: want an integer, got %s", path, n)
	}
	return i
}

// object returns the JSON object at path, failing when it is absent or not
// an object.
func object(tb testing.TB, m map[string]any, path string) map[string]any {
	tb.Helper()
	v, ok := get(m, path)
	o, isObj := v.(map[string]any)
	if !ok || !isObj {
		tb.Fatalf("%s: want an object, got %#v (in %v)", path, v, m)
	}
	return o
}

// absent fails when path is present.
func absent(tb testing.TB, m map[string]any, path string) {
	tb.Helper()
	if v, ok := get(m, path); ok {
		tb.Errorf("%s: want it absent, got %#v", path, v)
	}
}

func isInteger(v any) bool {
	n, ok := v.(json.Number)
	if !ok {
		return false
	}
	_, err := strconv.ParseInt(n.String(), 10, 64)
	return err == nil
}

// q is a query string of name/value pairs.
func q(kv ...string) string {
	v := url.Values{}
	for i := 0; i+1 < len(kv); i += 2 {
		v.Set(kv[i], kv[i+1])
	}
	return "?" + v.Encode()
}
