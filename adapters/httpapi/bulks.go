package httpapi

import (
	"context"
	"errors"
	"net/http"
	"strconv"

	"github.com/cardcore/cardcore/card"
	"github.com/cardcore/cardcore/noname"
)

// bulkRequest is the body of POST /cards/v1/bulks.
type bulkRequest struct {
	ProgramID          int64    `json:"program_id"`
	ExternalIDs        []string `json:"external_ids"`
	PINLength          int      `json:"pin_length"`
	ContactlessEnabled *bool    `json:"contactless_enabled"`
}

// checkLimit refuses more external ids in one request than the program's
// bulk size limit. An unknown program is left to the library to report.
func (a *api) checkLimit(program int64, ids []string) error {
	p, err := a.core.Cards.Programs().Lookup(program)
	if err != nil {
		return nil
	}
	if len(ids) > p.BulkLimit() {
		return invalid("external_ids", "at most "+strconv.Itoa(p.BulkLimit())+" external ids per request for program "+
			strconv.FormatInt(p.ID, 10))
	}
	return nil
}

func (a *api) createBulk(w http.ResponseWriter, r *http.Request, who principal) error {
	var in bulkRequest
	if err := decodeServerBody(w, r, who, &in); err != nil {
		return err
	}
	if in.ProgramID < 0 {
		return invalid("program_id", "program_id must be a positive integer")
	}
	program := in.ProgramID
	if program == 0 {
		program = card.DefaultProgramID
	}
	if err := a.checkLimit(program, in.ExternalIDs); err != nil {
		return err
	}
	b, err := a.core.Noname.Create(r.Context(), noname.CreateRequest{OrgID: who.org, ProgramID: program,
		ExternalIDs: in.ExternalIDs, PINLength: in.PINLength, ContactlessEnabled: in.ContactlessEnabled})
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, bulkBodyOf(noname.View{Bulk: b}))
	return nil
}

// bulkFailure words every not found of a bulk route the same way: the only
// thing such a route looks up is the bulk.
func bulkFailure(err error) error {
	if errors.Is(err, card.ErrNotFound) {
		return errNotFound("bulk")
	}
	return err
}

// answerBulk answers with the bulk as it is once a change has committed.
func (a *api) answerBulk(ctx context.Context, w http.ResponseWriter, status int, org, id string) error {
	v, err := a.core.Noname.Get(ctx, org, id)
	if err != nil {
		return bulkFailure(err)
	}
	writeJSON(w, status, bulkBodyOf(v))
	return nil
}

func (a *api) getBulk(w http.ResponseWriter, r *http.Request, who principal) error {
	if _, err := serverBody(w, r, who); err != nil {
		return err
	}
	id := bulkID(r)
	return a.answerBulk(r.Context(), w, http.StatusOK, who.org, id)
}

func (a *api) startBulk(w http.ResponseWriter, r *http.Request, who principal) error {
	if _, err := serverBody(w, r, who); err != nil {
		return err
	}
	id := bulkID(r)
	if _, err := a.core.Noname.Start(r.Context(), who.org, id); err != nil {
		return bulkFailure(err)
	}
	return a.answerBulk(r.Context(), w, http.StatusAccepted, who.org, id)
}

// limitFor checks the external ids of a request on an existing bulk against
// its program's limit. A bulk that does not exist is reported by the use
// case, after the ids' own 400s.
func (a *api) limitFor(ctx context.Context, org, id string, ids []string) error {
	v, err := a.core.Noname.Get(ctx, org, id)
	if errors.Is(err, card.ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	return a.checkLimit(v.ProgramID, ids)
}

func (a *api) incrementBulk(w http.ResponseWriter, r *http.Request, who principal) error {
	var in struct {
		ExternalIDs []string `json:"external_ids"`
	}
	if err := decodeServerBody(w, r, who, &in); err != nil {
		return err
	}
	id := bulkID(r)
	if err := a.limitFor(r.Context(), who.org, id, in.ExternalIDs); err != nil {
		return err
	}
	if _, err := a.core.Noname.Increment(r.Context(), who.org, id, in.ExternalIDs); err != nil {
		return bulkFailure(err)
	}
	return a.answerBulk(r.Context(), w, http.StatusOK, who.org, id)
}

func (a *api) cancelBulk(w http.ResponseWriter, r *http.Request, who principal) error {
	var in struct {
		CancelType  *string  `json:"cancel_type"`
		ExternalIDs []string `json:"external_ids"`
	}
	if err := decodeServerBody(w, r, who, &in); err != nil {
		return err
	}
	if in.CancelType == nil {
		return invalid("cancel_type", "cancel_type is required: FULL or PARTIAL")
	}
	id := bulkID(r)
	if err := a.limitFor(r.Context(), who.org, id, in.ExternalIDs); err != nil {
		return err
	}
	if _, _, err := a.core.Noname.Cancel(r.Context(), who.org, id, *in.CancelType, in.ExternalIDs); err != nil {
		return bulkFailure(err)
	}
	return a.answerBulk(r.Context(), w, http.StatusAccepted, who.org, id)
}
