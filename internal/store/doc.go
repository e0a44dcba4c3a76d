// Package store keeps liveness sessions, their outgoing events, Idempotency-Key records and the index
// of due work in one Azure table (`<prefix>sessions`), through aztables.
//
// # Rows
//
//	PartitionKey              RowKey                what
//	<sessionId>               "session"             the session; Outcome flattened into Outcome*/Failure*/Verify* columns; WriteID
//	<sessionId>               "event"               outbox: the session's final event (Event, Sent, CreatedAt, SentAt)
//	<sha-256 hex of the key>  "idempotency"         BodyHash, SessionID (empty while in flight), CreatedAt, WriteID
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
// # A write that meets its own earlier success
//
// A write can commit while its answer is lost (a reset, a 500 from a front end, a try timeout);
// azcore's retry then meets the write's own result: 409 on an insert, 412 on an update whose
// If-Match names the version the first try replaced, a conflict in Finalize's transaction. So every
// insert and conditional update stores WriteID, a random id per logical write (Options.NewWriteID),
// and on such an ending, or a transport failure, reads the row back: if it carries its WriteID the
// write succeeded. If the row cannot be read to tell, the error is ErrUpstreamUnavailable, never a
// conflict that may be the caller's own success. Merges with If-Match * (MarkFaceDeleted,
// MarkEventSent), upserts (AddDue) and deletes (DeleteDue, ReleaseIdempotencyKey, which take a row
// already gone as done) are safe to repeat as they are. A start whose CreateSession cannot tell
// deletes the row it may have left (DiscardSession).
//
// # Errors
//
// Errors wrap the kinds of package liveness: ErrNotFound, ErrAlreadyExists, ErrConflict,
// ErrInvalidRequest (ids and keys are validated before any request) and ErrUpstreamUnavailable,
// which also wraps the original error.
package store
