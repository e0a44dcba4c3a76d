package services

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// Where the stand-in lives in the repository, and its entities file (it mirrors infra/'s topic
// and subscriptions; infra's tests check that the two agree).
var (
	serviceBusScript   = filepath.Join("internal", "standin", "servicebus", "server.mjs")
	ServiceBusEntities = filepath.Join("internal", "standin", "servicebus", "entities.json")
)

// ServiceBusOptions configures StartServiceBus. A zero port means a free one.
type ServiceBusOptions struct {
	// Root is the repository root, where `npm ci` installed rhea.
	Root string
	// Entities is the entities file; empty means Root's ServiceBusEntities.
	Entities string
	// Port is the AMQP port, HTTPPort the counters endpoint's.
	Port, HTTPPort int
	// Output receives the stand-in's own output; nil discards it.
	Output io.Writer
	// ReadyTimeout bounds the wait for its LISTENING line; zero means 30 s.
	ReadyTimeout time.Duration
}

// ServiceBus is a running Service Bus stand-in (in memory: a restart forgets every message).
type ServiceBus struct {
	Port, HTTPPort int
	proc           *Process
}

// StartServiceBus starts the stand-in on 127.0.0.1 and waits for the line it prints once both
// ports listen. Stop it with Stop; a new StartServiceBus with the same ports restarts it.
func StartServiceBus(o ServiceBusOptions) (*ServiceBus, error) {
	script := filepath.Join(o.Root, serviceBusScript)
	if _, err := os.Stat(filepath.Join(o.Root, "node_modules", "rhea", "package.json")); err != nil {
		return nil, fmt.Errorf("the Service Bus stand-in needs npm rhea: run `npm ci` in %s: %w", o.Root, err)
	}
	node, err := exec.LookPath("node")
	if err != nil {
		return nil, fmt.Errorf("the Service Bus stand-in needs Node.js: %w", err)
	}
	if o.Entities == "" {
		o.Entities = filepath.Join(o.Root, ServiceBusEntities)
	}
	if o.ReadyTimeout <= 0 {
		o.ReadyTimeout = 30 * time.Second
	}
	// The stand-in binds port 0 itself, so only a caller's port can be taken: no retry.
	pr, pw := io.Pipe()
	out := io.Writer(pw)
	if o.Output != nil {
		out = io.MultiWriter(pw, o.Output)
	}
	proc, err := Start(Command{Name: "Service Bus stand-in", Path: node, Dir: o.Root, Output: out, Args: []string{
		script, "--entities", o.Entities, "--port", strconv.Itoa(o.Port), "--http-port", strconv.Itoa(o.HTTPPort)}})
	if err != nil {
		return nil, err
	}
	ready := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(pr)
		for sc.Scan() {
			if line, ok := strings.CutPrefix(sc.Text(), "LISTENING "); ok {
				ready <- line
				break
			}
		}
		_, _ = io.Copy(io.Discard, pr) // keep the child's writes flowing
	}()
	go func() { <-proc.Done(); pw.Close() }()
	s := &ServiceBus{proc: proc}
	select {
	case line := <-ready:
		if s.Port, s.HTTPPort, err = parseListening(line); err == nil {
			return s, nil
		}
	case <-proc.Done():
		err = &ExitError{Name: "Service Bus stand-in", Addr: "127.0.0.1", Err: proc.Err(), Output: proc.Output()}
	case <-time.After(o.ReadyTimeout):
		err = fmt.Errorf("the Service Bus stand-in printed no LISTENING line within %v; its output:\n%s", o.ReadyTimeout, proc.Output())
	}
	_ = proc.Stop()
	return nil, err
}

// parseListening reads "127.0.0.1:<amqp> http=127.0.0.1:<http>".
func parseListening(line string) (amqp, web int, err error) {
	a, h, ok := strings.Cut(line, " http=")
	if !ok {
		return 0, 0, fmt.Errorf("unexpected LISTENING line %q", line)
	}
	port := func(addr string) int {
		_, p, _ := strings.Cut(addr, ":")
		n, perr := strconv.Atoi(p)
		if perr != nil {
			err = errors.Join(err, fmt.Errorf("unexpected address %q in LISTENING line: %w", addr, perr))
		}
		return n
	}
	return port(a), port(h), err
}

// Stop stops the stand-in; its messages are gone.
func (s *ServiceBus) Stop() error { return s.proc.Stop() }

// Process is the stand-in's process, to watch for an unexpected exit.
func (s *ServiceBus) Process() *Process { return s.proc }

// ConnectionString is the emulator-form connection string azservicebus takes (plain AMQP, SASL
// ANONYMOUS; the key is a placeholder the SDK requires and the stand-in ignores).
func (s *ServiceBus) ConnectionString() string {
	return "Endpoint=sb://127.0.0.1:" + strconv.Itoa(s.Port) +
		";SharedAccessKeyName=RootManageSharedAccessKey;SharedAccessKey=SAS_KEY_VALUE;UseDevelopmentEmulator=true;"
}

// Counters are one entity's message counts since the stand-in started.
type Counters struct {
	Accepted     int `json:"accepted"`     // taken in (after duplicate detection; for a subscription, after its filter)
	Deduplicated int `json:"deduplicated"` // dropped as a MessageID seen within the window
	Delivered    int `json:"delivered"`    // handed to a receiver (each redelivery counts)
	Completed    int `json:"completed"`
	Abandoned    int `json:"abandoned"`   // abandoned or released by the receiver
	LockExpired  int `json:"lockExpired"` // locks that ran out or whose link went away
	DeadLettered int `json:"deadLettered"`
}

// Counters reads every entity's counters, keyed by entity path (a subscription is
// "<topic>/Subscriptions/<name>", its dead-letter queue adds "/$DeadLetterQueue").
func (s *ServiceBus) Counters() (map[string]Counters, error) {
	var out map[string]Counters
	if err := s.call(http.MethodGet, "/counters", &out); err != nil {
		return nil, fmt.Errorf("reading the stand-in's counters: %w", err)
	}
	return out, nil
}

// CBSPutTokens is the number of CBS put-token requests the stand-in answered since it started
// (the SDK sends two per sender or receiver it opens, and more as tokens refresh).
func (s *ServiceBus) CBSPutTokens() (int, error) {
	var out struct {
		PutTokens int `json:"putTokens"`
	}
	if err := s.call(http.MethodGet, "/cbs", &out); err != nil {
		return 0, fmt.Errorf("reading the stand-in's put-token count: %w", err)
	}
	return out.PutTokens, nil
}

// Detach detaches every link attached to entity (a queue, topic, or "<topic>/Subscriptions/<name>")
// with amqp:link:detach-forced, as Service Bus detaches an idle link; the connection stays up, and
// messages locked to a detached receiver stay locked until their lock expires (settle them by lock
// token, as the SDK does over $management).
func (s *ServiceBus) Detach(entity string) error {
	if err := s.call(http.MethodPost, "/detach?entity="+url.QueryEscape(entity), nil); err != nil {
		return fmt.Errorf("detaching the stand-in's links of %s: %w", entity, err)
	}
	return nil
}

// DropConnections cuts every AMQP connection to the stand-in without a close frame, as a network
// failure would; the stand-in keeps listening and keeps its messages.
func (s *ServiceBus) DropConnections() error {
	if err := s.call(http.MethodPost, "/drop", nil); err != nil {
		return fmt.Errorf("dropping the stand-in's connections: %w", err)
	}
	return nil
}

// call sends method path to the stand-in's HTTP port and decodes a 200 answer into out (nil:
// the answer is discarded).
func (s *ServiceBus) call(method, path string, out any) error {
	req, err := http.NewRequest(method, "http://127.0.0.1:"+strconv.Itoa(s.HTTPPort)+path, nil)
	if err != nil {
		return err
	}
	client := &http.Client{Timeout: 5 * time.Second}
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		return fmt.Errorf("%s %s: %s %s", method, path, resp.Status, strings.TrimSpace(string(b)))
	}
	if out == nil {
		return nil
	}
	return json.NewDecoder(resp.Body).Decode(out)
}

// Connections is the number of AMQP connections open at the stand-in now (from a client's open
// until its close or the socket's end).
func (s *ServiceBus) Connections() (int, error) {
	var out struct {
		Open *int `json:"open"`
	}
	if err := s.call(http.MethodGet, "/connections", &out); err != nil {
		return 0, fmt.Errorf("reading the stand-in's open connections: %w", err)
	}
	if out.Open == nil {
		return 0, errors.New("reading the stand-in's open connections: no \"open\" in its answer")
	}
	return *out.Open, nil
}
