package bench

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"time"
)

// Config is one run's settings (cmd/bench's flags).
type Config struct {
	Root        string        // repository root (go.mod, node_modules)
	Handler     string        // the built handler (`make build`: bin/handler)
	Out         string        // results folder (bench/results)
	Date        string        // YYYY-MM-DD of the files
	ColdRuns    int           // cold starts per server
	Concurrency []int         // load levels
	LoadFor     time.Duration // each load level
	FloorFor    time.Duration // the floor's load (phase 4)
	Latency     time.Duration // L of phase 5
	OverheadFor time.Duration // phase 5's run at concurrency 1
	Reconcile   bool          // run BenchmarkReconcile (phase 7)
	Micro       time.Duration // benchtime of each microbenchmark (verify images, signing, events, links); 0 skips them
	Profile     bool          // perf-record the handler during the last load level (not the CPU phase's)
	Note        string        // about the machine, into the report
	Progress    io.Writer     // progress lines
	Logs        io.Writer     // the processes' output (nil discards)
}

// Run runs every phase and writes the report, the Markdown table and the charts into c.Out.
func Run(ctx context.Context, c Config) (*Report, error) {
	phases := []Phase{
		{"build", 40 * time.Second},
		{"services", 15 * time.Second},
		{"cold start", time.Duration(c.ColdRuns) * 2 * time.Second},
		{"load", time.Duration(len(c.Concurrency)) * (c.LoadFor + 5*time.Second)},
		{"overhead", c.OverheadFor + 5*time.Second},
		{"cpu floor", c.FloorFor + 3*time.Second},
		{"reconcile", 90 * time.Second},
		{"microbenchmarks", 90 * time.Second},
		{"report", 3 * time.Second},
	}
	if !c.Reconcile {
		phases[6].Plan = 0
	}
	if c.Micro <= 0 {
		phases[7].Plan = 0
	}
	prog := NewProgress(c.Progress, time.Now, phases)
	r := &Report{Date: c.Date, Machine: machine(c.Note), Settings: Settings{ColdRuns: c.ColdRuns, Concurrency: c.Concurrency,
		LoadSeconds: c.LoadFor.Seconds(), CPUSeconds: c.FloorFor.Seconds(), LatencyMs: float64(c.Latency) / 1e6,
		OverheadSec: c.OverheadFor.Seconds()}}

	prog.Begin(0)
	bin := filepath.Join(c.Root, "bin", "bench")
	if err := build(ctx, c.Root, bin); err != nil {
		return nil, err
	}

	prog.Begin(1)
	rig, err := StartRig(ctx, c.Root, bin, c.Logs)
	if err != nil {
		return nil, err
	}
	defer rig.Close()

	rig.Handler = c.Handler
	prog.Begin(2)
	if err := coldStarts(ctx, c, rig, r, prog); err != nil {
		return nil, err
	}

	prog.Begin(3)
	handler, url, err := rig.StartHandler(ctx)
	if err != nil {
		return nil, err
	}
	defer handler.Stop()
	if r.HandlerMemory.AfterStart, err = ReadMemory(handler.Pid()); err != nil {
		return nil, err
	}
	user := &User{HandlerURL: url, StandinURL: rig.StandinURL, Client: NewClient(64)}
	for _, n := range c.Concurrency {
		prog.Report(fmt.Sprintf("concurrency %d for %v", n, c.LoadFor))
		events0, err := rig.EventsDelivered()
		if err != nil {
			return nil, err
		}
		others0 := rig.CPU()
		failed0 := rig.TablesProxy.Failed() + rig.FaceProxy.Failed()
		cpu0, err := ReadCPU(handler.Pid())
		if err != nil {
			return nil, err
		}
		var prof *Profiler
		if c.Profile && len(r.Loads) == len(c.Concurrency)-1 {
			if prof, err = StartProfile(handler.Pid()); err != nil {
				prog.Report("no profile: " + err.Error())
			}
		}
		l := RunLoad(ctx, user, n, c.LoadFor)
		if prof != nil {
			path := filepath.Join(c.Out, fmt.Sprintf("%s-profile-c%d.txt", c.Date, n))
			if err := prof.Stop(ctx, path); err != nil {
				prog.Report("no profile: " + err.Error())
			}
		}
		cpu1, err := ReadCPU(handler.Pid())
		if err != nil {
			return nil, err
		}
		others1 := rig.CPU()
		l.UpstreamFailed = rig.TablesProxy.Failed() + rig.FaceProxy.Failed() - failed0
		l.CPUms = float64(cpu1-cpu0) / 1e6
		if l.Sessions > 0 {
			l.CPUPerSession = perSession(cpu1-cpu0, l.Sessions)
			l.OthersCPUPerSession = map[string]float64{}
			for name, d := range others1 {
				l.OthersCPUPerSession[name] = round3(perSession(d-others0[name], l.Sessions))
			}
		}
		l.Events = settledEvents(rig, events0)
		l.Memory, _ = ReadMemory(handler.Pid())
		r.HandlerMemory.SessionsBefore += l.Sessions
		r.Loads = append(r.Loads, l)
		prog.Report(fmt.Sprintf("concurrency %d: %d sessions, %.1f/s, p50 %.1f ms, p99 %.1f ms, %d errors",
			n, l.Sessions, l.PerSecond, l.Latency.P50, l.Latency.P99, l.Errors))
	}
	if r.HandlerMemory.AfterLoad, err = ReadMemory(handler.Pid()); err != nil {
		return nil, err
	}

	prog.Begin(4)
	over, calls := measureOverhead(ctx, c, rig, user)
	r.Overhead = over

	prog.Begin(5)
	if cpu, err := measureCPU(ctx, c, bin, r.Loads, calls); err != nil {
		prog.Report("floor failed: " + err.Error())
	} else {
		r.CPU = cpu
	}

	prog.Begin(6)
	if c.Reconcile {
		lines, err := reconcile(ctx, c.Root)
		if err != nil {
			prog.Report("BenchmarkReconcile failed: " + err.Error())
		}
		r.Reconcile = lines
	}

	prog.Begin(7)
	if c.Micro > 0 {
		lines, err := micro(ctx, c.Root, c.Micro)
		if err != nil {
			prog.Report("microbenchmarks failed: " + err.Error())
		}
		r.Micro = lines
	}

	prog.Begin(8)
	if _, _, err := r.WriteFiles(c.Out); err != nil {
		return nil, err
	}
	if err := WriteCharts(r, c.Out); err != nil {
		return nil, err
	}
	prog.Begin(len(phases))
	return r, nil
}

// build compiles the standin and the two floors into bin; the handler is `make build`'s, copied
// in so every program of the run sits in one folder.
func build(ctx context.Context, root, bin string) error {
	cmd := exec.CommandContext(ctx, "go", "build", "-trimpath", "-o", bin+string(filepath.Separator),
		"./cmd/standin", "./internal/bench/testdata/bare", "./internal/bench/testdata/floor")
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("go build: %w\n%s", err, out)
	}
	return nil
}

func coldStarts(ctx context.Context, c Config, rig *Rig, r *Report, prog *Progress) error {
	env := rig.HandlerEnv
	servers := []Server{
		{Name: "handler", Path: c.Handler, Env: env},
		{Name: "bare Go net/http", Path: filepath.Join(rig.Bin, "bare"), Env: env},
		{Name: "Node.js + Azure SDKs", Path: "node", Args: []string{filepath.Join(c.Root, "internal/bench/testdata/node/server.mjs")},
			Env: func(port int) []string {
				return append(env(port), "TABLES_CONNECTION_STRING="+rig.Azurite.ConnectionString())
			}},
	}
	// Interleaved, one start of each in turn, so that the machine's other load falls on all three alike.
	results := make([][]ColdStart, len(servers))
	for i := range c.ColdRuns {
		for j, s := range servers {
			cs, err := MeasureColdStart(ctx, s, 1, nil)
			if err != nil {
				return err
			}
			results[j] = append(results[j], cs)
		}
		if (i+1)%10 == 0 {
			prog.Report(fmt.Sprintf("%d of %d runs", i+1, c.ColdRuns))
		}
	}
	r.ColdStartRatios = map[string][2]float64{}
	for j, s := range servers {
		r.ColdStart = append(r.ColdStart, Merge(s.Name, results[j]))
	}
	bare := r.ColdStart[1]
	for _, cs := range r.ColdStart {
		r.ColdStartRatios[cs.Name] = [2]float64{Ratio(cs.FirstAnswer.P50, bare.FirstAnswer.P50), Ratio(cs.Healthy.P50, bare.Healthy.P50)}
	}
	return nil
}

// settledEvents waits (up to 10 s) until the `all` subscription's count stops growing and
// returns how many arrived since before.
func settledEvents(rig *Rig, before int) int {
	last := -1
	for range 20 {
		n, err := rig.EventsDelivered()
		if err != nil {
			return -1
		}
		if n == last {
			return n - before
		}
		last = n
		time.Sleep(500 * time.Millisecond)
	}
	return last - before
}

// measureOverhead holds every upstream call L and plays sessions at concurrency 1, counting each
// endpoint's upstream calls and sequential round trips. It returns the figures and the calls per
// request (rounded), for the CPU floor.
func measureOverhead(ctx context.Context, c Config, rig *Rig, base *User) (*Overhead, map[string]int) {
	arrivals := &Arrivals{}
	rig.TablesProxy.Record(arrivals.Add)
	rig.FaceProxy.Record(arrivals.Add)
	rig.TablesProxy.SetDelay(c.Latency)
	rig.FaceProxy.SetDelay(c.Latency)
	defer func() {
		rig.TablesProxy.Record(nil)
		rig.FaceProxy.Record(nil)
		rig.TablesProxy.SetDelay(0)
		rig.FaceProxy.SetDelay(0)
	}()
	names := []string{"StartSession", "Callback"}
	waves := map[string][]int{}
	sequence := map[string][]string{}
	calls := map[string]int{}
	requests := 0
	u := *base
	u.After = func(endpoint string) {
		at, what := arrivals.Take()
		waves[endpoint] = append(waves[endpoint], Waves(at, c.Latency))
		sequence[endpoint] = Sequence(at, what, c.Latency)
		calls[endpoint] += len(at)
	}
	var start, callback []time.Duration
	deadline := time.Now().Add(c.OverheadFor)
	arrivals.Take()
	for time.Now().Before(deadline) && ctx.Err() == nil {
		t, err := u.Session(ctx)
		// What arrives between the callback's answer and the next StartSession (the capture goes
		// to the stand-in directly) is work the handler does after answering: not counted.
		arrivals.Take()
		if err != nil {
			continue
		}
		requests++
		start, callback = append(start, t.Start), append(callback, t.Callback)
	}
	out := &Overhead{}
	perRequest := map[string]int{}
	for i, d := range [][]time.Duration{start, callback} {
		name := names[i]
		e := EndpointOverhead{Name: name, RoundTrips: Mode(waves[name]), Sequence: sequence[name], Latency: Summarize(d)}
		if requests > 0 {
			e.Calls = float64(int(float64(calls[name])/float64(requests)*100)) / 100
			perRequest[name] = int(e.Calls + 0.5)
		}
		floor := float64(e.RoundTrips) * float64(c.Latency) / 1e6
		e.OverheadP50, e.OverheadP99 = e.Latency.P50-floor, e.Latency.P99-floor
		out.Endpoints = append(out.Endpoints, e)
	}
	return out, perRequest
}

// measureCPU runs the floor at the concurrency of the middle load level (8 by default) and sets
// its CPU per session beside the handler's at that level.
func measureCPU(ctx context.Context, c Config, bin string, loads []Load, calls map[string]int) (*CPU, error) {
	if len(loads) == 0 {
		return nil, fmt.Errorf("no load run")
	}
	l := loads[len(loads)/2]
	// The event the callback sends over AMQP is one more upstream call for the floor.
	floorCalls := map[string]int{"StartSession": calls["StartSession"], "Callback": calls["Callback"] + 1}
	ms, n, mem, err := MeasureFloor(ctx, bin, floorCalls, l.Concurrency, l.PerSecond, c.FloorFor)
	if err != nil {
		return nil, err
	}
	return &CPU{Concurrency: l.Concurrency, HandlerMs: round3(l.CPUPerSession), FloorMs: round3(ms), Ratio: Ratio(l.CPUPerSession, ms),
		Calls:              map[string]float64{"StartSession": float64(floorCalls["StartSession"]), "Callback": float64(floorCalls["Callback"])},
		UpstreamPerSession: float64(floorCalls["StartSession"] + floorCalls["Callback"]), FloorSessions: n, FloorMemory: mem,
		FloorPerSecond: float64(int(float64(n)/c.FloorFor.Seconds()*10)) / 10}, nil
}

func round3(f float64) float64 { return float64(int(f*1000+0.5)) / 1000 }

// reconcile runs BenchmarkReconcile once per sub-benchmark and returns its result lines.
func reconcile(ctx context.Context, root string) ([]string, error) {
	return goTest(ctx, root, []string{"-run", "^$", "-bench", "^BenchmarkReconcile$", "-benchtime", "1x"}, "./handlers/")
}

// microBenchmarks are issue 11's items 6 and 7 as Go benchmarks, by package: verify images of 1
// and 6 MB (CPU as ns/op, allocations as B/op), validating a StartSession body, signing and
// verifying a callback, building a CloudEvent and its Service Bus message, composing a link.
var microBenchmarks = []struct{ pkg, pattern string }{
	{"./handlers/", "^(BenchmarkVerifyImageParse|BenchmarkParseStartRequest|BenchmarkLinkView)$"},
	{"./internal/callbackurl/", "^(BenchmarkURL|BenchmarkVerify)$"},
	{"./internal/events/", "^(BenchmarkMarshal|BenchmarkNewMessage)$"},
	{"./internal/quicklink/", "^BenchmarkCompose$"},
}

// micro runs microBenchmarks (-benchmem, benchtime each) and the handler's verify-image memory
// test (peak RSS at 4 concurrent 6 MB requests, cmd/handler TestVerifyImagePeakMemory), and
// returns their result lines.
func micro(ctx context.Context, root string, benchtime time.Duration) ([]string, error) {
	var lines []string
	for _, m := range microBenchmarks {
		got, err := goTest(ctx, root, []string{"-run", "^$", "-bench", m.pattern, "-benchmem", "-benchtime", benchtime.String()}, m.pkg)
		lines = append(lines, got...)
		if err != nil {
			return lines, err
		}
	}
	got, err := goTest(ctx, root, []string{"-run", "^TestVerifyImagePeakMemory$", "-v"}, "./cmd/handler/")
	return append(lines, got...), err
}

// goTest runs `go test -count 1 args pkg` in root and returns its result lines: benchmark lines
// and the log lines that carry a figure (" MiB" or "CPU per"), each on one line.
func goTest(ctx context.Context, root string, args []string, pkg string) ([]string, error) {
	cmd := exec.CommandContext(ctx, "go", append(append([]string{"test", "-count", "1"}, args...), pkg)...)
	cmd.Dir = root
	out, err := cmd.CombinedOutput()
	var lines []string
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if strings.HasPrefix(line, "Benchmark") || strings.Contains(line, "peak RSS") {
			lines = append(lines, strings.Join(strings.Fields(line), " "))
		}
	}
	if err != nil {
		return lines, fmt.Errorf("go test %s: %w\n%s", pkg, err, out)
	}
	return lines, nil
}

func machine(note string) Machine {
	m := Machine{CPUs: runtime.NumCPU(), GoVersion: runtime.Version(), Note: note}
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for line := range strings.SplitSeq(string(b), "\n") {
			if v, ok := strings.CutPrefix(line, "model name"); ok {
				m.CPUModel = strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(v), ":"))
				break
			}
		}
	}
	if out, err := exec.Command("node", "--version").Output(); err == nil {
		m.Node = strings.TrimSpace(string(out))
	}
	return m
}
