package httpapi

import (
	"crypto/ed25519"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/dunglas/httpsfv"
)

// The signature policy of the sandbox routes (SPEC 8–9.1).
const (
	signatureAlg    = "ed25519"
	signatureMaxAge = 5 * time.Minute // created may be this old at most
	signatureSkew   = time.Minute     // and this far in the future at most
	signatureLabel  = "sig1"          // the label SignRequest uses
)

func errSignature(field, msg string) error {
	return &httpError{http.StatusUnauthorized, errorBody{Code: codeUnauthorized, Message: "signature: " + msg, Field: field}}
}

// verifier checks the RFC 9421 signatures of the sandbox routes against
// the client keys.
type verifier struct {
	keys   map[string]ed25519.PublicKey
	now    func() time.Time
	origin *url.URL // the public origin, when a proxy sits in front; nil: the request's
}

// verify checks that r (whose body is body) carries a valid signature of a
// client key: the first label of Signature-Input that verifies wins; when
// none does, the error of the first label is returned. GET and HEAD bodies
// are not read, so their Content-Digest is not checked.
func (v *verifier) verify(r *http.Request, body []byte) error {
	inputs, sigs := r.Header.Values("Signature-Input"), r.Header.Values("Signature")
	switch {
	case len(inputs) == 0:
		return errSignature("Signature-Input", "the request is not signed: the Signature-Input header (RFC 9421) is missing")
	case len(sigs) == 0:
		return errSignature("Signature", "the Signature header (RFC 9421) is missing")
	}
	in, err := httpsfv.UnmarshalDictionary(inputs)
	if err != nil {
		return errSignature("Signature-Input", "the Signature-Input header is not a structured dictionary: "+err.Error())
	}
	sd, err := httpsfv.UnmarshalDictionary(sigs)
	if err != nil {
		return errSignature("Signature", "the Signature header is not a structured dictionary: "+err.Error())
	}
	if len(in.Names()) == 0 {
		return errSignature("Signature-Input", "the Signature-Input header names no signature")
	}
	m := serverMessage(r, v.origin)
	var first error
	for _, label := range in.Names() {
		err := v.verifyLabel(m, r, body, label, in, sd)
		if err == nil {
			return nil
		}
		if first == nil {
			first = err
		}
	}
	return first
}

// verifyLabel checks the signature labelled label.
func (v *verifier) verifyLabel(m message, r *http.Request, body []byte, label string, in, sd *httpsfv.Dictionary) error {
	member, _ := in.Get(label)
	il, ok := member.(httpsfv.InnerList)
	if !ok {
		return errSignature("Signature-Input", "Signature-Input "+label+" must be an inner list of covered components")
	}
	sm, ok := sd.Get(label)
	if !ok {
		return errSignature("Signature", "the Signature header has no signature labelled "+label)
	}
	sigItem, _ := sm.(httpsfv.Item)
	sig, ok := sigItem.Value.([]byte)
	if !ok {
		return errSignature("Signature", "Signature "+label+" must be a byte sequence (:base64:)")
	}
	p, err := sigParamsOf(label, il.Params)
	if err != nil {
		return err
	}
	key, ok := v.keys[p.keyid]
	if !ok {
		return errSignature("Signature-Input", fmt.Sprintf("unknown keyid %q: no client key has this id", p.keyid))
	}
	if p.alg != "" && p.alg != signatureAlg {
		return errSignature("Signature-Input", fmt.Sprintf("alg %q is not accepted: the client keys are ed25519", p.alg))
	}
	if missing := missingComponents(r.Method, len(body) > 0, il); len(missing) > 0 {
		return errSignature("Signature-Input", "the signature must cover "+strings.Join(missing, ", ")+
			" (it covers "+componentList(il)+")")
	}
	if err := v.fresh(p); err != nil {
		return err
	}
	if r.Method != http.MethodGet && r.Method != http.MethodHead && (len(body) > 0 || r.Header.Get("Content-Digest") != "") {
		if err := checkContentDigest(r.Header, body); err != nil {
			return err
		}
	}
	base, err := signatureBase(m, il)
	if err != nil {
		return errSignature("Signature-Input", err.Error())
	}
	if !ed25519.Verify(key, base, sig) {
		return errSignature("Signature", fmt.Sprintf("bad signature: signature %s does not verify with the key %q over "+
			"the signature base of this request (check @target-uri, which is %s)", label, p.keyid, m.targetURI()))
	}
	return nil
}

// sigParams are the signature parameters cardcore reads (RFC 9421 §2.3).
type sigParams struct {
	created, expires int64 // expires 0: none
	keyid, alg       string
}

func sigParamsOf(label string, ps *httpsfv.Params) (sigParams, error) {
	var p sigParams
	bad := func(name, want string) error {
		return errSignature("Signature-Input", "Signature-Input "+label+": "+name+" must be "+want)
	}
	for _, name := range ps.Names() {
		val, _ := ps.Get(name)
		var ok bool
		switch name {
		case "created":
			if p.created, ok = val.(int64); !ok {
				return p, bad("created", "an integer (UNIX seconds)")
			}
		case "expires":
			if p.expires, ok = val.(int64); !ok {
				return p, bad("expires", "an integer (UNIX seconds)")
			}
		case "keyid":
			if p.keyid, ok = val.(string); !ok {
				return p, bad("keyid", "a string")
			}
		case "alg":
			if p.alg, ok = val.(string); !ok {
				return p, bad("alg", "a string")
			}
		}
	}
	if _, ok := ps.Get("created"); !ok {
		return p, errSignature("Signature-Input", "Signature-Input "+label+" has no created parameter, which is required")
	}
	if p.keyid == "" {
		return p, errSignature("Signature-Input", "Signature-Input "+label+" has no keyid parameter, which is required")
	}
	return p, nil
}

// fresh refuses a signature created more than five minutes ago or more
// than a minute ahead, or past its expires.
func (v *verifier) fresh(p sigParams) error {
	now := v.now()
	created := time.Unix(p.created, 0)
	switch {
	case now.Sub(created) > signatureMaxAge:
		return errSignature("Signature-Input", fmt.Sprintf("stale signature: created %s, %s ago; signatures are accepted for %s",
			created.UTC().Format(time.RFC3339), now.Sub(created).Truncate(time.Second), signatureMaxAge))
	case created.Sub(now) > signatureSkew:
		return errSignature("Signature-Input", fmt.Sprintf("created %s is %s in the future (at most %s of clock skew is accepted)",
			created.UTC().Format(time.RFC3339), created.Sub(now).Truncate(time.Second), signatureSkew))
	case p.expires != 0 && !now.Before(time.Unix(p.expires, 0)):
		return errSignature("Signature-Input", "the signature expired at "+time.Unix(p.expires, 0).UTC().Format(time.RFC3339))
	}
	return nil
}

// requiredComponents are what a sandbox request must cover: @method and
// @target-uri always, idempotency-key on POST and PATCH, content-digest
// when there is a body.
func requiredComponents(method string, hasBody bool) []string {
	req := []string{"@method", "@target-uri"}
	if method == http.MethodPost || method == http.MethodPatch {
		req = append(req, "idempotency-key")
	}
	if hasBody {
		req = append(req, "content-digest")
	}
	return req
}

// missingComponents lists the required components il does not cover. A
// field covered only in part (with the key parameter) does not count.
func missingComponents(method string, hasBody bool, il httpsfv.InnerList) []string {
	var missing []string
	for _, want := range requiredComponents(method, hasBody) {
		covered := slices.ContainsFunc(il.Items, func(it httpsfv.Item) bool {
			_, partial := it.Params.Get("key")
			return it.Value == want && !partial
		})
		if !covered {
			missing = append(missing, want)
		}
	}
	return missing
}

func componentList(il httpsfv.InnerList) string {
	if len(il.Items) == 0 {
		return "nothing"
	}
	s, err := httpsfv.Marshal(httpsfv.InnerList{Items: il.Items, Params: httpsfv.NewParams()})
	if err != nil {
		return "components that do not serialize"
	}
	return s
}

// message is what a signature covers of a request, from either side: the
// server's view of a request it received, or a client's of one it sends.
type message struct {
	method     string
	scheme     string // lower case
	host       string // the authority as sent (the Host header)
	requestURI string // the request target in origin form: path and query, as sent
	header     http.Header
}

// serverMessage is r as the server received it. The scheme is that of the
// connection (https with TLS) and the authority the Host header, unless a
// public origin is configured for a proxy in front.
func serverMessage(r *http.Request, origin *url.URL) message {
	m := message{method: r.Method, scheme: "http", host: r.Host, requestURI: r.RequestURI, header: r.Header}
	if r.TLS != nil {
		m.scheme = "https"
	}
	if origin != nil {
		m.scheme, m.host = origin.Scheme, origin.Host
	}
	if !strings.HasPrefix(m.requestURI, "/") { // absolute form, or a request not read from the wire
		m.requestURI = r.URL.RequestURI()
	}
	return m
}

// targetURI is the full target URI (RFC 9421 §2.2.2): scheme, authority,
// path and query.
func (m message) targetURI() string { return m.scheme + "://" + m.host + m.requestURI }

// authority is the host, normalized (RFC 9110 §4.2.3): lower case, without
// the scheme's default port.
func (m message) authority() string {
	h := strings.ToLower(m.host)
	if host, port, err := net.SplitHostPort(h); err == nil {
		if (m.scheme == "http" && port == "80") || (m.scheme == "https" && port == "443") {
			if strings.Contains(host, ":") {
				return "[" + host + "]"
			}
			return host
		}
	}
	return h
}

func (m message) path() string {
	p, _, _ := strings.Cut(m.requestURI, "?")
	if p == "" {
		return "/"
	}
	return p
}

func (m message) query() string {
	_, q, _ := strings.Cut(m.requestURI, "?")
	return "?" + q
}

// signatureBase builds the signature base of RFC 9421 §2.5: one line per
// covered component, in order, then the @signature-params line.
func signatureBase(m message, il httpsfv.InnerList) ([]byte, error) {
	var b strings.Builder
	seen := make(map[string]bool, len(il.Items))
	for _, it := range il.Items {
		name, ok := it.Value.(string)
		if !ok {
			return nil, errors.New("covered components must be strings")
		}
		id, err := httpsfv.Marshal(it)
		if err != nil {
			return nil, fmt.Errorf("component %q does not serialize: %v", name, err)
		}
		if seen[id] {
			return nil, fmt.Errorf("component %s is covered twice", id)
		}
		seen[id] = true
		value, err := m.component(name, it.Params)
		if err != nil {
			return nil, err
		}
		if strings.ContainsAny(value, "\r\n") {
			return nil, fmt.Errorf("component %s has a line break", id)
		}
		b.WriteString(id)
		b.WriteString(": ")
		b.WriteString(value)
		b.WriteByte('\n')
	}
	params, err := httpsfv.Marshal(il)
	if err != nil {
		return nil, fmt.Errorf("the signature parameters do not serialize: %v", err)
	}
	b.WriteString(`"@signature-params": `)
	b.WriteString(params)
	return []byte(b.String()), nil
}

// component is the value of one covered component (RFC 9421 §2.1, §2.2).
func (m message) component(name string, ps *httpsfv.Params) (string, error) {
	if name != strings.ToLower(name) || name == "" {
		return "", fmt.Errorf("component %q: component names are lower case", name)
	}
	if strings.HasPrefix(name, "@") {
		return m.derived(name, ps)
	}
	return m.field(name, ps)
}

// derived is a derived component (RFC 9421 §2.2). @query-param is not
// supported, and none takes a parameter here.
func (m message) derived(name string, ps *httpsfv.Params) (string, error) {
	if len(ps.Names()) > 0 {
		return "", fmt.Errorf("component %s: parameters of derived components (%s) are not supported on requests",
			name, strings.Join(ps.Names(), ", "))
	}
	switch name {
	case "@method":
		return m.method, nil
	case "@target-uri":
		return m.targetURI(), nil
	case "@authority":
		return m.authority(), nil
	case "@scheme":
		return m.scheme, nil
	case "@request-target":
		return m.requestURI, nil
	case "@path":
		return m.path(), nil
	case "@query":
		return m.query(), nil
	case "@signature-params":
		return "", errors.New("@signature-params may not be a covered component")
	case "@status":
		return "", errors.New("@status is a response component")
	}
	return "", fmt.Errorf("derived component %s is not supported", name)
}

// dictionaryFields are the fields known to be structured dictionaries, so
// that the sf parameter can re-serialize them.
var dictionaryFields = map[string]bool{"content-digest": true, "repr-digest": true, "signature": true, "signature-input": true}

// field is an HTTP field component (RFC 9421 §2.1): the field's values,
// trimmed and joined with ", ", or with the sf, key or bs parameter their
// structured or binary-wrapped form.
func (m message) field(name string, ps *httpsfv.Params) (string, error) {
	var values []string
	if name == "host" {
		values = []string{m.host} // Go keeps Host out of the header map
	} else {
		values = m.header.Values(name)
	}
	if len(values) == 0 {
		return "", fmt.Errorf("the covered field %s is not in the request", name)
	}
	var sf, bs bool
	var key string
	for _, p := range ps.Names() {
		v, _ := ps.Get(p)
		var ok bool
		switch p {
		case "sf":
			sf, ok = v.(bool)
		case "bs":
			bs, ok = v.(bool)
		case "key":
			key, ok = v.(string)
			ok = ok && key != ""
		case "req", "tr":
			return "", fmt.Errorf("component %s: parameter %s is not supported on requests", name, p)
		default:
			return "", fmt.Errorf("component %s: unknown parameter %s", name, p)
		}
		if !ok {
			return "", fmt.Errorf("component %s: bad value of parameter %s", name, p)
		}
	}
	switch {
	case bs && (sf || key != ""):
		return "", fmt.Errorf("component %s: bs may not be combined with sf or key", name)
	case bs:
		var l httpsfv.List
		for _, v := range values {
			l = append(l, httpsfv.NewItem([]byte(strings.Trim(v, " \t"))))
		}
		return httpsfv.Marshal(l)
	case key != "":
		d, err := httpsfv.UnmarshalDictionary(values)
		if err != nil {
			return "", fmt.Errorf("component %s;key: the field is not a structured dictionary: %v", name, err)
		}
		member, ok := d.Get(key)
		if !ok {
			return "", fmt.Errorf("component %s;key=%s: the dictionary has no member %s", name, strconv.Quote(key), key)
		}
		if il, ok := member.(httpsfv.InnerList); ok {
			return httpsfv.Marshal(il)
		}
		return httpsfv.Marshal(member.(httpsfv.Item))
	case sf:
		if !dictionaryFields[name] {
			return "", fmt.Errorf("component %s;sf: the structured type of %s is not known here", name, name)
		}
		d, err := httpsfv.UnmarshalDictionary(values)
		if err != nil {
			return "", fmt.Errorf("component %s;sf: the field is not a structured dictionary: %v", name, err)
		}
		return httpsfv.Marshal(d)
	}
	trimmed := make([]string, len(values))
	for i, v := range values {
		trimmed[i] = strings.Trim(v, " \t")
	}
	return strings.Join(trimmed, ", "), nil
}
