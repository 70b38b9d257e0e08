package reissue_test

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/cardcore/cardcore/card"
	"github.com/cardcore/cardcore/internal/cardtest"
	"github.com/cardcore/cardcore/reissue"
	"github.com/cardcore/cardcore/storage"
)

func TestReasonsCreate(t *testing.T) {
	cardtest.Each(t, func(t *testing.T, e *cardtest.Env) {
		r, err := e.Reissue.CreateReason(t.Context(), card.Reason{OrgID: org, Description: "Card broken in the post",
			Type: "BROKEN", MustBlock: true, MustCharge: true, Cost: "7.5", Enabled: true})
		if err != nil {
			t.Fatal(err)
		}
		if r.ID == 0 || !r.CreatedAt.Equal(cardtest.T0) || !r.UpdatedAt.Equal(cardtest.T0) {
			t.Fatalf("created reason %+v", r)
		}
		got, err := e.Reissue.Reason(t.Context(), org, r.ID)
		if err != nil {
			t.Fatal(err)
		}
		sameReason(t, got, r)

		valid := card.Reason{OrgID: org, Description: "lost", Type: "LOST", Cost: "0", Enabled: true}
		for _, tc := range []struct {
			field string
			set   func(r *card.Reason, v string)
			bad   []string
		}{
			{"description", func(r *card.Reason, v string) { r.Description = v }, []string{"", strings.Repeat("d", 256), "bad\x00"}},
			{"type", func(r *card.Reason, v string) { r.Type = v },
				[]string{"", "broken", "1BROKEN", "NOT BROKEN", strings.Repeat("B", 33)}},
			{"cost", func(r *card.Reason, v string) { r.Cost = v }, []string{"", "-1", "1,50", "1."}},
			{"org_id", func(r *card.Reason, v string) { r.OrgID = v }, []string{""}},
		} {
			for _, v := range tc.bad {
				r := valid
				tc.set(&r, v)
				_, err := e.Reissue.CreateReason(t.Context(), r)
				cardtest.WantInvalid(t, err, tc.field)
			}
		}
		// The boundaries are accepted.
		long := valid
		long.Description, long.Type = strings.Repeat("d", 255), strings.Repeat("B", 32)
		if _, err := e.Reissue.CreateReason(t.Context(), long); err != nil {
			t.Fatalf("255-character description, 32-letter type: %v", err)
		}
		all, _, err := e.Reissue.ListReasons(t.Context(), org, nil, storage.Page{Limit: 50})
		if err != nil || len(all) != 2 {
			t.Fatalf("the catalogue holds %d reasons (%v), want the 2 valid ones", len(all), err)
		}
	})
}

func sameReason(t *testing.T, got, want card.Reason) {
	t.Helper()
	if got.ID != want.ID || got.OrgID != want.OrgID || got.Description != want.Description || got.Type != want.Type ||
		got.MustBlock != want.MustBlock || got.MustCharge != want.MustCharge || got.Cost != want.Cost || got.Enabled != want.Enabled ||
		!got.CreatedAt.Equal(want.CreatedAt) || !got.UpdatedAt.Equal(want.UpdatedAt) {
		t.Fatalf("reason:\n got  %+v\n want %+v", got, want)
	}
}

func TestReasonsUpdate(t *testing.T) {
	cardtest.Each(t, func(t *testing.T, e *cardtest.Env) {
		r, err := e.Reissue.CreateReason(t.Context(), card.Reason{OrgID: org, Description: "stolen", Type: "THEFT",
			MustBlock: true, MustCharge: false, Cost: "10", Enabled: true})
		if err != nil {
			t.Fatal(err)
		}
		e.Clock.Advance(time.Minute)
		want := r
		want.UpdatedAt = e.Clock.Now()

		got, err := e.Reissue.UpdateReason(t.Context(), org, r.ID, reissue.ReasonChange{})
		if err != nil {
			t.Fatal(err)
		}
		sameReason(t, got, want) // nothing changes but the update time

		want.Enabled = false
		got, err = e.Reissue.UpdateReason(t.Context(), org, r.ID, reissue.ReasonChange{Enabled: cardtest.Ptr(false)})
		if err != nil {
			t.Fatal(err)
		}
		sameReason(t, got, want)

		want.Description, want.Type, want.MustBlock, want.MustCharge, want.Cost = "stolen card", "ROBBERY", false, true, "0.99"
		got, err = e.Reissue.UpdateReason(t.Context(), org, r.ID, reissue.ReasonChange{Description: cardtest.Ptr("stolen card"),
			Type: cardtest.Ptr("ROBBERY"), MustBlock: cardtest.Ptr(false), MustCharge: cardtest.Ptr(true), Cost: cardtest.Ptr("0.99")})
		if err != nil {
			t.Fatal(err)
		}
		sameReason(t, got, want)
		stored, err := e.Reissue.Reason(t.Context(), org, r.ID)
		if err != nil {
			t.Fatal(err)
		}
		sameReason(t, stored, want)

		// An invalid change names its field and changes nothing.
		_, err = e.Reissue.UpdateReason(t.Context(), org, r.ID, reissue.ReasonChange{Cost: cardtest.Ptr("cheap"), Enabled: cardtest.Ptr(true)})
		cardtest.WantInvalid(t, err, "cost")
		_, err = e.Reissue.UpdateReason(t.Context(), org, r.ID, reissue.ReasonChange{Type: cardtest.Ptr("x")})
		cardtest.WantInvalid(t, err, "type")
		stored, _ = e.Reissue.Reason(t.Context(), org, r.ID)
		sameReason(t, stored, want)

		for name, f := range map[string]func() error{
			"unknown id": func() error {
				_, err := e.Reissue.UpdateReason(t.Context(), org, r.ID+100, reissue.ReasonChange{Enabled: cardtest.Ptr(true)})
				return err
			},
			"another org's update": func() error {
				_, err := e.Reissue.UpdateReason(t.Context(), "org-2", r.ID, reissue.ReasonChange{Enabled: cardtest.Ptr(true)})
				return err
			},
			"another org's read": func() error {
				_, err := e.Reissue.Reason(t.Context(), "org-2", r.ID)
				return err
			},
		} {
			if err := f(); !errors.Is(err, card.ErrNotFound) {
				t.Fatalf("%s: %v, want not found", name, err)
			}
		}
		stored, _ = e.Reissue.Reason(t.Context(), org, r.ID)
		sameReason(t, stored, want)
	})
}

func TestReasonsList(t *testing.T) {
	cardtest.Each(t, func(t *testing.T, e *cardtest.Env) {
		var all, on, off []int64
		for i := range 7 {
			enabled := i%3 != 1
			r, err := e.Reissue.CreateReason(t.Context(), card.Reason{OrgID: org, Description: fmt.Sprintf("reason %d", i),
				Type: "DAMAGED", Cost: "1", Enabled: enabled})
			if err != nil {
				t.Fatal(err)
			}
			all = append(all, r.ID)
			if enabled {
				on = append(on, r.ID)
			} else {
				off = append(off, r.ID)
			}
			newReason(t, e, "org-2", true) // another org's, interleaved
		}
		ids := func(rs []card.Reason) []int64 {
			out := make([]int64, len(rs))
			for i, r := range rs {
				if r.OrgID != org {
					t.Fatalf("org-1's list holds reason %d of %s", r.ID, r.OrgID)
				}
				out[i] = r.ID
			}
			return out
		}
		for _, tc := range []struct {
			name    string
			enabled *bool
			want    []int64
		}{{"all", nil, all}, {"enabled", cardtest.Ptr(true), on}, {"disabled", cardtest.Ptr(false), off}} {
			t.Run(tc.name, func(t *testing.T) {
				rs, next, err := e.Reissue.ListReasons(t.Context(), org, tc.enabled, storage.Page{Limit: 50})
				if err != nil || next != 0 || fmt.Sprint(ids(rs)) != fmt.Sprint(tc.want) {
					t.Fatalf("list: %v next %d, %v; want %v", ids(rs), next, err, tc.want)
				}
				for _, limit := range []int{1, 2, 3, len(tc.want), len(tc.want) + 1} {
					var got []int64
					page := storage.Page{Limit: limit}
					for pages := 1; ; pages++ {
						rs, next, err := e.Reissue.ListReasons(t.Context(), org, tc.enabled, page)
						if err != nil || len(rs) > limit || len(rs) == 0 {
							t.Fatalf("limit %d page %d: %d reasons, %v", limit, pages, len(rs), err)
						}
						got = append(got, ids(rs)...)
						if next == 0 {
							break
						}
						if next != rs[len(rs)-1].ID || len(rs) != limit {
							t.Fatalf("limit %d page %d: next %d after %v", limit, pages, next, ids(rs))
						}
						page.After = next
					}
					if fmt.Sprint(got) != fmt.Sprint(tc.want) {
						t.Fatalf("limit %d: paged %v, want %v", limit, got, tc.want)
					}
				}
			})
		}
		t.Run("limits", func(t *testing.T) {
			for _, limit := range []int{0, -1, 51, 1000} {
				_, _, err := e.Reissue.ListReasons(t.Context(), org, nil, storage.Page{Limit: limit})
				cardtest.WantInvalid(t, err, "limit")
			}
			rs, _, err := e.Reissue.ListReasons(t.Context(), "org-2", nil, storage.Page{Limit: 50})
			if err != nil || len(rs) != 7 {
				t.Fatalf("org-2 lists %d reasons, %v; want its 7", len(rs), err)
			}
			rs, next, err := e.Reissue.ListReasons(t.Context(), "org-3", nil, storage.Page{Limit: 1})
			if err != nil || len(rs) != 0 || next != 0 {
				t.Fatalf("an org without reasons: %d, next %d, %v", len(rs), next, err)
			}
		})
	})
}
