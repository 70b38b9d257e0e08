// Package events is what the outside world hears of a card: the envelope of
// SPEC section 5, the event types, and their delivery: subscriptions over
// the feed, each run by one Deliverer at a time, to a Destination.
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
// # The outbox and the feed
//
// Events are not sent when a card changes: the use cases append them to the
// store's outbox in the same transaction as the change, so an event exists
// exactly when its change committed. The committed events, in commit order
// and numbered without gaps, are the feed: the one log every consumer reads.
//
// # Subscriptions
//
// A subscription is a named cursor on the feed, kept in the store
// (Subscriptions): the feed position of the last event its destination
// acknowledged. A Deliverer runs it: it reads the events after the cursor,
// hands them to the Destination in feed order, and moves the cursor past
// what was acknowledged and no further. A refused event stops the
// subscription there and is retried with back-off, so no later event
// overtakes it and a card's events arrive in the order of its versions.
//
// One deliverer at a time, across every process sharing the store, runs a
// subscription: it holds a lease that it renews, with a fencing token, so a
// deliverer whose lease was taken over can move the cursor neither back nor
// forward. A holder that dies loses the lease within its time and another
// resumes from the cursor.
//
// Delivery is at least once: the events of a batch in flight when its
// deliverer died or lost the lease are delivered again, and no others.
// Consumers drop what they have seen by event_id (JetStream does so within
// its duplicate window, from the Nats-Msg-Id header).
package events
