package noname

import (
	"context"
	"errors"
	"strconv"
	"sync"
	"time"

	"github.com/cardcore/cardcore/card"
	"github.com/cardcore/cardcore/events"
	"github.com/cardcore/cardcore/lifecycle"
	"github.com/cardcore/cardcore/storage"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/metric/noop"
)

// Service runs the noname use cases: bulks (create, start, increment,
// cancel, get) and Bind. It is safe for concurrent use.
type Service struct {
	store      storage.Store
	cards      *lifecycle.Cards
	batch      int
	chunkCards int           // the most cards a chunk of a start makes
	chunkTime  time.Duration // a chunk ends at its first batch past this
	lanes      int           // the most chunks of a start in flight at once
	progress   func(ctx context.Context, b card.Bulk)
	running    sync.Map // the ids of the bulks this Service is starting
	meters     metric.MeterProvider
	bulks      metric.Int64Counter // cardcore.bulks
}

// Option configures a Service.
type Option func(*Service)

// WithBatch sets how many cards a bulk operation builds and writes at a
// time (default DefaultBatch); it bounds the memory a bulk of any size
// takes.
func WithBatch(n int) Option { return func(s *Service) { s.batch = n } }

// DefaultBatch is the most cards a bulk operation builds and writes at a
// time by default. Each batch is one SaveNew, on PostgreSQL one COPY of
// the cards and one of their events, whose fixed costs batches of 1000
// paid five times as often: 5000 made a PostgreSQL start about a quarter
// faster, 10,000 no faster still. A start sizes its batches to its
// chunks' time bound (see WithChunk), so a slower store writes smaller
// ones.
const DefaultBatch = 5000

// leastStartBatch is the fewest cards a batch of a start writes (fewer
// only when WithBatch allows fewer, or at a chunk's or the bulk's end):
// below it a batch's fixed costs weigh.
const leastStartBatch = 1000

// Default chunk bounds of a bulk start (see WithChunk).
const (
	DefaultChunkCards = 10000
	DefaultChunkTime  = 100 * time.Millisecond
)

// WithChunk bounds each chunk of a bulk start, the transaction that
// commits some of its cards with their events: it makes at most cards
// cards, and ends with the first batch that finishes after d has passed
// since it began, whichever comes first (defaults DefaultChunkCards and
// DefaultChunkTime). A start sizes each batch to end near d, by the rate
// of its previous batch: at most WithBatch cards and at least 1000 (or
// WithBatch, when smaller), so a chunk lasts about d plus its commit.
// Other writers run between two chunks: on SQLite, which has one writer,
// a write waits at most about one chunk for a start.
func WithChunk(cards int, d time.Duration) Option {
	return func(s *Service) { s.chunkCards, s.chunkTime = cards, d }
}

// WithLanes lets a start run up to n chunks at once, each in a
// transaction of its own on a connection of its own (default 1: one chunk
// after the other), when its store runs write transactions at once
// (storage.ConcurrentWriter: the PostgreSQL store, where one connection's
// COPY keeps one server process busy and leaves the machine's other cores
// idle). With any other store, SQLite's among them, a start runs one chunk
// at a time whatever n is. cardcore's constructor sets 2
// (cardcore.WithBulkLanes).
//
// With more than one lane, a start's first chunk runs alone, as without
// lanes; each later chunk is given its positions in the bulk's list when
// it begins, as many cards as the chunks before made in a quarter more
// than the chunk's time (WithChunk's d; at least 1000, at most WithChunk's
// cards), and makes
// its cards before it takes the bulk's lock. It commits only as the next
// chunk of the bulk: once it holds the lock it finds the bulk PROCESSING
// with the count of cards made at its first position (the chunk before
// committed), or it rolls back, and the start goes on one chunk at a
// time from what the bulk's row says. So the committed chunks of a bulk
// are always its first positions, as without lanes, and a cancel, a
// second start or a failed chunk costs at most the work of the chunks in
// flight, never a card made twice.
func WithLanes(n int) Option { return func(s *Service) { s.lanes = n } }

// WithProgress sets a function called after each chunk of a bulk start
// commits, with the bulk as committed: PROCESSING with its CardsMade, and
// STARTED after the last chunk. It runs on the starting goroutine, so it
// should return quickly. Default: none.
func WithProgress(f func(ctx context.Context, b card.Bulk)) Option {
	return func(s *Service) { s.progress = f }
}

// WithMeterProvider sets where the counter cardcore.bulks goes: the bulks
// that reached a status, by status, counted once committed (CREATED by
// Create, STARTED by Start, CANCELED by a FULL Cancel). The cards a bulk
// makes are counted by the store (cardcore.card.changes, operation
// start_bulk). Default: a no-op.
func WithMeterProvider(mp metric.MeterProvider) Option { return func(s *Service) { s.meters = mp } }

// New returns the noname use cases over the store and programs that cards
// (the lifecycle use cases) were built with, sharing their clock.
func New(store storage.Store, cards *lifecycle.Cards, opts ...Option) (*Service, error) {
	if store == nil || cards == nil {
		return nil, errors.New("noname: New needs a store and the lifecycle use cases")
	}
	s := &Service{store: store, cards: cards, batch: DefaultBatch, chunkCards: DefaultChunkCards, chunkTime: DefaultChunkTime, lanes: 1}
	for _, o := range opts {
		o(s)
	}
	if s.batch <= 0 {
		return nil, errors.New("noname: batch must be positive")
	}
	if s.chunkCards <= 0 || s.chunkTime <= 0 {
		return nil, errors.New("noname: chunk cards and time must be positive")
	}
	if s.lanes <= 0 {
		return nil, errors.New("noname: lanes must be positive")
	}
	if s.meters == nil {
		s.meters = noop.NewMeterProvider()
	}
	var err error
	s.bulks, err = s.meters.Meter("github.com/cardcore/cardcore/noname").Int64Counter("cardcore.bulks",
		metric.WithUnit("{bulk}"), metric.WithDescription("Noname bulks that reached a status, by status: CREATED, STARTED, CANCELED."))
	if err != nil {
		return nil, err
	}
	return s, nil
}

// reached counts a bulk that reached status, once committed.
func (s *Service) reached(ctx context.Context, status card.BulkStatus) {
	s.bulks.Add(ctx, 1, metric.WithAttributes(attribute.String("status", status.String())))
}

// CreateRequest asks for a new bulk.
type CreateRequest struct {
	OrgID              string
	ProgramID          int64 // default: program 1
	ExternalIDs        []string
	PINLength          int   // default 4
	ContactlessEnabled *bool // default true
}

// Create makes a bulk holding the external ids, in status CREATED; no card
// exists until Start. External ids must be distinct. The library takes any
// number of them (the API's per-request limit is the program's
// BulkLimit, applied by the adapters).
func (s *Service) Create(ctx context.Context, req CreateRequest) (card.Bulk, error) {
	if req.ProgramID == 0 {
		req.ProgramID = card.DefaultProgramID
	}
	if _, err := s.cards.Programs().Lookup(req.ProgramID); err != nil {
		return card.Bulk{}, card.Invalid("program_id", "names no configured program")
	}
	if err := card.ValidateRef("org_id", req.OrgID); err != nil {
		return card.Bulk{}, err
	}
	if err := checkExternalIDs(req.ExternalIDs); err != nil {
		return card.Bulk{}, err
	}
	if req.PINLength == 0 {
		req.PINLength = 4
	}
	if req.PINLength != 4 && req.PINLength != 6 {
		return card.Bulk{}, card.Invalid("pin_length", "must be 4 or 6")
	}
	now := s.cards.Now()
	b := card.Bulk{OrgID: req.OrgID, ProgramID: req.ProgramID, Status: card.BulkCreated,
		ExternalIDs: len(req.ExternalIDs), PINLength: req.PINLength,
		ContactlessEnabled: req.ContactlessEnabled == nil || *req.ContactlessEnabled,
		Version:            1, CreatedAt: now, UpdatedAt: now}
	err := s.store.Update(ctx, func(ctx context.Context, tx storage.Tx) error {
		if err := tx.SaveBulk(ctx, &b); err != nil {
			return err
		}
		return tx.AddExternalIDs(ctx, b.ID, req.ExternalIDs)
	})
	if err == nil {
		s.reached(ctx, card.BulkCreated)
	}
	return b, err
}

// Start makes one UNBOUND card per external id of a CREATED bulk, each
// with a Card created carrying bulk_id and external_id, and marks the bulk
// STARTED once every card exists.
//
// The cards are made chunk by chunk (WithChunk), each chunk one
// transaction committing its cards, their events and the bulk's count of
// cards made (Bulk.CardsMade), so other writers go on between chunks and
// memory does not grow with the bulk. Meanwhile the bulk is PROCESSING. A
// Start that stops midway (its context canceled, its process killed, a
// failed chunk) leaves the bulk PROCESSING with the cards of its committed
// chunks; Start on a PROCESSING bulk (or Resume) finishes it from there,
// never making a second card for an external id. Start returns once the
// bulk is STARTED; a bulk canceled (FULL) while its cards are being made
// stops at the next chunk, and Start then answers a conflict. Starting a
// STARTED or CANCELED bulk is a conflict, and so is starting one this
// Service is starting already. Two Services (two processes) starting one
// bulk at once both finish it, chunk after chunk, each chunk under the
// bulk's lock, so neither makes a card the other made.
func (s *Service) Start(ctx context.Context, org, id string) (card.Bulk, error) {
	if _, running := s.running.LoadOrStore(id, struct{}{}); running {
		return card.Bulk{}, &card.ConflictError{Operation: "start bulk", Reason: "bulk " + id + " is being started already"}
	}
	defer s.running.Delete(id)
	return s.finish(events.EnsureCorrelationID(ctx), org, id, true)
}

// finish makes the cards of bulk id a chunk at a time until the bulk is
// STARTED (or canceled, or another Start finished it). The first chunk
// moves a CREATED bulk to PROCESSING when first is set, so a bulk of one
// chunk starts in one transaction; a PROCESSING bulk is resumed.
func (s *Service) finish(ctx context.Context, org, id string, first bool) (card.Bulk, error) {
	left := -1 // the cards not made yet, as the last chunk left them; -1 before the first
	ahead := readAhead{size: max(s.batch, readAheadIDs)}
	var rate float64   // cards per second of the last batch; 0 before the first
	var last card.Bulk // the bulk as the last chunk committed it
	for ; ; first = false {
		if s.lanes > 1 && last.Status == card.BulkProcessing && concurrentWrites(s.store) {
			b, done, err := s.lanesFrom(ctx, last, &ahead, &rate)
			if err != nil || done {
				return b, err
			}
			// A chunk in flight found the bulk changed by another
			// writer: one chunk at a time reads it again, under its lock,
			// and commits durably, not knowing whether it is the last.
			left, last = -1, card.Bulk{}
		}
		var (
			b        card.Bulk
			made     int  // cards made by this chunk
			finished bool // by this chunk
		)
		// A chunk that cannot be the last commits lazily: the last
		// one's durable commit makes it durable, and a crash that loses
		// it loses its count of cards made with its cards.
		chunkCtx := ctx
		if left > s.chunkCards {
			chunkCtx = storage.WithLazyCommit(ctx)
		}
		err := s.store.Update(chunkCtx, func(ctx context.Context, tx storage.Tx) error {
			var err error
			made, finished = 0, false
			if b, err = tx.Bulk(ctx, org, id); err != nil {
				return err
			}
			switch {
			case b.Status == card.BulkProcessing:
			case first && b.Status == card.BulkCreated:
				b.Status = card.BulkProcessing
			case first:
				return &card.ConflictError{Operation: "start bulk", Reason: "bulk " + id + " is " + b.Status.String() + ", not CREATED"}
			default:
				return nil // finished by another start, or canceled
			}
			begun := time.Now()
			now := s.cards.Now()
			for {
				want := startBatch(min(s.batch, s.chunkCards-made), rate, s.chunkTime-time.Since(begun))
				t0 := time.Now()
				ids, err := ahead.take(ctx, tx, b.ID, b.CardsMade, want)
				if err != nil {
					return err
				}
				if err := s.makeCards(ctx, tx, &b, ids, now); err != nil {
					return err
				}
				if d := time.Since(t0); d > 0 && len(ids) > 0 {
					rate = float64(len(ids)) / d.Seconds()
				}
				b.CardsMade += len(ids)
				made += len(ids)
				if len(ids) < want || b.CardsMade >= b.ExternalIDs {
					b.Status = card.BulkStarted
					finished = true
					break
				}
				if made >= s.chunkCards || time.Since(begun) >= s.chunkTime {
					break
				}
			}
			if finished && storage.LazyCommit(ctx) {
				// The bulk moved on since the last chunk (another
				// start's chunks): this one would finish it, and Start
				// must not report STARTED before it is durable.
				return errLastChunk
			}
			b.Version++
			b.UpdatedAt = now
			return tx.SaveBulk(ctx, &b)
		})
		if errors.Is(err, errLastChunk) {
			left = -1 // the chunk runs again, committing durably
			continue
		}
		if err != nil {
			return card.Bulk{}, err
		}
		switch b.Status {
		case card.BulkProcessing:
			left = b.ExternalIDs - b.CardsMade
			last = b
			s.report(ctx, b)
			continue
		case card.BulkStarted:
			if finished {
				s.report(ctx, b)
				s.reached(ctx, card.BulkStarted)
			}
			return b, nil
		}
		return card.Bulk{}, &card.ConflictError{Operation: "start bulk",
			Reason: "bulk " + id + " became " + b.Status.String() + " while its cards were being made"}
	}
}

// concurrentWrites reports whether store runs write transactions at once
// (storage.ConcurrentWriter); lanes are for such a store only.
func concurrentWrites(store storage.Store) bool {
	w, ok := store.(storage.ConcurrentWriter)
	return ok && w.ConcurrentWrites()
}

// errLastChunk rolls back a chunk marked to commit lazily that finds it
// would finish its bulk.
var errLastChunk = errors.New("noname: the last chunk of a bulk commits durably")

// errStale rolls back a chunk of a lane that found the bulk other than
// the chunk before it left it.
var errStale = errors.New("noname: the bulk changed under a chunk in flight")

// laneResult is what a chunk of a lane did: the bulk as it committed it,
// or stale when it rolled back because the bulk had changed.
type laneResult struct {
	b     card.Bulk
	stale bool
	err   error
}

// lanesFrom goes on with the start of bulk b, PROCESSING as its last chunk
// committed it, up to s.lanes chunks at once (see WithLanes). done is true
// when the bulk is STARTED by these chunks; false, with no error, when a
// chunk found the bulk changed by another writer (a cancel, another start)
// and the start must read it again.
func (s *Service) lanesFrom(ctx context.Context, b card.Bulk, ahead *readAhead, rate *float64) (card.Bulk, bool, error) {
	lctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var mu sync.Mutex // guards ahead and *rate, which the lanes share
	var inflight []chan laneResult
	next := b.CardsMade // the position after the last one given to a chunk
	prevEnded := make(chan struct{})
	close(prevEnded) // the first chunk has none before it
	stop := func() {
		cancel()
		for _, l := range inflight {
			<-l
		}
	}
	for {
		for len(inflight) < s.lanes && next < b.ExternalIDs {
			mu.Lock()
			n := min(startBatch(s.chunkCards, *rate, s.chunkTime), b.ExternalIDs-next)
			mu.Unlock()
			done, ended := make(chan laneResult, 1), make(chan struct{})
			go func(b card.Bulk, from int, prev <-chan struct{}) {
				done <- s.laneChunk(lctx, b, from, n, ahead, &mu, rate, prev, ended)
			}(b, next, prevEnded)
			inflight = append(inflight, done)
			prevEnded = ended
			next += n
		}
		r := <-inflight[0]
		inflight = inflight[1:]
		if r.stale || r.err != nil {
			stop()
			if r.stale {
				return card.Bulk{}, false, nil
			}
			return card.Bulk{}, false, r.err
		}
		b = r.b
		s.report(ctx, b)
		if b.Status == card.BulkStarted {
			s.reached(ctx, card.BulkStarted)
			return b, true, nil
		}
	}
}

// laneChunk makes the cards of positions from+1 to from+n of bulk b in one
// transaction, then takes the bulk's lock and commits them as the bulk's
// next chunk, or rolls back (stale) when the bulk is not PROCESSING with
// from cards made. It asks for the lock once the chunk before it has
// ended (prev is closed), committed or not, and closes ended when it
// ends. It does not wait for the lock (storage.WithNoWait): a bulk
// locked by another transaction, such as another starter's chunk that may
// be waiting for this chunk's cards, rolls it back instead (stale).
func (s *Service) laneChunk(ctx context.Context, b card.Bulk, from, n int, ahead *readAhead, mu *sync.Mutex, rate *float64,
	prev <-chan struct{}, ended chan struct{}) laneResult {
	defer close(ended)
	chunkCtx := ctx
	if from+n < b.ExternalIDs {
		chunkCtx = storage.WithLazyCommit(ctx) // see finish
	}
	var out card.Bulk
	err := s.store.Update(chunkCtx, func(ctx context.Context, tx storage.Tx) error {
		t0 := time.Now()
		now := s.cards.Now()
		mu.Lock()
		ids, err := ahead.take(ctx, tx, b.ID, from, n)
		mu.Unlock()
		if err != nil {
			return err
		}
		if len(ids) != n {
			return errStale // fewer ids than the bulk counted: read it again
		}
		for i := 0; i < n; i += s.batch {
			if err := s.makeCards(ctx, tx, &b, ids[i:min(i+s.batch, n)], now); err != nil {
				return err
			}
		}
		if d := time.Since(t0); d > 0 {
			mu.Lock()
			*rate = float64(n) / d.Seconds()
			mu.Unlock()
		}
		select {
		case <-prev:
		case <-ctx.Done():
			return ctx.Err()
		}
		if out, err = tx.Bulk(storage.WithNoWait(ctx), b.OrgID, b.ID); err != nil {
			return err
		}
		if out.Status != card.BulkProcessing || out.CardsMade != from {
			return errStale
		}
		out.CardsMade += n
		if out.CardsMade >= out.ExternalIDs {
			out.Status = card.BulkStarted
		}
		out.Version++
		out.UpdatedAt = now
		return tx.SaveBulk(ctx, &out)
	})
	// A conflict is the bulk locked by another transaction, or a card of
	// this chunk that another start made first: the bulk moved on.
	if errors.Is(err, errStale) || (errors.Is(err, card.ErrConflict) && ctx.Err() == nil) {
		return laneResult{stale: true}
	}
	return laneResult{b: out, err: err}
}

// startBatch returns the cards of a start's next batch: as many as rate
// (cards per second, 0 when unknown) makes in a quarter more than left,
// the time left to the chunk's bound, within [min(most, leastStartBatch), most]. The first
// batch of a start, of unknown rate, is the least.
func startBatch(most int, rate float64, left time.Duration) int {
	least := min(most, leastStartBatch)
	fit := rate * left.Seconds() * 1.25 // ending a little past the bound, not a least batch past it
	switch {
	case fit >= float64(most):
		return most
	case fit <= float64(least):
		return least
	}
	return int(fit)
}

func (s *Service) report(ctx context.Context, b card.Bulk) {
	if s.progress != nil {
		s.progress(ctx, b)
	}
}

// Resume finishes every PROCESSING bulk of every org, one after the
// other, as Start does, and returns the bulks it finished: those a Start
// left PROCESSING when its process stopped. A service calls it when it
// starts. A bulk canceled or finished meanwhile is skipped.
func (s *Service) Resume(ctx context.Context) ([]card.Bulk, error) {
	bulks, err := s.store.ProcessingBulks(ctx)
	if err != nil {
		return nil, err
	}
	var done []card.Bulk
	for _, b := range bulks {
		if _, running := s.running.LoadOrStore(b.ID, struct{}{}); running {
			continue
		}
		out, err := s.finish(events.EnsureCorrelationID(ctx), b.OrgID, b.ID, false)
		s.running.Delete(b.ID)
		if errors.Is(err, card.ErrConflict) {
			continue
		}
		if err != nil {
			return done, err
		}
		done = append(done, out)
	}
	return done, nil
}

// changeBulk runs change on bulk id of org, read in a store transaction,
// and saves the bulk as its next version, updated at the time change
// returns.
func (s *Service) changeBulk(ctx context.Context, org, id string, change func(ctx context.Context, tx storage.Tx, b *card.Bulk) (time.Time, error)) (card.Bulk, error) {
	ctx = events.EnsureCorrelationID(ctx)
	var out card.Bulk
	err := s.store.Update(ctx, func(ctx context.Context, tx storage.Tx) error {
		b, err := tx.Bulk(ctx, org, id)
		if err != nil {
			return err
		}
		now, err := change(ctx, tx, &b)
		if err != nil {
			return err
		}
		b.Version++
		b.UpdatedAt = now
		out = b
		return tx.SaveBulk(ctx, &b)
	})
	return out, err
}

// Increment adds external ids to a CREATED or STARTED bulk. The ids must be
// distinct and new to the bulk (an id it holds is a conflict). A STARTED
// bulk makes their UNBOUND cards at once, with their events. A PROCESSING
// bulk is a conflict, as a CANCELED one: increment it once its start has
// finished.
func (s *Service) Increment(ctx context.Context, org, id string, externalIDs []string) (card.Bulk, error) {
	if err := checkExternalIDs(externalIDs); err != nil {
		return card.Bulk{}, err
	}
	return s.changeBulk(ctx, org, id, func(ctx context.Context, tx storage.Tx, b *card.Bulk) (time.Time, error) {
		switch b.Status {
		case card.BulkCanceled:
			return time.Time{}, &card.ConflictError{Operation: "increment bulk", Reason: "bulk " + id + " is CANCELED"}
		case card.BulkProcessing:
			return time.Time{}, &card.ConflictError{Operation: "increment bulk",
				Reason: "bulk " + id + " is PROCESSING (its start has made " + strconv.Itoa(b.CardsMade) + " of " +
					strconv.Itoa(b.ExternalIDs) + " cards); increment it once it is STARTED"}
		}
		if err := tx.AddExternalIDs(ctx, b.ID, externalIDs); err != nil {
			return time.Time{}, err
		}
		now := s.cards.Now()
		if b.Status == card.BulkStarted {
			for start := 0; start < len(externalIDs); start += s.batch {
				if err := s.makeCards(ctx, tx, b, externalIDs[start:min(start+s.batch, len(externalIDs))], now); err != nil {
					return time.Time{}, err
				}
			}
			b.CardsMade += len(externalIDs)
		}
		b.ExternalIDs += len(externalIDs)
		return now, nil
	})
}

// makeCards inserts the UNBOUND cards of ids and their Card created events.
func (s *Service) makeCards(ctx context.Context, tx storage.Tx, b *card.Bulk, ids []string, now time.Time) error {
	if len(ids) == 0 {
		return nil
	}
	p, err := s.cards.Programs().Lookup(b.ProgramID)
	if err != nil {
		return err
	}
	cs := make([]card.Card, len(ids))
	for i, ext := range ids {
		c := p.NewCard(b.OrgID, card.Plastic, now)
		c.Status, c.BulkID, c.ExternalID = card.Unbound, b.ID, ext
		c.PINLength, c.ContactlessEnabled = b.PINLength, b.ContactlessEnabled
		cs[i] = c
	}
	return tx.SaveNew(ctx, cs, events.Created(card.StartBulk, now))
}

// Cancel types.
const (
	CancelFull    = "FULL"
	CancelPartial = "PARTIAL"
)

// Cancel cancels a bulk's UNBOUND cards: all of them (FULL, and the bulk
// becomes CANCELED) or those of the listed external ids (PARTIAL, and the
// bulk stays as it is). Bound cards are never touched. It emits one Noname
// cancellation naming the canceled cards and a Card updated per card. A
// FULL cancel of a CREATED bulk cancels it before any card exists; a
// FULL cancel of a PROCESSING bulk cancels the cards made so far and stops
// its start, which makes no more (it answers a conflict); a PARTIAL cancel
// needs a STARTED bulk; a CANCELED bulk is a conflict.
func (s *Service) Cancel(ctx context.Context, org, id, cancelType string, externalIDs []string) (card.Bulk, []int64, error) {
	var filter []string
	switch cancelType {
	case CancelFull:
		if len(externalIDs) != 0 {
			return card.Bulk{}, nil, card.Invalid("external_ids", "must be empty for a FULL cancel")
		}
	case CancelPartial:
		if len(externalIDs) == 0 {
			return card.Bulk{}, nil, card.Invalid("external_ids", "are required for a PARTIAL cancel")
		}
		if err := checkExternalIDs(externalIDs); err != nil {
			return card.Bulk{}, nil, err
		}
		filter = externalIDs
	default:
		return card.Bulk{}, nil, card.Invalid("cancel_type", "must be FULL or PARTIAL")
	}
	var canceled []int64
	out, err := s.changeBulk(ctx, org, id, func(ctx context.Context, tx storage.Tx, b *card.Bulk) (time.Time, error) {
		canceled = nil
		switch {
		case b.Status == card.BulkCanceled:
			return time.Time{}, &card.ConflictError{Operation: "cancel bulk", Reason: "bulk " + id + " is already CANCELED"}
		case cancelType == CancelPartial && b.Status != card.BulkStarted:
			return time.Time{}, &card.ConflictError{Operation: "cancel bulk", Reason: "a PARTIAL cancel needs a STARTED bulk; bulk " + id + " is " + b.Status.String()}
		}
		now := s.cards.Now()
		var after int64
		for {
			cs, err := tx.UnboundCards(ctx, org, b.ID, filter, after, s.batch)
			if err != nil {
				return time.Time{}, err
			}
			for i := range cs {
				c := &cs[i]
				if _, err := lifecycle.Apply(c, card.CancelBulk, card.Canceled, now); err != nil {
					return time.Time{}, err
				}
				if err := tx.Save(ctx, c, events.Updated(card.CancelBulk, now)); err != nil {
					return time.Time{}, err
				}
				canceled = append(canceled, c.ID)
				after = c.ID
			}
			if len(cs) < s.batch {
				break
			}
		}
		e, err := events.New(ctx, events.NonameCancellation, org,
			events.CancellationData{BulkID: b.ID, CancelType: cancelType, CardIDs: nonNil(canceled)}, now)
		if err != nil {
			return time.Time{}, err
		}
		if err := tx.Append(ctx, e); err != nil {
			return time.Time{}, err
		}
		if cancelType == CancelFull {
			b.Status = card.BulkCanceled
		}
		return now, nil
	})
	if err != nil {
		return card.Bulk{}, nil, err
	}
	if cancelType == CancelFull {
		s.reached(ctx, card.BulkCanceled)
	}
	return out, canceled, nil
}

// View is a bulk with the count of its cards per status, both as of one
// moment: while a start runs, the counts add up to the bulk's CardsMade.
type View struct {
	card.Bulk
	Cards map[card.Status]int
}

// Get returns bulk id of org with its card counts, read together
// (storage.Store's BulkView).
func (s *Service) Get(ctx context.Context, org, id string) (View, error) {
	b, counts, err := s.store.BulkView(ctx, org, id)
	if err != nil {
		return View{}, err
	}
	return View{Bulk: b, Cards: counts}, nil
}

// checkExternalIDs refuses an empty list, an invalid id, and an id given
// twice, naming the field external_ids.
func checkExternalIDs(ids []string) error {
	if len(ids) == 0 {
		return card.Invalid("external_ids", "must hold at least one external id")
	}
	seen := make(map[string]struct{}, len(ids))
	for _, id := range ids {
		if err := card.ValidateExternalID(id); err != nil {
			return card.Invalid("external_ids", "each "+err.(*card.InvalidError).Rule)
		}
		if _, dup := seen[id]; dup {
			return card.Invalid("external_ids", "holds "+id+" twice")
		}
		seen[id] = struct{}{}
	}
	return nil
}

func nonNil(ids []int64) []int64 {
	if ids == nil {
		return []int64{}
	}
	return ids
}

// readAheadIDs is the external ids a start reads at a time, for its next
// batches and chunks.
const readAheadIDs = 50000

// readAhead holds the external ids of a PROCESSING bulk read ahead of its
// cards, by position, so that a start reads them some chunks at a time
// rather than a batch at a time. A read of a bulk's ids after a position
// may cost a scan of all the ids after it (on PostgreSQL, when the list
// is read just after it was written, before the table has statistics), so
// fewer reads make a large start faster: reading 1000 ids at a time took
// a quarter of a 200,000-card PostgreSQL start.
//
// Ids read in an earlier transaction are still the bulk's: a PROCESSING
// bulk's external ids never change (Increment is a conflict until it is
// STARTED), and take finds them by position, from the bulk's CardsMade as
// each chunk reads it under the bulk's lock, so a chunk another start
// committed meanwhile, or a chunk rolled back, moves the position, not the
// ids.
type readAhead struct {
	size  int
	from  int      // the position before ids[0]
	ids   []string // the ids at positions from+1, from+2...
	ended bool     // ids run to the bulk's last external id
}

// take returns the external ids of bulk at positions made+1 to made+want,
// fewer only at the end of the bulk's list.
func (r *readAhead) take(ctx context.Context, tx storage.Tx, bulk string, made, want int) ([]string, error) {
	if made < r.from || made > r.from+len(r.ids) || (made+want > r.from+len(r.ids) && !r.ended) {
		limit := max(want, r.size)
		ids, _, err := tx.ExternalIDs(ctx, bulk, int64(made), limit)
		if err != nil {
			return nil, err
		}
		r.from, r.ids, r.ended = made, ids, len(ids) < limit
	}
	rest := r.ids[made-r.from:]
	return rest[:min(want, len(rest))], nil
}
