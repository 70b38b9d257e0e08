// Package httpapi is cardcore's reference HTTP API (SPEC section 7): an
// http.Handler, shaped after Pismo's card-issuing API, over the use cases
// of a cardcore.Core and its store's event feed; with the core's Sync, card
// data sync (section 8); with its Issuance and Config.ClientKeys, the
// signed sandbox routes (section 9). New mounts it on a core in one call;
// MintToken makes its bearer tokens; SignRequest signs a client's sandbox
// request. GET /openapi.json serves its OpenAPI 3.0.3 document, and
// openapi_test.go runs every route and every answer the document lists
// against it, so the two cannot drift.
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
//   - Cards of other accounts (SPEC 11). A card an account token may not
//     see is answered exactly as a card id that does not exist: 404 "card
//     <id> not found" (after the same 400s), with no status. On bind, a
//     card bound to another account is that 404 for an account token,
//     even for the loser of two binds of one card by two accounts (a
//     server token gets the 409 with current_status); a replaced card
//     (reissued_card_id) of another account is the 409 of a replaced card
//     that does not exist, naming no status. Every route that reads one
//     card by its id for an account token goes through this rule; the v2
//     card read, the sandbox routes and every other card route need a
//     server token, so an account token gets their 403 before any card is
//     read.
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
//     contactless_enabled, metadata, pin_length, expiration_date,
//     validity_period_hours, cvv_rotation_interval_hours, template_id,
//     status (UNNUMBERED only) and brand (VISA, MASTERCARD, ELO, RUPAY,
//     PRIVATE). The others (abu_enabled, mode_type, update_tokens...) are
//     ignored. The answer adds cvv_rotation_interval_hours and template_id
//     to ReissueCardResponse's fields.
//   - SPEC 12 routes. PATCH /wallet/v2/cards/{cardId} (card information)
//     takes a server token or an account token on its account's cards
//     (another card is the 404 of a card that does not exist); the PIN-try
//     routes (increase, reset) and PUT .../number take a server token:
//     the authorizer counts wrong PINs, the back office resets them and
//     numbers cards. They answer 200 with the card. Card answers carry
//     password_tries, always. The numbering body never takes a clear PAN:
//     pan or card_number is a 400.
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
//   - Observability (SPEC 11). Every request is one Config.Logger line at
//     INFO once answered: method, route (the route pattern, never the path
//     or query), status, duration, org (of a valid token) and cid (a valid
//     x-cid, else empty); never a header or a body. With
//     Config.TracerProvider and MeterProvider, otelhttp makes a span per
//     request named "<METHOD> <route pattern>" with http.route, parent of
//     the use case's spans and child of an incoming W3C traceparent, and
//     the histogram http.server.request.duration by method, route and
//     status code. The API serves no /metrics: the host mounts one, as
//     cardcore serve does.
//
// # Card data sync (SPEC section 8)
//
// PUT /v2/data/customers/{sourceCustomerId}/accounts/{sourceAccountId}/cards
// takes {"cards": [...]} with a server token and answers 200
// {"requestId": "<uuid>"} once the whole batch committed (datasync.Service
// applies it all or none). The path ids are 1-64 printable characters,
// checked before the 403. Each entry is read field by field, so a value of
// the wrong JSON type is a 400 naming cards[i].field (i from 0); null is an
// absent field and unknown fields are ignored. networkIdentifier is a JSON
// integer or a string of decimal digits ("3"); openDate and closeDate are
// RFC 3339 date-times (fractions and offsets allowed). An entry whose
// sourceAccountId or sourceCustomerId differs from the path's is a 400 on
// that field. Reopening a CLOSED card is a 409 for the whole batch. The
// request id is the cid of the batch's events unless x-cid gives one.
//
// # Sandbox routes (SPEC section 9)
//
// POST /accounts/{accountId}/cards (201 with the card, PENDING),
// PATCH /simulator/cards/{cardId}/issue and /fail (202, no body) and
// GET /cards/{cardId} (200) take a server token and a signed request.
// Account and card ids are UUIDs (any case; else 400). The card body is
// camelCase: id (the card's token), accountId, type, status, brand and
// last4 (once issued; never the PAN), expirationDate (YYYY-MM), createdAt
// and updatedAt. Only VIRTUAL and TEMPORARY are created: PLASTIC (and
// RECURRING) is a 400 on type. The checks run in this order: the token
// (401), the path id (400), the server token (403), the body's size (413),
// on POST and PATCH the Idempotency-Key header, required and a UUID (400),
// the signature (401), the body (400), then the use case (404, 409).
//
// Idempotency-Key is compared in canonical (lower-case) form. On POST the
// library keeps it with the card, scoped to the org, the route and the
// account and bound to the type: a replay answers 201 with the card as it
// was then; another type is a 409. On PATCH the library keeps it with the
// change, in the change's transaction, scoped to the org, the route and the
// card and bound to the body's bytes: a replay answers 202 again, another
// body is a 409. Two requests with one key at once are serialised on the
// key: one settles the card, the other then answers 202 as a replay.
//
// # Signed requests
//
// Every sandbox request carries an RFC 9421 signature made with one of
// Config.ClientKeys (ed25519). The first label of Signature-Input that
// verifies wins; a request is refused with 401 when none does, with the
// first label's problem in words and the header at fault in field:
//
//   - Signature-Input and Signature are required, structured dictionaries;
//     the label's signature is a byte sequence;
//   - keyid is required and names a client key; alg, when given, is
//     "ed25519"; created is required, at most 5 minutes old and at most 1
//     minute ahead; expires, when given, is honoured;
//   - the covered components include @method and @target-uri, on POST and
//     PATCH idempotency-key, and with a body content-digest (the whole
//     field, not one member with key); a component may not appear twice;
//   - with a body, Content-Digest (RFC 9530) is required, and each of its
//     sha-256 and sha-512 members must be the digest of the body (other
//     algorithms are ignored; at least one of these two must be there).
//     GET bodies are not read, so a GET's digest is not compared;
//   - the signature base is built as RFC 9421 §2.5 says, and the
//     signature must verify over it.
//
// @target-uri is the full target URI (§2.2.2): scheme, authority, path and
// query, the path and query as the request line sent them. The scheme is
// that of the connection (https when the server terminates TLS) and the
// authority is the Host header. Behind a proxy, the proxy must forward
// the path and query unchanged and keep the Host header, and when it
// terminates TLS or rewrites the host, Config.PublicOrigin (cardcore serve
// --public-origin) names the scheme and authority clients address, e.g.
// https://api.example.com. X-Forwarded-* headers are never trusted.
// @authority is the authority normalized (lower case, without the default
// port). The derived components @method, @target-uri, @authority,
// @scheme, @request-target, @path and @query are supported; @query-param
// is not (401). Field components may carry sf (for the dictionary fields
// Content-Digest, Repr-Digest, Signature and Signature-Input), key
// (any dictionary field) or bs; req and tr are refused on requests.
//
// SignRequest is the client side: it sets Content-Digest (sha-256) and
// signs @method, @target-uri, content-digest and idempotency-key (those
// present) with created, keyid and alg.
//
// Why the signature base is built here rather than by a library: of the
// two maintained Go implementations, remitly-oss/httpsig-go v1.2.0 builds
// @target-uri without the path (from URL.RawPath, without the "?" before
// the query) and answers "" for @scheme and @request-target, so it refuses
// correct signatures of every other implementation; yaronf/httpsign v0.4.1
// derives @target-uri as URL.String(), which is relative on a server, and
// pulls lestrrat-go/jwx v2 and v3 and their dependencies into every
// program that embeds cardcore. The verifier here is a few hundred lines over
// github.com/dunglas/httpsfv (structured fields; no dependencies, go 1.14),
// the library both of them use. It is proven against RFC 9421 Appendix
// B.2.6 byte for byte (testdata/rfc9421: the request, test-key-ed25519,
// the signature base and the signature), against signatures made by
// yaronf/httpsign (a test dependency only), against yaronf/httpsign's
// verifier for SignRequest's signatures, and by ExampleSignRequest.
package httpapi
