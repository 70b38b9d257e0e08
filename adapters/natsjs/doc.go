// Package natsjs delivers the feed to NATS JetStream (SPEC section 10.2):
// a Destination that a subscription's deliverer hands the events after its
// cursor, and the subject layout a consumer needs.
//
// # Stream, subjects, message
//
// New creates the stream CARDCORE_EVENTS (WithStream) when it is missing,
// with the subjects <prefix>.> (prefix cardcore, WithPrefix), file storage,
// one replica (WithReplicas) and JetStream's duplicate window of 2 minutes
// (WithDuplicateWindow), and no limit: retention is the operator's to set on
// the stream. An existing stream is taken as it is, after checking that its
// subjects cover <prefix>.>, since otherwise every publish would fail with
// "no responders" far from the cause.
//
// Each event is one message on <prefix>.<org_id>.<event_type>, for example
// cardcore.acme.update-1, with the headers Nats-Msg-Id (the event_id) and
// Cardcore-Seq (the seq), and as body the event exactly as GET /events
// serves it: the envelope with its "seq". Most messages also carry the
// Nats-Expected-Last-Sequence header of the ordering chain (below), which
// JetStream keeps; consumers ignore it.
//
// # Subject encoding
//
// An org id is free text, but a subject token cannot hold '.', which splits
// tokens, nor be '*' or '>', which are wildcards, nor hold white space,
// which ends a subject in the protocol. EncodeToken percent-encodes those
// bytes, and control characters and invalid UTF-8 with them, as %XX; it also
// encodes '%' itself, so every '%' in a token starts an escape and
// DecodeToken recovers the org id exactly: two org ids never share a
// subject. An empty org id, which is no token, is a lone '%', which no other
// org id produces. Ordinary org ids ("acme", "org-42") are unchanged, so
// subjects stay readable. The event type token is encoded the same way,
// which changes none of the library's types. Subject and ParseSubject build
// and read subjects; Subject(prefix, org, "*") is the filter of one org.
//
// # Acknowledged prefix and order
//
// Deliver publishes asynchronously, with at most WithMaxInFlight (256)
// publishes awaiting their PubAck, and counts the acknowledgements in
// order: it returns the length of the longest head of the batch that was
// acknowledged, and stops at the first event that was not, with a
// *DeliveryError naming its seq and id. The deliverer moves the cursor past
// that head and retries from the first unacknowledged event. Counting
// anything past a hole would move the cursor over an event JetStream may
// never have stored, so an event would be lost; stopping at the hole only
// means that some later events, which may have been stored, are published
// again, and JetStream drops them as duplicates.
//
// Pipelining alone could still store events out of order: if one publish is
// lost (a reconnect, a stream leader election) while the next one gets
// through, the retry stores the first after the second. So each pipelined
// event carries Nats-Expected-Last-Sequence, the stream sequence its
// predecessor got (the last acknowledged sequence plus its place in the
// batch): JetStream stores it only right after its predecessor and
// otherwise refuses it, which ends the acknowledged head there. A stale
// publish of an earlier call that arrives late is refused the same way.
//
// The chain needs the stream's last sequence, and a chain must not outlive
// the call that learned it (another deliverer may have taken the
// subscription over and back in between). So each Deliver first publishes
// one event at a time without expectation until JetStream stores one that
// it did not hold (a redelivery starts with events the stream holds,
// acknowledged as duplicates): every event before it was acknowledged, so
// it cannot overtake any, and its acknowledgement gives the stream's last
// sequence. That costs one round trip per batch. The stream then stays the
// feed's events in feed order, each position always holding the same
// event, so a late publish of an earlier call or of a deliverer that lost
// the subscription can only land at its own place; the call that meets it
// is refused a wrong last sequence and learns the stream's last sequence
// again, once.
//
// The chain counts positions, so it assumes cardcore is the stream's only
// writer: a message of another publisher in the middle of a call shifts the
// positions by one, and the call's pipelined events after the refused one
// would be stored ahead of it. Give no other publisher the right to publish
// on <prefix>.>.
//
// Nats-Expected-Last-Msg-Id (the previous event's id) would say the same
// without sequences, but on a replicated stream nats-server (2.15) checks it
// only when a replica applies the message, and a mismatch there is a
// critical write error that takes the replicas out of service (the cluster
// test showed it when the stream leader was shut down mid-batch). The
// expected last sequence is checked before a message is stored (on a
// cluster, by the stream leader before it proposes the message), so a
// mismatch is an ordinary refusal.
//
// # Duplicate window and retries
//
// Nats-Msg-Id makes delivery effectively exactly once within the duplicate
// window: a redelivery after a failed or timed-out acknowledgement, a crash
// before the cursor moved, or a lease taken over is dropped by JetStream
// and acknowledged with Duplicate set. On a cluster, a redelivery of a
// message still being replicated is refused ("duplicate message id is in
// process") rather than acknowledged: it ends the acknowledged head like
// any failure, and the retry is acknowledged as a duplicate.
//
// A redelivery after the window is stored again, so consumers still drop
// what they have seen by event_id (SPEC 10.1 is at least once). The window
// has to outlast the time between a first publish and its redelivery: the
// ack timeout (WithAckTimeout, 5s) plus the deliverer's back-off (1s,
// doubling up to 5 minutes), or the lease time when a process dies. With
// the default 2 minutes, a JetStream outage longer than that can leave the
// few events whose acknowledgements it swallowed stored twice; a deployment
// whose consumers cannot drop duplicates sets a longer window, which costs
// the server memory for every id in it.
//
// # Connection and context
//
// New takes the host's *nats.Conn, which the host configures (servers,
// credentials, reconnects) and closes. The Destination makes its own
// JetStream context on it, so that its in-flight bound, its ack timeout
// and its acknowledgement subscription are not shared with the host's own
// asynchronous publishes; WithDomain reaches the JetStream of a domain.
// Close drops that subscription.
package natsjs
