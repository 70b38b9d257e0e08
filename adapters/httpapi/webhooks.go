package httpapi

import (
	"net/http"
	"time"
	"unicode/utf8"

	"github.com/cardcore/cardcore/adapters/webhooks"
	"github.com/cardcore/cardcore/storage"
)

// The webhook endpoints of SPEC 10.3, for server tokens (an account token
// is a 403, before the body is read). Where the spec is silent:
//   - The bodies also carry description and created_at, and failing_since
//     while deliveries fail; the secret is in the 201 answer alone.
//   - The list is {"items": [...]}, every endpoint of the org, oldest
//     first, unpaged (an org registers a handful).
//   - url is at most 2048 bytes and must resolve at registration (unless
//     private targets are allowed, when only its form is checked);
//     description at most 512 characters; an event type listed twice, or
//     one the library does not emit, is a 400 on event_types.
//   - An id that is not one of the org's endpoints (another org's, a
//     deleted one, or not a UUID at all) is a 404, as for bulks.
//   - A new endpoint gets the events committed after its registration, not
//     the feed's history (see package webhooks).
const (
	endpointsRoute = "/webhooks/v1/endpoints"
	endpointRoute  = endpointsRoute + "/{id}"
)

// Bounds of an endpoint's fields.
const (
	maxEndpointURL         = 2048
	maxEndpointDescription = 512
)

// endpointRequest is the body of POST /webhooks/v1/endpoints.
type endpointRequest struct {
	URL         string   `json:"url"`
	EventTypes  []string `json:"event_types"`
	Description string   `json:"description"`
}

// endpointBody is an endpoint as the API shows it. Secret is set only in
// the answer to its creation.
type endpointBody struct {
	ID           string   `json:"id"`
	URL          string   `json:"url"`
	EventTypes   []string `json:"event_types"`
	Description  string   `json:"description"`
	Secret       string   `json:"secret,omitempty"`
	Enabled      bool     `json:"enabled"`
	FailingSince string   `json:"failing_since,omitempty"`
	CreatedAt    string   `json:"created_at"`
}

func endpointBodyOf(ep *storage.WebhookEndpoint) endpointBody {
	b := endpointBody{ID: ep.ID, URL: ep.URL, EventTypes: make([]string, len(ep.EventTypes)),
		Description: ep.Description, Enabled: ep.Enabled, CreatedAt: ep.CreatedAt.UTC().Format(time.RFC3339)}
	for i, t := range ep.EventTypes {
		b.EventTypes[i] = string(t)
	}
	if !ep.FailingSince.IsZero() {
		b.FailingSince = ep.FailingSince.UTC().Format(time.RFC3339)
	}
	return b
}

func (a *api) createEndpoint(w http.ResponseWriter, r *http.Request, who principal) error {
	var in endpointRequest
	if err := decodeServerBody(w, r, who, &in); err != nil {
		return err
	}
	if len(in.URL) > maxEndpointURL {
		return invalid("url", "url must be at most 2048 characters")
	}
	if err := webhooks.ValidateURL(r.Context(), in.URL, a.cfg.WebhooksAllowPrivate, nil); err != nil {
		return err
	}
	types, err := webhooks.ParseEventTypes(in.EventTypes)
	if err != nil {
		return err
	}
	if utf8.RuneCountInString(in.Description) > maxEndpointDescription || !utf8.ValidString(in.Description) {
		return invalid("description", "description must be at most 512 characters of valid UTF-8")
	}
	now := a.cfg.Now()
	ep := storage.WebhookEndpoint{OrgID: who.org, URL: in.URL, EventTypes: types, Description: in.Description,
		Secret: webhooks.NewSecret(), Enabled: true, CreatedAt: now, UpdatedAt: now}
	if err := a.core.Store.CreateEndpoint(r.Context(), &ep); err != nil {
		return err
	}
	out := endpointBodyOf(&ep)
	out.Secret = ep.Secret
	writeJSON(w, http.StatusCreated, out)
	return nil
}

type endpointList struct {
	Items []endpointBody `json:"items"`
}

func (a *api) listEndpoints(w http.ResponseWriter, r *http.Request, who principal) error {
	if err := who.requireServer(); err != nil {
		return err
	}
	eps, err := a.core.Store.Endpoints(r.Context(), who.org)
	if err != nil {
		return err
	}
	out := endpointList{Items: make([]endpointBody, len(eps))}
	for i := range eps {
		out.Items[i] = endpointBodyOf(&eps[i])
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

func (a *api) deleteEndpoint(w http.ResponseWriter, r *http.Request, who principal) error {
	if _, err := serverBody(w, r, who); err != nil {
		return err
	}
	if err := a.core.Store.DeleteEndpoint(r.Context(), who.org, r.PathValue("id")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// endpointPatch is the body of PATCH /webhooks/v1/endpoints/{id}.
type endpointPatch struct {
	Enabled *bool `json:"enabled"`
}

func (a *api) patchEndpoint(w http.ResponseWriter, r *http.Request, who principal) error {
	var in endpointPatch
	if err := decodeServerBody(w, r, who, &in); err != nil {
		return err
	}
	if in.Enabled == nil {
		return invalid("enabled", "enabled (true or false) is required")
	}
	ep, err := a.core.Store.SetEndpointEnabled(r.Context(), who.org, r.PathValue("id"), *in.Enabled)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, endpointBodyOf(&ep))
	return nil
}
