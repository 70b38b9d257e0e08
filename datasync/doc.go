// Package datasync is card data sync (SPEC section 8, the "Update cards"
// API): an external system of record sends the cards of one account and
// customer, and the library creates or updates its own record of each,
// keyed by (org, sourceAccountId, sourceCustomerId, last4).
//
// # Batches
//
// Service.Apply takes a Batch, the entries of one request, and applies
// them in one store transaction, in order: every entry commits with its
// events, or none does and nothing is written. It answers with a new
// request id (a UUID), which is also the correlation id (cid) of the
// batch's events unless the context carries one. An entry that names the
// same card as an earlier one of the batch sees that entry's result.
//
// An entry whose key names no synced card creates one, and needs last4,
// iin, cardType, status, networkIdentifier and openDate (and closeDate when
// CLOSED). An entry whose key names a synced card updates only the fields
// it gives; an entry with every create field is an update like any other.
// An update that changes nothing writes nothing and emits nothing.
//
// # The synced card
//
// A synced card has Synced set and is otherwise a card like every other,
// readable and changeable by the other use cases:
//
//   - account_id and customer_id are the source's ids, last_4_digits is
//     last4, bin is iin (6 or 8 digits), issuing_date is openDate and
//     CloseDate is closeDate, all to the microsecond, in UTC;
//   - cardType (CREDIT, DEBIT, COMBO or MULTIPLE) is the card's mode: the
//     document's "card type" is how the card draws funds. The card's type
//     is PLASTIC (a record of a card the source issued), named "PLASTIC";
//   - networkIdentifier is the brand as the document lists it: 3
//     MASTERCARD, 4 VISA, 5 DISCOVER, 6 AMEX ("3-MC, 4-V, 5-D, 6-AXP"; the
//     document's own example has iin 123456 with networkIdentifier 3, so
//     the two are not checked against each other);
//   - program 1, track number 1, PIN length 4, contactless enabled, no
//     printed name, no PAN hash (the source keeps the PAN);
//   - no expiration date and no validity period, so the sweep never
//     touches a synced card.
//
// Only synced cards are found by the key: a card made by another API that
// happens to have the same account, customer and last four digits is
// never updated by a sync, and does not stop one. A unique index keeps one
// synced card per key; on PostgreSQL, of two batches that create the same
// card at once, one creates it and the other fails with a conflict (sent
// again, it updates the card).
//
// # Statuses
//
// OPEN is NORMAL and CLOSED is CANCELED. A status the source sets is a
// status update, so it goes through lifecycle.Apply with
// lifecycle.UpdateStatus, the rows of the transition table a status set by
// hand follows: no operation is added, and the table stays SPEC section 2's.
// So: the status the card already has changes nothing; CLOSED is allowed
// from every status (a terminated card moves to CANCELED); OPEN is allowed
// from NORMAL (no change) and from BLOCKED, PENDING and WARNING. Anything
// else is refused as a *card.ConflictError with Operation "card_sync", the
// current and requested statuses and the entry in its Reason; in
// particular a CLOSED card is never reopened, and the whole batch fails.
//
// closeDate is required with status CLOSED, given only for a card that is
// CLOSED after the entry (a closeDate on an OPEN card is refused rather
// than kept as a contradiction), and never before openDate. Creating a
// CLOSED card emits one Card created with status CANCELED.
//
// # Events
//
// A created card emits Card created (create-1), a changed one Card updated
// (update-1), both with operation_type CARD_SYNC and the card's token.
//
// # Errors
//
// Invalid input is a *card.InvalidError whose Field names the entry as
// cards[i].field, i being Entry.Index (the entry's position in the
// request, from 0), e.g. "cards[1].closeDate"; the batch's own ids are
// "sourceAccountId" and "sourceCustomerId". An entry whose
// sourceAccountId or sourceCustomerId is not the batch's is invalid
// (cards[i].sourceAccountId). Every entry is first checked on its own, in
// order; then, in the transaction, an entry that breaks a rule depending on
// the stored card (a create field missing, a closeDate for a card left
// open) ends the batch at once, while a refused status is remembered and
// the batch goes on, so that an invalid entry anywhere in the batch is
// reported rather than the conflict (400 before 409).
package datasync
