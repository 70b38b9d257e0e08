package bunstore_test

import (
	"testing"

	"github.com/cardcore/cardcore/adapters/bunstore"
	"github.com/cardcore/cardcore/internal/testdb"
	"github.com/cardcore/cardcore/storage"
	"github.com/cardcore/cardcore/storage/storagetest"
)

// TestConformance runs the storage conformance suite on a SQLite file and,
// when CARDCORE_TEST_PG_DSN is set, on PostgreSQL.
func TestConformance(t *testing.T) {
	for _, kind := range testdb.Kinds {
		t.Run(kind, func(t *testing.T) {
			storagetest.Run(t, func(t *testing.T) storage.Store {
				s, err := bunstore.New(t.Context(), testdb.Open(t, kind))
				if err != nil {
					t.Fatal(err)
				}
				return s
			})
		})
	}
}
