package store

import (
	"testing"

	"github.com/Azure/azure-sdk-for-go/sdk/data/aztables"

	"github.com/liveness-quicklink/functions/internal/liveness"
	"github.com/liveness-quicklink/functions/internal/testing/testenv"
)

// BenchmarkGetSession reads one final session (outcome and verify result included) from Azurite,
// on the same table through two clients in the same run: "sdk-decoded" is a plain aztables client,
// where aztables decodes the row into a map and encodes it again before the store decodes it
// (the path every read took before takeRow), and "decoded-once" is this package's client. Compare
// the two lines' B/op and allocs/op; ns/op is mostly Azurite's.
func BenchmarkGetSession(b *testing.B) {
	cs := testenv.StartAzurite(b).ConnectionString()
	ours, err := NewServiceClientFromConnectionString(cs)
	if err != nil {
		b.Fatal(err)
	}
	plain, err := aztables.NewServiceClientFromConnectionString(cs, nil)
	if err != nil {
		b.Fatal(err)
	}
	prefix := "read" + randomHex(b, 6)
	s, err := New(b.Context(), ours, &Options{TablePrefix: prefix})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _, _ = s.table.Delete(b.Context(), nil) })
	sess := finalCopy(newSession(), "realface")
	sess.Outcome.Verify = &liveness.VerifyResult{IsIdentical: true, MatchConfidence: 0.93}
	if err := s.CreateSession(b.Context(), sess); err != nil {
		b.Fatal(err)
	}
	for _, c := range []struct {
		name string
		svc  *aztables.ServiceClient
	}{{"sdk-decoded", plain}, {"decoded-once", ours}} {
		st, err := New(b.Context(), c.svc, &Options{TablePrefix: prefix})
		if err != nil {
			b.Fatal(err)
		}
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := st.GetSession(b.Context(), sess.ID); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
