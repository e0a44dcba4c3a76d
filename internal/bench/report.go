package bench

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
)

// Report is everything one `make bench` run measured; docs/performance.md explains each field.
type Report struct {
	Date     string   `json:"date"` // YYYY-MM-DD, UTC
	Machine  Machine  `json:"machine"`
	Settings Settings `json:"settings"`

	ColdStart []ColdStart `json:"coldStart"` // the handler first, then the peers
	// ColdStartRatios is each server's p50 over bare Go's: first answer and healthy.
	ColdStartRatios map[string][2]float64 `json:"coldStartRatiosP50"`

	Loads []Load `json:"loads"`
	// HandlerMemory is the handler's RSS after start, after the load runs and its peak.
	HandlerMemory MemoryPhase `json:"handlerMemory"`

	CPU      *CPU      `json:"cpuPerSession,omitempty"`
	Overhead *Overhead `json:"overhead,omitempty"`
	// Reconcile is BenchmarkReconcile's output lines (sessions finalized per second).
	Reconcile []string `json:"reconcile,omitempty"`
	// Micro is the microbenchmarks' output lines (ns/op, B/op, allocs/op) and the handler's
	// verify-image peak RSS line.
	Micro []string `json:"micro,omitempty"`
}

// Machine is where the run happened.
type Machine struct {
	CPUs      int    `json:"cpus"`
	CPUModel  string `json:"cpuModel"`
	GoVersion string `json:"goVersion"`
	Node      string `json:"node"`
	Note      string `json:"note"`
}

// Settings are the run's durations and counts (cmd/bench's flags).
type Settings struct {
	ColdRuns    int     `json:"coldStartRuns"`
	Concurrency []int   `json:"concurrency"`
	LoadSeconds float64 `json:"loadSecondsPerLevel"`
	CPUSeconds  float64 `json:"cpuSeconds"`
	LatencyMs   float64 `json:"upstreamLatencyMs"`
	OverheadSec float64 `json:"overheadSeconds"`
}

// MemoryPhase is the handler's memory across the run.
type MemoryPhase struct {
	AfterStart     Memory `json:"afterStart"`
	SessionsBefore int    `json:"sessionsBeforeAfterLoad"` // sessions the handler had served at AfterLoad
	AfterLoad      Memory `json:"afterLoad"`               // VmHWM is the peak under load
}

// WriteFiles writes <dir>/<date>.json and <dir>/<date>.md and returns their paths.
func (r *Report) WriteFiles(dir string) (string, string, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", "", err
	}
	js := filepath.Join(dir, r.Date+".json")
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return "", "", err
	}
	if err := os.WriteFile(js, append(b, '\n'), 0o644); err != nil {
		return "", "", err
	}
	md := filepath.Join(dir, r.Date+".md")
	var sb strings.Builder
	r.WriteMarkdown(&sb)
	return js, md, os.WriteFile(md, []byte(sb.String()), 0o644)
}

// WriteMarkdown writes the report as Markdown tables.
func (r *Report) WriteMarkdown(w io.Writer) {
	p := func(format string, a ...any) { fmt.Fprintf(w, format, a...) }
	p("# `make bench` %s\n\n", r.Date)
	p("%d CPUs (%s), %s, Node.js %s. %s\n\n", r.Machine.CPUs, r.Machine.CPUModel, r.Machine.GoVersion, r.Machine.Node, r.Machine.Note)

	p("## Cold start (%d runs each; ms)\n\n", r.Settings.ColdRuns)
	p("| server | first `GET /` min | p50 | p95 | `/api/health` 200 p50 | p95 | × bare Go (p50, first / healthy) | idle RSS MiB |\n")
	p("|---|---:|---:|---:|---:|---:|---:|---:|\n")
	for _, c := range r.ColdStart {
		ratio := r.ColdStartRatios[c.Name]
		p("| %s | %.1f | %.1f | %.1f | %.1f | %.1f | %.2f / %.2f | %.1f |\n", c.Name, c.FirstAnswer.Min, c.FirstAnswer.P50,
			c.FirstAnswer.P95, c.Healthy.P50, c.Healthy.P95, ratio[0], ratio[1], mib(c.Idle.RSS))
	}

	p("\n## Full sessions under load (StartSession with issueLink → capture → callback)\n\n")
	p("| concurrency | seconds | sessions | sessions/s | errors (upstream failures) | p50 ms | p95 ms | p99 ms | StartSession p50 | callback p50 | events | handler CPU ms/session |\n")
	p("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n")
	for _, l := range r.Loads {
		p("| %d | %.1f | %d | %.1f | %d (%d) | %.1f | %.1f | %.1f | %.1f | %.1f | %d | %.2f |\n", l.Concurrency, l.Seconds, l.Sessions,
			l.PerSecond, l.Errors, l.UpstreamFailed, l.Latency.P50, l.Latency.P95, l.Latency.P99, l.Start.P50, l.Callback.P50, l.Events, l.CPUPerSession)
	}
	p("\nCPU per session of the processes the handler calls, in the same runs (ms):\n\n| concurrency | Azurite | Service Bus stand-in | cmd/standin |\n|---:|---:|---:|---:|\n")
	for _, l := range r.Loads {
		o := l.OthersCPUPerSession
		p("| %d | %.2f | %.2f | %.2f |\n", l.Concurrency, o["azurite"], o["servicebus"], o["standin"])
	}
	for _, l := range r.Loads {
		if l.FirstError != "" {
			p("\nFirst error at concurrency %d: `%s`\n", l.Concurrency, l.FirstError)
		}
	}

	m := r.HandlerMemory
	p("\n## Handler memory (MiB)\n\n| after start | after %d sessions | peak (VmHWM) |\n|---:|---:|---:|\n", m.SessionsBefore)
	p("| %.1f | %.1f | %.1f |\n", mib(m.AfterStart.RSS), mib(m.AfterLoad.RSS), mib(m.AfterLoad.Peak))

	if c := r.CPU; c != nil {
		p("\n## CPU per full session (ms; concurrency %d, %.0f s each)\n\n", c.Concurrency, r.Settings.CPUSeconds)
		p("| handler | plain net/http floor | ratio (goal ≤ 1.15) | upstream calls per session | floor sessions/s (paced) |\n|---:|---:|---:|---:|---:|\n")
		p("| %.3f | %.3f | %.2f | %.1f | %.1f |\n", c.HandlerMs, c.FloorMs, c.Ratio, c.UpstreamPerSession, c.FloorPerSecond)
	}
	if o := r.Overhead; o != nil {
		p("\n## Overhead over upstream (every upstream call held %.0f ms; concurrency 1)\n\n", r.Settings.LatencyMs)
		p("| endpoint | upstream calls | sequential round trips | latency p50 ms | p99 ms | overhead p50 ms | overhead p99 ms (goal ≤ 2) |\n|---|---:|---:|---:|---:|---:|---:|\n")
		for _, e := range o.Endpoints {
			p("| %s | %.2f | %d | %.1f | %.1f | %.1f | %.1f |\n", e.Name, e.Calls, e.RoundTrips, e.Latency.P50, e.Latency.P99, e.OverheadP50, e.OverheadP99)
		}
	}
	if o := r.Overhead; o != nil {
		for _, e := range o.Endpoints {
			p("\n%s's upstream calls (wave: call; calls in one wave were sent together):\n\n", e.Name)
			for _, call := range e.Sequence {
				p("- %s\n", call)
			}
		}
	}
	if len(r.Reconcile) > 0 {
		p("\n## Reconcile (BenchmarkReconcile)\n\n```\n%s\n```\n", strings.Join(r.Reconcile, "\n"))
	}
	if len(r.Micro) > 0 {
		p("\n## Verify images and microbenchmarks\n\n```\n%s\n```\n", strings.Join(r.Micro, "\n"))
	}
}

func mib(kib int64) float64 { return float64(kib) / 1024 }
