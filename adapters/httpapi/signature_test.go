package httpapi

import (
	"bufio"
	"bytes"
	"crypto/ed25519"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/dunglas/httpsfv"
	"github.com/yaronf/httpsign"
)

// readPEM decodes the one PEM block of a testdata file.
func readPEM(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "rfc9421", name))
	if err != nil {
		t.Fatal(err)
	}
	block, _ := pem.Decode(b)
	if block == nil {
		t.Fatalf("%s holds no PEM block", name)
	}
	return block.Bytes
}

// rfcKeys are test-key-ed25519 of RFC 9421 Appendix B.1.4.
func rfcKeys(t *testing.T) (ed25519.PublicKey, ed25519.PrivateKey) {
	t.Helper()
	pub, err := x509.ParsePKIXPublicKey(readPEM(t, "test-key-ed25519.pub.pem"))
	if err != nil {
		t.Fatal(err)
	}
	priv, err := x509.ParsePKCS8PrivateKey(readPEM(t, "test-key-ed25519.pem"))
	if err != nil {
		t.Fatal(err)
	}
	return pub.(ed25519.PublicKey), priv.(ed25519.PrivateKey)
}

// TestRFC9421Ed25519Vector checks the verifier's signature base and
// signature against RFC 9421 Appendix B.2.6 (signing a request using
// ed25519), byte for byte: the request, the key of B.1.4, the signature
// base and the signature are the RFC's, in testdata/rfc9421.
func TestRFC9421Ed25519Vector(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join("testdata", "rfc9421", "b26-request.http"))
	if err != nil {
		t.Fatal(err)
	}
	wantBase, err := os.ReadFile(filepath.Join("testdata", "rfc9421", "b26-signature-base.txt"))
	if err != nil {
		t.Fatal(err)
	}
	pub, priv := rfcKeys(t)
	if !pub.Equal(priv.Public()) {
		t.Fatal("the RFC's public and private test keys do not match")
	}
	r, err := http.ReadRequest(bufio.NewReader(bytes.NewReader(raw)))
	if err != nil {
		t.Fatal(err)
	}
	body, err := io.ReadAll(r.Body)
	if err != nil {
		t.Fatal(err)
	}
	if err := checkContentDigest(r.Header, body); err != nil {
		t.Errorf("the RFC's Content-Digest (sha-512) of its body: %v", err)
	}

	in, err := httpsfv.UnmarshalDictionary(r.Header.Values("Signature-Input"))
	if err != nil {
		t.Fatal(err)
	}
	member, _ := in.Get("sig-b26")
	il := member.(httpsfv.InnerList)
	base, err := signatureBase(serverMessage(r, nil), il)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(base, wantBase) {
		t.Fatalf("signature base\n%s\nwant (RFC 9421 B.2.6)\n%s", base, wantBase)
	}
	sd, err := httpsfv.UnmarshalDictionary(r.Header.Values("Signature"))
	if err != nil {
		t.Fatal(err)
	}
	sm, _ := sd.Get("sig-b26")
	sig := sm.(httpsfv.Item).Value.([]byte)
	if !ed25519.Verify(pub, base, sig) {
		t.Error("the RFC's signature does not verify over the base with test-key-ed25519")
	}
	// Ed25519 is deterministic: signing the base must give the RFC's bytes.
	if got := ed25519.Sign(priv, base); !bytes.Equal(got, sig) {
		t.Errorf("signing the base gives\n%s\nthe RFC has\n%s", base64.StdEncoding.EncodeToString(got), base64.StdEncoding.EncodeToString(sig))
	}

	// The sandbox policy asks more than the vector covers, and the vector
	// is from 2021: the full check refuses it, saying why.
	v := &verifier{keys: map[string]ed25519.PublicKey{"test-key-ed25519": pub},
		now: func() time.Time { return time.Unix(1618884473, 0) }}
	err = v.verify(r, body)
	if err == nil || !strings.Contains(err.Error(), "must cover @target-uri, idempotency-key, content-digest") {
		t.Errorf("the sandbox policy on the RFC request: %v, want a missing @target-uri, idempotency-key and content-digest", err)
	}
	// The same components and parameters, plus the ones the policy needs,
	// verify when the request is signed with the RFC's key.
	r.Header.Set("Idempotency-Key", "c7a7a9a2-2f66-4f4e-9d4c-1f0b8d5e6a11")
	for _, c := range []string{"@target-uri", "idempotency-key", "content-digest"} {
		il.Items = append(il.Items, httpsfv.NewItem(c))
	}
	base, err = signatureBase(serverMessage(r, nil), il)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(base), "\n\"@target-uri\": http://example.com/foo?param=Value&Pet=dog\n") {
		t.Errorf("the base lacks the full target URI:\n%s", base)
	}
	input, _ := httpsfv.Marshal(il)
	r.Header.Set("Signature-Input", "sig-b26="+input)
	r.Header.Set("Signature", "sig-b26=:"+base64.StdEncoding.EncodeToString(ed25519.Sign(priv, base))+":")
	if err := v.verify(r, body); err != nil {
		t.Errorf("the RFC request, signed with the policy's components: %v", err)
	}
}

// sigServer answers 204 to a request whose signature verifies with keys,
// else the error answer; it reads no GET body, like the sandbox routes.
func sigServer(t *testing.T, keys map[string]ed25519.PublicKey, now time.Time) *httptest.Server {
	t.Helper()
	v := &verifier{keys: keys, now: func() time.Time { return now }}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var body []byte
		if r.Method != http.MethodGet {
			body, _ = io.ReadAll(r.Body)
		}
		if err := v.verify(r, body); err != nil {
			status, b, _ := classify(err)
			writeJSON(w, status, b)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(srv.Close)
	return srv
}

// sendSigned sends req and returns its status and the message of its
// error body.
func sendSigned(t *testing.T, req *http.Request) (int, string) {
	t.Helper()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var e errorBody
	_ = json.Unmarshal(b, &e)
	return resp.StatusCode, e.Message
}

const testIdemKey = "6f1c2b9e-8f7a-4c1e-9b7d-2a4e5f6a7b8c"

func TestSignatureVerification(t *testing.T) {
	now := time.Now()
	client, other := newClientKey(t, "client-1"), newClientKey(t, "client-2")
	srv := sigServer(t, map[string]ed25519.PublicKey{client.id: client.pub, other.id: other.pub}, now)
	body := `{"type":"VIRTUAL"}`
	post := func(path string) *http.Request {
		req, err := http.NewRequest(http.MethodPost, srv.URL+path, strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Idempotency-Key", testIdemKey)
		return req
	}
	sign := func(req *http.Request, k clientKey, created time.Time) {
		if err := signRequest(req, k.id, k.priv, created); err != nil {
			t.Fatal(err)
		}
	}
	tests := []struct {
		name string
		make func() *http.Request
		want int
		msg  string // what the 401 must say
	}{
		{"valid POST", func() *http.Request { r := post("/accounts/a/cards"); sign(r, client, now); return r }, 204, ""},
		{"valid GET with a query", func() *http.Request {
			r, _ := http.NewRequest(http.MethodGet, srv.URL+"/cards/c?x=1&y=two%20words", nil)
			sign(r, client, now)
			return r
		}, 204, ""},
		{"valid PATCH without a body", func() *http.Request {
			r, _ := http.NewRequest(http.MethodPatch, srv.URL+"/simulator/cards/c/issue", nil)
			r.Header.Set("Idempotency-Key", testIdemKey)
			sign(r, client, now)
			return r
		}, 204, ""},
		{"created a minute ago", func() *http.Request { r := post("/p"); sign(r, client, now.Add(-time.Minute)); return r }, 204, ""},
		{"tampered body", func() *http.Request {
			r := post("/p")
			sign(r, client, now)
			tampered := `{"type":"PLASTIC"}`
			r.Body, r.ContentLength, r.GetBody = io.NopCloser(strings.NewReader(tampered)), int64(len(tampered)), nil
			return r
		}, 401, "Content-Digest sha-256 does not match the body"},
		{"wrong key", func() *http.Request {
			r := post("/p")
			sign(r, clientKey{id: client.id, priv: other.priv}, now)
			return r
		}, 401, `bad signature: signature sig1 does not verify with the key "client-1"`},
		{"unknown keyid", func() *http.Request { r := post("/p"); sign(r, newClientKey(t, "stranger"), now); return r }, 401, `unknown keyid "stranger"`},
		{"idempotency-key not covered", func() *http.Request {
			r := post("/p")
			r.Header.Del("Idempotency-Key")
			sign(r, client, now)
			r.Header.Set("Idempotency-Key", testIdemKey)
			return r
		}, 401, "the signature must cover idempotency-key"},
		{"stale created", func() *http.Request { r := post("/p"); sign(r, client, now.Add(-6*time.Minute)); return r }, 401, "stale signature"},
		{"created in the future", func() *http.Request { r := post("/p"); sign(r, client, now.Add(2*time.Minute)); return r }, 401, "in the future"},
		{"missing Content-Digest", func() *http.Request {
			r := post("/p")
			sign(r, client, now)
			r.Header.Del("Content-Digest")
			return r
		}, 401, "the Content-Digest header (RFC 9530) is required"},
		{"content-digest not covered", func() *http.Request {
			r := post("/p")
			sign(r, client, now)
			r.Header.Set("Signature-Input", strings.Replace(r.Header.Get("Signature-Input"), ` "content-digest"`, "", 1))
			return r
		}, 401, "the signature must cover content-digest"},
		{"signed for another path", func() *http.Request {
			r := post("/accounts/a/cards")
			sign(r, client, now)
			r.URL.Path = "/accounts/b/cards"
			return r
		}, 401, "bad signature"},
		{"signed for another query", func() *http.Request {
			r, _ := http.NewRequest(http.MethodGet, srv.URL+"/cards/c?x=1", nil)
			sign(r, client, now)
			r.URL.RawQuery = "x=2"
			return r
		}, 401, "bad signature"},
		{"signed for another host", func() *http.Request {
			r := post("/p")
			r.Host = "api.example.com"
			sign(r, client, now)
			r.Host = ""
			return r
		}, 401, "bad signature"},
		{"not signed", func() *http.Request { return post("/p") }, 401, "the Signature-Input header (RFC 9421) is missing"},
		{"no Signature", func() *http.Request { r := post("/p"); sign(r, client, now); r.Header.Del("Signature"); return r }, 401, "the Signature header (RFC 9421) is missing"},
		{"another label", func() *http.Request {
			r := post("/p")
			sign(r, client, now)
			r.Header.Set("Signature", strings.Replace(r.Header.Get("Signature"), "sig1=", "sig2=", 1))
			return r
		}, 401, "no signature labelled sig1"},
		{"another alg", func() *http.Request {
			r := post("/p")
			sign(r, client, now)
			r.Header.Set("Signature-Input", strings.Replace(r.Header.Get("Signature-Input"), `alg="ed25519"`, `alg="hmac-sha256"`, 1))
			return r
		}, 401, `alg "hmac-sha256" is not accepted`},
		{"no created", func() *http.Request {
			r := post("/p")
			sign(r, client, now)
			in := r.Header.Get("Signature-Input")
			i := strings.Index(in, ";created=")
			r.Header.Set("Signature-Input", in[:i]+in[strings.Index(in, ";keyid"):])
			return r
		}, 401, "has no created parameter"},
		{"expired", func() *http.Request {
			r := post("/p")
			sign(r, client, now)
			r.Header.Set("Signature-Input", r.Header.Get("Signature-Input")+";expires=1")
			return r
		}, 401, "the signature expired"},
		{"a component twice", func() *http.Request {
			r := post("/p")
			sign(r, client, now)
			r.Header.Set("Signature-Input", strings.Replace(r.Header.Get("Signature-Input"), `("@method"`, `("@method" "@method"`, 1))
			return r
		}, 401, `component "@method" is covered twice`},
		{"not a dictionary", func() *http.Request {
			r := post("/p")
			sign(r, client, now)
			r.Header.Set("Signature-Input", "sig1")
			return r
		}, 401, "must be an inner list"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, answer := sendSigned(t, tt.make())
			if status != tt.want || !strings.Contains(answer, tt.msg) {
				t.Errorf("status %d %s, want %d with %q", status, answer, tt.want, tt.msg)
			}
		})
	}
}

// TestYaronfSignsWeVerify verifies signatures made by an independent
// implementation, yaronf/httpsign, whose @target-uri is the full URI of the
// request it signs.
func TestYaronfSignsWeVerify(t *testing.T) {
	client := newClientKey(t, "client-1")
	srv := sigServer(t, map[string]ed25519.PublicKey{client.id: client.pub}, time.Now())
	tests := []struct {
		name, method, path, body string
		digests                  []string
		fields                   []string
	}{
		{"POST, sha-256", http.MethodPost, "/accounts/0b6a1f7e-3c1d-4c8e-9a55-2f4b6f0e1d2c/cards", `{"type":"VIRTUAL"}`,
			[]string{httpsign.DigestSha256}, []string{"@method", "@target-uri", "content-digest", "idempotency-key"}},
		{"POST, sha-512 and sha-256, more components", http.MethodPost, "/accounts/a/cards?x=1", `{"type":"TEMPORARY"}`,
			[]string{httpsign.DigestSha512, httpsign.DigestSha256},
			[]string{"@method", "@target-uri", "@authority", "@scheme", "@path", "@query", "@request-target", "content-type", "content-digest", "idempotency-key"}},
		{"PATCH, no body", http.MethodPatch, "/simulator/cards/c/fail", "", nil, []string{"@method", "@target-uri", "idempotency-key"}},
		{"GET, a query", http.MethodGet, "/cards/c?a=1&b=two%20words", "", nil, []string{"@method", "@target-uri", "@query"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var rd io.Reader
			if tt.body != "" {
				rd = strings.NewReader(tt.body)
			}
			req, err := http.NewRequest(tt.method, srv.URL+tt.path, rd)
			if err != nil {
				t.Fatal(err)
			}
			req.Header.Set("Content-Type", "application/json")
			if tt.method != http.MethodGet {
				req.Header.Set("Idempotency-Key", testIdemKey)
			}
			if tt.digests != nil {
				d, err := httpsign.GenerateContentDigestHeader(&req.Body, tt.digests)
				if err != nil {
					t.Fatal(err)
				}
				req.Header.Set("Content-Digest", d)
			}
			signer, err := httpsign.NewEd25519Signer(client.priv, httpsign.NewSignConfig().SetKeyID(client.id), *httpsign.NewFields().AddHeaders(tt.fields...))
			if err != nil {
				t.Fatal(err)
			}
			input, sig, err := httpsign.SignRequest("yaronf", *signer, req)
			if err != nil {
				t.Fatal(err)
			}
			req.Header.Set("Signature-Input", input)
			req.Header.Set("Signature", sig)
			if status, answer := sendSigned(t, req); status != http.StatusNoContent {
				t.Errorf("a yaronf/httpsign signature: %d %s\nSignature-Input: %s", status, answer, input)
			}
		})
	}
}

// TestWeSignYaronfVerifies checks SignRequest against yaronf/httpsign's
// verifier.
func TestWeSignYaronfVerifies(t *testing.T) {
	client := newClientKey(t, "client-1")
	req, err := http.NewRequest(http.MethodPost, "https://sandbox.example.com/accounts/a/cards?x=1", strings.NewReader(`{"type":"VIRTUAL"}`))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Idempotency-Key", testIdemKey)
	if err := SignRequest(req, client.id, client.priv); err != nil {
		t.Fatal(err)
	}
	fields := *httpsign.NewFields().AddHeaders("@method", "@target-uri", "content-digest", "idempotency-key")
	v, err := httpsign.NewEd25519Verifier(client.pub, httpsign.NewVerifyConfig().SetKeyID(client.id), fields)
	if err != nil {
		t.Fatal(err)
	}
	if err := httpsign.VerifyRequest(signatureLabel, *v, req); err != nil {
		t.Errorf("yaronf/httpsign refuses SignRequest's signature: %v\nSignature-Input: %s", err, req.Header.Get("Signature-Input"))
	}
	if err := httpsign.ValidateContentDigestHeader(req.Header.Values("Content-Digest"), &req.Body, []string{httpsign.DigestSha256}); err != nil {
		t.Errorf("yaronf/httpsign refuses SignRequest's Content-Digest: %v", err)
	}
}

// TestTargetURIWithoutPathRefused: a signer that builds @target-uri
// without the path (as remitly-oss/httpsig-go v1.2.0 does) is refused,
// since the RFC's target URI has the path.
func TestTargetURIWithoutPathRefused(t *testing.T) {
	client := newClientKey(t, "client-1")
	srv := sigServer(t, map[string]ed25519.PublicKey{client.id: client.pub}, time.Now())
	req, err := http.NewRequest(http.MethodGet, srv.URL+"/cards/c?x=1", nil)
	if err != nil {
		t.Fatal(err)
	}
	il := httpsfv.InnerList{Items: []httpsfv.Item{httpsfv.NewItem("@method"), httpsfv.NewItem("@target-uri")}, Params: httpsfv.NewParams()}
	il.Params.Add("created", time.Now().Unix())
	il.Params.Add("keyid", client.id)
	m := clientMessage(req)
	m.requestURI = req.URL.RawQuery // scheme://host + query, no path
	base, err := signatureBase(m, il)
	if err != nil {
		t.Fatal(err)
	}
	input, _ := httpsfv.Marshal(il)
	req.Header.Set("Signature-Input", "sig1="+input)
	req.Header.Set("Signature", "sig1=:"+base64.StdEncoding.EncodeToString(ed25519.Sign(client.priv, base))+":")
	if status, answer := sendSigned(t, req); status != http.StatusUnauthorized || !strings.Contains(answer, "bad signature") {
		t.Errorf("a @target-uri without the path: %d %s, want 401 bad signature", status, answer)
	}
}

func TestAuthority(t *testing.T) {
	for _, tt := range []struct{ scheme, host, want string }{
		{"http", "Example.COM", "example.com"},
		{"http", "example.com:80", "example.com"},
		{"https", "example.com:443", "example.com"},
		{"https", "example.com:8443", "example.com:8443"},
		{"http", "[::1]:80", "[::1]"},
		{"http", "[::1]:8080", "[::1]:8080"},
	} {
		if got := (message{scheme: tt.scheme, host: tt.host}).authority(); got != tt.want {
			t.Errorf("authority of %s://%s = %q, want %q", tt.scheme, tt.host, got, tt.want)
		}
	}
}

// FuzzSignature feeds arbitrary Signature-Input, Signature and
// Content-Digest headers and bodies to the verifier: it never panics, and
// every refusal is a 401 that names the header at fault.
func FuzzSignature(f *testing.F) {
	client := newClientKey(f, "client-1")
	now := time.Now()
	v := &verifier{keys: map[string]ed25519.PublicKey{client.id: client.pub}, now: func() time.Time { return now }}
	seed, err := http.NewRequest(http.MethodPost, "http://example.com/accounts/a/cards?x=1", strings.NewReader(`{"type":"VIRTUAL"}`))
	if err != nil {
		f.Fatal(err)
	}
	seed.Header.Set("Idempotency-Key", testIdemKey)
	if err := signRequest(seed, client.id, client.priv, now); err != nil {
		f.Fatal(err)
	}
	f.Add(seed.Header.Get("Signature-Input"), seed.Header.Get("Signature"), seed.Header.Get("Content-Digest"), []byte(`{"type":"VIRTUAL"}`))
	f.Add(`sig-b26=("date" "@method" "@path" "@authority" "content-type" "content-length");created=1618884473;keyid="test-key-ed25519"`,
		`sig-b26=:wqcAqbmYJ2ji2glfAMaRy4gruYYnx2nEFN2HN6jrnDnQCK1u02Gb04v9EDgwUPiu4A0w6vuQv5lIp5WPpBKRCw==:`,
		`sha-512=:WZDPaVn/7XgHaAy8pmojAkGWoRx2UFChF41A2svX+TaPm+AbwAgBWnrIiYllu7BNNyealdVLvRwEmTHWXvJwew==:`, []byte(`{"hello": "world"}`))
	f.Add(`a=("content-digest";key="sha-256" "x";bs "@query-param";name="x" "@status");created=1;keyid="client-1"`, `a=:AA==:, b=(1 2)`, `sha-256=(1), md5=:AA==:`, []byte{})
	f.Fuzz(func(t *testing.T, input, sig, digest string, body []byte) {
		r := httptest.NewRequest(http.MethodPost, "http://example.com/accounts/a/cards?x=1", bytes.NewReader(body))
		r.Header.Set("Idempotency-Key", testIdemKey)
		r.Header.Set("X", "1")
		for name, value := range map[string]string{"Signature-Input": input, "Signature": sig, "Content-Digest": digest} {
			if value != "" {
				r.Header.Set(name, value)
			}
		}
		err := v.verify(r, body)
		if err == nil {
			return
		}
		status, b, _ := classify(err)
		if status != http.StatusUnauthorized || b.Code != codeUnauthorized || b.Field == "" || b.Message == "" {
			t.Errorf("refusal %d %+v, want a 401 naming the header", status, b)
		}
	})
}
