// Package httpapi is cardcore's reference HTTP API (SPEC section 7): an
// http.Handler, shaped after Pismo's card-issuing API, over the lifecycle,
// reissue and noname use cases and the store's event feed. New builds it;
// MintToken makes its bearer tokens. GET /openapi.json serves its OpenAPI
// 3.0.3 document, and openapi_test.go runs every route and every answer the
// document lists against it, so the two cannot drift.
//
// # Tokens
//
// Every route but /openapi.json and /healthz takes "Authorization: Bearer
// <JWT>" signed with HS256 (any other algorithm is refused), with the claims
// org_id (1-64 printable characters), exp (required; no leeway; nbf and iat
// are honoured when present) and exactly one of account_id (a JSON string
// or integer: an account token) and "role": "server" (a server token). Any
// other role, both, neither or an empty account_id is a 401, and every 401
// carries WWW-Authenticate: Bearer. Every lookup is scoped by the token's
// org: another org's card or bulk is not found.
//
// # Decisions where the spec is silent
//
//   - Ids. On the /wallet routes, account, customer and card ids (in the
//     path and in the x-account-id and x-customer-id headers) are positive
//     decimal integers that fit an int64; leading zeros are dropped ("042"
//     is account 42), and a token's account_id is compared in that form.
//     The identity headers are checked with the path ids: a bad one is a
//     400 that comes before the 403.
//   - Account headers. Create and bind both require x-customer-id; both
//     default x-account-id to an account token's account (if that account
//     is not a decimal integer, the header is required) and require it with
//     a server token.
//   - Card routes of an account. A /wallet/v1 route reads the card first
//     and answers 404 unless it is a card of the org under the path's
//     account and customer; an account and customer never change once set,
//     so the check holds for the change that follows. The body's 400s still
//     come first: a reissue of a card that is not found answers a bad
//     option or an unknown or disabled reason_id with 400.
//   - Bulk ids are UUIDs: any other {bulkId} is not found (after the body's
//     400s).
//   - Bodies. An empty body is {}; a JSON null is an absent field; unknown
//     fields are ignored; a value of the wrong JSON type is a 400 naming the
//     field; anything after the JSON object is a 400. metadata is compacted
//     before its 3200-byte limit is checked. The bodies of GET requests are
//     not read.
//   - 413. A body over 1 MiB is refused with 413. The server reads on and
//     discards up to 8 MiB of it, so the client gets to read the answer
//     instead of a reset connection, then closes the connection; a request
//     with Expect: 100-continue and a larger Content-Length is refused
//     before its body is sent.
//   - Card bodies carry every field of Pismo's UpdateCardStatusResponse (or
//     ReissueCardResponse) that cardcore holds, org.id included, and no
//     other: expiration_date is yymm; issuing_date and valid_until are
//     RFC 3339 in UTC, to the second; contactless_enabled is always
//     present; account and customer are absent on an UNBOUND card.
//   - Create. program_id 0 or absent is program 1; a PLASTIC card's name is
//     always PLASTIC whatever is sent.
//   - Reissue options are the SubmitReissue fields the library overrides:
//     printed_name, embossing_custom_field, embossing_group,
//     contactless_enabled, metadata, pin_length, expiration_date and
//     validity_period_hours. The others (cvv_rotation_interval_hours,
//     template_id, brand, status...) are ignored.
//   - Idempotency. x-idempotency-key (at most 36 printable characters) is
//     scoped to the org and the account on create, to the org and the card
//     on reissue; a replay answers 201 or 200 with the body of the first
//     answer, the card as it was then.
//   - Reasons. cost is a JSON number (a string is a 400), default 0;
//     enabled defaults to true, must_block and must_charge to false. The
//     list's cursor is the id of the last reason of the previous page;
//     enabled is exactly true or false.
//   - Bulks. Create also takes pin_length and contactless_enabled for the
//     bulk's cards. The per-request limit of external ids (the program's
//     bulk size limit, default 1000) holds on create, increment and PARTIAL
//     cancel. Start, increment and cancel answer with the bulk read after
//     the change committed; the canceled cards are named by the
//     noname_cancellation-1 event, not by the answer.
//   - Feed. after is a non-negative integer (default 0), limit 1-1000
//     (default 100); an empty parameter is its default.
//   - Correlation. An x-cid header of 1-64 printable characters becomes the
//     cid of the request's events; otherwise one is generated.
//   - Errors. The codes are invalid_request (400), unauthorized (401),
//     forbidden (403), not_found (404), method_not_allowed (405, with an
//     Allow header), conflict (409), payload_too_large (413) and
//     internal_error (500). Unknown routes and methods answer with the same
//     body. A 500 says nothing of its cause; it is logged with the method,
//     the route pattern and the error, never a token or a body.
//   - /healthz answers 200 {"status": "ok"} without touching the store.
package httpapi
