package storagetest

import (
	"slices"
	"testing"
	"time"

	"github.com/cardcore/cardcore/card"
	"github.com/cardcore/cardcore/events"
	"github.com/cardcore/cardcore/storage"
)

// The webhook endpoints (storage.Endpoints): stored as given, scoped by
// org, each with its subscription at the feed's head.
var endpointsChecks = []check{
	{"RoundTrip", endpointRoundTrip},
	{"ScopedByOrg", endpointScopedByOrg},
	{"SubscriptionStartsAtTheFeedsHead", endpointSubscriptionAtHead},
	{"DeleteDropsTheSubscription", endpointDelete},
	{"EnableClearsFailingSince", endpointEnable},
	{"EnabledEndpointsOfEveryOrg", endpointEnabledList},
}

// newEndpoint returns an endpoint of org, as the API registers it.
func newEndpoint(org, url string, types ...events.Type) storage.WebhookEndpoint {
	now := time.Now().UTC().Truncate(time.Microsecond)
	return storage.WebhookEndpoint{OrgID: org, URL: url, EventTypes: types, Description: "the ledger",
		Secret: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", Enabled: true, CreatedAt: now, UpdatedAt: now}
}

// createEndpoint stores ep and returns it as the store left it.
func createEndpoint(t *testing.T, s storage.Store, ep storage.WebhookEndpoint) storage.WebhookEndpoint {
	t.Helper()
	if err := s.CreateEndpoint(t.Context(), &ep); err != nil {
		t.Fatalf("CreateEndpoint: %v", err)
	}
	if ep.ID == "" {
		t.Fatal("CreateEndpoint set no ID")
	}
	return ep
}

// getEndpoint reads endpoint id of org.
func getEndpoint(t *testing.T, s storage.Store, org, id string) storage.WebhookEndpoint {
	t.Helper()
	ep, err := s.Endpoint(t.Context(), org, id)
	if err != nil {
		t.Fatalf("Endpoint(%s, %s): %v", org, id, err)
	}
	return ep
}

// sameEndpoint fails when got differs from want.
func sameEndpoint(t *testing.T, what string, got, want storage.WebhookEndpoint) {
	t.Helper()
	if got.ID != want.ID || got.OrgID != want.OrgID || got.URL != want.URL || !slices.Equal(got.EventTypes, want.EventTypes) ||
		got.Description != want.Description || got.Secret != want.Secret || got.Enabled != want.Enabled ||
		!got.FailingSince.Equal(want.FailingSince) || got.StartAfter != want.StartAfter ||
		!got.CreatedAt.Equal(want.CreatedAt) {
		t.Errorf("%s:\n got %+v\nwant %+v", what, got, want)
	}
}

// An endpoint reads back as created, its secret and event types included;
// no event types reads back as none.
func endpointRoundTrip(t *testing.T, s storage.Store) {
	ep := createEndpoint(t, s, newEndpoint(orgA, "https://example.com/hooks?token=x", events.CardCreated, events.CustomerBound))
	sameEndpoint(t, "Endpoint", getEndpoint(t, s, orgA, ep.ID), ep)
	all := createEndpoint(t, s, newEndpoint(orgA, "https://example.org/"))
	if got := getEndpoint(t, s, orgA, all.ID); got.EventTypes != nil {
		t.Errorf("an endpoint of every type reads back with types %v", got.EventTypes)
	}
	list, err := s.Endpoints(t.Context(), orgA)
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 2 || list[0].ID != ep.ID || list[1].ID != all.ID {
		t.Errorf("Endpoints lists %+v; want the two endpoints, oldest first", list)
	}
}

// Another org sees none of the endpoint, and changes nothing of it.
func endpointScopedByOrg(t *testing.T, s storage.Store) {
	ep := createEndpoint(t, s, newEndpoint(orgA, "https://example.com/"))
	_, err := s.Endpoint(t.Context(), orgB, ep.ID)
	checkErr(t, "Endpoint of another org", err, card.ErrNotFound)
	_, err = s.SetEndpointEnabled(t.Context(), orgB, ep.ID, false)
	checkErr(t, "SetEndpointEnabled of another org", err, card.ErrNotFound)
	err = s.SetEndpointFailingSince(t.Context(), orgB, ep.ID, time.Now())
	checkErr(t, "SetEndpointFailingSince of another org", err, card.ErrNotFound)
	err = s.DeleteEndpoint(t.Context(), orgB, ep.ID)
	checkErr(t, "DeleteEndpoint of another org", err, card.ErrNotFound)
	if list, err := s.Endpoints(t.Context(), orgB); err != nil || len(list) != 0 {
		t.Errorf("Endpoints(%s) = %v, %v; want none", orgB, list, err)
	}
	sameEndpoint(t, "the endpoint after another org's calls", getEndpoint(t, s, orgA, ep.ID), ep)
}

// A new endpoint's subscription starts at the feed's head: its first
// lease's cursor is past every event committed before the registration.
func endpointSubscriptionAtHead(t *testing.T, s storage.Store) {
	insert(t, s, NewCard(orgA), NewCard(orgB))
	head, err := s.Head(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if head == 0 {
		t.Fatal("the feed is empty after two cards")
	}
	ep := createEndpoint(t, s, newEndpoint(orgA, "https://example.com/"))
	if ep.StartAfter != head {
		t.Errorf("StartAfter = %d, want the head %d", ep.StartAfter, head)
	}
	l := acquire(t, s, storage.EndpointSubscription(ep.ID), "relay", longTTL)
	if l.Cursor != head {
		t.Errorf("the endpoint's subscription starts at %d, want the head %d", l.Cursor, head)
	}
	insert(t, s, NewCard(orgA))
	evs, err := s.After(t.Context(), l.Cursor, 100)
	if err != nil {
		t.Fatal(err)
	}
	if len(evs) != 1 || evs[0].Type != events.CardCreated {
		t.Errorf("after the endpoint's cursor: %d events, want the one committed after its registration", len(evs))
	}
}

// Deleting an endpoint deletes its subscription: a later Acquire starts it
// anew, at 0. A deleted endpoint is not found; deleting it again is
// card.ErrNotFound, and still clears a subscription re-created meanwhile.
func endpointDelete(t *testing.T, s storage.Store) {
	insert(t, s, NewCard(orgA))
	ep := createEndpoint(t, s, newEndpoint(orgA, "https://example.com/"))
	name := storage.EndpointSubscription(ep.ID)
	if l := acquire(t, s, name, "relay", longTTL); l.Cursor == 0 {
		t.Fatal("the endpoint's subscription starts at 0 over a feed of one event")
	}
	if err := s.DeleteEndpoint(t.Context(), orgA, ep.ID); err != nil {
		t.Fatal(err)
	}
	_, err := s.Endpoint(t.Context(), orgA, ep.ID)
	checkErr(t, "Endpoint once deleted", err, card.ErrNotFound)
	again := acquire(t, s, name, "relay", longTTL)
	if again.Cursor != 0 {
		t.Errorf("the deleted endpoint's subscription was kept at cursor %d", again.Cursor)
	}
	advance(t, s, again, 1, longTTL)
	checkErr(t, "DeleteEndpoint of a deleted endpoint", s.DeleteEndpoint(t.Context(), orgA, ep.ID), card.ErrNotFound)
	if l := acquire(t, s, name, "another relay", longTTL); l.Cursor != 0 {
		t.Errorf("the re-created subscription %+v outlived a second DeleteEndpoint", l)
	}
}

// Disabling keeps FailingSince; enabling clears it.
func endpointEnable(t *testing.T, s storage.Store) {
	ep := createEndpoint(t, s, newEndpoint(orgA, "https://example.com/"))
	since := time.Now().UTC().Truncate(time.Microsecond).Add(-time.Hour)
	if err := s.SetEndpointFailingSince(t.Context(), orgA, ep.ID, since); err != nil {
		t.Fatal(err)
	}
	if got := getEndpoint(t, s, orgA, ep.ID); !got.FailingSince.Equal(since) {
		t.Errorf("FailingSince = %s, want %s", got.FailingSince, since)
	}
	off, err := s.SetEndpointEnabled(t.Context(), orgA, ep.ID, false)
	if err != nil {
		t.Fatal(err)
	}
	if off.Enabled || !off.FailingSince.Equal(since) {
		t.Errorf("disabled: %+v; want Enabled false and FailingSince kept", off)
	}
	on, err := s.SetEndpointEnabled(t.Context(), orgA, ep.ID, true)
	if err != nil {
		t.Fatal(err)
	}
	if !on.Enabled || !on.FailingSince.IsZero() {
		t.Errorf("enabled again: %+v; want Enabled and no FailingSince", on)
	}
	if err := s.SetEndpointFailingSince(t.Context(), orgA, ep.ID, since); err != nil {
		t.Fatal(err)
	}
	if err := s.SetEndpointFailingSince(t.Context(), orgA, ep.ID, time.Time{}); err != nil {
		t.Fatal(err)
	}
	if got := getEndpoint(t, s, orgA, ep.ID); !got.FailingSince.IsZero() {
		t.Errorf("FailingSince = %s after a success, want zero", got.FailingSince)
	}
}

// EnabledEndpoints lists the enabled endpoints of every org, and no
// disabled one.
func endpointEnabledList(t *testing.T, s storage.Store) {
	a := createEndpoint(t, s, newEndpoint(orgA, "https://a.example.com/"))
	off := createEndpoint(t, s, newEndpoint(orgA, "https://off.example.com/"))
	b := createEndpoint(t, s, newEndpoint(orgB, "https://b.example.com/"))
	if _, err := s.SetEndpointEnabled(t.Context(), orgA, off.ID, false); err != nil {
		t.Fatal(err)
	}
	list, err := s.EnabledEndpoints(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, ep := range list {
		ids = append(ids, ep.ID)
	}
	if !slices.Equal(ids, []string{a.ID, b.ID}) {
		t.Errorf("EnabledEndpoints = %v, want %v", ids, []string{a.ID, b.ID})
	}
}
