package reissue

import (
	"context"
	"time"

	"github.com/cardcore/cardcore/card"
	"github.com/cardcore/cardcore/storage"
)

// ReasonChange is a partial update of a reason: nil fields keep their value.
type ReasonChange struct {
	Description *string
	Type        *string
	MustBlock   *bool
	MustCharge  *bool
	Cost        *string
	Enabled     *bool
}

// CreateReason adds a reason to r.OrgID's catalogue and returns it with its id.
func (s *Service) CreateReason(ctx context.Context, r card.Reason) (card.Reason, error) {
	now := s.now()
	r.ID, r.CreatedAt, r.UpdatedAt = 0, now, now
	if err := r.Validate(); err != nil {
		return card.Reason{}, err
	}
	err := s.store.Update(ctx, func(ctx context.Context, tx storage.Tx) error {
		return tx.SaveReason(ctx, &r)
	})
	return r, err
}

// UpdateReason applies change to reason id of org.
func (s *Service) UpdateReason(ctx context.Context, org string, id int64, change ReasonChange) (card.Reason, error) {
	var out card.Reason
	err := s.store.Update(ctx, func(ctx context.Context, tx storage.Tx) error {
		r, err := tx.Reason(ctx, org, id)
		if err != nil {
			return err
		}
		set(&r.Description, change.Description)
		set(&r.Type, change.Type)
		set(&r.MustBlock, change.MustBlock)
		set(&r.MustCharge, change.MustCharge)
		set(&r.Cost, change.Cost)
		set(&r.Enabled, change.Enabled)
		r.UpdatedAt = s.now()
		if err := r.Validate(); err != nil {
			return err
		}
		out = r
		return tx.SaveReason(ctx, &r)
	})
	return out, err
}

// Reason returns reason id of org.
func (s *Service) Reason(ctx context.Context, org string, id int64) (card.Reason, error) {
	return s.store.Reason(ctx, org, id)
}

// MaxReasonsPage bounds a page of ListReasons.
const MaxReasonsPage = 50

// ListReasons returns a page of org's reasons by ascending id; a non-nil
// enabled keeps only the reasons with that flag. next is the After of the
// following page, 0 when this is the last one.
func (s *Service) ListReasons(ctx context.Context, org string, enabled *bool, page storage.Page) (rs []card.Reason, next int64, err error) {
	if page.Limit < 1 || page.Limit > MaxReasonsPage {
		return nil, 0, card.Invalid("limit", "must be 1-50")
	}
	want := page
	want.Limit++ // one more tells whether a next page exists
	rs, err = s.store.Reasons(ctx, org, enabled, want)
	if err != nil {
		return nil, 0, err
	}
	if len(rs) > page.Limit {
		rs = rs[:page.Limit]
		next = rs[len(rs)-1].ID
	}
	return rs, next, nil
}

func set[T any](dst *T, v *T) {
	if v != nil {
		*dst = *v
	}
}

func (s *Service) now() time.Time { return s.cards.Now() }
