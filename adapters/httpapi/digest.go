package httpapi

import (
	"crypto/sha256"
	"crypto/sha512"
	"crypto/subtle"
	"net/http"
	"strings"

	"github.com/dunglas/httpsfv"
)

// digests are the Content-Digest algorithms (RFC 9530) the sandbox routes
// check. Members with other algorithms are ignored, as RFC 9530 §2 lets a
// recipient do, but at least one of these must be present.
var digests = map[string]func([]byte) []byte{
	"sha-256": func(b []byte) []byte { s := sha256.Sum256(b); return s[:] },
	"sha-512": func(b []byte) []byte { s := sha512.Sum512(b); return s[:] },
}

// contentDigest is the Content-Digest value a client sends for body:
// its sha-256 digest, e.g. sha-256=:RK/0qy18MlBSVnWgjwz6lZEWjP/lF5HF9bvEF8FabDg=:
func contentDigest(body []byte) string {
	d := httpsfv.NewDictionary()
	d.Add("sha-256", httpsfv.NewItem(digests["sha-256"](body)))
	v, _ := httpsfv.Marshal(d) // a byte sequence always serializes
	return v
}

// checkContentDigest checks the Content-Digest header of h against body:
// it must be a structured dictionary with a sha-256 or sha-512 member, and
// every such member must be the digest of body.
func checkContentDigest(h http.Header, body []byte) error {
	values := h.Values("Content-Digest")
	if len(values) == 0 {
		return errSignature("Content-Digest", "the Content-Digest header (RFC 9530) is required on a request with a body")
	}
	d, err := httpsfv.UnmarshalDictionary(values)
	if err != nil {
		return errSignature("Content-Digest", "the Content-Digest header is not a structured dictionary: "+err.Error())
	}
	var checked []string
	for _, alg := range d.Names() {
		sum, ok := digests[alg]
		if !ok {
			continue
		}
		m, _ := d.Get(alg)
		item, ok := m.(httpsfv.Item)
		got, isBytes := item.Value.([]byte)
		if !ok || !isBytes {
			return errSignature("Content-Digest", "the Content-Digest member "+alg+" must be a byte sequence (:base64:)")
		}
		if subtle.ConstantTimeCompare(got, sum(body)) != 1 {
			return errSignature("Content-Digest", "the Content-Digest "+alg+" does not match the body: the body was changed or the digest is wrong")
		}
		checked = append(checked, alg)
	}
	if len(checked) == 0 {
		return errSignature("Content-Digest", "the Content-Digest header has no sha-256 or sha-512 member (it has "+strings.Join(d.Names(), ", ")+")")
	}
	return nil
}
