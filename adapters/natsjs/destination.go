package natsjs

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode"

	"github.com/cardcore/cardcore/events"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// The defaults of the options.
const (
	DefaultStream          = "CARDCORE_EVENTS"
	DefaultPrefix          = "cardcore"
	DefaultReplicas        = 1
	DefaultDuplicateWindow = 2 * time.Minute
	DefaultMaxInFlight     = 256
	DefaultAckTimeout      = 5 * time.Second
)

// SeqHeader is the header holding the event's seq, its position in the
// feed, in decimal. The Nats-Msg-Id header (jetstream.MsgIDHeader) holds
// its event_id.
const SeqHeader = "Cardcore-Seq"

// ErrStreamSubjects is returned by New when the stream exists but its
// subjects do not cover <prefix>.>, so its events would not be stored.
var ErrStreamSubjects = errors.New("natsjs: the stream's subjects do not cover the prefix")

// Option configures New.
type Option func(*options)

type options struct {
	stream      string
	prefix      string
	replicas    int
	duplicates  time.Duration
	maxInFlight int
	ackTimeout  time.Duration
	domain      string
}

// WithStream names the stream (default CARDCORE_EVENTS).
func WithStream(name string) Option { return func(o *options) { o.stream = name } }

// WithPrefix sets the first subject token(s) of every event (default
// cardcore); it may hold dots ("prod.cardcore") but no wildcard.
func WithPrefix(prefix string) Option { return func(o *options) { o.prefix = prefix } }

// WithReplicas sets the replicas of the stream when New creates it
// (default 1; 3 is usual on a cluster of three or more servers).
func WithReplicas(n int) Option { return func(o *options) { o.replicas = n } }

// WithDuplicateWindow sets the stream's duplicate window when New creates
// it (default 2 minutes): a redelivery of an event within it is dropped.
func WithDuplicateWindow(d time.Duration) Option { return func(o *options) { o.duplicates = d } }

// WithMaxInFlight bounds the publishes awaiting their acknowledgement
// (default 256).
func WithMaxInFlight(n int) Option { return func(o *options) { o.maxInFlight = n } }

// WithAckTimeout bounds the wait for one publish's acknowledgement
// (default 5s); past it the event counts as not acknowledged.
func WithAckTimeout(d time.Duration) Option { return func(o *options) { o.ackTimeout = d } }

// WithDomain addresses the JetStream of a domain (a leaf node setup)
// instead of the connection's own account's JetStream.
func WithDomain(domain string) Option { return func(o *options) { o.domain = domain } }

// Destination delivers the feed to a JetStream stream; it implements
// events.Destination. Build it with New.
type Destination struct {
	js          jetstream.JetStream
	stream      string
	prefix      string
	maxInFlight int

	mu sync.Mutex // serialises Deliver, whose chains must not interleave
}

var _ events.Destination = (*Destination)(nil)

// New returns a Destination publishing on nc, which the host owns and
// closes. It makes a JetStream context of its own, so that its in-flight
// bound and ack timeout apply to its publishes only, and creates the stream
// when it is missing: subjects <prefix>.>, file storage, the replicas and
// duplicate window of the options, no other limit. An existing stream is
// used as it is, if its subjects cover <prefix>.> (ErrStreamSubjects if
// not).
func New(ctx context.Context, nc *nats.Conn, opts ...Option) (*Destination, error) {
	o := options{
		stream:      DefaultStream,
		prefix:      DefaultPrefix,
		replicas:    DefaultReplicas,
		duplicates:  DefaultDuplicateWindow,
		maxInFlight: DefaultMaxInFlight,
		ackTimeout:  DefaultAckTimeout,
	}
	for _, opt := range opts {
		opt(&o)
	}
	if nc == nil {
		return nil, errors.New("natsjs: New needs a connection")
	}
	if err := validPrefix(o.prefix); err != nil {
		return nil, err
	}
	if o.stream == "" || o.replicas < 1 || o.duplicates <= 0 || o.maxInFlight < 1 || o.ackTimeout <= 0 {
		return nil, errors.New("natsjs: the stream name, replicas, duplicate window, in-flight bound and ack timeout must be set and positive")
	}
	// The library's own bound is a backstop above ours: it leaves room for
	// the publishes of a failed Deliver still waiting out their timeout.
	jsOpts := []jetstream.JetStreamOpt{
		jetstream.WithPublishAsyncMaxPending(2 * o.maxInFlight),
		jetstream.WithPublishAsyncTimeout(o.ackTimeout),
	}
	var js jetstream.JetStream
	var err error
	if o.domain != "" {
		js, err = jetstream.NewWithDomain(nc, o.domain, jsOpts...)
	} else {
		js, err = jetstream.New(nc, jsOpts...)
	}
	if err != nil {
		return nil, fmt.Errorf("natsjs: %w", err)
	}
	if err := ensureStream(ctx, js, o); err != nil {
		return nil, err
	}
	return &Destination{js: js, stream: o.stream, prefix: o.prefix, maxInFlight: o.maxInFlight}, nil
}

func validPrefix(p string) error {
	for tok := range strings.SplitSeq(p, ".") {
		if tok == "" || tok == "*" || tok == ">" || strings.IndexFunc(tok, unicode.IsSpace) >= 0 {
			return fmt.Errorf("natsjs: prefix %q: tokens must be non-empty, without wildcards or white space", p)
		}
	}
	return nil
}

func ensureStream(ctx context.Context, js jetstream.JetStream, o options) error {
	subjects := o.prefix + ".>"
	s, err := js.Stream(ctx, o.stream)
	if errors.Is(err, jetstream.ErrStreamNotFound) {
		s, err = js.CreateStream(ctx, jetstream.StreamConfig{
			Name:        o.stream,
			Description: "cardcore events: one message per feed event, in seq order",
			Subjects:    []string{subjects},
			Storage:     jetstream.FileStorage,
			Replicas:    o.replicas,
			Duplicates:  o.duplicates,
		})
		if errors.Is(err, jetstream.ErrStreamNameAlreadyInUse) {
			// Another process created it first, with another config.
			s, err = js.Stream(ctx, o.stream)
		}
	}
	if err != nil {
		return fmt.Errorf("natsjs: stream %s: %w", o.stream, err)
	}
	if got := s.CachedInfo().Config.Subjects; !covers(got, subjects) {
		return fmt.Errorf("%w: stream %s has subjects %q, not %s: add it to the stream, or choose another stream or prefix",
			ErrStreamSubjects, o.stream, got, subjects)
	}
	return nil
}

// Stream is the name of the stream the destination publishes to.
func (d *Destination) Stream() string { return d.stream }

// Prefix is the subject prefix of the destination's events.
func (d *Destination) Prefix() string { return d.prefix }

// Close drops the subscription on which the destination's context receives
// its acknowledgements; it does not close the connection. Publishes still
// awaiting an acknowledgement fail.
func (d *Destination) Close() { d.js.CleanupPublisher() }

// DeliveryError is the error of Deliver: the event at which the
// acknowledged prefix stops, and why it was not acknowledged.
type DeliveryError struct {
	Seq     int64  // the event's seq
	EventID string // the event's event_id
	// Err is the cause: a jetstream error (jetstream.ErrAsyncPublishTimeout,
	// a *jetstream.APIError such as a wrong last sequence),
	// nats.ErrDisconnected, or the context's error.
	Err error
}

// Error names the event and the cause.
func (e *DeliveryError) Error() string {
	return fmt.Sprintf("natsjs: event seq %d (id %s) not acknowledged: %v", e.Seq, e.EventID, e.Err)
}

// Unwrap returns the cause, for errors.Is and errors.As.
func (e *DeliveryError) Unwrap() error { return e.Err }

// Deliver publishes evs in order and returns how many at the head of evs
// JetStream acknowledged (a duplicate included): evs[:acked] are in the
// stream, in order. It stops at the first event that was not acknowledged
// (failed, timed out, refused, or ctx done) with a *DeliveryError naming
// it; later publishes of the call may still be stored, but are not counted.
//
// Deliver first publishes one event at a time, without expectation, until
// JetStream stores one that the stream did not hold: its sequence is the
// stream's last. It pipelines the rest, up to the in-flight bound awaiting
// their acknowledgement, each expecting the stream's last sequence to be
// the one its predecessor gets (Nats-Expected-Last-Sequence), so that
// JetStream refuses an event whose predecessor was lost instead of storing
// it out of order. A refusal for a wrong last sequence makes Deliver learn
// the stream's last sequence again, once. Calls are serialised.
func (d *Destination) Deliver(ctx context.Context, evs []events.Event) (acked int, err error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	for relearned := false; ; relearned = true {
		n, last, err := d.resync(ctx, evs[acked:])
		if acked += n; err != nil || acked == len(evs) {
			return acked, err
		}
		n, err = d.pipeline(ctx, evs[acked:], last)
		if acked += n; err == nil {
			return acked, nil
		}
		// The stream is not where the chain assumed: a late publish of an
		// earlier call or of a deliverer that lost the subscription was
		// stored meanwhile, or the call met an event the stream held.
		if relearned || !wrongLastSequence(err) {
			return acked, err
		}
	}
}

func wrongLastSequence(err error) bool {
	var apiErr *jetstream.APIError
	return errors.As(err, &apiErr) && (apiErr.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequence ||
		apiErr.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequenceConstant)
}

// resync publishes evs one at a time until JetStream stores one it did not
// hold (a redelivery starts with events the stream holds) and returns how
// many were acknowledged and the stream sequence of the last.
func (d *Destination) resync(ctx context.Context, evs []events.Event) (int, uint64, error) {
	for i, e := range evs {
		ack, err := d.publishOne(ctx, e)
		if err != nil {
			return i, 0, &DeliveryError{Seq: e.Seq, EventID: e.ID, Err: err}
		}
		if !ack.Duplicate {
			return i + 1, ack.Sequence, nil
		}
	}
	return len(evs), 0, nil
}

func (d *Destination) publishOne(ctx context.Context, e events.Event) (*jetstream.PubAck, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	f, err := d.publish(e, 0)
	if err != nil {
		return nil, err
	}
	return await(ctx, f)
}

// pipeline publishes evs after the stream's last sequence last, keeping
// up to maxInFlight publishes unacknowledged.
func (d *Destination) pipeline(ctx context.Context, evs []events.Event, last uint64) (acked int, err error) {
	window := make([]jetstream.PubAckFuture, min(len(evs), d.maxInFlight))
	// next waits for evs[acked]'s acknowledgement.
	next := func() error {
		slot := acked % len(window)
		_, err := await(ctx, window[slot])
		window[slot] = nil
		if err != nil {
			return &DeliveryError{Seq: evs[acked].Seq, EventID: evs[acked].ID, Err: err}
		}
		acked++
		return nil
	}
	for i, e := range evs {
		if i-acked == len(window) {
			if err := next(); err != nil {
				return acked, err
			}
		}
		err := ctx.Err()
		if err == nil {
			var f jetstream.PubAckFuture
			if f, err = d.publish(e, last+uint64(i)); err == nil {
				window[i%len(window)] = f
				continue
			}
		}
		// evs[i] was not sent; the publishes before it may still succeed.
		for acked < i {
			if err := next(); err != nil {
				return acked, err
			}
		}
		return acked, &DeliveryError{Seq: e.Seq, EventID: e.ID, Err: err}
	}
	for acked < len(evs) {
		if err := next(); err != nil {
			return acked, err
		}
	}
	return acked, nil
}

func await(ctx context.Context, f jetstream.PubAckFuture) (*jetstream.PubAck, error) {
	select {
	case ack := <-f.Ok():
		return ack, nil
	case err := <-f.Err():
		return nil, err
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// feedEvent is the event as the feed serves it: the envelope and its seq.
type feedEvent struct {
	events.Event
	Seq int64 `json:"seq"`
}

// message is the message of e; expect, when not 0, is the stream sequence
// JetStream must have as its last to store it.
func (d *Destination) message(e events.Event, expect uint64) (*nats.Msg, error) {
	body, err := json.Marshal(feedEvent{Event: e, Seq: e.Seq})
	if err != nil {
		return nil, err
	}
	h := nats.Header{
		jetstream.MsgIDHeader: {e.ID},
		SeqHeader:             {strconv.FormatInt(e.Seq, 10)},
	}
	if expect != 0 {
		h[jetstream.ExpectedLastSeqHeader] = []string{strconv.FormatUint(expect, 10)}
	}
	return &nats.Msg{Subject: Subject(d.prefix, e.OrgID, e.Type), Header: h, Data: body}, nil
}

// publish sends the message of e without waiting for its acknowledgement.
func (d *Destination) publish(e events.Event, expect uint64) (jetstream.PubAckFuture, error) {
	m, err := d.message(e, expect)
	if err != nil {
		return nil, err
	}
	return d.js.PublishMsgAsync(m)
}
