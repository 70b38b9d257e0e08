package events

import (
	"encoding/json"
	"strconv"
)

// The data of a card event, encoded without reflection.
//
// Every change of a card encodes its CardData, and a bulk start encodes one
// per card: through encoding/json's reflection that was 15% of a
// PostgreSQL bulk's CPU (cardcore bench --workload bulk --cpuprofile).
// appendJSON writes the same bytes as json.Marshal, field by field in the
// struct's order with its omitempty rules; a string that is not plain
// printable ASCII, or holds one of the characters json.Marshal escapes
// ("\<>&), is encoded by json.Marshal itself, so the escaping is never
// ours. TestCardDataJSONMatchesEncodingJSON checks the bytes against
// json.Marshal on random data: a field added to CardData and not here
// fails it.

// appendJSON appends the JSON object of d to b, byte for byte as
// json.Marshal(d) writes it.
func (d *CardData) appendJSON(b []byte) []byte {
	b = append(b, `{"card_id":`...)
	b = strconv.AppendInt(b, d.CardID, 10)
	b = optString(b, `,"card_token":`, d.CardToken)
	b = optString(b, `,"account_id":`, d.AccountID)
	b = optString(b, `,"customer_id":`, d.CustomerID)
	b = append(b, `,"program_id":`...)
	b = strconv.AppendInt(b, d.ProgramID, 10)
	b = append(b, `,"card_status":`...)
	b = appendString(b, d.CardStatus)
	b = optString(b, `,"card_previous_status":`, d.CardPreviousStatus)
	b = append(b, `,"card_type":`...)
	b = appendString(b, d.CardType)
	b = optString(b, `,"card_name":`, d.CardName)
	b = optString(b, `,"card_printed_name":`, d.CardPrintedName)
	b = optString(b, `,"card_last_four_numbers":`, d.CardLastFourNumbers)
	b = optString(b, `,"card_hash":`, d.CardHash)
	b = optString(b, `,"issuing_date":`, d.IssuingDate)
	b = optString(b, `,"expiration_date":`, d.ExpirationDate)
	b = optString(b, `,"activation_date":`, d.ActivationDate)
	b = optString(b, `,"valid_until":`, d.ValidUntil)
	b = optString(b, `,"bulk_id":`, d.BulkID)
	b = optString(b, `,"external_id":`, d.ExternalID)
	if d.ReissuedCardID != 0 {
		b = append(b, `,"reissued_card_id":`...)
		b = strconv.AppendInt(b, d.ReissuedCardID, 10)
	}
	b = append(b, `,"track_number":`...)
	b = strconv.AppendInt(b, int64(d.TrackNumber), 10)
	b = append(b, `,"password_tries":`...)
	b = strconv.AppendInt(b, int64(d.PasswordTries), 10)
	b = append(b, `,"operation_type":`...)
	b = appendString(b, d.OperationType)
	b = append(b, `,"version":`...)
	b = strconv.AppendInt(b, d.Version, 10)
	return append(b, '}')
}

// optString appends key and s, when s is not empty (omitempty).
func optString(b []byte, key, s string) []byte {
	if s == "" {
		return b
	}
	return appendString(append(b, key...), s)
}

// appendString appends s as a JSON string, as json.Marshal encodes it.
func appendString(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if !plain[s[i]] {
			q, _ := json.Marshal(s) // a string always encodes
			return append(b, q...)
		}
	}
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"')
}

// plain holds the bytes json.Marshal writes as they are: printable ASCII
// but for the quote, the backslash and the HTML characters <, > and &.
var plain = func() (p [256]bool) {
	for c := 0x20; c < 0x7f; c++ {
		p[c] = true
	}
	for _, c := range `"\<>&` {
		p[c] = false
	}
	return p
}()
