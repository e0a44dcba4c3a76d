package store

import "testing"

func TestPing(t *testing.T) {
	f := newFixture(t, nil)
	if err := f.store.Ping(t.Context()); err != nil {
		t.Fatalf("Ping on a reachable table: %v", err)
	}
	if _, err := f.raw.Delete(t.Context(), nil); err != nil {
		t.Fatalf("delete table: %v", err)
	}
	if err := f.store.Ping(t.Context()); err == nil {
		t.Fatal("Ping reported healthy although the table is gone")
	}
}
