package httpapi

import (
	"bytes"
	"crypto/ed25519"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/dunglas/httpsfv"
)

// SignRequest signs req as a client of the sandbox routes (SPEC section 9)
// must: it sets Content-Digest (sha-256) when req has a body, then
// Signature-Input and Signature (RFC 9421, label sig1) made with key over
// "@method", "@target-uri", "content-digest" (with a body) and
// "idempotency-key" (when that header is set), with created (now), keyid
// and alg "ed25519". Call it last, once req has every header it sends; it
// reads req.Body and puts an equal one back.
func SignRequest(req *http.Request, keyID string, key ed25519.PrivateKey) error {
	return signRequest(req, keyID, key, time.Now())
}

func signRequest(req *http.Request, keyID string, key ed25519.PrivateKey, created time.Time) error {
	if len(key) != ed25519.PrivateKeySize {
		return errors.New("httpapi: SignRequest needs an ed25519 private key")
	}
	if keyID == "" {
		return errors.New("httpapi: SignRequest needs a key id")
	}
	if req.URL == nil || !req.URL.IsAbs() {
		return errors.New("httpapi: SignRequest needs a request with an absolute URL")
	}
	body, err := requestBody(req)
	if err != nil {
		return err
	}
	components := []string{"@method", "@target-uri"}
	if len(body) > 0 {
		req.Header.Set("Content-Digest", contentDigest(body))
		components = append(components, "content-digest")
	}
	if req.Header.Get("Idempotency-Key") != "" {
		components = append(components, "idempotency-key")
	}
	il := httpsfv.InnerList{Params: httpsfv.NewParams()}
	for _, c := range components {
		il.Items = append(il.Items, httpsfv.NewItem(c))
	}
	il.Params.Add("created", created.Unix())
	il.Params.Add("keyid", keyID)
	il.Params.Add("alg", signatureAlg)
	base, err := signatureBase(clientMessage(req), il)
	if err != nil {
		return fmt.Errorf("httpapi: sign: %w", err)
	}
	input, err := httpsfv.Marshal(il)
	if err != nil {
		return fmt.Errorf("httpapi: sign: %w", err)
	}
	req.Header.Set("Signature-Input", signatureLabel+"="+input)
	req.Header.Set("Signature", signatureLabel+"=:"+base64.StdEncoding.EncodeToString(ed25519.Sign(key, base))+":")
	return nil
}

// requestBody returns the body of a client request and leaves an equal one
// in its place.
func requestBody(req *http.Request) ([]byte, error) {
	if req.Body == nil || req.Body == http.NoBody {
		return nil, nil
	}
	b, err := io.ReadAll(req.Body)
	req.Body.Close()
	if err != nil {
		return nil, fmt.Errorf("httpapi: read the body to sign: %w", err)
	}
	req.Body = io.NopCloser(bytes.NewReader(b))
	req.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(b)), nil }
	req.ContentLength = int64(len(b))
	return b, nil
}

// clientMessage is req as a Go client sends it: the request line carries
// req.URL.RequestURI() and the Host header req.Host, else the URL's host.
func clientMessage(req *http.Request) message {
	host := req.Host
	if host == "" {
		host = req.URL.Host
	}
	return message{method: req.Method, scheme: strings.ToLower(req.URL.Scheme), host: host,
		requestURI: req.URL.RequestURI(), header: req.Header}
}
