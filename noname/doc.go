// Package noname makes noname cards in bulk and binds them to a customer
// later (SPEC section 4).
//
// A bulk collects external ids (distinct within the bulk) while CREATED.
// Start makes one UNBOUND PLASTIC card per external id, each with its Card
// created event carrying bulk_id and external_id. It commits them chunk by
// chunk (WithChunk bounds a chunk's cards and time), each chunk its cards,
// their events and the bulk's count of cards made, reading ids and writing
// cards a batch at a time, so a bulk of a million cards neither holds its
// cards in memory nor keeps other writers out for its whole run. The bulk
// is PROCESSING meanwhile (Bulk.CardsMade tells how far it is) and STARTED
// once every card exists. A start that stops midway leaves it PROCESSING;
// Start again, or Resume when a service starts, finishes it from the first
// external id without a card, so no external id ever gets two cards. Over a
// store that runs writers at once (PostgreSQL), WithLanes lets a start run
// several chunks at once, each committing only as the bulk's next chunk.
//
// What the other operations do to a PROCESSING bulk: Increment is a
// conflict (increment once it is STARTED); a FULL Cancel cancels the cards
// made so far and stops the start, which answers a conflict; a PARTIAL
// Cancel is a conflict, as on a CREATED bulk; Start resumes it.
//
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
