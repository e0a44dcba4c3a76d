package facestub

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"time"
)

// Faults make the Face routes misbehave the ways a real service does. They apply to /face/ routes only.
type Faults struct {
	// Latency delays every Face request.
	Latency time.Duration
	// Throttle answers the next Throttle Face requests with 429.
	Throttle int
	// RetryAfterSeconds, when positive, is sent as Retry-After with those 429s.
	RetryAfterSeconds int
	// ServerErrors answers the next ServerErrors Face requests (after any throttled ones) with 500.
	ServerErrors int
	// Hang holds every Face request until its client gives up or the server closes; it gets no response.
	Hang bool
}

// UnmarshalJSON reads Latency as a Go duration string ("250ms") or a number of milliseconds, and
// rejects unknown fields.
func (f *Faults) UnmarshalJSON(b []byte) error {
	type plain Faults
	var v struct {
		plain
		Latency json.RawMessage
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&v); err != nil {
		return err
	}
	*f = Faults(v.plain)
	f.Latency = 0
	if len(v.Latency) == 0 || string(v.Latency) == "null" {
		return nil
	}
	var s string
	if err := json.Unmarshal(v.Latency, &s); err == nil {
		d, err := time.ParseDuration(s)
		if err != nil {
			return fmt.Errorf("Latency: %w", err)
		}
		f.Latency = d
		return nil
	}
	ms, err := strconv.ParseFloat(string(v.Latency), 64)
	if err != nil {
		return fmt.Errorf("Latency: want a duration string or milliseconds, got %s", v.Latency)
	}
	f.Latency = time.Duration(ms * float64(time.Millisecond))
	return nil
}

// SetFaults replaces the fault settings, resetting any counts left from earlier ones.
func (s *Server) SetFaults(f Faults) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = f
}

// fault is what the fault settings do to one request.
type fault struct {
	latency time.Duration
	hang    bool
	answer  *faceError
	retry   int
}

// takeFault consumes the fault the next request gets.
func (s *Server) takeFault() fault {
	s.mu.Lock()
	defer s.mu.Unlock()
	f := fault{latency: s.faults.Latency, hang: s.faults.Hang}
	switch {
	case f.hang:
	case s.faults.Throttle > 0:
		s.faults.Throttle--
		f.answer, f.retry = errThrottled, s.faults.RetryAfterSeconds
	case s.faults.ServerErrors > 0:
		s.faults.ServerErrors--
		f.answer = errInternal
	}
	return f
}

// apply reports whether the request may proceed; when not, the response has been written or, for a
// request that must get none, the handler is aborted.
func (s *Server) apply(f fault, w http.ResponseWriter, r *http.Request) bool {
	if f.latency > 0 {
		t := time.NewTimer(f.latency)
		defer t.Stop()
		s.waitOr(r.Context(), t.C)
	}
	if f.hang {
		s.waitOr(r.Context(), nil)
	}
	if f.answer == nil {
		return true
	}
	if f.retry > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(f.retry))
	}
	writeError(w, f.answer)
	return false
}

// waitOr blocks until done fires. If the client goes away or the server closes first, the request is
// aborted without a response, as a dropped connection would be.
func (s *Server) waitOr(ctx context.Context, done <-chan time.Time) {
	select {
	case <-done:
	case <-ctx.Done():
		panic(http.ErrAbortHandler)
	case <-s.closed:
		panic(http.ErrAbortHandler)
	}
}
