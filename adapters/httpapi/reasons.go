package httpapi

import (
	"net/http"
	"strconv"

	"github.com/cardcore/cardcore/card"
	"github.com/cardcore/cardcore/reissue"
	"github.com/cardcore/cardcore/storage"
)

// decimalNumber is a JSON number kept as its decimal text, so 12.50 stays
// 12.50; a JSON string is refused.
type decimalNumber string

func (d *decimalNumber) UnmarshalJSON(b []byte) error {
	if len(b) == 0 || (b[0] != '-' && (b[0] < '0' || b[0] > '9')) {
		return card.Invalid("cost", "cost must be a JSON number")
	}
	*d = decimalNumber(b)
	return nil
}

// reasonRequest is the body of POST /wallet/v1/reissue-reasons. cost
// defaults to 0 and enabled to true.
type reasonRequest struct {
	Description string         `json:"description"`
	Type        string         `json:"type"`
	MustBlock   bool           `json:"must_block"`
	MustCharge  bool           `json:"must_charge"`
	Cost        *decimalNumber `json:"cost"`
	Enabled     *bool          `json:"enabled"`
}

func (a *api) createReason(w http.ResponseWriter, r *http.Request, who principal) error {
	var in reasonRequest
	if err := decodeServerBody(w, r, who, &in); err != nil {
		return err
	}
	reason := card.Reason{OrgID: who.org, Description: in.Description, Type: in.Type,
		MustBlock: in.MustBlock, MustCharge: in.MustCharge, Cost: "0", Enabled: true}
	if in.Cost != nil {
		reason.Cost = string(*in.Cost)
	}
	if in.Enabled != nil {
		reason.Enabled = *in.Enabled
	}
	reason, err := a.core.Reissue.CreateReason(r.Context(), reason)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, reasonBodyOf(&reason))
	return nil
}

// Reasons pages: limit 1-50, default 10.
const defaultReasonsPage = 10

type reasonList struct {
	Items      []reasonBody `json:"items"`
	NextCursor string       `json:"next_cursor,omitempty"`
}

func (a *api) listReasons(w http.ResponseWriter, r *http.Request, who principal) error {
	if err := who.requireServer(); err != nil {
		return err
	}
	q := r.URL.Query()
	var enabled *bool
	switch v := q.Get("enabled"); v {
	case "":
	case "true", "false":
		b := v == "true"
		enabled = &b
	default:
		return invalid("enabled", "enabled must be true or false")
	}
	page := storage.Page{Limit: defaultReasonsPage}
	if v := q.Get("limit"); v != "" {
		n, ok := positiveInt(v)
		if !ok || n > reissue.MaxReasonsPage {
			return invalid("limit", "limit must be an integer from 1 to 50")
		}
		page.Limit = int(n)
	}
	// The cursor is the id of the last reason of the previous page.
	if v := q.Get("cursor"); v != "" {
		n, ok := positiveInt(v)
		if !ok {
			return invalid("cursor", "cursor is not one this API returned")
		}
		page.After = n
	}
	rs, next, err := a.core.Reissue.ListReasons(r.Context(), who.org, enabled, page)
	if err != nil {
		return err
	}
	out := reasonList{Items: make([]reasonBody, len(rs))}
	for i := range rs {
		out.Items[i] = reasonBodyOf(&rs[i])
	}
	if next != 0 {
		out.NextCursor = strconv.FormatInt(next, 10)
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}
