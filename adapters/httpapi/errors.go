package httpapi

import (
	"errors"
	"net/http"

	"github.com/cardcore/cardcore/card"
)

// Error codes of the error body.
const (
	codeInvalid          = "invalid_request"
	codeUnauthorized     = "unauthorized"
	codeForbidden        = "forbidden"
	codeNotFound         = "not_found"
	codeMethodNotAllowed = "method_not_allowed"
	codeConflict         = "conflict"
	codeTooLarge         = "payload_too_large"
	codeUnavailable      = "unavailable"
	codeInternal         = "internal_error"
)

// retryAfter is the Retry-After (seconds) of a 503: the database was busy
// with another writer for the whole busy timeout, so trying again at once
// would likely wait as long again.
const retryAfter = "1"

// errorBody is the error answer of SPEC section 6. current_status is set on
// conflicts about a card's status, requested_status on those of a status
// update.
type errorBody struct {
	Code            string `json:"code"`
	Message         string `json:"message"`
	Field           string `json:"field,omitempty"`
	CurrentStatus   string `json:"current_status,omitempty"`
	RequestedStatus string `json:"requested_status,omitempty"`
}

// httpError is an error the adapter itself decides, with its status.
type httpError struct {
	status int
	body   errorBody
}

func (e *httpError) Error() string { return e.body.Message }

func errUnauthorized(msg string) error {
	return &httpError{http.StatusUnauthorized, errorBody{Code: codeUnauthorized, Message: msg}}
}

func errForbidden(msg string) error {
	return &httpError{http.StatusForbidden, errorBody{Code: codeForbidden, Message: msg}}
}

func errTooLarge() error {
	return &httpError{http.StatusRequestEntityTooLarge, errorBody{Code: codeTooLarge,
		Message: "the request body is larger than 1 MiB"}}
}

// errNotFound answers 404 without naming whether the resource exists in
// another org or account.
func errNotFound(what string) error {
	return &httpError{http.StatusNotFound, errorBody{Code: codeNotFound, Message: what + " not found"}}
}

// invalid is a 400 naming field ("" for none).
func invalid(field, msg string) error {
	return &httpError{http.StatusBadRequest, errorBody{Code: codeInvalid, Message: msg, Field: field}}
}

// classify maps err to its status and body: the adapter's own errors as they
// are, the library's taxonomy by sentinel (card.ErrUnavailable to a 503),
// anything else to a 500 that says nothing about its cause. internal
// reports whether it is a 500.
func classify(err error) (status int, body errorBody, internal bool) {
	var he *httpError
	var ie *card.InvalidError
	var ce *card.ConflictError
	switch {
	case errors.As(err, &he):
		return he.status, he.body, false
	case errors.As(err, &ie):
		return http.StatusBadRequest, errorBody{Code: codeInvalid, Message: ie.Error(), Field: ie.Field}, false
	case errors.Is(err, card.ErrInvalid):
		return http.StatusBadRequest, errorBody{Code: codeInvalid, Message: err.Error()}, false
	case errors.Is(err, card.ErrNotFound):
		return http.StatusNotFound, errorBody{Code: codeNotFound, Message: err.Error()}, false
	case errors.As(err, &ce):
		return http.StatusConflict, errorBody{Code: codeConflict, Message: ce.Error(),
			CurrentStatus: ce.Status.String(), RequestedStatus: ce.Requested.String()}, false
	case errors.Is(err, card.ErrConflict):
		return http.StatusConflict, errorBody{Code: codeConflict, Message: err.Error()}, false
	case errors.Is(err, card.ErrUnauthorized):
		return http.StatusUnauthorized, errorBody{Code: codeUnauthorized, Message: err.Error()}, false
	case errors.Is(err, card.ErrForbidden):
		return http.StatusForbidden, errorBody{Code: codeForbidden, Message: err.Error()}, false
	case errors.Is(err, card.ErrUnavailable):
		// The cause (a lock, the server's connections) stays in the log.
		return http.StatusServiceUnavailable, errorBody{Code: codeUnavailable,
			Message: "the database is busy; try again later"}, false
	}
	return http.StatusInternalServerError, errorBody{Code: codeInternal, Message: "internal error"}, true
}

// fail writes the answer to err, logging the errors that are the server's.
func (a *api) fail(w http.ResponseWriter, r *http.Request, err error) {
	status, body, internal := classify(err)
	if internal {
		if r.Context().Err() == nil {
			a.log.ErrorContext(r.Context(), "httpapi: request failed",
				"method", r.Method, "route", r.Pattern, "error", err.Error())
		}
	}
	switch status {
	case http.StatusUnauthorized:
		w.Header().Set("WWW-Authenticate", `Bearer realm="cardcore"`)
	case http.StatusServiceUnavailable:
		a.log.WarnContext(r.Context(), "httpapi: database unavailable",
			"method", r.Method, "route", r.Pattern, "error", err.Error())
		w.Header().Set("Retry-After", retryAfter)
	}
	writeJSON(w, status, body)
}
