// Package lifecycle holds the rules that move a card from one status to
// another, and the use cases that apply them: create, get, list, update
// status, activate, renew validity, the sweep, and SPEC 12's PIN tries
// (IncreasePINTries, ResetPINTries), card information (UpdateInfo) and
// numbering of issuer-numbered cards (Number).
//
// # The transition table
//
// The table of SPEC section 2 is written once, as rows of (operation, from,
// to), and turned into one looplab/fsm definition whose events are the
// operations of card.Operation, the library's one operation vocabulary:
// update status, activate, bind, number, reissue, successor activated,
// cancel bulk, issuance, validity elapses, renew validity, expire, and SPEC
// 12's increase PIN tries, PIN tries exceeded, reset PIN tries and update
// info. Everything else is derived from it: Allowed and Decide read it,
// Transitions lists it, and Mermaid draws it for the README.
//
// A row may be a stay: an operation accepted in a status that it leaves as
// it is (a wrong PIN counted on a CREATED card, an information update). A
// stay is a looplab event whose destination is its source; Decide answers
// it as no status change and no error, and the use case then counts its
// other change with Touch. A status without the operation's row, stay or
// move, refuses it with a conflict, so "a terminated card is never
// updated" is the absence of rows, stated where every other rule is.
//
// Apply is the one way a card's status changes. It asks Decide, and when the
// table allows the move it keeps the old status in PreviousStatus and counts
// the change in Version. The store's Save (storage.CardWriter) then writes
// the card and the event that describes the change in one call, in the
// same transaction, so no card changes without its event and no event is
// published for a change that did not commit. Every use case here goes
// through Apply and Save, and so must every package that adds operations
// (reissue, noname bulks). Reissuable, Replaced and Replace are the rules
// of a card replaced by a successor, shared by a reissue and by a noname
// card bound in a card's place.
//
// A refusal is a *card.ConflictError naming the card, the operation, the
// current status and the status asked for. In particular a terminated card
// never returns to an active or temporary status, a CREATED card becomes
// NORMAL only by activation, and INOPERATIVE is never set by hand: only the
// sweep sets it, and only renewing the validity period clears it.
//
// # Decisions where the spec is silent
//
// These are the choices this package makes that SPEC.md leaves open; the
// README's "Rules" section lists them too.
//
//   - Create: the mode defaults to CREDIT, the PIN length to 4 and
//     contactless to enabled. A name (alias) is required for every type but
//     PLASTIC, whose name is always "PLASTIC".
//   - The expiration date is a month (yymm). A card expires at the first
//     instant after that month, not on a day within it.
//   - Create refuses a validity period whose valid_until would pass the
//     expiration; RenewValidity instead clamps valid_until at the first
//     instant after the expiration month, since refusing to renew a card that
//     is close to expiry would serve no one.
//   - RenewValidity on a terminated card, or on a card without a validity
//     period, is a conflict. On a card that is not INOPERATIVE it restarts
//     the period and keeps the status.
//   - Activate of a card that is not PLASTIC is a conflict, as is activating
//     a PLASTIC card that is not CREATED.
//   - Setting the status a card already has succeeds, writes nothing and
//     emits nothing. That rule applies to update status only: every other
//     operation must make its move, or keep the status where the table
//     has a stay for it, or is refused.
//   - The sweep runs over the cards of every org, or of one org with
//     OnlyOrg (the demo's, so that it never changes another org's cards
//     in a shared database). A card due for both
//     expiration and the end of its validity period becomes EXPIRED, since
//     expiration is checked first and is final.
//   - PIN tries (SPEC 12): a wrong PIN is counted on CREATED, NORMAL,
//     REISSUED, BLOCKED, PENDING, WARNING and INOPERATIVE cards, refused on
//     UNBOUND, UNNUMBERED and terminated ones. At the program's maximum
//     (card.Program.MaxPINTries, default 3), when the program blocks (the
//     default), an active card, NORMAL or REISSUED, becomes BLOCKED. Only a
//     reset sets the count to 0; a status update leaves it, so a card set
//     NORMAL by hand at the maximum is blocked by its next wrong PIN. A
//     reset with nothing to reset writes and emits nothing. A card whose
//     program is no longer configured has the defaults.
//   - UpdateInfo checks each field given as create does, keeps a PLASTIC
//     card's name PLASTIC, refuses a VIRTUAL alias taken by another of the
//     customer's VIRTUAL cards that is not terminated, and writes and emits
//     nothing when nothing changes. Every status but a termination takes it.
//   - Create with Status UNNUMBERED makes an issuer-numbered card: PLASTIC
//     only (a numbered card is CREATED, which only activation makes NORMAL),
//     with a printed name. Number takes the last four digits and the
//     issuer's hash of the PAN (never digits alone: a PAN is never taken),
//     optionally a BIN and a brand (else the card's, else the program's).
//   - An idempotency key is scoped by org and operation (and by account for
//     create). The same key with the same request replays the first result,
//     the card as it was then, and writes nothing; with a different request
//     it is a conflict. Keys are kept in the store, with no purge yet.
//
// # Time
//
// The use cases read their clock (WithClock, default time.Now) once per
// operation, and once per batch in the sweep, in UTC to the microsecond the
// stores keep; a test or the demo moves that clock forward to watch the
// sweep act.
package lifecycle
