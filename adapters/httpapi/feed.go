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
	q := r.URL.Query()
	var after int64
	if v := q.Get("after"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if !isDigits(v) || err != nil {
			return invalid("after", "after must be a non-negative integer")
		}
		after = n
	}
	limit := defaultFeedPage
	if v := q.Get("limit"); v != "" {
		n, ok := positiveInt(v)
		if !ok || n > maxFeedPage {
			return invalid("limit", "limit must be an integer from 1 to 1000")
		}
		limit = int(n)
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
