package main

import (
	"context"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/cardcore/cardcore/storage"
)

// "cardcore subscriptions" lists the subscriptions with their lag and
// lease; --drop refuses one whose lease is live and deletes a released
// one, after which the list no longer holds it.
func TestSubscriptionsCommand(t *testing.T) {
	path := filepath.Join(t.TempDir(), "subs.db")
	core := migratedFile(t, path)
	err := core.Store.Update(t.Context(), func(ctx context.Context, tx storage.Tx) error {
		return tx.Append(ctx, event(time.Hour), event(time.Hour), event(time.Minute))
	})
	if err != nil {
		t.Fatal(err)
	}
	l, err := core.Store.Acquire(t.Context(), "jetstream:OLD", "host-1:42", time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if l, err = core.Store.Advance(t.Context(), l, 1, time.Minute); err != nil {
		t.Fatal(err)
	}

	code, out, errOut := runCmd(t, "subscriptions", "--db", path)
	if code != exitOK {
		t.Fatalf("subscriptions: exit %d; stderr:\n%s", code, errOut)
	}
	if !regexp.MustCompile(`(?m)^jetstream:OLD +1 +2 +host-1:42 +live until `).MatchString(out) {
		t.Errorf("the list lacks the subscription at cursor 1, lag 2, live:\n%s", out)
	}
	code, _, errOut = runCmd(t, "subscriptions", "--db", path, "--drop", "jetstream:OLD")
	if code == exitOK || !strings.Contains(errOut, "lease is held") {
		t.Errorf("drop of a live subscription: exit %d; stderr:\n%s", code, errOut)
	}
	if err := core.Store.Release(t.Context(), l); err != nil {
		t.Fatal(err)
	}
	code, out, errOut = runCmd(t, "subscriptions", "--db", path, "--drop", "jetstream:OLD")
	if code != exitOK || out != "dropped jetstream:OLD\n" {
		t.Fatalf("drop: exit %d, stdout %q; stderr:\n%s", code, out, errOut)
	}
	if _, out, _ = runCmd(t, "subscriptions", "--db", path); strings.Contains(out, "jetstream:OLD") {
		t.Errorf("the dropped subscription is still listed:\n%s", out)
	}
	if code, _, errOut = runCmd(t, "subscriptions", "--db", path, "--drop", "nope"); code == exitOK || !strings.Contains(errOut, "not found") {
		t.Errorf("drop of a missing subscription: exit %d; stderr:\n%s", code, errOut)
	}
}
