package bench

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"io"
	"net/url"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/liveness-quicklink/functions/internal/testing/services"
)

// Rig is the app's services for the benchmark: Azurite, the Service Bus stand-in and cmd/standin,
// each behind a Proxy the handler goes through, and the handler itself (started and stopped by
// the phases).
type Rig struct {
	Root        string
	Bin         string // folder of the built binaries (standin, bare, floor)
	Handler     string // the built handler
	Azurite     *services.Azurite
	ServiceBus  *services.ServiceBus
	Standin     *services.Process
	StandinURL  string // direct, for the user's capture
	TablesProxy *Proxy
	FaceProxy   *Proxy // Face and quick link (one stand-in, one base URL)
	Output      io.Writer

	tablesConn string // through TablesProxy
	signingKey string
	faceAPIKey string
}

// Topic subscription whose counter says how many events were delivered
// (internal/standin/servicebus/entities.json).
const eventsSubscription = "liveness-events/Subscriptions/all"

// StartRig starts the services; Close stops them.
func StartRig(ctx context.Context, root, bin string, output io.Writer) (*Rig, error) {
	r := &Rig{Root: root, Bin: bin, Output: output}
	if err := r.start(ctx); err != nil {
		r.Close()
		return nil, err
	}
	return r, nil
}

func (r *Rig) start(ctx context.Context) (err error) {
	key := make([]byte, 32)
	_, _ = rand.Read(key)
	r.signingKey = base64.StdEncoding.EncodeToString(key)
	apiKey := make([]byte, 16)
	_, _ = rand.Read(apiKey)
	r.faceAPIKey = "face-" + hex.EncodeToString(apiKey)

	if r.Azurite, err = services.StartAzurite(services.AzuriteOptions{Root: r.Root, Output: r.Output}); err != nil {
		return fmt.Errorf("azurite: %w", err)
	}
	tables, _ := url.Parse(r.Azurite.TableEndpoint())
	if r.TablesProxy, err = StartProxy(tables.Scheme + "://" + tables.Host); err != nil {
		return err
	}
	r.tablesConn = strings.Replace(r.Azurite.ConnectionString(), "TableEndpoint="+tables.Scheme+"://"+tables.Host,
		"TableEndpoint="+r.TablesProxy.URL, 1)
	if r.ServiceBus, err = services.StartServiceBus(services.ServiceBusOptions{Root: r.Root, Output: r.Output}); err != nil {
		return fmt.Errorf("service bus stand-in: %w", err)
	}
	addr, proc, err := startListening(ctx, "standin", filepath.Join(r.Bin, "standin"),
		[]string{"-addr", "127.0.0.1:0", "-api-key", r.faceAPIKey}, []string{"QUICKLINK_RETURN=get"}, r.Output)
	if err != nil {
		return err
	}
	r.Standin, r.StandinURL = proc, "http://"+addr
	r.FaceProxy, err = StartProxy(r.StandinURL)
	return err
}

// HandlerEnv is the handler's environment to listen on port, as internal/testing/stack sets it
// (with the default log level, as deployed).
func (r *Rig) HandlerEnv(port int) []string {
	base := "http://127.0.0.1:" + strconv.Itoa(port)
	return []string{
		"FUNCTIONS_CUSTOMHANDLER_PORT=" + strconv.Itoa(port),
		"QUICKLINK_ENDPOINT=" + r.FaceProxy.URL,
		"PUBLIC_BASE_URL=" + base,
		"CALLBACK_SIGNING_KEYS=" + r.signingKey,
		"RETURN_URL_ALLOWED_ORIGINS=http://127.0.0.1:1",
		"ABANDON_AFTER_SECONDS=60",
		"TABLES_CONNECTION_STRING=" + r.tablesConn,
		"TABLES_ENDPOINT=",
		"SERVICEBUS_CONNECTION_STRING=" + r.ServiceBus.ConnectionString(),
		"SERVICEBUS_NAMESPACE=",
		"FACE_ENDPOINT=" + r.FaceProxy.URL + "/",
		"FACE_API_KEY=" + r.faceAPIKey,
	}
}

// StartHandler starts bin/handler on a free port and waits until GET /api/health answers 200.
func (r *Rig) StartHandler(ctx context.Context) (*services.Process, string, error) {
	port, err := services.FreePort()
	if err != nil {
		return nil, "", err
	}
	p, err := services.Start(services.Command{Name: "handler", Path: r.Handler,
		Env: r.HandlerEnv(port), Output: r.Output})
	if err != nil {
		return nil, "", err
	}
	u := "http://127.0.0.1:" + strconv.Itoa(port)
	if err := p.WaitHealthy(ctx, u+"/api/health", time.Minute); err != nil {
		_ = p.Stop()
		return nil, "", fmt.Errorf("handler: %w; its output:\n%s", err, p.Output())
	}
	return p, u, nil
}

// EventsDelivered is the number of events the topic's `all` subscription has taken in.
func (r *Rig) EventsDelivered() (int, error) {
	c, err := r.ServiceBus.Counters()
	if err != nil {
		return 0, err
	}
	return c[eventsSubscription].Accepted, nil
}

// CPU is the CPU used so far by each service process, by name.
func (r *Rig) CPU() map[string]time.Duration {
	out := map[string]time.Duration{}
	for name, p := range map[string]*services.Process{"azurite": r.Azurite.Process(), "servicebus": r.ServiceBus.Process(), "standin": r.Standin} {
		if d, err := ReadCPU(p.Pid()); err == nil {
			out[name] = d
		}
	}
	return out
}

// Close stops everything started.
func (r *Rig) Close() {
	for _, p := range []*Proxy{r.TablesProxy, r.FaceProxy} {
		if p != nil {
			p.Close()
		}
	}
	if r.Standin != nil {
		_ = r.Standin.Stop()
	}
	if r.ServiceBus != nil {
		_ = r.ServiceBus.Stop()
	}
	if r.Azurite != nil {
		_ = r.Azurite.Stop()
	}
}

// startListening starts a process that prints "LISTENING <host:port>" once it accepts
// connections and returns that address.
func startListening(ctx context.Context, name, path string, args, env []string, output io.Writer) (string, *services.Process, error) {
	lw := &lineWatch{prefix: "LISTENING ", found: make(chan string, 1), next: output}
	p, err := services.Start(services.Command{Name: name, Path: path, Args: args, Env: env, Output: lw})
	if err != nil {
		return "", nil, err
	}
	select {
	case a := <-lw.found:
		return a, p, nil
	case <-p.Done():
		return "", nil, &services.ExitError{Name: name, Addr: "127.0.0.1", Err: p.Err(), Output: p.Output()}
	case <-time.After(time.Minute):
		_ = p.Stop()
		return "", nil, fmt.Errorf("%s printed no LISTENING line within a minute; its output:\n%s", name, p.Output())
	case <-ctx.Done():
		_ = p.Stop()
		return "", nil, ctx.Err()
	}
}

// lineWatch passes output on and reports the rest of the first line starting with prefix.
type lineWatch struct {
	prefix string
	found  chan string
	next   io.Writer
	buf    []byte
}

func (w *lineWatch) Write(b []byte) (int, error) {
	w.buf = append(w.buf, b...)
	for {
		i := strings.IndexByte(string(w.buf), '\n')
		if i < 0 {
			break
		}
		line := string(w.buf[:i])
		w.buf = w.buf[i+1:]
		if rest, ok := strings.CutPrefix(line, w.prefix); ok {
			select {
			case w.found <- strings.TrimSpace(rest):
			default:
			}
		}
	}
	if w.next != nil {
		return w.next.Write(b)
	}
	return len(b), nil
}
