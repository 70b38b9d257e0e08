package main

import (
	"bufio"
	"bytes"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// newSecret returns a fresh token secret of 64 bytes.
func newSecret(t *testing.T) string {
	t.Helper()
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b)
}

// decodeToken checks that tok is a JWT signed with HS256 by secret and
// returns its claims.
func decodeToken(t *testing.T, tok, secret string) map[string]any {
	t.Helper()
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		t.Fatalf("token %q has %d segments, want 3", tok, len(parts))
	}
	var header struct{ Alg, Typ string }
	segment(t, parts[0], &header)
	if header.Alg != "HS256" {
		t.Errorf("token alg %q, want HS256", header.Alg)
	}
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte(parts[0] + "." + parts[1]))
	if got, want := parts[2], base64.RawURLEncoding.EncodeToString(mac.Sum(nil)); got != want {
		t.Errorf("token signature %s, want HMAC-SHA256 with the secret %s", got, want)
	}
	var claims map[string]any
	segment(t, parts[1], &claims)
	return claims
}

// segment decodes one base64url JSON segment of a JWT into v.
func segment(t *testing.T, s string, v any) {
	t.Helper()
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		t.Fatalf("token segment %q: %v", s, err)
	}
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatalf("token segment %s: %v", b, err)
	}
}

func TestToken(t *testing.T) {
	secret, flagSecret := newSecret(t), newSecret(t)
	t.Setenv(secretEnv, secret)
	tests := []struct {
		name    string
		args    []string
		secret  string // the secret the token must be signed with
		ttl     time.Duration
		account string // the account_id claim; empty: none, and a role instead
	}{
		{"account", []string{"--org", "acme", "--account-id", "1001"}, secret, time.Hour, "1001"},
		{"server", []string{"--org", "acme", "--server", "--ttl", "15m"}, secret, 15 * time.Minute, ""},
		{"secret flag wins", []string{"--org", "acme", "--server", "--jwt-secret", flagSecret}, flagSecret, time.Hour, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := time.Now()
			code, out, errOut := runCmd(t, append([]string{"token"}, tt.args...)...)
			if code != exitOK {
				t.Fatalf("token exited %d; stderr:\n%s", code, errOut)
			}
			if errOut != "" {
				t.Errorf("token wrote to stderr:\n%s", errOut)
			}
			if !strings.HasSuffix(out, "\n") || strings.Count(out, "\n") != 1 {
				t.Errorf("token output %q is not one line", out)
			}
			claims := decodeToken(t, strings.TrimSpace(out), tt.secret)
			if claims["org_id"] != "acme" {
				t.Errorf("org_id %v, want acme; claims %v", claims["org_id"], claims)
			}
			exp, ok := claims["exp"].(float64)
			want := before.Add(tt.ttl).Unix()
			if !ok || int64(exp) < want || int64(exp) > want+2 {
				t.Errorf("exp %v, want %d (now + %s)", claims["exp"], want, tt.ttl)
			}
			account, hasAccount := claims["account_id"]
			role, _ := claims["role"].(string)
			if tt.account != "" {
				if account != tt.account || claims["role"] != nil {
					t.Errorf("account token claims %v, want account_id %s and no role", claims, tt.account)
				}
			} else if hasAccount || role == "" {
				t.Errorf("server token claims %v, want a role and no account_id", claims)
			}
		})
	}
}

func TestTokenRefused(t *testing.T) {
	t.Setenv(secretEnv, "")
	secret := newSecret(t)
	tests := []struct {
		name   string
		args   []string
		stderr string
	}{
		{"no secret", []string{"--org", "acme", "--server"}, "CARDCORE_JWT_SECRET"},
		{"short secret", []string{"--org", "acme", "--server", "--jwt-secret", "hunter2"}, "want at least 32"},
		{"no org", []string{"--server", "--jwt-secret", secret}, "--org is required"},
		{"neither", []string{"--org", "acme", "--jwt-secret", secret}, "exactly one of --account-id ID and --server"},
		{"both", []string{"--org", "acme", "--server", "--account-id", "1", "--jwt-secret", secret}, "exactly one"},
		{"bad ttl", []string{"--org", "acme", "--server", "--ttl", "-1m", "--jwt-secret", secret}, "--ttl must be positive"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, out, errOut := runCmd(t, append([]string{"token"}, tt.args...)...)
			if code != exitUsage {
				t.Errorf("exit code %d, want %d", code, exitUsage)
			}
			wantRefused(t, out, errOut, tt.stderr, secret)
		})
	}
}

// wantRefused checks what a refused command wrote: nothing on stdout, the
// reason on stderr, and neither the secret nor the short one the cases
// try (hunter2).
func wantRefused(t *testing.T, out, errOut, reason, secret string) {
	t.Helper()
	if out != "" {
		t.Errorf("stdout %q, want nothing", out)
	}
	if !strings.Contains(errOut, reason) {
		t.Errorf("stderr lacks %q:\n%s", reason, errOut)
	}
	if strings.Contains(errOut, "hunter2") || strings.Contains(errOut, secret) {
		t.Errorf("the secret reached stderr:\n%s", errOut)
	}
}

func TestServeRefused(t *testing.T) {
	t.Setenv(secretEnv, "")
	dir := t.TempDir()
	db := filepath.Join(dir, "serve.db")
	secret := newSecret(t)
	writeFile := func(name, content string) string {
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return path
	}
	tests := []struct {
		name   string
		args   []string
		code   int
		stderr string
	}{
		{"no secret", []string{"--db", db}, exitUsage, "the token secret is required"},
		{"short secret", []string{"--db", db, "--jwt-secret", "hunter2"}, exitUsage, "want at least 32"},
		{"negative sweep", []string{"--db", db, "--jwt-secret", secret, "--sweep-every", "-1s"}, exitUsage, "--sweep-every"},
		{"missing programs", []string{"--db", db, "--jwt-secret", secret, "--programs", filepath.Join(dir, "none.json")}, exitError, "none.json"},
		{"programs not a list", []string{"--db", db, "--jwt-secret", secret, "--programs", writeFile("obj.json", `{"id":2}`)}, exitError, "want a JSON list of programs"},
		{"program field unknown", []string{"--db", db, "--jwt-secret", secret, "--programs", writeFile("field.json", `[{"id":2,"bn":"12345678","brand":"VISA"}]`)}, exitError, `unknown field \"bn\"`},
		{"program brand", []string{"--db", db, "--jwt-secret", secret, "--programs", writeFile("brand.json", `[{"id":2,"bin":"12345678","brand":"VISTA"}]`)}, exitError, "invalid brand"},
		{"program bin", []string{"--db", db, "--jwt-secret", secret, "--programs", writeFile("bin.json", `[{"id":2,"bin":"1234","brand":"VISA"}]`)}, exitError, "invalid bin"},
		{"program twice", []string{"--db", db, "--jwt-secret", secret, "--programs", writeFile("twice.json", `[{"id":2,"bin":"12345678","brand":"VISA"},{"id":2,"bin":"123456","brand":"ELO"}]`)}, exitError, "program 2 is listed twice"},
		{"bad address", []string{"--db", db, "--jwt-secret", secret, "--addr", "256.0.0.1:80"}, exitError, "256.0.0.1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, out, errOut := runCmd(t, append([]string{"serve"}, tt.args...)...)
			if code != tt.code {
				t.Errorf("exit code %d, want %d; stderr:\n%s", code, tt.code, errOut)
			}
			wantRefused(t, out, errOut, tt.stderr, secret)
		})
	}
}

func TestLoadPrograms(t *testing.T) {
	path := filepath.Join(t.TempDir(), "programs.json")
	content := `[{"id":2,"bin":"12345678","brand":"VISA","expiration_months":36,"plastic_starts_normal":true,"bulk_size_limit":50,
		 "max_pin_tries":5,"pin_tries_keep_status":true},
		{"id":3,"bin":"654321","brand":"ELO"}]`
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	ps, err := loadPrograms(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(ps) != 3 {
		t.Fatalf("got programs %v, want 1, 2 and 3", ps)
	}
	p := ps[2]
	if p.BIN != "12345678" || p.Brand.String() != "VISA" || p.Months() != 36 || !p.PlasticStartsNormal || p.BulkLimit() != 50 ||
		p.PINTriesLimit() != 5 || p.BlocksOnPINTries() {
		t.Errorf("program 2 is %+v", p)
	}
	if p := ps[3]; p.Months() != 72 || p.BulkLimit() != 1000 || p.PlasticStartsNormal || p.PINTriesLimit() != 3 || !p.BlocksOnPINTries() {
		t.Errorf("program 3 is %+v, want the defaults", p)
	}
	if p := ps[1]; p.BIN != "999999" {
		t.Errorf("program 1 is %+v, want the default program", p)
	}
}

// buildCommand builds the command into a temporary directory and returns
// the binary's path. It skips t with -short.
func buildCommand(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("builds the binary; skipped with -short")
	}
	bin := filepath.Join(t.TempDir(), "cardcore")
	build := exec.CommandContext(t.Context(), "go", "build", "-o", bin, ".")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

func TestServe(t *testing.T) {
	bin := buildCommand(t)
	testServe(t, bin, filepath.Join(t.TempDir(), "serve.db"))
}

func TestServePostgres(t *testing.T) {
	db := postgresURL(t)
	testServe(t, buildCommand(t), db)
}

// syncBuffer is a bytes.Buffer a process writes while the test reads it.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// testServe runs "cardcore serve" on db as a user would: it starts the
// server, mints tokens with "cardcore token", creates and blocks a card,
// reads the event feed, and stops the server with SIGTERM while a request
// is in flight.
func testServe(t *testing.T, bin, db string) {
	secret := newSecret(t)
	addr := freeAddr(t)
	env := append(os.Environ(), secretEnv+"="+secret)

	var stderr syncBuffer
	srv := exec.Command(bin, "serve", "--addr", addr, "--db", db)
	srv.Env = env
	srv.Stderr = &stderr
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- srv.Wait() }()
	t.Cleanup(func() {
		if srv.ProcessState == nil {
			_ = srv.Process.Kill()
			<-exited
		}
	})
	base := "http://" + addr
	waitHealthy(t, base, exited, &stderr)

	server, account := mintToken(t, bin, env, "--server"), mintToken(t, bin, env, "--account-id", "1001")

	var created struct {
		ID       int64  `json:"id"`
		Status   string `json:"status"`
		Type     string `json:"type"`
		Name     string `json:"name"`
		Account  struct{ ID string }
		Customer struct{ ID string }
	}
	call(t, account, http.MethodPost, base+"/wallet/v2/cards",
		map[string]string{"x-account-id": "1001", "x-customer-id": "2001", "x-idempotency-key": "quick-start-1"},
		`{"type":"VIRTUAL","name":"online","cvv_rotation_interval_hours":24}`, http.StatusCreated, &created)
	if created.ID == 0 || created.Status != "NORMAL" || created.Type != "VIRTUAL" || created.Name != "online" ||
		created.Account.ID != "1001" || created.Customer.ID != "2001" {
		t.Errorf("created card %+v, want a NORMAL VIRTUAL card named online of account 1001, customer 2001", created)
	}

	var blocked struct {
		ID             int64  `json:"id"`
		Status         string `json:"status"`
		PreviousStatus string `json:"previous_status"`
	}
	cardPath := fmt.Sprintf("%s/wallet/v1/customers/2001/accounts/1001/cards/%d", base, created.ID)
	call(t, account, http.MethodPut, cardPath+"/status", nil, `{"status":"BLOCKED"}`, http.StatusOK, &blocked)
	if blocked.ID != created.ID || blocked.Status != "BLOCKED" || blocked.PreviousStatus != "NORMAL" {
		t.Errorf("blocked card %+v, want card %d BLOCKED, previously NORMAL", blocked, created.ID)
	}

	var feed struct {
		Events []struct {
			Seq   int64  `json:"seq"`
			Type  string `json:"event_type"`
			OrgID string `json:"org_id"`
			Data  struct {
				CardID     int64  `json:"card_id"`
				CardStatus string `json:"card_status"`
			} `json:"data"`
		} `json:"events"`
		NextAfter int64 `json:"next_after"`
	}
	call(t, server, http.MethodGet, base+"/events?after=0", nil, "", http.StatusOK, &feed)
	var got []string
	for _, e := range feed.Events {
		if e.OrgID != "acme" || e.Data.CardID != created.ID {
			t.Errorf("event %+v is not about card %d of org acme", e, created.ID)
		}
		got = append(got, e.Type+" "+e.Data.CardStatus)
	}
	if want := []string{"create-1 NORMAL", "update-1 BLOCKED"}; strings.Join(got, ", ") != strings.Join(want, ", ") {
		t.Errorf("event feed %v, want %v", got, want)
	}
	if n := len(feed.Events); n > 0 && feed.NextAfter != feed.Events[n-1].Seq {
		t.Errorf("next_after %d, want the last seq %d", feed.NextAfter, feed.Events[n-1].Seq)
	}
	call(t, account, http.MethodGet, base+"/events", nil, "", http.StatusForbidden, nil)

	// SIGTERM while a request is half sent: the server waits for it.
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	body := `{"status":"NORMAL"}`
	fmt.Fprintf(conn, "PUT %s/status HTTP/1.1\r\nHost: %s\r\nAuthorization: Bearer %s\r\n"+
		"Content-Type: application/json\r\nContent-Length: %d\r\nConnection: close\r\n\r\n%s",
		strings.TrimPrefix(cardPath, base), addr, account, len(body), body[:5])
	time.Sleep(100 * time.Millisecond)
	if err := srv.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-exited:
		t.Fatalf("serve exited with a request in flight: %v; stderr:\n%s", err, stderr.String())
	case <-time.After(300 * time.Millisecond):
	}
	if _, err := io.WriteString(conn, body[5:]); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("the request in flight at SIGTERM got no answer: %v", err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(b), `"status":"NORMAL"`) {
		t.Errorf("the request in flight at SIGTERM: %d %s, want 200 and the NORMAL card", resp.StatusCode, b)
	}

	select {
	case err := <-exited:
		if err != nil {
			t.Errorf("serve after SIGTERM: %v, want exit 0; stderr:\n%s", err, stderr.String())
		}
	case <-time.After(drainTimeout + 5*time.Second):
		t.Fatalf("serve still runs after SIGTERM; stderr:\n%s", stderr.String())
	}
	log := stderr.String()
	for _, want := range []string{`msg=serving addr=` + addr, "db=", `msg=stopped`} {
		if !strings.Contains(log, want) {
			t.Errorf("the server's log lacks %q:\n%s", want, log)
		}
	}
	for name, s := range map[string]string{"the secret": secret, "the server token": server, "the account token": account} {
		if strings.Contains(log, s) {
			t.Errorf("%s reached the server's log:\n%s", name, log)
		}
	}
}

// mintToken runs "cardcore token --org acme" with args and env, and
// returns the token.
func mintToken(t *testing.T, bin string, env []string, args ...string) string {
	t.Helper()
	cmd := exec.CommandContext(t.Context(), bin, append([]string{"token", "--org", "acme"}, args...)...)
	cmd.Env = env
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("cardcore token %v: %v", args, err)
	}
	return strings.TrimSpace(string(out))
}

// freeAddr returns a loopback address with a port nothing listens on.
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// waitHealthy polls GET /healthz until it answers 200, failing t if the
// server exits or takes more than 30 s.
func waitHealthy(t *testing.T, base string, exited <-chan error, stderr fmt.Stringer) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := http.Get(base + "/healthz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		select {
		case err := <-exited:
			t.Fatalf("serve exited before it was healthy: %v; stderr:\n%s", err, stderr)
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("serve not healthy after 30 s (last: %v); stderr:\n%s", err, stderr)
		}
	}
}

// call sends one request with the bearer token and checks its status code,
// decoding the answer into v unless v is nil.
func call(t *testing.T, token, method, url string, headers map[string]string, body string, code int, v any) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != code {
		t.Fatalf("%s %s: %d, want %d; body %s", method, url, resp.StatusCode, code, b)
	}
	if v != nil {
		if err := json.Unmarshal(b, v); err != nil {
			t.Fatalf("%s %s: %v; body %s", method, url, err, b)
		}
	}
}
