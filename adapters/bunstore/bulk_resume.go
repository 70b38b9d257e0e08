package bunstore

import (
	"context"

	"github.com/cardcore/cardcore/card"
)

// ProcessingBulks implements storage.Store, through the partial index
// cardcore_bulks_processing.
func (s *Store) ProcessingBulks(ctx context.Context) ([]card.Bulk, error) {
	var rows []bulkRow
	err := s.reads().NewSelect().Model(&rows).Where("status = 'PROCESSING'").OrderExpr("id").Scan(ctx)
	if err != nil {
		return nil, translate(ctx, "list processing bulks", err)
	}
	out := make([]card.Bulk, len(rows))
	for i := range rows {
		if out[i], err = rows[i].bulk(); err != nil {
			return nil, err
		}
	}
	return out, nil
}
