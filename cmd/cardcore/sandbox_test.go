package main

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cardcore/cardcore/adapters/httpapi"
	"github.com/google/uuid"
)

// startServe runs "cardcore serve" with args and env until t ends, and
// returns its base URL and its log.
func startServe(t *testing.T, bin string, env []string, args ...string) (string, *syncBuffer) {
	t.Helper()
	addr := freeAddr(t)
	var stderr syncBuffer
	srv := exec.Command(bin, append([]string{"serve", "--addr", addr}, args...)...)
	srv.Env, srv.Stderr = env, &stderr
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	// waitHealthy may take the process's exit from exited: the cleanup
	// waits on done, so that a serve that exits early fails the test at
	// once instead of blocking it until the test binary's timeout.
	exited := make(chan error, 1)
	done := make(chan struct{})
	go func() { err := srv.Wait(); close(done); exited <- err }()
	t.Cleanup(func() {
		_ = srv.Process.Kill()
		<-done
	})
	base := "http://" + addr
	waitHealthy(t, base, exited, &stderr)
	return base, &stderr
}

// signedCall sends a sandbox request signed with key and checks its
// status, decoding a JSON answer into v unless v is nil.
func signedCall(t *testing.T, token, keyID string, key ed25519.PrivateKey, method, url, body string, code int, v any) {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequestWithContext(t.Context(), method, url, rd)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if method != http.MethodGet {
		req.Header.Set("Idempotency-Key", uuid.NewString())
	}
	if key != nil {
		if err := httpapi.SignRequest(req, keyID, key); err != nil {
			t.Fatal(err)
		}
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != code {
		t.Fatalf("%s %s: %d, want %d; body %s", method, url, resp.StatusCode, code, b)
	}
	if v != nil {
		if err := json.Unmarshal(b, v); err != nil {
			t.Fatalf("%s %s: %v; body %s", method, url, err, b)
		}
	}
}

// TestServeSandbox runs the quick start of the README's "Sandbox issuance
// and signed requests" with the binary: generate a key, serve with
// --client-keys and CARDCORE_PAN_KEY, and sign the sandbox requests with
// the generated private key; then sync a card with curl's request.
func TestServeSandbox(t *testing.T) {
	bin := buildCommand(t)
	dir := t.TempDir()
	secret, pans := newSecret(t), newSecret(t)
	env := append(os.Environ(), secretEnv+"="+secret, panKeyEnv+"="+pans)

	out, err := exec.CommandContext(t.Context(), bin, "keys", "generate", "--out", filepath.Join(dir, "keys"), "--keyid", "acme-backend").Output()
	if err != nil || string(out) != "acme-backend\n" {
		t.Fatalf("keys generate: %q, %v", out, err)
	}
	key := readPrivateKey(t, filepath.Join(dir, "keys", "acme-backend.pem"))
	base, stderr := startServe(t, bin, env, "--db", filepath.Join(dir, "serve.db"),
		"--client-keys", filepath.Join(dir, "keys", "acme-backend.client-keys.json"))

	server := mintToken(t, bin, env, "--server")

	var c struct {
		ID, AccountID, Type, Status, Brand, Last4 string
	}
	account := uuid.NewString()
	signedCall(t, server, "acme-backend", key, http.MethodPost, base+"/accounts/"+account+"/cards", `{"type":"VIRTUAL"}`, http.StatusCreated, &c)
	if c.Status != "PENDING" || c.AccountID != account || c.Type != "VIRTUAL" || c.Last4 != "" {
		t.Errorf("created %+v, want a PENDING VIRTUAL card of account %s without PCI data", c, account)
	}
	signedCall(t, server, "acme-backend", key, http.MethodPatch, base+"/simulator/cards/"+c.ID+"/issue", "", http.StatusAccepted, nil)
	signedCall(t, server, "acme-backend", key, http.MethodGet, base+"/cards/"+c.ID, "", http.StatusOK, &c)
	if c.Status != "NORMAL" || len(c.Last4) != 4 || c.Brand == "" {
		t.Errorf("issued %+v, want NORMAL with a brand and last four digits", c)
	}
	signedCall(t, server, "", nil, http.MethodGet, base+"/cards/"+c.ID, "", http.StatusUnauthorized, nil)
	_, stranger, _ := ed25519.GenerateKey(nil)
	signedCall(t, server, "acme-backend", stranger, http.MethodGet, base+"/cards/"+c.ID, "", http.StatusUnauthorized, nil)

	var synced struct{ RequestID string }
	call(t, server, http.MethodPut, base+"/v2/data/customers/cust-1/accounts/acct-1/cards", nil,
		`{"cards":[{"sourceAccountId":"acct-1","sourceCustomerId":"cust-1","last4":"2345","iin":"123456","cardType":"CREDIT",`+
			`"status":"OPEN","networkIdentifier":3,"openDate":"2017-01-01T08:00:00Z","closeDate":null}]}`, http.StatusOK, &synced)
	if _, err := uuid.Parse(synced.RequestID); err != nil {
		t.Errorf("sync requestId %q", synced.RequestID)
	}

	log := stderr.String()
	if !strings.Contains(log, "sandbox=true") || !strings.Contains(log, "client_keys=[acme-backend]") {
		t.Errorf("the log does not say the sandbox is on:\n%s", log)
	}
	for name, s := range map[string]string{"the PAN key": pans, "the secret": secret, "the token": server} {
		if strings.Contains(log, s) {
			t.Errorf("%s reached the log:\n%s", name, log)
		}
	}
}

// TestServeSandboxOff: without the PAN key and the client keys the sandbox
// routes are off, and the log says so; card data sync is still served.
func TestServeSandboxOff(t *testing.T) {
	bin := buildCommand(t)
	dir := t.TempDir()
	secret := newSecret(t)
	env := append(os.Environ(), secretEnv+"="+secret, panKeyEnv+"=")
	base, stderr := startServe(t, bin, env, "--db", filepath.Join(dir, "serve.db"))
	server := mintToken(t, bin, env, "--server")
	call(t, server, http.MethodGet, base+"/cards/"+uuid.NewString(), nil, "", http.StatusNotFound, nil)
	call(t, server, http.MethodPut, base+"/v2/data/customers/c/accounts/a/cards", nil, `{"cards":[]}`, http.StatusBadRequest, nil)
	if log := stderr.String(); !strings.Contains(log, "the sandbox routes are off") || !strings.Contains(log, "sandbox=false") {
		t.Errorf("the log does not say the sandbox is off:\n%s", log)
	}
}

// TestServeRefusesHalfSandbox: the client keys without the PAN key, or the
// PAN key (flag or variable) without the client keys, would serve 404 on
// every sandbox route: serve refuses to start, with a usage error naming
// what is missing, before it creates the database.
func TestServeRefusesHalfSandbox(t *testing.T) {
	dir := t.TempDir()
	secret, pans := newSecret(t), newSecret(t)
	keys := writeKeys(t, dir)
	for _, tt := range []struct {
		name    string
		env     string // CARDCORE_PAN_KEY
		args    []string
		missing []string // what the error must name
	}{
		{"client keys without the PAN key", "", []string{"--client-keys", keys}, []string{"--pan-key", panKeyEnv}},
		{"--pan-key without client keys", "", []string{"--pan-key", pans}, []string{"--client-keys"}},
		{panKeyEnv + " without client keys", pans, nil, []string{"--client-keys"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv(panKeyEnv, tt.env)
			db := filepath.Join(t.TempDir(), "serve.db")
			args := append([]string{"serve", "--db", db, "--jwt-secret", secret, "--addr", "127.0.0.1:0"}, tt.args...)
			// A serve that starts instead runs until this context ends.
			ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
			defer cancel()
			var stdout, stderr bytes.Buffer
			code := run(ctx, args, &stdout, &stderr)
			out, errOut := stdout.String(), stderr.String()
			if code != exitUsage || out != "" {
				t.Errorf("exit %d, stdout %q; want %d and nothing; stderr:\n%s", code, out, exitUsage, errOut)
			}
			for _, m := range tt.missing {
				if !strings.Contains(errOut, m) {
					t.Errorf("stderr does not name %s:\n%s", m, errOut)
				}
			}
			if strings.Contains(errOut, pans) {
				t.Errorf("the PAN key reached stderr:\n%s", errOut)
			}
			if _, err := os.Stat(db); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("serve made the database before refusing (stat: %v)", err)
			}
		})
	}
}
