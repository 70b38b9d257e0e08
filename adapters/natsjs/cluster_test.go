package natsjs_test

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cardcore/cardcore/adapters/natsjs"
	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
)

// cluster is three JetStream servers in the test process, n1, n2 and n3,
// routed to each other on loopback; they shut down when the test ends.
type cluster struct {
	nodes map[string]*server.Server
	names []string
}

// startCluster starts a three-node cluster.
func startCluster(t *testing.T) *cluster {
	t.Helper()
	// Each node listens for routes on a port of its choosing and routes to
	// the nodes started before it, which tell it of the rest: a port picked
	// free beforehand could be taken meanwhile (by an outgoing connection
	// of a test running beside), and the node would never be ready.
	var routes []string
	c := &cluster{nodes: make(map[string]*server.Server)}
	for i := range 3 {
		name := fmt.Sprintf("n%d", i+1)
		seeds := slices.Clone(routes)
		s := startServer(t, t.TempDir(), -1, func(o *server.Options) {
			o.ServerName = name
			o.Cluster = server.ClusterOpts{Name: "cardcore-test", Host: "127.0.0.1", Port: -1}
			o.Routes = server.RoutesFromStr(strings.Join(seeds, ","))
		})
		c.nodes[name] = s
		c.names = append(c.names, name)
		routes = append(routes, "nats-route://"+s.ClusterAddr().String())
	}
	return c
}

// urls is the client URLs of the nodes for nats.Connect, first's first
// (none first when first is "").
func (c *cluster) urls(first string) string {
	var urls []string
	if first != "" {
		urls = append(urls, c.nodes[first].ClientURL())
	}
	for _, name := range c.names {
		if name != first {
			urls = append(urls, c.nodes[name].ClientURL())
		}
	}
	return strings.Join(urls, ",")
}

// other is a node that is not name.
func (c *cluster) other(name string) string {
	for _, n := range c.names {
		if n != name {
			return n
		}
	}
	panic("a cluster of one node")
}

// createStream creates the destination's stream with three replicas, once
// the cluster has elected its meta leader, and returns the name of the
// stream's leader.
func (c *cluster) createStream(ctx context.Context, t *testing.T) string {
	t.Helper()
	admin := connect(t, c.urls(""))
	for {
		actx, cancel := context.WithTimeout(ctx, time.Second)
		_, err := natsjs.New(actx, admin, natsjs.WithReplicas(3))
		cancel()
		if err == nil {
			break
		}
		if ctx.Err() != nil {
			t.Fatalf("no stream on the cluster: %v", err)
		}
		time.Sleep(100 * time.Millisecond)
	}
	info, err := newJetStream(t, admin).Stream(ctx, natsjs.DefaultStream)
	if err != nil {
		t.Fatal(err)
	}
	return info.CachedInfo().Cluster.Leader
}

// TestClusterLosesANode delivers a load to a stream with three replicas on
// a three-node cluster, as a deliverer does: batches from the cursor, the
// cursor moved past what Deliver acknowledged, a retry from there after an
// error. A third of the way through, the stream leader, to which the
// producer is connected, is shut down during a batch; two thirds of the
// way, the producer is "killed" during a batch (its context cancelled, its
// acknowledgements dropped, its late publishes left to land) and a new one
// resumes from the cursor. The stream must end with every event exactly
// once, in seq order. TestClusterRelay does the same with the real store,
// deliverer and load.
func TestClusterLosesANode(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a three-node cluster")
	}
	start := time.Now()
	deadline := start.Add(27 * time.Second)
	ctx, cancel := context.WithDeadline(t.Context(), deadline)
	defer cancel()

	c := startCluster(t)
	leader := c.createStream(ctx, t)
	t.Logf("cluster up after %v; stream leader %s", time.Since(start).Round(time.Millisecond), leader)

	// The producer talks to the leader first, then to the others.
	producer := func() *natsjs.Destination {
		nc := connect(t, c.urls(leader), nats.DontRandomize(),
			nats.ReconnectWait(50*time.Millisecond), nats.MaxReconnects(-1))
		d, err := natsjs.New(ctx, nc, natsjs.WithAckTimeout(2*time.Second))
		if err != nil {
			t.Fatal(err)
		}
		return d
	}
	d := producer()

	const batch = 256
	evs := feed(1, 3000)
	cursor, failures := 0, 0
	nodeDown, relayKilled := false, false
	for cursor < len(evs) {
		end := min(cursor+batch, len(evs))
		dctx := ctx
		switch {
		case !nodeDown && cursor >= len(evs)/3:
			nodeDown = true
			t.Logf("shutting down %s at cursor %d", leader, cursor)
			go c.nodes[leader].Shutdown()
		case nodeDown && !relayKilled && cursor >= 2*len(evs)/3:
			relayKilled = true
			var stop context.CancelFunc
			dctx, stop = context.WithTimeout(ctx, 2*time.Millisecond)
			defer stop()
		}
		acked, err := d.Deliver(dctx, evs[cursor:end])
		cursor += acked
		if err == nil {
			continue
		}
		failures++
		t.Logf("%v: cursor %d: %v", time.Since(start).Round(time.Millisecond), cursor, err)
		if ctx.Err() != nil {
			t.Fatalf("the load did not finish in time: cursor %d of %d", cursor, len(evs))
		}
		if dctx != ctx {
			// The killed relay's successor starts from the cursor.
			d.Close()
			d = producer()
			continue
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Logf("delivered %d events in %v with %d failed batches", len(evs), time.Since(start).Round(time.Millisecond), failures)

	msgs := stored(t, connect(t, c.nodes[c.other(leader)].ClientURL()), natsjs.DefaultStream)
	if len(msgs) != len(evs) {
		t.Errorf("stream holds %d messages, want %d", len(msgs), len(evs))
	}
	for i, m := range msgs[:min(len(msgs), len(evs))] {
		if seq := m.Headers().Get(natsjs.SeqHeader); seq != strconv.FormatInt(evs[i].Seq, 10) {
			t.Fatalf("message %d has seq %s, want %d", i, seq, evs[i].Seq)
		}
	}
}
