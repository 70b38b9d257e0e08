// Package card is the card as cardcore keeps it and the rules that hold for
// one card on its own: the closed enums, the field rules of a card, the
// program configuration cards are made under, and the one error taxonomy
// every package of the library returns. Which status a card may move to is
// not decided here: that is package lifecycle.
//
// # Closed enums
//
// Type, Mode, Status and Brand are small structs with an unexported value,
// so a caller cannot invent a status or a type: the package's variables
// (Plastic, Virtual, Normal, Blocked...) are the only values, and ParseType,
// ParseMode, ParseStatus and ParseBrand turn the APIs' upper-case spellings
// into them. The zero value means "not set". RECURRING is accepted for
// compatibility with Pismo clients but deprecated: new integrations issue
// VIRTUAL cards.
//
// There are 19 statuses in four groups: initial (CREATED, UNBOUND,
// UNNUMBERED), active (NORMAL, REISSUED), temporary block (BLOCKED, PENDING,
// WARNING, INOPERATIVE) and termination (LOST, ROBBED, THEFT, CANCELED,
// FRAUD, DAMAGED, EXPIRED, DELETED, BROKEN, DEFECT). Status.Terminated
// names the last group, from which a card never comes back.
//
// # Field rules
//
// Card.Validate checks every field and returns the first rule broken as an
// *InvalidError naming the field as the APIs spell it. In short:
//
//   - account_id and customer_id are opaque strings of 1-64 printable
//     characters, set together; only a noname card that is UNBOUND,
//     UNNUMBERED or terminated may have neither.
//   - name (the alias) is 1-50 printable characters, and always "PLASTIC"
//     on a PLASTIC card whatever was asked.
//   - printed_name is 2-26 ASCII letters and spaces, not starting or ending
//     with a space (EMV tag 5F20); an UNNUMBERED card needs one.
//   - a validity period applies to VIRTUAL and PLASTIC cards only, and
//     valid_until is set exactly when the period is and may not pass the
//     expiration.
//   - cvv_rotation_interval_hours is required on a VIRTUAL card (0 means
//     never rotate, else 1-4320 hours, Pismo's bounds) and allowed, not
//     required, on the other types.
//   - password_tries, the wrong PINs counted since the last reset (SPEC
//     12), is never negative.
//   - an issuer-numbered card (ValidateUnnumbered) is PLASTIC; the PAN hash
//     an issuer gives (ValidatePANHash) is 16-128 hex or base64 characters
//     and never digits alone, which would be a clear PAN.
//   - metadata is a JSON object of at most 3200 bytes as encoded; pin_length
//     is 4 or 6; transaction_limit is a decimal string such as "1500.00".
//
// # Dates
//
// Every time is UTC, and the zero time means "not set". The expiration date
// is a month, as printed on the card (yymm, see ParseExpiration):
// ExpirationDate holds the first instant of that month, and the card expires
// at the first instant after it (Card.ExpiresAt).
//
// # PCI data
//
// The clear PAN is never a field, is never stored and is never logged.
// Brand, BIN, the last four digits and a keyed hash of the PAN are set when
// PCI data is provisioned, and are empty until then.
//
// # Synced cards
//
// A card with Synced set is a record kept by an external system of record
// and written by card data sync (package datasync), which finds it by its
// account, customer and last four digits: a synced card needs last four
// digits, and only a synced card has a CloseDate, which is never before its
// issuing date.
//
// # Programs
//
// A Program is issuer configuration shared by its cards: BIN and brand, the
// months from issuing to expiration (default 72), whether PLASTIC cards
// start NORMAL instead of CREATED, the bulk size limit, and the count of
// wrong PINs that blocks a card (default 3) and whether it blocks (by
// default it does). Program 1
// (DefaultProgram) always exists.
//
// # Errors
//
// Every error the library returns wraps exactly one of the sentinels
// ErrNotFound, ErrInvalid, ErrConflict, ErrUnauthorized, ErrForbidden and
// ErrUnavailable, so callers branch with errors.Is. The typed errors carry
// the details for errors.As: *InvalidError the field and the rule,
// *ConflictError the card, the refused operation, and the current and
// requested status, *NotFoundError what was not found. An adapter maps the
// sentinels to its protocol (HTTP 404, 400, 409, 401, 403, and 503 with
// Retry-After for ErrUnavailable: the database was busy or going away,
// nothing was written, and the same request may succeed later).
package card
