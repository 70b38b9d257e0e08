package httpapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strconv"
	"strings"

	"github.com/cardcore/cardcore/card"
	"github.com/google/uuid"
)

// maxBody bounds request bodies: 1 MiB.
const maxBody = 1 << 20

// drainLimit bounds what is read and discarded of a body over maxBody.
const drainLimit = 8 << 20

// maxIdempotencyKey bounds x-idempotency-key.
const maxIdempotencyKey = 36

func isDigits(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// decimalID parses a positive decimal integer that fits an int64 and
// returns it in canonical form (no leading zeros).
func decimalID(s string) (string, bool) {
	n, ok := positiveInt(s)
	if !ok {
		return "", false
	}
	return strconv.FormatInt(n, 10), true
}

func positiveInt(s string) (int64, bool) {
	if !isDigits(s) {
		return 0, false
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < 1 {
		return 0, false
	}
	return n, true
}

// pathCardID reads the {cardId} wildcard.
func pathCardID(r *http.Request) (int64, error) {
	id, ok := positiveInt(r.PathValue("cardId"))
	if !ok {
		return 0, invalid("cardId", "cardId must be a positive decimal integer")
	}
	return id, nil
}

// owner is the account and customer a /wallet/v1 path names.
type owner struct {
	customer, account string
	card              int64
}

// pathOwner reads {customerId}, {accountId} and {cardId}.
func pathOwner(r *http.Request) (owner, error) {
	var o owner
	var ok bool
	if o.customer, ok = decimalID(r.PathValue("customerId")); !ok {
		return o, invalid("customerId", "customerId must be a positive decimal integer")
	}
	if o.account, ok = decimalID(r.PathValue("accountId")); !ok {
		return o, invalid("accountId", "accountId must be a positive decimal integer")
	}
	id, err := pathCardID(r)
	o.card = id
	return o, err
}

// headerIDs reads x-account-id and x-customer-id. x-customer-id is
// required; x-account-id defaults to an account token's account and is
// required with a server token.
func headerIDs(r *http.Request, who principal) (account, customer string, err error) {
	account, err = headerID(r, "x-account-id")
	if err != nil {
		return "", "", err
	}
	customer, err = headerID(r, "x-customer-id")
	if err != nil {
		return "", "", err
	}
	if customer == "" {
		return "", "", invalid("x-customer-id", "the x-customer-id header is required")
	}
	if account != "" {
		return account, customer, nil
	}
	if who.server {
		return "", "", invalid("x-account-id", "the x-account-id header is required with a server token")
	}
	if _, ok := decimalID(who.account); !ok {
		return "", "", invalid("x-account-id", "the x-account-id header is required: the token's account is not a decimal integer")
	}
	return who.account, customer, nil
}

// headerID reads an optional id header: a positive decimal integer.
func headerID(r *http.Request, name string) (string, error) {
	v := r.Header.Get(name)
	if v == "" {
		return "", nil
	}
	id, ok := decimalID(v)
	if !ok {
		return "", invalid(name, "the "+name+" header must be a positive decimal integer")
	}
	return id, nil
}

// idempotencyKey reads x-idempotency-key: at most 36 printable characters.
func idempotencyKey(r *http.Request) (string, error) {
	k := r.Header.Get("x-idempotency-key")
	if k == "" {
		return "", nil
	}
	if len(k) > maxIdempotencyKey || card.ValidateRef("x-idempotency-key", k) != nil {
		return "", invalid("x-idempotency-key", "the x-idempotency-key header must be at most 36 printable characters")
	}
	return k, nil
}

// readBody reads the whole request body, refusing more than 1 MiB with 413.
// GET requests' bodies are not read.
func readBody(w http.ResponseWriter, r *http.Request) ([]byte, error) {
	if r.Method == http.MethodGet || r.Method == http.MethodHead {
		return nil, nil
	}
	if r.ContentLength > maxBody && strings.EqualFold(r.Header.Get("Expect"), "100-continue") {
		return nil, errTooLarge() // the client waits for this answer before it sends the body
	}
	b, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBody))
	var tooLarge *http.MaxBytesError
	switch {
	case errors.As(err, &tooLarge):
		// Read on, up to a bound, what the client is still sending, so that
		// it reads the 413 instead of a connection reset mid-write. The
		// connection is closed after the answer.
		_, _ = io.CopyN(io.Discard, r.Body, drainLimit)
		return nil, errTooLarge()
	case err != nil:
		return nil, invalid("", "the request body could not be read")
	}
	return b, nil
}

// serverBody checks a route for servers up to its body: the server token
// (403), the body's size (413).
func serverBody(w http.ResponseWriter, r *http.Request, who principal) ([]byte, error) {
	if err := who.requireServer(); err != nil {
		return nil, err
	}
	return readBody(w, r)
}

// decodeServerBody checks a route for servers up to its body, as
// serverBody does, and decodes the body into v (400).
func decodeServerBody(w http.ResponseWriter, r *http.Request, who principal, v any) error {
	body, err := serverBody(w, r, who)
	if err != nil {
		return err
	}
	return decode(body, v)
}

// decode unmarshals a JSON object body into v. An empty body is an empty
// object. Unknown fields are ignored (Pismo clients send more than we
// read); a value of the wrong JSON type is a 400 naming its field.
func decode(body []byte, v any) error {
	if len(bytes.TrimSpace(body)) == 0 {
		body = []byte("{}")
	}
	err := json.Unmarshal(body, v)
	var te *json.UnmarshalTypeError
	var se *json.SyntaxError
	var ie *card.InvalidError
	switch {
	case err == nil:
		return nil
	case errors.As(err, &ie):
		return ie
	case errors.As(err, &te) && te.Field != "":
		return invalid(te.Field, te.Field+": expected "+jsonKind(te.Type.Kind().String())+", got "+te.Value)
	case errors.As(err, &te):
		return invalid("", "the request body must be a JSON object")
	case errors.As(err, &se):
		return invalid("", "the request body is not valid JSON: "+se.Error())
	}
	return invalid("", "the request body is not valid JSON")
}

// jsonKind names a Go kind as the JSON type a client must send.
func jsonKind(kind string) string {
	switch {
	case strings.HasPrefix(kind, "int"), strings.HasPrefix(kind, "uint"):
		return "an integer"
	case kind == "string":
		return "a string"
	case kind == "bool":
		return "a boolean"
	case kind == "slice":
		return "an array"
	case kind == "map", kind == "struct":
		return "an object"
	}
	return "of another JSON type"
}

// rawObject normalises an optional JSON object field: null is absent, and
// anything else is compacted, so its size is that of its encoding.
func rawObject(m json.RawMessage) json.RawMessage {
	if m == nil || bytes.Equal(m, []byte("null")) {
		return nil
	}
	var b bytes.Buffer
	if json.Compact(&b, m) != nil {
		return m // the library reports it as invalid
	}
	return b.Bytes()
}

// bulkID reads {bulkId}. Bulk ids are UUIDs, so any other text names no
// bulk: it becomes "", which no bulk has, so that no odd bytes reach the
// store while the use cases still check the body before they answer 404.
func bulkID(r *http.Request) string {
	id := r.PathValue("bulkId")
	if _, err := uuid.Parse(id); err != nil || len(id) != 36 {
		return ""
	}
	return id
}

// writeJSON writes v as the JSON answer with status.
func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		status = http.StatusInternalServerError
		b = []byte(`{"code":"internal_error","message":"internal error"}`)
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(len(b)+1))
	w.WriteHeader(status)
	_, _ = w.Write(append(b, '\n'))
}
