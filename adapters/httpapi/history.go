package httpapi

import (
	"encoding/json"
	"fmt"
	"net/http"
)

// History pages: limit 1-100, default 50 (SPEC 10.5).
const (
	defaultHistoryPage = 50
	maxHistoryPage     = 100
)

// historyBody is a page of a card's history: its events as the feed
// renders them, and the version to ask from next.
type historyBody struct {
	Events    []feedEvent `json:"events"`
	NextAfter int64       `json:"next_after"`
}

// cardHistory answers GET /wallet/v1/.../cards/{cardId}/events: the card's
// committed events above version after, in version order, and the version
// of the last one (after itself on an empty page). The checks come in the
// order of SPEC 7.1: path ids, the token's account, the query, the card.
func (a *api) cardHistory(w http.ResponseWriter, r *http.Request, who principal) error {
	o, _, err := accountCard(w, r, who)
	if err != nil {
		return err
	}
	after, limit, err := pageQuery(r, " (a card version)", defaultHistoryPage, maxHistoryPage)
	if err != nil {
		return err
	}
	if _, err := a.ownedCard(r.Context(), who, o); err != nil {
		return err
	}
	evs, err := a.core.Store.CardEvents(r.Context(), who.org, o.card, after, limit)
	if err != nil {
		return err
	}
	out := historyBody{Events: make([]feedEvent, len(evs)), NextAfter: after}
	for i, e := range evs {
		out.Events[i] = feedEvent{Event: e, Seq: e.Seq}
		v, err := eventVersion(e.Data)
		if err != nil {
			return err
		}
		out.NextAfter = v
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// eventVersion reads the card version an event's data carries.
func eventVersion(data []byte) (int64, error) {
	var d struct {
		Version int64 `json:"version"`
	}
	if err := json.Unmarshal(data, &d); err != nil {
		return 0, fmt.Errorf("httpapi: event data without a version: %w", err)
	}
	return d.Version, nil
}
