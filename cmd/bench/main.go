// Command bench is `make bench`: it starts Azurite, the Service Bus stand-in and cmd/standin on
// free 127.0.0.1 ports, runs the built handler and its peers (a bare Go net/http server, a Node.js
// server loading the Azure SDKs, a plain net/http floor making the handler's upstream calls), and
// writes bench/results/<date>.json, <date>.md and <date>-*.svg. docs/performance.md explains the
// phases and the figures. Progress goes to stderr; the processes' output to -logs.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/liveness-quicklink/functions/internal/bench"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	switch err := run(ctx, os.Args[1:]); {
	case errors.Is(err, flag.ErrHelp):
		// -h: the usage is printed, which is what was asked for.
	case errors.Is(err, errUsage):
		os.Exit(2) // the flag package printed the error and the usage
	case err != nil:
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

// errUsage marks a flag the flag package refused: it has printed the error and the usage.
var errUsage = errors.New("bad usage")

func run(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	c := bench.Config{Progress: os.Stderr}
	fs.StringVar(&c.Root, "root", ".", "repository root")
	fs.StringVar(&c.Handler, "handler", "bin/handler", "the built handler (make build)")
	fs.StringVar(&c.Out, "out", "bench/results", "results folder")
	fs.StringVar(&c.Date, "date", time.Now().UTC().Format(time.DateOnly), "date in the file names")
	fs.IntVar(&c.ColdRuns, "cold-runs", 30, "cold starts per server")
	levels := fs.String("concurrency", "1,8,32", "load levels (concurrent users), comma-separated")
	fs.DurationVar(&c.LoadFor, "load-for", 20*time.Second, "duration of each load level")
	fs.DurationVar(&c.FloorFor, "floor-for", 10*time.Second, "duration of the CPU floor's load")
	fs.DurationVar(&c.Latency, "latency", 20*time.Millisecond, "upstream latency L of the overhead phase")
	fs.DurationVar(&c.OverheadFor, "overhead-for", 15*time.Second, "duration of the overhead phase")
	fs.BoolVar(&c.Reconcile, "reconcile", true, "run BenchmarkReconcile")
	fs.DurationVar(&c.Micro, "micro", time.Second, "benchtime of each microbenchmark (verify images, signing, events, links; 0 skips them and the verify-image memory test)")
	_, noPerf := exec.LookPath("perf")
	fs.BoolVar(&c.Profile, "profile", noPerf == nil, "perf-record the handler during the last load level (<date>-profile-c<n>.txt; needs Linux perf)")
	fs.StringVar(&c.Note, "note", "", "a note on the machine for the report")
	logs := fs.String("logs", "", "file for the processes' output (default: discarded)")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return fmt.Errorf("%w: %w", errUsage, err)
	}
	switch {
	case c.ColdRuns < 1:
		return fmt.Errorf("-cold-runs: %d is not a positive number", c.ColdRuns)
	case c.LoadFor <= 0, c.OverheadFor <= 0, c.FloorFor <= 0:
		return fmt.Errorf("-load-for, -overhead-for and -floor-for must be positive durations")
	case c.Latency < 0, c.Micro < 0:
		return fmt.Errorf("-latency and -micro must not be negative")
	}
	for f := range strings.SplitSeq(*levels, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 1 {
			return fmt.Errorf("-concurrency: %q is not a positive number", f)
		}
		c.Concurrency = append(c.Concurrency, n)
	}
	var err error
	if c.Root, err = filepath.Abs(c.Root); err != nil {
		return err
	}
	if c.Handler, err = filepath.Abs(c.Handler); err != nil {
		return err
	}
	c.Logs = io.Discard
	if *logs != "" {
		f, err := os.Create(*logs)
		if err != nil {
			return err
		}
		defer f.Close()
		c.Logs = f
	}
	r, err := bench.Run(ctx, c)
	if err != nil {
		return err
	}
	r.WriteMarkdown(os.Stdout)
	return nil
}
