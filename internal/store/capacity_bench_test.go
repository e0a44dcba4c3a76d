package store

import (
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	"github.com/Azure/azure-sdk-for-go/sdk/data/aztables"

	"github.com/liveness-quicklink/functions/internal/testing/testenv"
)

// BenchmarkTableOperations measures what Azurite (or the table service a connection string in
// the test environment points at) takes on this machine: 16 workers, as many as a Reconcile
// wave, each inserting a row of a session's size, reading it back and deleting it at its ETag,
// over as many partitions as rows. It reports operations per second, the figure
// docs/reliability.md sets BenchmarkReconcile's table operations beside.
func BenchmarkTableOperations(b *testing.B) {
	svc, err := NewServiceClientFromConnectionString(testenv.StartAzurite(b).ConnectionString())
	if err != nil {
		b.Fatal(err)
	}
	name := fmt.Sprintf("capacity%d", time.Now().UnixNano()%1e9)
	if _, err := svc.CreateTable(b.Context(), name, nil); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _, _ = svc.DeleteTable(b.Context(), name, nil) })
	table := svc.NewClient(name)
	const workers = 16
	body := make([]byte, 1500) // about a session row's size
	for i := range body {
		body[i] = 'a' + byte(i%26)
	}
	var (
		ops    atomic.Int64
		next   atomic.Int64
		failed atomic.Value
	)
	start := time.Now()
	for b.Loop() {
		var wg sync.WaitGroup
		for range workers {
			wg.Go(func() {
				id := fmt.Sprintf("s%08d", next.Add(1))
				row := fmt.Appendf(nil, `{"PartitionKey":%q,"RowKey":"session","Data":%q}`, id, body)
				if _, err := table.AddEntity(b.Context(), row, &aztables.AddEntityOptions{Format: to.Ptr(aztables.MetadataFormatNone)}); err != nil {
					failed.Store(err)
					return
				}
				got, err := table.GetEntity(b.Context(), id, "session", nil)
				if err != nil {
					failed.Store(err)
					return
				}
				if _, err := table.DeleteEntity(b.Context(), id, "session", &aztables.DeleteEntityOptions{IfMatch: &got.ETag}); err != nil {
					failed.Store(err)
					return
				}
				ops.Add(3)
			})
		}
		wg.Wait()
		if err, _ := failed.Load().(error); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(ops.Load())/time.Since(start).Seconds(), "ops/s")
}
