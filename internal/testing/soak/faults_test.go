package soak

import (
	"math/rand/v2"
	"net/http"
	"sync"
	"time"

	"github.com/liveness-quicklink/functions/internal/standin/facestub"
	"github.com/liveness-quicklink/functions/internal/testing/faultproxy"
)

// The kinds of fault the injector draws from, all of the fault suite's classes that can strike
// at random without stopping the soak.
const (
	faultFace429     = "Face 429 with Retry-After: 1"
	faultFace5xx     = "Face 500"
	faultFaceLatency = "Face latency spike"
	faultTableLost   = "table answer lost after the commit"
	faultTableFailed = "table 500 after the commit"
	faultTable503    = "table 503 ServerBusy with Retry-After: 1"
	faultSBDetach    = "Service Bus link detached"
	faultSBDrop      = "Service Bus connections dropped"
	faultSBRestart   = "Service Bus stand-in stopped and restarted"
	faultDupCallback = "concurrent duplicate callbacks"
)

var randomFaults = []string{faultFace429, faultFace5xx, faultFaceLatency, faultTableLost, faultTableFailed,
	faultTable503, faultSBDetach, faultSBDrop}

// tableWrites are the methods of the table writes a lost or failed answer strikes.
var tableWrites = []string{http.MethodPost, http.MethodPut, "MERGE", http.MethodDelete}

// injector strikes the faults the sessions' plans draw. The draws come from each session's seeded
// source, so a seed replays the same fault plan; which requests a fault meets depends on timing.
type injector struct {
	r *rig

	mu     sync.Mutex
	counts map[string]int
	errs   []error
}

func (in *injector) count(kind string) {
	in.mu.Lock()
	defer in.mu.Unlock()
	in.counts[kind]++
}

// strike injects fault kind with parameters from rng. It returns what ends the fault once the
// step it was struck before is done (a latency spike lasts one step), or nil.
func (in *injector) strike(kind string, rng *rand.Rand) (end func()) {
	if (kind == faultSBDetach || kind == faultSBDrop) && in.r.sbDown.Load() {
		return nil // the stand-in is being restarted: nothing to detach
	}
	in.count(kind)
	var err error
	switch kind {
	case faultFace429:
		in.r.face.SetFaults(facestub.Faults{Throttle: 1 + rng.IntN(2), RetryAfterSeconds: 1})
	case faultFace5xx:
		in.r.face.SetFaults(facestub.Faults{ServerErrors: 1 + rng.IntN(3)})
	case faultFaceLatency:
		in.r.face.SetFaults(facestub.Faults{Latency: time.Duration(100+rng.IntN(400)) * time.Millisecond})
		end = func() { in.r.face.SetFaults(facestub.Faults{}) }
	case faultTableLost:
		in.r.proxy.Inject(faultproxy.Rule{Method: tableWrites[rng.IntN(len(tableWrites))], Fault: faultproxy.Lose})
	case faultTableFailed:
		in.r.proxy.Inject(faultproxy.Rule{Method: tableWrites[rng.IntN(len(tableWrites))], Fault: faultproxy.Fail})
	case faultTable503:
		in.r.proxy.Inject(faultproxy.Rule{Fault: faultproxy.Refuse, Times: 1 + rng.IntN(3),
			Header: http.Header{"Retry-After": {"1"}}})
	case faultSBDetach:
		err = in.r.serviceBus().Detach(topic)
	case faultSBDrop:
		err = in.r.serviceBus().DropConnections()
	}
	if err != nil {
		in.mu.Lock()
		in.errs = append(in.errs, err)
		in.mu.Unlock()
	}
	return end
}

// clear ends every fault left pending, for the Reconcile runs after the soak.
func (in *injector) clear() {
	in.r.face.SetFaults(facestub.Faults{})
	in.r.proxy.Clear()
}
