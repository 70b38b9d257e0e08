package httpapi

import (
	"net/http"
	"strconv"
)

// Feed pages: limit 1-1000, default 100.
const (
	defaultFeedPage = 100
	maxFeedPage     = 1000
)

// feed answers GET /events: the org's committed events after position
// after, in commit order, and the position to ask from next.
func (a *api) feed(w http.ResponseWriter, r *http.Request, who principal) error {
	if err := who.requireServer(); err != nil {
		return err
	}
	after, limit, err := pageQuery(r, "", defaultFeedPage, maxFeedPage)
	if err != nil {
		return err
	}
	evs, err := a.core.Store.Feed(r.Context(), who.org, after, limit)
	if err != nil {
		return err
	}
	out := feedBody{Events: make([]feedEvent, len(evs)), NextAfter: after}
	for i, e := range evs {
		out.Events[i] = feedEvent{Event: e, Seq: e.Seq}
		out.NextAfter = e.Seq
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// pageQuery reads the after and limit of a paged read: after a
// non-negative integer (0 when absent; what names, e.g. " (a card
// version)", goes into its rule), limit from 1 to most (def when absent).
func pageQuery(r *http.Request, what string, def, most int) (after int64, limit int, err error) {
	q := r.URL.Query()
	if v := q.Get("after"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if !isDigits(v) || err != nil {
			return 0, 0, invalid("after", "after must be a non-negative integer"+what)
		}
		after = n
	}
	limit = def
	if v := q.Get("limit"); v != "" {
		n, ok := positiveInt(v)
		if !ok || n > int64(most) {
			return 0, 0, invalid("limit", "limit must be an integer from 1 to "+strconv.Itoa(most))
		}
		limit = int(n)
	}
	return after, limit, nil
}
