package reissue_test

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/cardcore/cardcore/card"
	"github.com/cardcore/cardcore/internal/cardtest"
	"github.com/cardcore/cardcore/lifecycle"
	"github.com/cardcore/cardcore/reissue"
)

// TestReissueKeepsCVVRotationAndTemplate: the options SPEC 12 adds are kept
// on the new card, and without them the old card's values are copied; the
// successor's PIN-try count starts at 0.
func TestReissueKeepsCVVRotationAndTemplate(t *testing.T) {
	cardtest.Each(t, func(t *testing.T, e *cardtest.Env) {
		reason := newReason(t, e, org, false)
		old := stored(org, card.Virtual, card.Normal, 1)
		old.TemplateID, old.PasswordTries = "tpl-old", 2
		other := stored(org, card.Virtual, card.Normal, 2)
		other.TemplateID = "tpl-kept"
		e.Insert(t, &old, &other)

		res := mustReissue(t, e, reissue.Request{OrgID: org, CardID: old.ID, ReasonID: reason.ID, Options: reissue.Options{
			CVVRotationIntervalHours: cardtest.Ptr(4320), TemplateID: "EAFA693A-57B2-4029-97F3-D20D6F06D79B"}})
		if h := res.New.CVVRotationIntervalHours; h == nil || *h != 4320 || res.New.TemplateID != "EAFA693A-57B2-4029-97F3-D20D6F06D79B" || res.New.PasswordTries != 0 {
			t.Errorf("successor: cvv %v, template %q, %d tries", h, res.New.TemplateID, res.New.PasswordTries)
		}
		stored := e.Card(t, org, res.New.ID)
		cardtest.SameCard(t, "the successor as stored", stored, res.New)

		kept := mustReissue(t, e, reissue.Request{OrgID: org, CardID: other.ID, ReasonID: reason.ID})
		if h := kept.New.CVVRotationIntervalHours; h == nil || *h != 24 || kept.New.TemplateID != "tpl-kept" {
			t.Errorf("successor without options: cvv %v, template %q", h, kept.New.TemplateID)
		}
		never := mustReissue(t, e, reissue.Request{OrgID: org, CardID: res.New.ID, ReasonID: reason.ID,
			Options: reissue.Options{CVVRotationIntervalHours: cardtest.Ptr(0)}})
		if h := never.New.CVVRotationIntervalHours; h == nil || *h != 0 {
			t.Errorf("successor that never rotates: cvv %v", h)
		}
	})
}

// TestReissueOptionsOfSpec12 refuses the options SPEC 12 adds when they
// break their rules, before anything is written.
func TestReissueOptionsOfSpec12(t *testing.T) {
	cardtest.Each(t, func(t *testing.T, e *cardtest.Env) {
		reason := newReason(t, e, org, false)
		v := stored(org, card.Virtual, card.Normal, 1)
		p := stored(org, card.Plastic, card.Normal, 2)
		e.Insert(t, &v, &p)
		for _, tc := range []struct {
			id    int64
			o     reissue.Options
			field string
		}{
			{v.ID, reissue.Options{CVVRotationIntervalHours: cardtest.Ptr(4321)}, "cvv_rotation_interval_hours"},
			{v.ID, reissue.Options{CVVRotationIntervalHours: cardtest.Ptr(-1)}, "cvv_rotation_interval_hours"},
			{v.ID, reissue.Options{TemplateID: string(make([]byte, 65))}, "template_id"},
			{p.ID, reissue.Options{Status: card.Unnumbered, Brand: card.Visa}, "printed_name"},
			{p.ID, reissue.Options{Status: card.Unnumbered, PrintedName: "ADA KING"}, "brand"},
			{p.ID, reissue.Options{Status: card.Unnumbered, PrintedName: "ADA KING", Brand: card.Amex}, "brand"},
			{p.ID, reissue.Options{Status: card.Normal}, "status"},
			{v.ID, reissue.Options{Status: card.Unnumbered, PrintedName: "ADA KING", Brand: card.Visa}, "status"},
		} {
			_, err := e.Reissue.Reissue(t.Context(), reissue.Request{OrgID: org, CardID: tc.id, ReasonID: reason.ID, Options: tc.o})
			var ie *card.InvalidError
			if !errors.As(err, &ie) || ie.Field != tc.field {
				t.Errorf("reissue with %+v: %v; want invalid %s", tc.o, err, tc.field)
			}
		}
		unchanged(t, e, 0, v, p)
	})
}

// TestReissueUnnumbered reissues a PLASTIC card as an issuer-numbered one
// (SPEC 12): the successor starts UNNUMBERED with the printed name and
// brand asked for, the old card becomes REISSUED, and numbering then
// activating the successor cancels the old card.
func TestReissueUnnumbered(t *testing.T) {
	cardtest.Each(t, func(t *testing.T, e *cardtest.Env) {
		reason := newReason(t, e, org, false)
		old := plastic(t, e, card.Normal)
		res := mustReissue(t, e, reissue.Request{OrgID: org, CardID: old.ID, ReasonID: reason.ID, Options: reissue.Options{
			Status: card.Unnumbered, Brand: card.Mastercard, PrintedName: "GRACE HOPPER"}})
		if res.New.Status != card.Unnumbered || res.New.Brand != card.Mastercard || res.New.PrintedName != "GRACE HOPPER" ||
			res.New.Last4 != "" || res.Old.Status != card.Reissued {
			t.Fatalf("successor %s %s %q last4 %q; old %s", res.New.Status, res.New.Brand, res.New.PrintedName, res.New.Last4, res.Old.Status)
		}
		numbered, err := e.Cards.Number(t.Context(), org, res.New.ID, lifecycle.Numbering{Last4: "5454", PANHash: "c0ffee00c0ffee00c0ffee00"})
		if err != nil || numbered.Status != card.Created || numbered.Brand != card.Mastercard {
			t.Fatalf("number the successor: %+v, %v", numbered, err)
		}
		if _, err := e.Cards.Activate(t.Context(), org, res.New.ID); err != nil {
			t.Fatal(err)
		}
		if got := e.Card(t, org, old.ID); got.Status != card.Canceled {
			t.Fatalf("the old card is %s once its successor is active", got.Status)
		}
	})
}

// TestReissueFingerprintOfEarlierRequests: a reissue request without SPEC
// 12's options encodes as it did before they existed, so an idempotency
// key an earlier version kept still replays.
func TestReissueFingerprintOfEarlierRequests(t *testing.T) {
	b, err := json.Marshal(reissue.Request{OrgID: org, CardID: 1, ReasonID: 2, Options: reissue.Options{PrintedName: "ADA KING"}})
	for _, field := range []string{"CVVRotationIntervalHours", "TemplateID", "Status", "Brand"} {
		if err != nil || strings.Contains(string(b), `"`+field+`"`) {
			t.Errorf("a reissue request without %s encodes as %s, %v", field, b, err)
		}
	}
}
