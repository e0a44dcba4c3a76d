package bench

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestPercentile(t *testing.T) {
	ms := func(v ...int) []time.Duration {
		out := make([]time.Duration, len(v))
		for i, x := range v {
			out[i] = time.Duration(x) * time.Millisecond
		}
		return out
	}
	hundred := make([]int, 100)
	for i := range hundred {
		hundred[i] = i + 1
	}
	for _, tc := range []struct {
		name   string
		sorted []time.Duration
		p      float64
		want   time.Duration
	}{
		{"one sample is every percentile", ms(7), 99, 7 * time.Millisecond},
		{"p50 of 1..100 is 50", ms(hundred...), 50, 50 * time.Millisecond},
		{"p95 of 1..100 is 95", ms(hundred...), 95, 95 * time.Millisecond},
		{"p99 of 1..100 is 99", ms(hundred...), 99, 99 * time.Millisecond},
		{"p100 is the max", ms(hundred...), 100, 100 * time.Millisecond},
		{"p50 of four is the second (nearest rank)", ms(1, 2, 3, 4), 50, 2 * time.Millisecond},
		{"p99 of ten is the tenth", ms(1, 2, 3, 4, 5, 6, 7, 8, 9, 10), 99, 10 * time.Millisecond},
		{"a tiny p is the min", ms(5, 6), 0.1, 5 * time.Millisecond},
	} {
		if got := Percentile(tc.sorted, tc.p); got != tc.want {
			t.Errorf("%s: Percentile(p%v) = %v, want %v", tc.name, tc.p, got, tc.want)
		}
	}
}

func TestSummarize(t *testing.T) {
	got := Summarize([]time.Duration{3 * time.Millisecond, time.Millisecond, 2 * time.Millisecond, 1500 * time.Microsecond})
	want := Summary{N: 4, Min: 1, P50: 1.5, P95: 3, P99: 3, Max: 3, Mean: 1.875}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Summarize (-want +got):\n%s", diff)
	}
	if got := Summarize(nil); got != (Summary{}) {
		t.Errorf("Summarize(nil) = %+v, want the zero Summary", got)
	}
}

func TestParseStatus(t *testing.T) {
	for _, tc := range []struct {
		name, text string
		want       Memory
		wantErr    bool
	}{
		{"a real status", "Name:\thandler\nVmPeak:\t 1262628 kB\nVmHWM:\t   21632 kB\nVmRSS:\t   20480 kB\nThreads:\t7\n",
			Memory{RSS: 20480, Peak: 21632}, false},
		{"VmRSS missing (a kernel thread)", "Name:\tkthreadd\nThreads:\t1\n", Memory{}, true},
		{"a unit other than kB", "VmHWM:\t 1 MB\nVmRSS:\t 1 kB\n", Memory{}, true},
		{"not a number", "VmHWM:\t x kB\nVmRSS:\t 1 kB\n", Memory{}, true},
	} {
		got, err := ParseStatus(tc.text)
		if (err != nil) != tc.wantErr {
			t.Errorf("%s: error %v, want error %v", tc.name, err, tc.wantErr)
			continue
		}
		if !tc.wantErr && got != tc.want {
			t.Errorf("%s: ParseStatus = %+v, want %+v", tc.name, got, tc.want)
		}
	}
}

func TestParseStat(t *testing.T) {
	// Fields 14 and 15 (utime, stime) are 150 and 50 ticks: 2 s at USER_HZ 100.
	rest := " S 1 2 3 0 -1 4194560 100 0 0 0 150 50 0 0 20 0 7 0 1234 1262628 5120 18446744073709551615"
	for _, tc := range []struct {
		name, text string
		want       time.Duration
		wantErr    bool
	}{
		{"a plain name", "4242 (handler)" + rest, 2 * time.Second, false},
		{"a name with spaces and parentheses", "4242 (my (odd) prog)" + rest, 2 * time.Second, false},
		{"no name", "4242 handler S 1", 0, true},
		{"cut short", "4242 (handler) S 1 2 3", 0, true},
	} {
		got, err := ParseStat(tc.text)
		if (err != nil) != tc.wantErr {
			t.Errorf("%s: error %v, want error %v", tc.name, err, tc.wantErr)
			continue
		}
		if got != tc.want {
			t.Errorf("%s: ParseStat = %v, want %v", tc.name, got, tc.want)
		}
	}
}

func TestReadOwnProcess(t *testing.T) {
	m, err := ReadMemory(os.Getpid())
	if err != nil {
		t.Fatalf("ReadMemory(self): %v", err)
	}
	if m.RSS <= 0 || m.Peak < m.RSS {
		t.Errorf("ReadMemory(self) = %+v, want 0 < RSS <= HWM", m)
	}
	if _, err := ReadCPU(os.Getpid()); err != nil {
		t.Errorf("ReadCPU(self): %v", err)
	}
}

func TestWaves(t *testing.T) {
	base := time.Unix(0, 0)
	at := func(ms ...int) []time.Time {
		out := make([]time.Time, len(ms))
		for i, m := range ms {
			out[i] = base.Add(time.Duration(m) * time.Millisecond)
		}
		return out
	}
	for _, tc := range []struct {
		name     string
		arrivals []time.Time
		want     int
	}{
		{"none", nil, 0},
		{"three one after the other", at(0, 21, 43), 3},
		{"two sent together, then one", at(0, 1, 22), 2},
		{"out of order", at(43, 0, 21, 2), 3},
	} {
		if got := Waves(tc.arrivals, 20*time.Millisecond); got != tc.want {
			t.Errorf("%s: Waves = %d, want %d", tc.name, got, tc.want)
		}
	}
}

func TestMedianMemory(t *testing.T) {
	got := medianMemory([]Memory{{RSS: 30}, {RSS: 10}, {RSS: 20}, {RSS: 40}})
	if got.RSS != 20 {
		t.Errorf("medianMemory = %+v, want the lower middle (RSS 20)", got)
	}
}

func TestProgressRemaining(t *testing.T) {
	now := time.Unix(0, 0)
	var out strings.Builder
	p := NewProgress(&out, func() time.Time { return now }, []Phase{{"a", 10 * time.Second}, {"b", 20 * time.Second}})
	p.Begin(0)
	now = now.Add(4 * time.Second)
	if got := p.Remaining(); got != 26*time.Second {
		t.Errorf("4 s into a 10 s phase before a 20 s one: Remaining = %v, want 26s", got)
	}
	now = now.Add(10 * time.Second) // phase a overran
	if got := p.Remaining(); got != 20*time.Second {
		t.Errorf("phase a overrun: Remaining = %v, want 20s", got)
	}
	p.Begin(1)
	if !strings.Contains(out.String(), "[bench 2/2 b] elapsed 14s, about 20s left") {
		t.Errorf("progress lines:\n%s\nwant one for phase b at 14 s with 20 s left", out.String())
	}
}

func TestWriteFiles(t *testing.T) {
	dir := t.TempDir()
	r := &Report{Date: "2026-01-02", Settings: Settings{ColdRuns: 3, LatencyMs: 20},
		ColdStart:       []ColdStart{{Name: "handler", FirstAnswer: Summary{N: 3, P50: 2.5}}, {Name: "bare Go net/http", FirstAnswer: Summary{N: 3, P50: 2}}},
		ColdStartRatios: map[string][2]float64{"handler": {1.25, 1.3}},
		Loads:           []Load{{Concurrency: 1, Sessions: 10, PerSecond: 5, Latency: Summary{P50: 40, P95: 50, P99: 60}}, {Concurrency: 8, Sessions: 30}},
		CPU:             &CPU{Concurrency: 8, HandlerMs: 2.2, FloorMs: 2, Ratio: 1.1},
		Overhead:        &Overhead{Endpoints: []EndpointOverhead{{Name: "StartSession", RoundTrips: 3, OverheadP99: 1.5}}},
		Reconcile:       []string{"BenchmarkReconcile/faceLatency=0s-2 1 661875283 ns/op 151.1 sessions/s"},
		Micro:           []string{"BenchmarkVerifyImageParse/6MB-2 100 10100000 ns/op 6190000 B/op 72 allocs/op"},
	}
	js, md, err := r.WriteFiles(dir)
	if err != nil {
		t.Fatalf("WriteFiles: %v", err)
	}
	if want := filepath.Join(dir, "2026-01-02.json"); js != want {
		t.Errorf("JSON at %s, want %s", js, want)
	}
	b, err := os.ReadFile(js)
	if err != nil {
		t.Fatal(err)
	}
	var back Report
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatalf("the JSON does not decode: %v", err)
	}
	if diff := cmp.Diff(*r, back); diff != "" {
		t.Errorf("JSON round trip (-wrote +read):\n%s", diff)
	}
	text, err := os.ReadFile(md)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"| handler | 0.0 | 2.5 |", "| 1.25 / 1.30 |", "| 1 | 0.0 | 10 | 5.0 | 0 (0) | 40.0 | 50.0 | 60.0 |",
		"| 2.200 | 2.000 | 1.10 |", "| StartSession | 0.00 | 3 |",
		"## Reconcile (BenchmarkReconcile)\n\n```\nBenchmarkReconcile/faceLatency=0s-2 1 661875283 ns/op 151.1 sessions/s\n```",
		"## Verify images and microbenchmarks\n\n```\nBenchmarkVerifyImageParse/6MB-2 100 10100000 ns/op 6190000 B/op 72 allocs/op\n```"} {
		if !strings.Contains(string(text), want) {
			t.Errorf("the Markdown lacks %q:\n%s", want, text)
		}
	}
	if err := WriteCharts(r, dir); err != nil {
		t.Fatalf("WriteCharts: %v", err)
	}
	for _, name := range []string{"latency", "coldstart", "memory"} {
		svg, err := os.ReadFile(filepath.Join(dir, "2026-01-02-"+name+".svg"))
		if err != nil || !strings.Contains(string(svg), "<svg") {
			t.Errorf("chart %s: %v; want an SVG file", name, err)
		}
	}
}

func TestMode(t *testing.T) {
	for _, tc := range []struct {
		v    []int
		want int
	}{{nil, 0}, {[]int{3}, 3}, {[]int{5, 3, 3, 7}, 3}, {[]int{4, 2, 4, 2}, 2}} {
		if got := Mode(tc.v); got != tc.want {
			t.Errorf("Mode(%v) = %d, want %d", tc.v, got, tc.want)
		}
	}
}

func TestCallName(t *testing.T) {
	for _, tc := range []struct{ path, want string }{
		{"/devstoreaccount1/sessions(PartitionKey='3f2a9c1e-aaaa',RowKey='session')", "/sessions(…)"},
		{"/devstoreaccount1/sessions", "/sessions"},
		{"/devstoreaccount1/$batch", "/$batch"},
		{"/face/v1.2/detectLiveness-sessions/3f2a9c1e-1b2c-4d5e-8f90-123456789abc", "/face/v1.2/detectLiveness-sessions/{id}"},
		{"/api/quicklink", "/api/quicklink"},
	} {
		if got := CallName(tc.path); got != tc.want {
			t.Errorf("CallName(%q) = %q, want %q", tc.path, got, tc.want)
		}
	}
}

func TestSequence(t *testing.T) {
	base := time.Unix(0, 0)
	at := []time.Time{base.Add(22 * time.Millisecond), base, base.Add(time.Millisecond)}
	got := Sequence(at, []string{"POST /c", "POST /a", "PUT /b"}, 20*time.Millisecond)
	want := []string{"1: POST /a", "1: PUT /b", "2: POST /c"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Sequence (-want +got):\n%s", diff)
	}
}
