package card

// Status is a card status. The zero Status is no status; the only other
// values are the package's variables, so a caller cannot invent one.
type Status struct{ v uint8 }

// The 19 statuses of a card, by group.
var (
	// Initial.
	Created    = Status{1}
	Unbound    = Status{2}
	Unnumbered = Status{3}
	// Active.
	Normal   = Status{4}
	Reissued = Status{5}
	// Temporary block.
	Blocked     = Status{6}
	Pending     = Status{7}
	Warning     = Status{8}
	Inoperative = Status{9}
	// Termination.
	Lost     = Status{10}
	Robbed   = Status{11}
	Theft    = Status{12}
	Canceled = Status{13}
	Fraud    = Status{14}
	Damaged  = Status{15}
	Expired  = Status{16}
	Deleted  = Status{17}
	Broken   = Status{18}
	Defect   = Status{19}
)

// NumStatuses is the number of statuses; Status.Index is below it.
const NumStatuses = 19

var statusNames = [NumStatuses + 1]string{"",
	"CREATED", "UNBOUND", "UNNUMBERED",
	"NORMAL", "REISSUED",
	"BLOCKED", "PENDING", "WARNING", "INOPERATIVE",
	"LOST", "ROBBED", "THEFT", "CANCELED", "FRAUD", "DAMAGED", "EXPIRED", "DELETED", "BROKEN", "DEFECT",
}

// Group is the group a status belongs to.
type Group uint8

// The status groups of SPEC section 2.
const (
	GroupNone Group = iota
	GroupInitial
	GroupActive
	GroupTemporaryBlock
	GroupTermination
)

func (g Group) String() string {
	return [...]string{"none", "initial", "active", "temporary block", "termination"}[g]
}

// Statuses returns every status in declaration order.
func Statuses() []Status {
	s := make([]Status, NumStatuses)
	for i := range s {
		s[i] = Status{uint8(i + 1)}
	}
	return s
}

// ParseStatus returns the status named s (upper case, as the APIs spell it).
func ParseStatus(s string) (Status, error) {
	for i := 1; i <= NumStatuses; i++ {
		if statusNames[i] == s {
			return Status{uint8(i)}, nil
		}
	}
	return Status{}, Invalid("status", "must be one of the 19 card statuses")
}

// String returns the status as the APIs spell it, or "" for the zero Status.
func (s Status) String() string {
	if int(s.v) > NumStatuses {
		return ""
	}
	return statusNames[s.v]
}

// IsZero reports whether s is the zero Status.
func (s Status) IsZero() bool { return s.v == 0 }

// Index is a dense number in [0, NumStatuses) for table lookups; -1 for zero.
func (s Status) Index() int { return int(s.v) - 1 }

// Group returns the group of s.
func (s Status) Group() Group {
	switch {
	case s.v == 0:
		return GroupNone
	case s.v <= 3:
		return GroupInitial
	case s.v <= 5:
		return GroupActive
	case s.v <= 9:
		return GroupTemporaryBlock
	default:
		return GroupTermination
	}
}

// Terminated reports whether s is a termination status, from which a card
// never returns to an active or temporary status.
func (s Status) Terminated() bool { return s.Group() == GroupTermination }

// MarshalText renders the status name.
func (s Status) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// UnmarshalText parses a status name; the empty text is the zero Status.
func (s *Status) UnmarshalText(b []byte) error {
	if len(b) == 0 {
		*s = Status{}
		return nil
	}
	v, err := ParseStatus(string(b))
	if err != nil {
		return err
	}
	*s = v
	return nil
}
