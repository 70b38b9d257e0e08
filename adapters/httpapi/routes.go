package httpapi

import (
	"log/slog"
	"maps"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/cardcore/cardcore"
	"github.com/golang-jwt/jwt/v5"
)

// api is the handler state: the use cases, the configuration, the token
// parser and the sandbox routes' signature verifier.
type api struct {
	core   *cardcore.Core
	cfg    Config
	log    *slog.Logger
	parser *jwt.Parser
	sig    *verifier
}

// endpoint serves one route for an authenticated caller. It checks the
// request in the order of SPEC section 7.1 (path ids, then 403, then the
// body's size and content) and returns the error to answer, if any.
type endpoint func(w http.ResponseWriter, r *http.Request, who principal) error

const (
	v1CardRoute = "/wallet/v1/customers/{customerId}/accounts/{accountId}/cards/{cardId}"
	bulkRoute   = "/cards/v1/bulks/{bulkId}"
	syncRoute   = "/v2/data/customers/{sourceCustomerId}/accounts/{sourceAccountId}/cards"
)

// newAPI builds the handler of a core and configuration New has checked.
func newAPI(core *cardcore.Core, cfg Config) http.Handler {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	a := &api{core: core, cfg: cfg, log: cfg.Logger, parser: newParser(cfg.Now)}
	if a.log == nil {
		a.log = slog.Default()
	}
	authed := map[string]endpoint{
		"POST /wallet/v2/cards":                                  a.createCard,
		"GET /wallet/v2/cards/{cardId}":                          a.readCard,
		"POST /wallet/v2/cards/{cardId}/noname/bind":             a.bind,
		"PUT /wallet/v2/cards/{cardId}/noname/bind":              a.bind,
		"PATCH /wallet/v2/cards/{cardId}":                        a.updateInfo,
		"PUT /wallet/v2/cards/{cardId}/number":                   a.number,
		"POST /wallet/v2/cards/{cardId}/password-tries/increase": a.increasePINTries,
		"POST /wallet/v2/cards/{cardId}/password-tries/reset":    a.resetPINTries,
		"GET " + v1CardRoute:                                     a.getCard,
		"PUT " + v1CardRoute + "/status":                         a.updateStatus,
		"PUT " + v1CardRoute + "/activate":                       a.activate,
		"POST " + v1CardRoute + "/reissue":                       a.reissue,
		"GET " + v1CardRoute + "/events":                         a.cardHistory,
		"GET /wallet/v1/reissue-reasons":                         a.listReasons,
		"POST /wallet/v1/reissue-reasons":                        a.createReason,
		"POST /cards/v1/bulks":                                   a.createBulk,
		"GET " + bulkRoute:                                       a.getBulk,
		"PUT " + bulkRoute:                                       a.incrementBulk,
		"POST " + bulkRoute + "/start":                           a.startBulk,
		"POST " + bulkRoute + "/cancel":                          a.cancelBulk,
		"GET /events":                                            a.feed,
		"POST " + endpointsRoute:                                 a.createEndpoint,
		"GET " + endpointsRoute:                                  a.listEndpoints,
		"DELETE " + endpointRoute:                                a.deleteEndpoint,
		"PATCH " + endpointRoute:                                 a.patchEndpoint,
	}
	if core.Sync != nil {
		authed["PUT "+syncRoute] = a.syncCards
	}
	if core.Issuance != nil {
		origin, _ := publicOrigin(cfg.PublicOrigin) // checked by New
		a.sig = &verifier{keys: maps.Clone(cfg.ClientKeys), now: cfg.Now, origin: origin}
		authed["POST /accounts/{accountId}/cards"] = a.createSandboxCard
		authed["PATCH /simulator/cards/{cardId}/issue"] = a.issueSandboxCard
		authed["PATCH /simulator/cards/{cardId}/fail"] = a.failSandboxCard
		authed["GET /cards/{cardId}"] = a.getSandboxCard
	}
	public := map[string]http.HandlerFunc{
		"GET /openapi.json": serveOpenAPI,
		"GET /healthz":      health,
	}
	mux := http.NewServeMux()
	methods := map[string][]string{}
	add := func(pattern string, h http.Handler) {
		method, path, _ := strings.Cut(pattern, " ")
		mux.Handle(pattern, h)
		methods[path] = append(methods[path], method)
		if method == http.MethodGet {
			methods[path] = append(methods[path], http.MethodHead)
		}
	}
	for pattern, e := range authed {
		add(pattern, a.authed(e))
	}
	for pattern, h := range public {
		add(pattern, h)
	}
	// The mux's own 404 and 405 answers are plain text; these answer with
	// the error body instead.
	for path, ms := range methods {
		slices.Sort(ms)
		allow := strings.Join(ms, ", ")
		mux.HandleFunc(path, func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Allow", allow)
			writeJSON(w, http.StatusMethodNotAllowed, errorBody{Code: codeMethodNotAllowed,
				Message: "method " + r.Method + " is not allowed here; allowed: " + allow})
		})
	}
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusNotFound, errorBody{Code: codeNotFound, Message: "no such route"})
	})
	return a.observed(mux)
}

// authed authenticates the caller (401 first of all errors), then runs e
// and answers its error.
func (a *api) authed(e endpoint) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		who, err := a.authenticate(r)
		if err == nil {
			loggedOrg(r.Context(), who.org)
			err = e(w, r, who)
		}
		if err != nil {
			a.fail(w, r, err)
		}
	})
}

// recoverer turns a panic into a logged 500, so a bug answers like a store
// failure instead of dropping the connection.
func (a *api) recoverer(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			v := recover()
			if v == nil {
				return
			}
			if v == http.ErrAbortHandler {
				panic(v)
			}
			a.log.ErrorContext(r.Context(), "httpapi: panic", "method", r.Method, "route", r.Pattern, "panic", v)
			writeJSON(w, http.StatusInternalServerError, errorBody{Code: codeInternal, Message: "internal error"})
		}()
		next.ServeHTTP(w, r)
	})
}

func health(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
}
