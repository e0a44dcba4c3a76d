// Package bench is the harness behind `make bench` (cmd/bench): it starts the app's services
// and a built handler as processes on free 127.0.0.1 ports, measures cold start, memory, full
// sessions under load, the handler's CPU per session beside a plain net/http floor, the overhead
// over upstream latency and Reconcile's throughput, and writes the results as JSON, a Markdown
// table and SVG charts (docs/performance.md explains each figure).
package bench
