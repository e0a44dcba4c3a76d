package handlers

import (
	"encoding/json"
	"io"
	"net/http"
)

// invocationRequest is the host's payload for a non-HTTP function (reference §5). Only the parts
// we read are typed; the rest is accepted as it comes.
type invocationRequest struct {
	Data     map[string]json.RawMessage `json:"Data"`
	Metadata map[string]json.RawMessage `json:"Metadata"`
}

// invocationResponse is the envelope the host requires back: always JSON, never an empty body
// (an empty one reads as null and the invocation hangs until functionTimeout).
type invocationResponse struct {
	Outputs     map[string]any `json:"Outputs"`
	Logs        []string       `json:"Logs"`
	ReturnValue any            `json:"ReturnValue"`
}

// readInvocation decodes the payload leniently: the host's shapes vary by version, and a timer
// run must not fail because a field it does not need looks odd.
func readInvocation(r *http.Request) (invocationRequest, error) {
	var inv invocationRequest
	body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if err != nil || len(body) == 0 {
		return inv, err
	}
	return inv, json.Unmarshal(body, &inv)
}

func writeInvocation(w http.ResponseWriter, status int, logs ...string) {
	if logs == nil {
		logs = []string{}
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(invocationResponse{Outputs: map[string]any{}, Logs: logs})
}

// writeInvocationError answers a failed timer run: a non-2xx status fails the invocation (the
// host logs it as failed), and the body is still the envelope the host requires.
func writeInvocationError(w http.ResponseWriter, k problemKind, p problem) {
	status := k.status
	if status < 500 {
		status = http.StatusInternalServerError // a run has no client to blame
	}
	writeInvocation(w, status, p.Title)
}
