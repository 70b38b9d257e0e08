package httpapi

import (
	"encoding/json"
	"os"
	"testing"
	"time"

	"github.com/cardcore/cardcore/card"
)

func TestZZGolden(t *testing.T) {
	now := time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC)
	var out []byte
	for _, c := range []card.Card{
		{},
		{ID: 7, OrgID: "o", ProgramID: 3, AccountID: "12", CustomerID: "34", PANHash: "h", Last4: "1234", BIN: "4111", Brand: card.Visa,
			Status: card.Normal, PreviousStatus: card.Created, IssuingDate: now, ExpirationDate: now, PrintedName: "P N", Name: "n",
			TrackNumber: 2, TransactionLimit: "10.5", EmbossingCustomField: "e", ContactlessEnabled: true, ReissuedCardID: 5,
			Type: card.Virtual, Metadata: json.RawMessage(`{"a":1}`), TemplateID: "t", ValidUntil: now, BulkID: "b", ExternalID: "x",
			Mode: card.Debit, ValidityPeriodHours: 4},
	} {
		for _, v := range []any{cardBodyOf(&c), reissueBodyOf(&c)} {
			b, err := json.Marshal(v)
			if err != nil {
				t.Fatal(err)
			}
			out = append(append(out, b...), '\n')
		}
	}
	path := "/tmp/golden.json"
	if old, err := os.ReadFile(path); err == nil {
		if string(old) != string(out) {
			t.Fatalf("differs:\n%s\n%s", old, out)
		}
		return
	}
	os.WriteFile(path, out, 0o644)
}
