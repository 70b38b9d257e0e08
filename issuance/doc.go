// Package issuance is card creation with issuance, the sandbox-style API
// of SPEC section 9: a card is created with its issuance pending, then
// issued or failed, and its PCI data is issued through a Provisioner port.
//
// # Create
//
// Service.Create makes a VIRTUAL or TEMPORARY card in status PENDING; a
// PLASTIC (or RECURRING) card is invalid input on field "type", as this API
// issues no physical cards. Its choices:
//
//   - the account id is the source system's UUID, kept in canonical lower
//     case; the API has no customer, so the customer id is the account id;
//   - the alias is "sandbox-" and the first 8 characters of the card's
//     token; a VIRTUAL card's alias must be free among the customer's live
//     VIRTUAL cards, so on the rare clash another token is drawn;
//   - program 1, mode CREDIT, PIN length 4, contactless enabled, the
//     program's expiration from today, and for a VIRTUAL card a CVV that
//     never rotates (cvv_rotation_interval_hours 0);
//   - no PCI data (brand, BIN, last four, hash) until it is issued.
//
// An idempotency key (at most 36 characters; the HTTP API requires a UUID)
// is scoped to the org, this operation and the account: the same key with
// the same type replays the first result, the card as it was then, and
// writes nothing; with another type it is a conflict.
//
// # Issue and Fail
//
// Service.Issue and Service.Fail find the card by its token and move it out
// of PENDING through the operation card.Issuance: to NORMAL (issued and activated at
// once, as the sandbox does) or to CANCELED (failed). A card that is not
// PENDING is a conflict. Issue provisions the card's PCI data in the same
// transaction as the status change, unless the card already has some: a PAN
// once issued is never replaced. A Settlement's idempotency key is scoped
// to the org, the operation and the card, and bound to the caller's request
// bytes (the HTTP API's PATCH body): the same key with the same request
// replays the first result, the card as it was then, and writes nothing;
// with another request it is a conflict. The key is claimed and remembered
// in the transaction of the change, so the change and its key commit
// together or not at all. Without a key, a second Issue of an issued card
// is a conflict.
//
// # PCI data
//
// The Provisioner sets Brand, BIN, Last4 and PANHash and never returns or
// stores the clear PAN. The built-in one (NewHMACProvisioner) makes a
// 16-digit PAN that passes the Luhn check from the program's BIN and
// digits from crypto/rand, keeps the last four digits and the hex
// HMAC-SHA256 of the PAN under a key of at least 32 bytes, and discards the
// PAN. Card events carry the last four digits and the hash, never the PAN.
//
// Card ids and account ids of this API are UUIDs: a token or account id
// that is not one is invalid input (fields "cardId", "accountId").
package issuance
