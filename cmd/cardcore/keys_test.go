package main

import (
	"crypto/ed25519"
	"crypto/x509"
	"encoding/pem"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// readPrivateKey reads a PKCS #8 PEM ed25519 private key file.
func readPrivateKey(t *testing.T, path string) ed25519.PrivateKey {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	block, _ := pem.Decode(b)
	if block == nil || block.Type != "PRIVATE KEY" {
		t.Fatalf("%s is not a PEM private key:\n%s", path, b)
	}
	k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	priv, ok := k.(ed25519.PrivateKey)
	if !ok {
		t.Fatalf("%s holds a %T, want an ed25519 key", path, k)
	}
	return priv
}

func TestKeysGenerate(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "keys")
	code, out, errOut := runCmd(t, "keys", "generate", "--out", dir, "--keyid", "client-1")
	if code != exitOK || out != "client-1\n" {
		t.Fatalf("keys generate: exit %d, stdout %q, want 0 and the key id; stderr:\n%s", code, out, errOut)
	}
	privPath := filepath.Join(dir, "client-1.pem")
	if fi, err := os.Stat(privPath); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("private key file: %v, mode %v, want 0600", err, fi.Mode().Perm())
	}
	if fi, err := os.Stat(dir); err != nil || fi.Mode().Perm() != 0o700 {
		t.Errorf("key directory: %v, mode %v, want 0700", err, fi.Mode().Perm())
	}
	priv := readPrivateKey(t, privPath)
	keys, err := loadClientKeys(filepath.Join(dir, "client-1.client-keys.json"))
	if err != nil {
		t.Fatal(err)
	}
	if len(keys) != 1 || !keys["client-1"].Equal(priv.Public()) {
		t.Errorf("the client-keys file holds %v, want client-1's public key", keys)
	}
	if strings.Contains(errOut, "PRIVATE KEY") {
		t.Errorf("the private key reached the log:\n%s", errOut)
	}

	before, _ := os.ReadFile(privPath)
	code, _, errOut = runCmd(t, "keys", "generate", "--out", dir, "--keyid", "client-1")
	if code != exitError || !strings.Contains(errOut, "never overwrites") {
		t.Errorf("keys generate over an existing key: exit %d; stderr:\n%s", code, errOut)
	}
	if after, _ := os.ReadFile(privPath); string(after) != string(before) {
		t.Error("keys generate overwrote an existing private key")
	}

	code, out, errOut = runCmd(t, "keys", "generate", "--out", dir)
	id := strings.TrimSpace(out)
	if code != exitOK || !regexp.MustCompile(`^client-[0-9a-f]{8}$`).MatchString(id) {
		t.Fatalf("keys generate without --keyid: exit %d, stdout %q; stderr:\n%s", code, out, errOut)
	}
	if _, err := os.Stat(filepath.Join(dir, id+".pem")); err != nil {
		t.Error(err)
	}
}

func TestKeysGenerateRefused(t *testing.T) {
	dir := t.TempDir()
	for _, tt := range []struct {
		name   string
		args   []string
		stderr string
	}{
		{"a slash in the key id", []string{"keys", "generate", "--out", dir, "--keyid", "a/b"}, "--keyid"},
		{"a long key id", []string{"keys", "generate", "--out", dir, "--keyid", strings.Repeat("k", 65)}, "--keyid"},
		{"no verb", []string{"keys"}, "cardcore keys: which command?"},
		{"an argument", []string{"keys", "generate", "now"}, `unexpected argument "now"`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			code, out, errOut := runCmd(t, tt.args...)
			if code != exitUsage || out != "" || !strings.Contains(errOut, tt.stderr) {
				t.Errorf("exit %d, stdout %q, want %d and nothing; stderr lacks %q:\n%s", code, out, exitUsage, tt.stderr, errOut)
			}
		})
	}
}

func TestLoadClientKeysRefused(t *testing.T) {
	dir := t.TempDir()
	for _, tt := range []struct{ name, content, err string }{
		{"not an object", `["JrQLj5P/89iXES9+vFgrIy29clF9CC/oPPsw3c5D0bs="]`, "want a JSON object"},
		{"empty", `{}`, "no keys"},
		{"not base64", `{"c": "not base64!"}`, `key "c" is not the base64`},
		{"a short key", `{"c": "JrQLj5P/89iXES9+vFgrIy29clF9CC/o"}`, `key "c" is not the base64 of a 32-byte`},
		{"an empty key id", `{"": "JrQLj5P/89iXES9+vFgrIy29clF9CC/oPPsw3c5D0bs="}`, "key id"},
		{"data after", `{"c": "JrQLj5P/89iXES9+vFgrIy29clF9CC/oPPsw3c5D0bs="} {}`, "data after"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(dir, strings.ReplaceAll(tt.name, " ", "-")+".json")
			if err := os.WriteFile(path, []byte(tt.content), 0o600); err != nil {
				t.Fatal(err)
			}
			if _, err := loadClientKeys(path); err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Errorf("loadClientKeys: %v, want an error with %q", err, tt.err)
			}
		})
	}
	keys, err := loadClientKeys(writeKeys(t, dir))
	if err != nil || len(keys) != 1 {
		t.Errorf("the RFC 9421 test key: %v, %v", keys, err)
	}
}

// writeKeys writes a --client-keys file with the RFC 9421 ed25519 test key.
func writeKeys(t *testing.T, dir string) string {
	t.Helper()
	path := filepath.Join(dir, "client-keys.json")
	if err := os.WriteFile(path, []byte(`{"test-key-ed25519": "JrQLj5P/89iXES9+vFgrIy29clF9CC/oPPsw3c5D0bs="}`), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestServeRefusesSandboxFlags: a bad --client-keys file, PAN key or
// public origin stops serve at start.
func TestServeRefusesSandboxFlags(t *testing.T) {
	t.Setenv(panKeyEnv, "")
	dir := t.TempDir()
	db := filepath.Join(dir, "serve.db")
	secret, pans := newSecret(t), newSecret(t)
	bad := filepath.Join(dir, "bad.json")
	if err := os.WriteFile(bad, []byte(`{"c": "short"}`), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name   string
		args   []string
		code   int
		stderr string
	}{
		{"missing client keys", []string{"--client-keys", filepath.Join(dir, "none.json"), "--pan-key", pans}, exitError, "none.json"},
		{"bad client keys", []string{"--client-keys", bad, "--pan-key", pans}, exitError, `is not the base64 of a 32-byte ed25519 public key`},
		{"short PAN key", []string{"--client-keys", writeKeys(t, dir), "--pan-key", "hunter2"}, exitUsage, "want at least 32"},
		{"bad public origin", []string{"--client-keys", writeKeys(t, dir), "--pan-key", pans, "--public-origin", "api.example.com"}, exitError, "PublicOrigin"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			args := append([]string{"serve", "--db", db, "--jwt-secret", secret, "--addr", "127.0.0.1:0"}, tt.args...)
			code, out, errOut := runCmd(t, args...)
			if code != tt.code || out != "" || !strings.Contains(errOut, tt.stderr) {
				t.Errorf("exit %d, stdout %q, want %d; stderr lacks %q:\n%s", code, out, tt.code, tt.stderr, errOut)
			}
			if strings.Contains(errOut, "hunter2") || strings.Contains(errOut, pans) {
				t.Errorf("the PAN key reached stderr:\n%s", errOut)
			}
		})
	}
}
