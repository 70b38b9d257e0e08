package card

import "time"

// BulkStatus is the state of a noname bulk; only the package's variables
// exist.
type BulkStatus struct{ v uint8 }

// Bulk statuses.
var (
	BulkCreated  = BulkStatus{1} // external ids collected, no cards yet
	BulkStarted  = BulkStatus{2} // one UNBOUND card per external id
	BulkCanceled = BulkStatus{3} // its UNBOUND cards were canceled
	// BulkProcessing: started, its cards being made chunk by chunk;
	// Bulk.CardsMade counts those committed so far.
	BulkProcessing = BulkStatus{4}
)

var bulkStatusNames = [...]string{"", "CREATED", "STARTED", "CANCELED", "PROCESSING"}

// ParseBulkStatus returns the bulk status named s.
func ParseBulkStatus(s string) (BulkStatus, error) {
	for i := 1; i < len(bulkStatusNames); i++ {
		if bulkStatusNames[i] == s {
			return BulkStatus{uint8(i)}, nil
		}
	}
	return BulkStatus{}, Invalid("status", "must be CREATED, PROCESSING, STARTED or CANCELED")
}

func (s BulkStatus) String() string { return name(bulkStatusNames[:], s.v) }

// IsZero reports whether s is the zero BulkStatus.
func (s BulkStatus) IsZero() bool { return s.v == 0 }

// MarshalText renders the status name.
func (s BulkStatus) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// UnmarshalText parses a status name.
func (s *BulkStatus) UnmarshalText(b []byte) error { return unmarshal(b, s, ParseBulkStatus) }

// Bulk is a batch of noname cards: made UNBOUND, one per external id, and
// bound to a customer later. The options apply to every card of the bulk.
type Bulk struct {
	ID          string // UUID, assigned by the store when empty
	OrgID       string
	ProgramID   int64
	Status      BulkStatus
	ExternalIDs int // how many external ids the bulk holds
	// CardsMade is how many of them have their card: the first CardsMade
	// in the order they were added. It is ExternalIDs once the bulk is
	// STARTED (0 for a bulk canceled before it started).
	CardsMade          int
	PINLength          int // 4 or 6
	ContactlessEnabled bool
	Version            int64 // 1 on creation, +1 on every change
	CreatedAt          time.Time
	UpdatedAt          time.Time
}
