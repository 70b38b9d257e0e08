// Package reissue replaces cards: the catalogue of reissue reasons each org
// keeps, and the Reissue use case of SPEC section 3.
//
// A reissue loads the old card under its row lock, so of concurrent
// reissues of one card exactly one makes a successor and the others return
// it; a unique index on (org, reissued_card_id) backs that up. The old
// card's fate (lifecycle.Replaced) goes through lifecycle.Apply with the
// reissue operation of the transition table, and both cards are written
// with their events by the store's Save in the same transaction.
//
// A card that already has a successor is never reissued again: the call
// returns the successor with Existing set and writes nothing. An optional
// idempotency key replays the first result of the same request; the same
// key with another request is a conflict. The README's "Rules" section lists
// the choices made where the spec is silent.
//
// Options override the old card's fields on the new one, SPEC 12's
// included: cvv_rotation_interval_hours (0 or 1-4320) and template_id are
// kept on the successor, and Status UNNUMBERED with a printed name and a
// Brand makes it an issuer-numbered PLASTIC card, UNNUMBERED until
// lifecycle.Cards.Number gives it its PAN data. The successor's count of
// wrong PINs starts at 0.
package reissue
