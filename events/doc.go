// Package events is what the outside world hears of a card: the envelope of
// SPEC section 5, the event types, the Publisher port, and the relay that
// drains the transactional outbox into a Publisher.
//
// # The envelope
//
// Every event has an event_id (a UUID, the consumer's de-duplication key),
// the domain "cards", an event_type naming the event and its schema version
// (create-1, update-1, bind_card-1, noname_cancellation-1), the org, a
// correlation id (cid) taken from the context (WithCorrelationID) or
// generated, an RFC 3339 UTC timestamp, and the data. Card events carry the
// card as DataOf renders it, with its version and the operation_type that
// changed it. They carry no PAN, only the last four digits and a keyed hash,
// so an envelope is safe to log or print.
//
// # The outbox
//
// Events are not sent when a card changes: the use cases append them to the
// store's outbox in the same transaction as the change, so an event exists
// exactly when its change committed. A Relay then reads the outbox in
// outbox order (ascending Seq) and hands each event to a Publisher.
//
// Delivery is at least once. The relay marks an event published only after
// Publish returned nil; a crash between the two, or a second relay on the
// same outbox, delivers the event again, and consumers drop what they have
// seen by event_id. When Publish fails the relay stops at that event and
// retries it on the next pass, so no later event overtakes it and a card's
// events arrive in the order of its versions.
package events
