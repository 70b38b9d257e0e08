package main

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"

	"github.com/cardcore/cardcore/adapters/httpapi"
	"github.com/cardcore/cardcore/issuance"
)

// panKeyEnv names the variable that holds the HMAC key of the built-in PAN
// provisioner, the way to pass it that keeps it out of the process list.
const panKeyEnv = "CARDCORE_PAN_KEY"

// panKeyFlag registers --pan-key on fs. Its default is empty rather than
// the variable's value, so that --help never prints the key.
func panKeyFlag(fs *flag.FlagSet) *string {
	return fs.String("pan-key", "", fmt.Sprintf("the HMAC key (at least %d bytes) under which issued PANs are hashed; the sandbox routes are served only with it and --client-keys (default: $%s, which keeps it out of the process list)",
		issuance.MinHMACKeyBytes, panKeyEnv))
}

// panKey returns the key given by --pan-key, else by CARDCORE_PAN_KEY; nil
// when neither is set. Its errors never quote the key.
func panKey(flagValue string) ([]byte, error) {
	s := flagOrEnv(flagValue, panKeyEnv)
	switch {
	case s == "":
		return nil, nil
	case len(s) < issuance.MinHMACKeyBytes:
		return nil, usageErrorf("the PAN key is %d bytes, want at least %d (e.g. openssl rand -hex 32)", len(s), issuance.MinHMACKeyBytes)
	}
	return []byte(s), nil
}

// loadClientKeys reads a --client-keys file: a JSON object of key id to
// the standard base64 of a raw 32-byte ed25519 public key, e.g.
// {"client-1": "JrQLj5P/89iXES9+vFgrIy29clF9CC/oPPsw3c5D0bs="}.
func loadClientKeys(path string) (map[string]ed25519.PublicKey, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("--client-keys: %w", err)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	var entries map[string]string
	if err := dec.Decode(&entries); err != nil {
		return nil, fmt.Errorf("--client-keys %s: want a JSON object of key id to base64 ed25519 public key: %w", path, err)
	}
	if dec.More() {
		return nil, fmt.Errorf("--client-keys %s: data after the JSON object", path)
	}
	if len(entries) == 0 {
		return nil, fmt.Errorf("--client-keys %s: no keys", path)
	}
	keys := make(map[string]ed25519.PublicKey, len(entries))
	for id, b64 := range entries {
		if err := httpapi.ValidateKeyID(id); err != nil {
			return nil, fmt.Errorf("--client-keys %s: %w", path, err)
		}
		raw, err := base64.StdEncoding.DecodeString(b64)
		if err != nil || len(raw) != ed25519.PublicKeySize {
			return nil, fmt.Errorf("--client-keys %s: key %q is not the base64 of a %d-byte ed25519 public key", path, id, ed25519.PublicKeySize)
		}
		keys[id] = ed25519.PublicKey(raw)
	}
	return keys, nil
}

// fileKeyID is a key id that "keys generate" can also use in file names.
var fileKeyID = regexp.MustCompile(`^[A-Za-z0-9._-]{1,64}$`)

// setupKeysGenerate is "cardcore keys generate": a new ed25519 key pair for
// a client of the sandbox routes. The private key goes to DIR/ID.pem
// (PKCS #8, mode 0600), the public key to DIR/ID.client-keys.json, a
// --client-keys file of this key alone; the key id is printed.
func setupKeysGenerate(fs *flag.FlagSet) runFunc {
	out := fs.String("out", ".", "the directory to write the key files to (made, mode 0700, if missing)")
	keyID := fs.String("keyid", "", `the key id the client's signatures name: 1-64 letters, digits, ".", "_" or "-" (default: "client-" and 8 random hex digits)`)
	return func(_ context.Context, stdout io.Writer, log *slog.Logger) error {
		id := *keyID
		if id == "" {
			b := make([]byte, 4)
			if _, err := rand.Read(b); err != nil {
				return err
			}
			id = "client-" + hex.EncodeToString(b)
		}
		if !fileKeyID.MatchString(id) || id == "." || id == ".." {
			return usageErrorf(`--keyid %q: use 1-64 letters, digits, ".", "_" or "-"`, id)
		}
		if *out == "" {
			return usageErrorf("--out is empty")
		}
		pub, priv, err := ed25519.GenerateKey(nil)
		if err != nil {
			return err
		}
		der, err := x509.MarshalPKCS8PrivateKey(priv)
		if err != nil {
			return err
		}
		snippet, err := json.MarshalIndent(map[string]string{id: base64.StdEncoding.EncodeToString(pub)}, "", "  ")
		if err != nil {
			return err
		}
		if err := os.MkdirAll(*out, 0o700); err != nil {
			return err
		}
		privPath := filepath.Join(*out, id+".pem")
		pubPath := filepath.Join(*out, id+".client-keys.json")
		for _, p := range []string{privPath, pubPath} {
			if _, err := os.Stat(p); err == nil {
				return fmt.Errorf("%s exists: keys generate never overwrites a key", p)
			} else if !errors.Is(err, os.ErrNotExist) {
				return err
			}
		}
		if err := writeNew(privPath, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), 0o600); err != nil {
			return err
		}
		if err := writeNew(pubPath, append(snippet, '\n'), 0o644); err != nil {
			os.Remove(privPath)
			return err
		}
		log.Info("wrote a client key pair", "keyid", id, "private_key", privPath, "client_keys", pubPath)
		_, err = fmt.Fprintln(stdout, id)
		return err
	}
}

// writeNew writes data to a file that must not exist yet, with perm.
func writeNew(path string, data []byte, perm os.FileMode) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, perm)
	if err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		os.Remove(path)
		return err
	}
	if err := f.Close(); err != nil {
		os.Remove(path)
		return err
	}
	return nil
}
