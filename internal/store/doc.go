// Package store keeps liveness sessions, their outgoing events, Idempotency-Key records and the index
// of due work in one Azure table (`<prefix>sessions`), through aztables.
//
// # Rows
//
//	PartitionKey              RowKey                what
//	<sessionId>               "session"             the session; Outcome flattened into Outcome*/Failure*/Verify* columns
//	<sessionId>               "event"               outbox: the session's final event (Event, Sent, CreatedAt, SentAt)
//	<sha-256 hex of the key>  "idempotency"         BodyHash, SessionID (empty while in flight), CreatedAt
//	"due-" + yyyyMMddHHmm     <sessionId>_<reason>  SessionID, Reason, Due, Attempts: work for Reconcile, by UTC minute
//
// Session ids (GUIDs) and key hashes are hexadecimal, so no such partition sorts between "due-" and
// "due-<any bucket>": Reconcile reads `PartitionKey ge 'due-' and PartitionKey le 'due-<now>'` with a
// `$top` bound and gets due rows only, oldest bucket first, without scanning the table.
//
// Times are stored as fixed-width UTC strings (2006-01-02T15:04:05.000000000Z): exact to the
// nanosecond, ordered as strings, readable in the portal. They come back in UTC. AuthToken is a
// column only while it is non-empty; updates replace the whole row, so clearing it removes it, and
// Finalize clears it.
//
// # Concurrency and the outbox
//
// Every session change is conditional on the ETag the caller read (Replace with If-Match, never
// Upsert). Finalize writes the final session and its event row in one entity-group transaction, so an
// outcome is never recorded without its event, and of two racing finalizers exactly one commits.
// Before committing, Finalize also files a DueAnnounce entry AnnounceDelay later: what the request
// that finished the session could not announce (an unsent event, a Face session not yet revoked),
// Reconcile finds through ListDue, PendingEvent and the FaceDeleted column.
//
// Each due entry names its reason (liveness.DueReason: expire, abandon, announce), so that
// Reconcile dispatches on what the entry is for instead of guessing it from the clock; a session
// has at most one entry per reason and minute. ListDue reads only the reasons this version knows,
// and Attempts counts failed tries, which Reconcile uses to file an entry again later.
//
// # Errors
//
// Errors wrap the kinds of package liveness: ErrNotFound, ErrAlreadyExists, ErrConflict,
// ErrInvalidRequest (ids and keys are validated before any request) and ErrUpstreamUnavailable,
// which also wraps the original error.
package store
