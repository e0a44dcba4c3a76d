package store

import (
	"errors"
	"fmt"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/google/uuid"
	"github.com/liveness-quicklink/functions/internal/liveness"
)

func TestListDueReadsOnlyDueBucketsInOrder(t *testing.T) {
	f := newFixture(t, nil)
	ctx := t.Context()
	now := time.Date(2026, 7, 8, 9, 10, 30, 0, time.UTC)

	// Rows of every other kind share the table and sort on both sides of the due range.
	for _, id := range []string{"ffffffff-ffff-ffff-ffff-ffffffffffff", "00000000-0000-0000-0000-000000000000", "dddddddd-0000-0000-0000-000000000000"} {
		s := newSession()
		s.ID = id
		f.createSession(t, s)
	}
	if _, err := f.store.ReserveIdempotencyKey(ctx, newRecordWithKey(strings.Repeat("f", 64))); err != nil {
		t.Fatalf("Reserve: %v", err)
	}

	reasons := []liveness.DueReason{liveness.DueExpire, liveness.DueAbandon, liveness.DueAnnounce}
	n := 0
	at := func(d time.Duration) liveness.DueItem {
		n++
		return liveness.DueItem{SessionID: uuid.NewString(), Reason: reasons[n%len(reasons)], Due: now.Add(d)}
	}
	hourAgo, minuteAgo, sameMinuteEarlier, exactlyNow := at(-time.Hour), at(-time.Minute), at(-20*time.Second), at(0)
	sameMinuteLater, nextMinute, tomorrow := at(20*time.Second), at(time.Minute), at(24*time.Hour)
	// Added newest first, so that order by insertion cannot pass for order by bucket.
	for _, it := range []liveness.DueItem{tomorrow, nextMinute, sameMinuteLater, exactlyNow, sameMinuteEarlier, minuteAgo, hourAgo} {
		if err := f.store.AddDue(ctx, it); err != nil {
			t.Fatalf("AddDue: %v", err)
		}
	}
	if err := f.store.AddDue(ctx, hourAgo); err != nil {
		t.Fatalf("AddDue of the same item again: %v", err)
	}
	f.http.take()

	got, err := f.store.ListDue(ctx, now, nil, 100)
	if err != nil {
		t.Fatalf("ListDue: %v", err)
	}
	want := []liveness.DueItem{hourAgo, minuteAgo}
	// Within a minute's bucket rows come in session id order.
	if sameMinuteEarlier.SessionID < exactlyNow.SessionID {
		want = append(want, sameMinuteEarlier, exactlyNow)
	} else {
		want = append(want, exactlyNow, sameMinuteEarlier)
	}
	assertDue(t, got, want)

	reqs := f.http.take()
	if len(reqs) != 1 {
		t.Fatalf("ListDue sent %d requests, want 1: %v", len(reqs), reqs)
	}
	q := query(t, reqs[0])
	if wantRange := "PartitionKey ge 'due-' and PartitionKey le 'due-202607080910'"; !strings.Contains(q.Get("$filter"), wantRange) {
		t.Errorf("ListDue filter %q does not bound the partitions to %q", q.Get("$filter"), wantRange)
	}
	if q.Get("$top") != "100" {
		t.Errorf("ListDue $top = %q, want 100", q.Get("$top"))
	}

	bounded, err := f.store.ListDue(ctx, now, nil, 2)
	if err != nil {
		t.Fatalf("ListDue(limit 2): %v", err)
	}
	assertDue(t, bounded, want[:2])
	if q := query(t, f.http.take()[0]); q.Get("$top") != "2" {
		t.Errorf("ListDue(limit 2) $top = %q, want 2", q.Get("$top"))
	}

	if _, err := f.store.ListDue(ctx, now, nil, 0); !errors.Is(err, liveness.ErrInvalidRequest) {
		t.Errorf("ListDue(limit 0) = %v, want ErrInvalidRequest", err)
	}

	// Page by page: each call starts past the entry given, within its minute and across minutes,
	// whether or not the entries before it are still there.
	for i := range want {
		after := want[i]
		got, err := f.store.ListDue(ctx, now, &after, 100)
		if err != nil {
			t.Fatalf("ListDue(after entry %d): %v", i, err)
		}
		assertDue(t, got, want[i+1:])
	}
	f.http.take()
	if _, err := f.store.ListDue(ctx, now, &liveness.DueItem{Reason: liveness.DueExpire, Due: now}, 10); !errors.Is(err, liveness.ErrInvalidRequest) {
		t.Errorf("ListDue(after an entry without a subject) = %v, want ErrInvalidRequest", err)
	}
}

func TestListDuePagesUpToTheLimit(t *testing.T) {
	f := newFixture(t, nil)
	now := time.Date(2026, 7, 8, 9, 10, 0, 0, time.UTC)
	const n = maxPageSize + 5
	for i := range n {
		if err := f.store.AddDue(t.Context(), liveness.DueItem{SessionID: uuid.NewString(), Reason: liveness.DueExpire, Due: now.Add(-time.Duration(i) * time.Second)}); err != nil {
			t.Fatalf("AddDue: %v", err)
		}
	}
	f.http.take()
	got, err := f.store.ListDue(t.Context(), now, nil, maxPageSize+2)
	if err != nil {
		t.Fatalf("ListDue: %v", err)
	}
	if len(got) != maxPageSize+2 {
		t.Errorf("ListDue returned %d items, want %d", len(got), maxPageSize+2)
	}
	for i := 1; i < len(got); i++ {
		if duePartition(got[i].Due) < duePartition(got[i-1].Due) {
			t.Fatalf("item %d (%v) comes after a later bucket (%v)", i, got[i].Due, got[i-1].Due)
		}
	}
	if reqs := f.http.take(); len(reqs) != 2 {
		t.Errorf("ListDue sent %d requests, want 2 pages", len(reqs))
	}
}

func TestDeleteDue(t *testing.T) {
	f := newFixture(t, nil)
	ctx := t.Context()
	now := time.Date(2026, 7, 8, 9, 10, 0, 0, time.UTC)
	keep := liveness.DueItem{SessionID: uuid.NewString(), Reason: liveness.DueExpire, Due: now}
	drop := liveness.DueItem{SessionID: uuid.NewString(), Reason: liveness.DueExpire, Due: now}
	for _, it := range []liveness.DueItem{keep, drop} {
		if err := f.store.AddDue(ctx, it); err != nil {
			t.Fatalf("AddDue: %v", err)
		}
	}
	listed, err := f.store.ListDue(ctx, now, nil, 10)
	if err != nil || len(listed) != 2 || listed[0].ETag == "" {
		t.Fatalf("ListDue = %+v, %v; want two items with ETags", listed, err)
	}
	listedKeep := listed[0]
	if listedKeep.SessionID != keep.SessionID {
		listedKeep = listed[1]
	}

	if err := f.store.DeleteDue(ctx, drop); err != nil {
		t.Fatalf("DeleteDue: %v", err)
	}
	if err := f.store.DeleteDue(ctx, drop); err != nil {
		t.Errorf("DeleteDue of an item already gone = %v, want success", err)
	}
	got, _ := f.store.ListDue(ctx, now, nil, 10)
	assertDue(t, got, []liveness.DueItem{keep})

	// Filed again after it was listed: deleting the listed version must not drop the new one.
	if err := f.store.AddDue(ctx, keep); err != nil {
		t.Fatalf("AddDue: %v", err)
	}
	if err := f.store.DeleteDue(ctx, listedKeep); !errors.Is(err, liveness.ErrConflict) {
		t.Errorf("DeleteDue with the listed (now stale) ETag = %v, want ErrConflict", err)
	}
	got, _ = f.store.ListDue(ctx, now, nil, 10)
	assertDue(t, got, []liveness.DueItem{keep})
}

func assertDue(t *testing.T, got, want []liveness.DueItem) {
	t.Helper()
	if diff := cmp.Diff(want, got, cmpopts.IgnoreFields(liveness.DueItem{}, "ETag"), cmpopts.EquateEmpty()); diff != "" {
		t.Errorf("due items (-want +got):\n%s", diff)
	}
}

// A session has one entry per reason: filing one does not replace another, and deleting one
// leaves the other.
func TestDueEntriesOfOneSessionKeepTheirReasons(t *testing.T) {
	f := newFixture(t, nil)
	ctx := t.Context()
	now := time.Date(2026, 7, 8, 9, 10, 0, 0, time.UTC)
	id := uuid.NewString()
	var items []liveness.DueItem
	for i, r := range []liveness.DueReason{liveness.DueAbandon, liveness.DueAnnounce, liveness.DueExpire} {
		it := liveness.DueItem{SessionID: id, Reason: r, Due: now, Attempts: i * 3} // attempts come back too
		if err := f.store.AddDue(ctx, it); err != nil {
			t.Fatalf("AddDue(%s): %v", r, err)
		}
		items = append(items, it)
	}
	got, err := f.store.ListDue(ctx, now, nil, 10)
	if err != nil {
		t.Fatalf("ListDue: %v", err)
	}
	assertDue(t, got, items)

	if err := f.store.DeleteDue(ctx, items[1]); err != nil {
		t.Fatalf("DeleteDue(%s): %v", items[1].Reason, err)
	}
	got, err = f.store.ListDue(ctx, now, nil, 10)
	if err != nil {
		t.Fatalf("ListDue: %v", err)
	}
	assertDue(t, got, []liveness.DueItem{items[0], items[2]})
}

func TestAddDueRefusesNegativeAttempts(t *testing.T) {
	f := newFixture(t, nil)
	it := liveness.DueItem{SessionID: uuid.NewString(), Reason: liveness.DueExpire, Due: time.Now(), Attempts: -1}
	if err := f.store.AddDue(t.Context(), it); !errors.Is(err, liveness.ErrInvalidRequest) {
		t.Errorf("AddDue with attempts -1 = %v, want ErrInvalidRequest", err)
	}
}

func TestAddDueRefusesAnEntryWithoutAKnownReason(t *testing.T) {
	f := newFixture(t, nil)
	for _, r := range []liveness.DueReason{"", "retry", "expire_", "Expire"} {
		it := liveness.DueItem{SessionID: uuid.NewString(), Reason: r, Due: time.Now()}
		if err := f.store.AddDue(t.Context(), it); !errors.Is(err, liveness.ErrInvalidRequest) {
			t.Errorf("AddDue with reason %q = %v, want ErrInvalidRequest", r, err)
		}
		if err := f.store.DeleteDue(t.Context(), it); !errors.Is(err, liveness.ErrInvalidRequest) {
			t.Errorf("DeleteDue with reason %q = %v, want ErrInvalidRequest", r, err)
		}
	}
	if reqs := f.http.take(); len(reqs) != 0 {
		t.Errorf("refused entries reached the table: %v", reqs)
	}
}

// Entries of a reason this version does not know (a newer version filed them during a rolling
// deploy) are left for a version that knows them, and rows that cannot be read are skipped: neither
// may take the place of real work, nor stop the listing.
func TestListDueLeavesUnknownReasonsAndUnreadableRowsOut(t *testing.T) {
	f := newFixture(t, nil)
	now := time.Date(2026, 7, 8, 9, 10, 0, 0, time.UTC)
	raw := func(id, rowKey, reason, due string) {
		t.Helper()
		row := fmt.Sprintf(`{"PartitionKey":%q,"RowKey":%q,"SessionID":%q,"Reason":%q,"Due":%q}`, duePartition(now), rowKey, id, reason, due)
		if _, err := f.raw.AddEntity(t.Context(), []byte(row), nil); err != nil {
			t.Fatalf("adding a raw due row: %v", err)
		}
	}
	for range 3 {
		id := uuid.NewString()
		raw(id, id+"_retain", "retain", formatTime(now)) // a reason of a newer version
	}
	bad := uuid.NewString()
	raw(bad, bad+"_expire", "expire", "2026-07-08")          // unreadable, and sorts before now: it is read
	raw(bad, bad+"_announce_2", "announce", formatTime(now)) // key and columns disagree
	legacy := fmt.Sprintf(`{"PartitionKey":%q,"RowKey":%q,"Due":%q}`, duePartition(now), uuid.NewString(), formatTime(now))
	if _, err := f.raw.AddEntity(t.Context(), []byte(legacy), nil); err != nil {
		t.Fatalf("adding a row without a reason: %v", err)
	}
	known := liveness.DueItem{SessionID: uuid.NewString(), Reason: liveness.DueExpire, Due: now}
	if err := f.store.AddDue(t.Context(), known); err != nil {
		t.Fatalf("AddDue: %v", err)
	}
	got, err := f.store.ListDue(t.Context(), now, nil, 2)
	if err != nil {
		t.Fatalf("ListDue: %v", err)
	}
	assertDue(t, got, []liveness.DueItem{known})
}

func query(t *testing.T, req string) url.Values {
	t.Helper()
	_, raw, _ := strings.Cut(req, " ")
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatalf("request URL %q: %v", raw, err)
	}
	return u.Query()
}
