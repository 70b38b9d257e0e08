package httpapi_test

import (
	"crypto/ed25519"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"log"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"time"

	"github.com/cardcore/cardcore"
	"github.com/cardcore/cardcore/adapters/httpapi"
	"github.com/cardcore/cardcore/internal/exampledb"
	"github.com/cardcore/cardcore/issuance"
	"github.com/google/uuid"
)

// A service mounts the reference API on cardcore in its own mux, under a
// prefix, beside its own routes; its clients call it with bearer tokens
// minted with the same secret.
func ExampleNew() {
	core, done := exampledb.Open()
	defer done()

	secret := []byte("example-secret-0123456789abcdef!")
	api, err := httpapi.New(core, httpapi.Config{Secret: secret})
	if err != nil {
		log.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /hello", func(w http.ResponseWriter, r *http.Request) { fmt.Fprintln(w, "the service's own route") })
	mux.Handle("/cards-api/", http.StripPrefix("/cards-api", api))
	srv := httptest.NewServer(mux)
	defer srv.Close()

	call := func(method, path string, claims httpapi.Claims, body string, out any) string {
		token, err := httpapi.MintToken(secret, claims, time.Hour, time.Now())
		if err != nil {
			log.Fatal(err)
		}
		req, err := http.NewRequest(method, srv.URL+path, strings.NewReader(body))
		if err != nil {
			log.Fatal(err)
		}
		req.Header.Set("Authorization", "Bearer "+token)
		req.Header.Set("x-customer-id", "7")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			log.Fatal(err)
		}
		defer resp.Body.Close()
		if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
			log.Fatal(err)
		}
		return resp.Status
	}
	var c struct{ Type, Status string }
	status := call(http.MethodPost, "/cards-api/wallet/v2/cards", httpapi.Claims{OrgID: "acme", AccountID: "42"},
		`{"type": "VIRTUAL", "name": "online", "cvv_rotation_interval_hours": 24}`, &c)
	fmt.Println(status, c.Type, c.Status)
	var feed struct {
		Events []struct {
			Type string `json:"event_type"`
			Data struct {
				OperationType string `json:"operation_type"`
			} `json:"data"`
		} `json:"events"`
	}
	call(http.MethodGet, "/cards-api/events", httpapi.Claims{OrgID: "acme", Server: true}, "", &feed)
	for _, e := range feed.Events {
		fmt.Println(e.Type, e.Data.OperationType)
	}
	// Output:
	// 201 Created VIRTUAL NORMAL
	// create-1 CARD_CREATION
}

// A Go client of the sandbox routes: every request carries a server token
// and is signed with the client's ed25519 key; POST and PATCH also carry an
// Idempotency-Key. The example runs against a sandbox of its own, or
// against "cardcore serve" when CARDCORE_SANDBOX_URL, CARDCORE_SANDBOX_TOKEN
// (a server token), CARDCORE_SANDBOX_KEYID and CARDCORE_SANDBOX_KEY (the
// private key file "cardcore keys generate" wrote) are set.
func ExampleSignRequest() {
	base, token, keyID, key, stop := sandbox()
	defer stop()

	send := func(method, path, body string, out any) string {
		var rd io.Reader
		if body != "" {
			rd = strings.NewReader(body)
		}
		req, err := http.NewRequest(method, base+path, rd)
		if err != nil {
			log.Fatal(err)
		}
		req.Header.Set("Authorization", "Bearer "+token)
		if body != "" {
			req.Header.Set("Content-Type", "application/json")
		}
		if method != http.MethodGet {
			req.Header.Set("Idempotency-Key", uuid.NewString())
		}
		// Last, once every header is set: Content-Digest, Signature-Input
		// and Signature.
		if err := httpapi.SignRequest(req, keyID, key); err != nil {
			log.Fatal(err)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			log.Fatal(err)
		}
		defer resp.Body.Close()
		if out != nil {
			if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
				log.Fatal(err)
			}
		}
		return resp.Status
	}

	var c struct{ ID, Status string }
	status := send(http.MethodPost, "/accounts/"+uuid.NewString()+"/cards", `{"type":"VIRTUAL"}`, &c)
	fmt.Println(status, c.Status)
	fmt.Println(send(http.MethodPatch, "/simulator/cards/"+c.ID+"/issue", "", nil))
	status = send(http.MethodGet, "/cards/"+c.ID, "", &c)
	fmt.Println(status, c.Status)
	// Output:
	// 201 Created PENDING
	// 202 Accepted
	// 200 OK NORMAL
}

// sandbox returns the sandbox the example calls: the one the environment
// names, else a fresh in-process one over a temporary SQLite database.
func sandbox() (base, token, keyID string, key ed25519.PrivateKey, stop func()) {
	if base = os.Getenv("CARDCORE_SANDBOX_URL"); base != "" {
		pemBytes, err := os.ReadFile(os.Getenv("CARDCORE_SANDBOX_KEY"))
		if err != nil {
			log.Fatal(err)
		}
		block, _ := pem.Decode(pemBytes)
		if block == nil {
			log.Fatal("CARDCORE_SANDBOX_KEY holds no PEM block")
		}
		k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
		if err != nil {
			log.Fatal(err)
		}
		return strings.TrimSuffix(base, "/"), os.Getenv("CARDCORE_SANDBOX_TOKEN"), os.Getenv("CARDCORE_SANDBOX_KEYID"), k.(ed25519.PrivateKey), func() {}
	}
	return inProcessSandbox()
}

// inProcessSandbox serves the API with the sandbox routes over a temporary
// SQLite database, for one client key, until stop is called.
func inProcessSandbox() (base, token, keyID string, key ed25519.PrivateKey, stop func()) {
	pans, err := issuance.NewHMACProvisioner([]byte("example-pan-key-0123456789abcdef"))
	if err != nil {
		log.Fatal(err)
	}
	core, done := exampledb.Open(cardcore.WithIssuance(pans))
	pub, key, err := ed25519.GenerateKey(nil)
	if err != nil {
		log.Fatal(err)
	}
	secret := []byte("example-secret-0123456789abcdef!")
	h, err := httpapi.New(core, httpapi.Config{Secret: secret, Logger: slog.New(slog.DiscardHandler),
		ClientKeys: map[string]ed25519.PublicKey{"example-client": pub}})
	if err != nil {
		log.Fatal(err)
	}
	token, err = httpapi.MintToken(secret, httpapi.Claims{OrgID: "example", Server: true}, time.Hour, time.Now())
	if err != nil {
		log.Fatal(err)
	}
	srv := httptest.NewServer(h)
	stop = func() {
		srv.Close()
		done()
	}
	return srv.URL, token, "example-client", key, stop
}
