package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"strings"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/data/aztables"
	"github.com/liveness-quicklink/functions/internal/liveness"
)

const (
	duePrefix    = "due-"
	bucketLayout = "200601021504" // one partition per UTC minute
	maxPageSize  = 1000           // the service's own page limit
)

type dueEntity struct {
	PartitionKey string
	RowKey       string
	SessionID    string `json:",omitempty"`
	KeyHash      string `json:",omitempty"` // a DueForgetKey entry's record, instead of a session
	Reason       string
	Due          string
	Attempts     int32  `json:",omitempty"`
	ETag         string `json:"odata.etag,omitempty"`
}

// knownReasons is the OData clause that keeps ListDue to the reasons this version knows.
var knownReasons = func() string {
	var clauses []string
	for _, r := range liveness.DueReasons {
		clauses = append(clauses, fmt.Sprintf("Reason eq '%s'", r))
	}
	return strings.Join(clauses, " or ")
}()

func duePartition(t time.Time) string { return duePrefix + t.UTC().Format(bucketLayout) }

// dueRowKey keeps one entry per session (or key record) and reason in a minute's bucket.
func dueRowKey(item liveness.DueItem) string { return dueSubject(item) + "_" + string(item.Reason) }

// dueSubject is what an entry is about: its Idempotency-Key record for DueForgetKey, else its session.
func dueSubject(item liveness.DueItem) string {
	if item.Reason == liveness.DueForgetKey {
		return item.KeyHash
	}
	return item.SessionID
}

func checkDue(item liveness.DueItem) error {
	if !item.Reason.Valid() {
		return liveness.Invalid("reason", fmt.Sprintf("unknown due reason %q", item.Reason))
	}
	if item.Reason == liveness.DueForgetKey {
		if item.SessionID != "" {
			return liveness.Invalid("sessionId", "a key record's entry names no session")
		}
		return validKeyHash(item.KeyHash)
	}
	if item.KeyHash != "" {
		return liveness.Invalid("keyHash", "a session's entry names no key record")
	}
	return validSessionID(item.SessionID)
}

// AddDue files item as work for Reconcile at item.Due. Filing the same item twice is harmless.
func (s *Store) AddDue(ctx context.Context, item liveness.DueItem) error {
	if err := checkDue(item); err != nil {
		return err
	}
	if item.Due.IsZero() {
		return liveness.Invalid("due", "zero time")
	}
	if item.Attempts < 0 || item.Attempts > math.MaxInt32 {
		return liveness.Invalid("attempts", "out of range")
	}
	data, err := json.Marshal(dueEntity{
		PartitionKey: duePartition(item.Due), RowKey: dueRowKey(item),
		SessionID: item.SessionID, KeyHash: item.KeyHash, Reason: string(item.Reason), Due: formatTime(item.Due), Attempts: int32(item.Attempts),
	})
	if err != nil {
		return fmt.Errorf("store: add due: %w", err)
	}
	if _, err := s.table.UpsertEntity(ctx, data, &aztables.UpsertEntityOptions{UpdateMode: aztables.UpdateModeReplace}); err != nil {
		return mapError("add due", err)
	}
	return nil
}

// ListDue returns at most limit items due at or before now, in the index's order: oldest minute
// first, then by subject and reason. With after set (an item an earlier call returned) it starts
// past that item, so that a caller reading page by page never reads again an entry it left in
// place (one it could not handle yet), and entries behind a page of such entries are reached.
// It reads the due partitions up to now's minute only, never the whole table, and only entries
// of the reasons this version knows (liveness.DueReasons): one filed by a newer version waits for
// a version that knows it, without taking a place in the batch. A row it cannot read is logged
// and skipped, so that one bad row cannot stop every other piece of work.
func (s *Store) ListDue(ctx context.Context, now time.Time, after *liveness.DueItem, limit int) ([]liveness.DueItem, error) {
	if limit <= 0 {
		return nil, liveness.Invalid("limit", "must be positive")
	}
	// Every literal below is ours (a formatted time, a known reason, a checked entry's key):
	// nothing from outside reaches the filter.
	from := fmt.Sprintf("PartitionKey ge '%s'", duePrefix)
	if after != nil {
		if err := checkDue(*after); err != nil {
			return nil, err
		}
		pk, rk := duePartition(after.Due), dueRowKey(*after)
		from = fmt.Sprintf("(PartitionKey gt '%s' or (PartitionKey eq '%s' and RowKey gt '%s'))", pk, pk, rk)
	}
	filter := fmt.Sprintf("%s and PartitionKey le '%s' and Due le '%s' and (%s)",
		from, duePartition(now), formatTime(now), knownReasons)
	var items []liveness.DueItem
	pager := s.table.NewListEntitiesPager(&aztables.ListEntitiesOptions{Filter: &filter, Top: pageSize(limit)})
	for pager.More() && len(items) < limit {
		page, err := pager.NextPage(ctx)
		if err != nil {
			return nil, mapError("list due", err)
		}
		for _, raw := range page.Entities {
			item, err := decodeDue(raw)
			if err != nil {
				s.log.WarnContext(ctx, "store: unreadable due row skipped", slog.String("error", err.Error()))
				continue
			}
			items = append(items, item)
			if len(items) == limit {
				break
			}
		}
	}
	return items, nil
}

// DeleteDue removes a due item. With item.ETag set (as ListDue returns it) it removes only that
// version: ErrConflict if the item was filed again meanwhile. An item already gone is not an error.
func (s *Store) DeleteDue(ctx context.Context, item liveness.DueItem) error {
	if err := checkDue(item); err != nil {
		return err
	}
	etag := azcore.ETagAny
	if item.ETag != "" {
		etag = azcore.ETag(item.ETag)
	}
	_, err := s.table.DeleteEntity(ctx, duePartition(item.Due), dueRowKey(item), &aztables.DeleteEntityOptions{IfMatch: &etag})
	if err != nil {
		if err = mapError("delete due", err); !errors.Is(err, liveness.ErrNotFound) {
			return err
		}
	}
	return nil
}

func decodeDue(raw []byte) (liveness.DueItem, error) {
	var e dueEntity
	if err := json.Unmarshal(raw, &e); err != nil {
		return liveness.DueItem{}, fmt.Errorf("due row: %w", err)
	}
	due, err := parseTime("Due", e.Due)
	if err != nil {
		return liveness.DueItem{}, fmt.Errorf("due row: %w", err)
	}
	item := liveness.DueItem{SessionID: e.SessionID, KeyHash: e.KeyHash, Reason: liveness.DueReason(e.Reason), Due: due, Attempts: int(e.Attempts), ETag: e.ETag}
	if checkDue(item) != nil || e.RowKey != dueRowKey(item) {
		return liveness.DueItem{}, fmt.Errorf("due row %q: session id %q, key hash %q and reason %q do not match its key", e.RowKey, e.SessionID, e.KeyHash, e.Reason)
	}
	if e.PartitionKey != duePartition(due) {
		return liveness.DueItem{}, fmt.Errorf("due row %q: due time %s is not of its partition %q", e.RowKey, e.Due, e.PartitionKey)
	}
	return item, nil
}

func pageSize(limit int) *int32 {
	n := int32(min(limit, maxPageSize))
	return &n
}
