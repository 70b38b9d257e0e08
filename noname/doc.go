// Package noname makes noname cards in bulk and binds them to a customer
// later (SPEC section 4).
//
// A bulk collects external ids (distinct within the bulk) while CREATED.
// Start makes one UNBOUND PLASTIC card per external id, each with its Card
// created event carrying bulk_id and external_id, reading ids and writing
// cards a batch at a time inside one transaction, so a bulk of a million
// cards commits whole or not at all without holding its cards in memory.
// Increment adds ids (and, on a STARTED bulk, their cards at once). Cancel
// moves the bulk's UNBOUND cards to CANCELED through the transition table,
// never touching a bound card, and emits one Noname cancellation.
//
// Bind moves an UNBOUND card to CREATED with an account and customer under
// the card's row lock, so of concurrent binds exactly one wins and the
// others get a conflict. With a replaced card it also makes the noname card
// that card's successor, as a reissue without must_block. A replaced card
// of another account is refused in the words of one that does not exist,
// with no status, so that an account learns nothing of another's cards.
package noname
