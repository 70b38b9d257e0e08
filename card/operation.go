package card

// Operation is something done to a card: a use case (create, update
// status, activate, bind, reissue...) or a system rule (validity elapses,
// expiration passes). It is the one vocabulary of the library: the
// transition table of package lifecycle is keyed by it, a refused change
// names it, and every card event carries its OperationType. Only the
// package's variables exist.
type Operation struct{ v uint8 }

// The operations. Those that move a card between statuses are rows of the
// transition table (SPEC section 2); Create, StartBulk and Sync make cards.
var (
	UpdateStatus       = Operation{1}  // a status set by hand
	Activate           = Operation{2}  // PLASTIC only: CREATED -> NORMAL
	Bind               = Operation{3}  // noname: UNBOUND -> CREATED
	Number             = Operation{4}  // the issuer sets the PAN: UNNUMBERED -> CREATED or UNBOUND
	Reissue            = Operation{5}  // the old card of a reissue, and its successor's creation
	SuccessorActivated = Operation{6}  // the predecessor of an activated card
	CancelBulk         = Operation{7}  // UNBOUND cards of a canceled noname bulk
	Issuance           = Operation{8}  // section 9: PENDING -> NORMAL (issued) or CANCELED (failed)
	ValidityElapses    = Operation{9}  // system: valid_until passed
	RenewValidity      = Operation{10} // INOPERATIVE -> NORMAL
	Expire             = Operation{11} // system: expiration date passed
	Create             = Operation{12} // a new named card
	StartBulk          = Operation{13} // the UNBOUND cards of a started noname bulk
	Sync               = Operation{14} // a card written by card data sync (SPEC section 8)
	IncreasePINTries   = Operation{15} // SPEC 12: a wrong PIN counted, the status kept
	PINTriesExceeded   = Operation{16} // SPEC 12: the count reached the program's maximum: -> BLOCKED
	ResetPINTries      = Operation{17} // SPEC 12: the count back to 0; BLOCKED -> NORMAL
	UpdateInfo         = Operation{18} // SPEC 12: printed name, alias, embossing, contactless, limit, metadata
)

// NumOperations is the number of operations; Index is below it.
const NumOperations = 18

var operationNames = [NumOperations + 1][2]string{{"", ""},
	{"update_status", "STATUS_UPDATE"},
	{"activate", "ACTIVATION"},
	{"bind", "BIND"},
	{"number", "PAN_UPDATE"},
	{"reissue", "REISSUE"},
	{"successor_activated", "SUCCESSOR_ACTIVATED"},
	{"cancel_bulk", "NONAME_BULK_CANCEL"},
	{"issuance", "ISSUANCE"},
	{"validity_elapses", "CARD_VALIDITY_ELAPSED"},
	{"renew_validity", "CARD_VALIDITY_RENEWAL"},
	{"expire", "CARD_EXPIRATION"},
	{"create", "CARD_CREATION"},
	{"start_bulk", "NONAME_BULK_START"},
	{"card_sync", "CARD_SYNC"},
	{"increase_pin_tries", "PIN_TRIES_INCREASE"},
	{"pin_tries_exceeded", "PIN_TRIES_EXCEEDED"},
	{"reset_pin_tries", "PIN_TRIES_RESET"},
	{"update_info", "CARD_INFO_UPDATE"},
}

// Operations returns every operation, in the order of Index.
func Operations() []Operation {
	ops := make([]Operation, NumOperations)
	for i := range ops {
		ops[i] = Operation{uint8(i + 1)}
	}
	return ops
}

// String is the operation's name in refusals and the transition diagram,
// e.g. "update_status".
func (o Operation) String() string { return o.names()[0] }

// OperationType is the operation_type of the card events it emits, e.g.
// "STATUS_UPDATE".
func (o Operation) OperationType() string { return o.names()[1] }

// Index is o's position in Operations, from 0; -1 for the zero Operation.
func (o Operation) Index() int { return int(o.v) - 1 }

// IsZero reports whether o is the zero Operation.
func (o Operation) IsZero() bool { return o.v == 0 }

func (o Operation) names() [2]string {
	if int(o.v) > NumOperations {
		return [2]string{}
	}
	return operationNames[o.v]
}
