// Package webhooks delivers the feed to webhook endpoints, signed as the
// Standard Webhooks specification asks (SPEC section 10.3), so a receiver
// verifies a delivery with any Standard Webhooks library, or with Verify.
//
// An Endpoint is what an org registers: a URL, the event types it wants
// (all when none) and a secret. A Destination delivers one endpoint's
// events for the deliverer of its subscription (package events): one
// subscription per endpoint, so each endpoint gets its events in feed
// order, and a failing endpoint holds back no other. The registry of the
// endpoints and their API are the host's; this package decides what a
// delivery is and when an endpoint must be disabled.
//
// # A delivery
//
// Each event is one POST to the endpoint's URL, with the event as the feed
// serves it (GET /events: the envelope and its "seq") as body, and the
// headers
//
//	content-type: application/json
//	webhook-id: <event_id>
//	webhook-timestamp: <Unix seconds of this attempt>
//	webhook-signature: v1,<base64 of HMAC-SHA256(key, "<id>.<timestamp>.<body>")>
//
// where key is the secret's bytes: the base64 after "whsec_". NewSecret
// makes 32 random bytes (the specification asks for 24 to 64, and New
// accepts any length in that range). Any 2xx answer within 15 seconds
// (WithTimeout) is success; anything else stops the batch at that event,
// which the deliverer retries with Backoff: 5s, 5min, 30min, 2h, 5h, 10h,
// 10h, then every 10h. Redirects are not followed: a 3xx is a failure, so
// the body never goes anywhere but the registered URL; register the final
// URL.
//
// Delivery is at least once: after a crash, a lost lease or a timeout whose
// request did arrive, an event comes again with the same webhook-id (the
// event_id), each attempt freshly timestamped and signed. Receivers
// de-duplicate on webhook-id. Verify refuses a timestamp more than 5
// minutes from the receiver's clock, as the specification's libraries do,
// which bounds replays.
//
// # Which addresses an endpoint may reach
//
// Unless the operator allows private targets (WithAllowPrivate,
// ValidateURL's allowPrivate), an endpoint may not reach:
//
//   - loopback: 127.0.0.0/8, ::1, and the names localhost and *.localhost
//     without asking DNS (RFC 6761);
//   - private: 10.0.0.0/8, 172.16.0.0/12, 192.168.0.0/16 (RFC 1918),
//     fc00::/7 (RFC 4193), and 100.64.0.0/10, the shared address space of
//     RFC 6598: it is no more public than RFC 1918 (carrier NAT, cloud
//     metadata and VPN overlays live there), so it counts as private;
//   - link-local: 169.254.0.0/16 (cloud metadata services), fe80::/10, and
//     the link-local multicast ranges;
//   - unspecified: 0.0.0.0/8 and :: (a connection to 0.0.0.0 reaches the
//     local host).
//
// An IPv4 address in IPv6 form is judged as the IPv4 address it is: the
// mapped form ::ffff:a.b.c.d, and the NAT64 form 64:ff9b::a.b.c.d
// (RFC 6052). Every other address is allowed, the documentation ranges of
// RFC 5737 (192.0.2.0/24, 198.51.100.0/24, 203.0.113.0/24) included.
//
// The rule is checked twice. ValidateURL checks it at registration, and
// refuses a host when any of its addresses is refused, with a
// *card.InvalidError on "url" (the API's 400). The default client of a
// Destination checks it again for each connection, on the address actually
// dialled, since DNS can change between registration and delivery: a
// refused address fails the delivery with ErrRefusedAddress before any
// byte is sent. That client also takes no proxy from the environment,
// which would connect in its place.
//
// # Failing and disabled endpoints
//
// An endpoint's FailingSince is the time of the first failed delivery since
// the last success (OnFailing reports each change, for the host to store,
// so a restarted relay keeps counting). A delivery that fails when the
// endpoint has been failing longer than the disable-after duration (5 days,
// WithDisableAfter) disables it: Deliver returns an error wrapping
// ErrDisabled and OnDisable is told, for the host to record. The endpoint is
// only disabled on a failed attempt, so one that recovered while nobody
// tried is not disabled on its record alone.
//
// A 410 Gone disables the endpoint at once, as the Standard Webhooks
// specification recommends: the receiver said the URL is gone for good, and
// retrying it for five days would only send it events it refuses. Its
// owner enables it again when the URL is back.
//
// A disabled endpoint (Enabled false, whether its owner or this package
// disabled it) gets nothing: Deliver makes no request and returns an error
// wrapping ErrDisabled. The subscription's cursor stays where it was, so an
// endpoint enabled again resumes at the event that failed, unless the host
// moves its cursor; the host should also stop the subscription's deliverer
// when it is told of the disabling, rather than let it retry in vain.
//
// # Registration and the relay
//
// The reference API (package httpapi, POST /webhooks/v1/endpoints) checks
// a URL with ValidateURL and the event types with ParseEventTypes, makes
// the secret with NewSecret, and stores the endpoint (storage.Endpoints).
// A new endpoint gets the events committed after its registration, not the
// feed's history: SPEC 10.3 is silent, and an issuer that replayed every
// past event of the org to each new URL would flood it, and hand a new
// receiver more than it asked for. The store creates the endpoint's
// subscription at the feed's head in the same transaction as the
// endpoint, and records that head (StartAfter); "cardcore relay" runs one
// deliverer per enabled endpoint (FromStored) and selects only the events
// above it, so even a subscription re-created at 0 delivers no history.
//
// # Secrets in errors
//
// Errors and Endpoint.String name an endpoint by its id and host. They
// never hold the secret, nor the URL's path, query or credentials, which
// may hold tokens of the receiver's.
package webhooks
