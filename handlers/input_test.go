package handlers

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"

	"github.com/liveness-quicklink/functions/internal/liveness"
)

// inputKinds are the kinds of bad input of issue 7 (items 4 to 7), each across every place it can
// occur: text that is not UTF-8, null for a field, ambiguous headers, and control or
// bidirectional formatting characters. TestBadInputChangesNothing sends them.
func inputKinds(t *testing.T) []badInput {
	png := b64(pngImage(t))
	const guid = "3f1e5a4c-8d2b-4c6e-9a7f-0b1c2d3e4f50"
	unsupported := func(b badInput) badInput {
		b.status, b.code = http.StatusUnsupportedMediaType, "unsupported_media_type"
		return b
	}
	cases := []badInput{
		// Not UTF-8: encoding/json would store U+FFFD, and two bodies would hash the same.
		{name: "externalReference not UTF-8", body: "{\"externalReference\":\"ab\xff\xfecd\"}", docAccepts: true},
		{name: "deviceCorrelationId not UTF-8", body: "{\"deviceCorrelationId\":\"dev\xc3\"}", docAccepts: true},
		{name: "returnUrl not UTF-8", body: "{\"returnUrl\":\"https://app.example.com/\xe2\x80\"}", docAccepts: true},
		{name: "lone high surrogate escape", body: `{"externalReference":"ab\ud800cd"}`, docAccepts: true},
		{name: "lone low surrogate escape", body: `{"externalReference":"\udfff"}`, docAccepts: true},
		{name: "surrogate halves reversed", body: `{"deviceCorrelationId":"\udc00\ud800"}`, docAccepts: true},
		{name: "high surrogate at the end", body: `{"deviceCorrelationId":"x\ud83d"}`, docAccepts: true},
		{name: "query not UTF-8", path: "/api/sessions?note=%FF", body: `{}`, docAccepts: true},
		{name: "query malformed", path: "/api/sessions?note=%zz", body: `{}`, docAccepts: true},
		{name: "GET query not UTF-8", method: "GET", path: "/api/sessions/" + guid + "?x=%C3", docAccepts: true},
		{name: "DELETE query name not UTF-8", method: "DELETE", path: "/api/sessions/" + guid + "?%FE=1", docAccepts: true},
		{name: "Health query not UTF-8", method: "GET", path: "/api/health?x=%FF", docAccepts: true},
		unsupported(badInput{name: "charset latin1, empty body", header: map[string]string{"Content-Type": "application/json; charset=latin1"}, docAccepts: true}),
		{name: "Content-Type not UTF-8", body: `{}`, header: map[string]string{"Content-Type": "application/json; x=\"\xff\""}, docAccepts: true},
		unsupported(badInput{name: "charset latin1", body: `{}`, header: map[string]string{"Content-Type": "application/json; charset=latin1"}, docAccepts: true}),
		unsupported(badInput{name: "charset ISO-8859-1", body: `{}`, header: map[string]string{"Content-Type": "application/json; charset=ISO-8859-1"}, docAccepts: true}),
		unsupported(badInput{name: "charset utf-16", body: `{}`, header: map[string]string{"Content-Type": "application/json; charset=utf-16"}, docAccepts: true}),
		unsupported(badInput{name: "charset empty", body: `{}`, header: map[string]string{"Content-Type": `application/json; charset=""`}, docAccepts: true}),

		// Ambiguous or out-of-contract headers.
		{name: "Idempotency-Key twice", body: `{}`, lines: [][2]string{{"Idempotency-Key", "A"}, {"Idempotency-Key", "B"}}, docAccepts: true},
		{name: "Idempotency-Key twice, same value", body: `{}`, lines: [][2]string{{"Idempotency-Key", "A"}, {"Idempotency-Key", "A"}}, docAccepts: true},
		{name: "Idempotency-Key empty", body: `{}`, lines: [][2]string{{"Idempotency-Key", ""}}},
		{name: "Content-Type twice", body: `{}`, header: map[string]string{"Content-Type": ""},
			lines: [][2]string{{"Content-Type", "application/json"}, {"Content-Type", "application/json"}}},
		{name: "Content-Type twice, empty body", header: map[string]string{"Content-Type": ""}, docAccepts: true,
			lines: [][2]string{{"Content-Type", "application/json"}, {"Content-Type", "application/json"}}},
		{name: "Idempotency-Key with U+202E", body: `{}`, header: map[string]string{"Idempotency-Key": "key\u202e"}},
		{name: "Idempotency-Key with C1", body: `{}`, header: map[string]string{"Idempotency-Key": "key\u0085"}},

		// Control characters in a field that is not a free-text one.
		{name: "returnUrl with U+202E", body: `{"returnUrl":"https://app.example.com/done\u202e"}`},
		{name: "returnUrl with NEL", body: "{\"returnUrl\":\"https://app.example.com/done\u0085\"}"},
		{name: "verifyImage with a line break", body: `{"kind":"livenessWithVerify","verifyImage":"` + png + `\n"}`},
		{name: "verifyImage with a bidi mark", body: `{"kind":"livenessWithVerify","verifyImage":"\u200e` + png + `"}`},
		{name: "verifyImage with a leading space", body: `{"kind":"livenessWithVerify","verifyImage":" ` + png + `"}`},
		{name: "verifyImage with a trailing space", body: `{"kind":"livenessWithVerify","verifyImage":"` + png + ` "}`},
		{name: "returnUrl with a space", body: `{"returnUrl":"https://app.example.com/a b"}`},
	}
	// null is not "absent": api/openapi.yaml marks no field nullable.
	for _, f := range []string{"kind", "mode", "externalReference", "deviceCorrelationId", "returnUrl", "ttlSeconds", "issueLink", "qr", "enableSessionImage"} {
		cases = append(cases, badInput{name: f + " null", body: `{"` + f + `":null}`})
	}
	cases = append(cases, badInput{name: "verifyImage null", body: `{"kind":"livenessWithVerify","verifyImage":null}`})

	// Control and bidirectional formatting characters in every free-text field, sent as they are
	// and as JSON escapes.
	for _, c := range controlCharacters {
		for _, field := range []string{"externalReference", "deviceCorrelationId"} {
			escaped := fmt.Sprintf(`\u%04x`, c)
			cases = append(cases,
				badInput{name: fmt.Sprintf("%s with U+%04X", field, c), body: `{"` + field + `":"a` + string(c) + `b"}`},
				badInput{name: fmt.Sprintf("%s with U+%04X escaped", field, c), body: `{"` + field + `":"a` + escaped + `b"}`})
		}
	}
	return cases
}

// controlCharacters are one or more of each kind hasControl refuses.
var controlCharacters = []rune{
	0x00, 0x09, 0x1f, 0x7f, // C0, DEL
	0x80, 0x85, 0x9b, 0x9f, // C1
	0x202a, 0x202b, 0x202c, 0x202d, 0x202e, // embeddings and overrides
	0x2066, 0x2067, 0x2068, 0x2069, // isolates
	0x200e, 0x200f, 0x061c, // marks
}

func TestHasControl(t *testing.T) {
	for _, c := range controlCharacters {
		if s := "a" + string(c) + "b"; !hasControl(s) {
			t.Errorf("hasControl(%+q) = false, want true", s)
		}
	}
	for _, s := range []string{"", "order-42", "Müller & Söhne", "日本語", "عربي", "emoji 😀", "\u00a0nbsp", "\u200b zero width space", "\u2060", "a\u00a0b"} {
		if hasControl(s) {
			t.Errorf("hasControl(%+q) = true, want false", s)
		}
	}
}

func TestDecodeObjectRefusesNullAnywhere(t *testing.T) {
	for _, body := range []string{`{"name":null}`, `{"count":null}`, `{"inner":null}`, `{"inner":{"X":null}}`} {
		var v probe
		err := decodeObject([]byte(body), &v)
		var invalid *liveness.InvalidError
		if !errors.As(err, &invalid) || !strings.Contains(invalid.Reason, "null") {
			t.Errorf("decodeObject(%s) = %v, want an error about null", body, err)
		}
	}
}

// The detail names the character by its code point, never as itself, and calls a line break one
// (base64 wrapped at 76 columns is how a client meets this rule).
func TestControlCharactersAreNamedByCodePoint(t *testing.T) {
	for _, c := range controlCharacters {
		err := checkText("externalReference", "a"+string(c)+"b", 128)
		want := fmt.Sprintf("found U+%04X)", c)
		if err == nil || !strings.HasSuffix(err.Error(), want) || hasControl(err.Error()) {
			t.Errorf("checkText(a%+qb) = %v, want a detail ending %q without the character", string(c), err, want)
		}
	}
	var v struct {
		VerifyImage string `json:"verifyImage"`
	}
	err := decodeObject([]byte(`{"verifyImage":"iVBORw0K\nGgo="}`), &v)
	if err == nil || !strings.Contains(err.Error(), "a line break, U+000A") {
		t.Errorf("verifyImage with a line break: %v, want a detail naming the line break", err)
	}
}

// An unknown member name with control characters is refused without echoing it into the
// problem detail (and so the log).
func TestUnknownFieldNameWithControlsIsNotEchoed(t *testing.T) {
	for _, body := range []string{"{\"a\u202eb\":1}", `{"a\u202eb":1}`, `{"a\u0007":1}`} {
		var v probe
		err := decodeObject([]byte(body), &v)
		var invalid *liveness.InvalidError
		if !errors.As(err, &invalid) {
			t.Fatalf("decodeObject(%s) = %v, want an *InvalidError", body, err)
		}
		if hasControl(invalid.Error()) {
			t.Errorf("decodeObject(%s): the error %+q repeats the control character", body, invalid.Error())
		}
	}
}

func TestHasLoneSurrogate(t *testing.T) {
	tests := []struct {
		raw  string
		want bool
	}{
		{`"plain"`, false},
		{`"\ud83d\ude00"`, false}, // one character, escaped as its pair
		{`"\uD83D\uDE00"`, false},
		{`"\u00e9\u202e"`, false}, // not surrogates (control characters are another check)
		{`"\\ud800"`, false},      // an escaped backslash, then text
		{`"\"\ud800"`, true},      // an escaped quote does not end the string
		{`"\ud800"`, true},
		{`"\udc00"`, true},
		{`"\ud800x"`, true},
		{`"\ud800\u0041"`, true},
		{`"\ud800\ud800"`, true},
		{`"\udc00\ud800"`, true},
		{`"\ud800\n"`, true},
		{`{"k\ud800":1}`, true}, // names are strings too
		{`["a", "\ud83d\ude00", "\ude00"]`, true},
		{`\ud800`, false}, // not inside a string: the JSON decoder refuses it
	}
	for _, tt := range tests {
		if got := hasLoneSurrogate([]byte(tt.raw)); got != tt.want {
			t.Errorf("hasLoneSurrogate(%s) = %v, want %v", tt.raw, got, tt.want)
		}
	}
}

// Accepted JSON never decodes to a replacement character the text did not state itself.
func FuzzHasLoneSurrogate(f *testing.F) {
	for _, seed := range []string{`"a"`, `"\ud83d\ude00"`, `"\ud800"`, `"\udc00\ud800"`, `{"\ud800":1}`, `"\\ud800"`, `"\"\ud800"`, `"\ufffd"`, "\"\xff\""} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		lone := hasLoneSurrogate(raw)
		if lone || !json.Valid(raw) || !utf8.Valid(raw) {
			return
		}
		stated := strings.Contains(strings.ToLower(string(raw)), `ufffd`) || strings.ContainsRune(string(raw), utf8.RuneError)
		// Numbers as text: a valid one beyond float64 (1e700) is no concern of this check.
		dec := json.NewDecoder(bytes.NewReader(raw))
		dec.UseNumber()
		var v any
		if err := dec.Decode(&v); err != nil {
			t.Fatalf("json.Valid but Decode: %v", err)
		}
		if !stated && strings.ContainsRune(fmt.Sprint(v), utf8.RuneError) {
			t.Fatalf("hasLoneSurrogate(%q) = false, but it decodes to a replacement character: %+q", raw, v)
		}
	})
}

func TestRoutePath(t *testing.T) {
	tests := []struct {
		in, want string
		ok       bool
	}{
		{"/api/sessions", "/api/sessions", true},
		{"/api/sessions/", "/api/sessions", true},
		{"/API/Sessions/", "/api/sessions", true},
		{"/api/%73essions", "/api/sessions", true}, // an escaped letter is the letter
		{"/api/%53essions", "/api/sessions", true},
		{"/%41PI/%53ESSIONS/", "/api/sessions", true},
		{"/api/sessions/%", "", false}, // not an escape
		{"/api/sessions/3F1E%2d", "/api/sessions/3f1e%2d", true},
		{"/api/sessions/caf%C3%A9", "/api/sessions/caf%c3%a9", true},
		{"/api/sessions//", "", false},
		{"/api//sessions", "", false},
		{"/api/./sessions", "", false},
		{"/api/x/../sessions", "", false},
		{"/api/%2e/sessions", "/api/%2e/sessions", true}, // no route has a "." segment
		{"/api/sessions/%2E%2E", "/api/sessions/%2e%2e", true},
		{"/api/", "/api", true},
	}
	for _, tt := range tests {
		got, ok := routePath(tt.in)
		if got != tt.want || ok != tt.ok {
			t.Errorf("routePath(%q) = %q, %v; want %q, %v", tt.in, got, ok, tt.want, tt.ok)
		}
	}
}

// A routed path is one the mux takes as it is (no redirect to a cleaned path), and routing it
// again changes nothing.
func FuzzRoutePath(f *testing.F) {
	for _, seed := range []string{"/api/sessions", "/api/sessions/", "/API/x/%2F/", "/api//x", "/api/%2e%2e/x", "/api/a%zz"} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, escaped string) {
		if !strings.HasPrefix(escaped, "/api/") {
			return
		}
		p, ok := routePath(escaped)
		if !ok {
			return
		}
		if path.Clean(p) != p {
			t.Fatalf("routePath(%q) = %q, which the mux would redirect to %q", escaped, p, path.Clean(p))
		}
		if again, ok := routePath(p); !ok || again != p {
			t.Fatalf("routePath(%q) = %q, but routePath(%q) = %q, %v", escaped, p, p, again, ok)
		}
		if asciiLower(p) != p {
			t.Fatalf("routePath(%q) = %q, not lower case", escaped, p)
		}
	})
}

// The Functions host forwards Transfer-Encoding: chunked without the body (reference §6). Each
// route answers such a request at once, over a real connection, and the server then closes the
// connection instead of waiting for the body; nothing is written.
func TestChunkedRequestWithoutItsBodyIsAnsweredAtOnce(t *testing.T) {
	a := newApp(t, nil)
	id := a.start(`{"externalReference":"chunked"}`).SessionID
	before := a.rows()
	faceCalls := a.stub.Stats().Total
	tests := []struct {
		method, path string
		status       int
		code         string
	}{
		{"POST", "/api/sessions", http.StatusLengthRequired, "length_required"},
		{"POST", "/api/sessions/", http.StatusLengthRequired, "length_required"},
		{"GET", "/api/sessions/" + id, http.StatusOK, ""},
		{"GET", "/api/health", http.StatusOK, ""},
	}
	// The handler alone on a real server: the tests' contract middleware buffers request bodies.
	hs := httptest.NewServer(a.srv.Handler())
	defer hs.Close()
	host := strings.TrimPrefix(hs.URL, "http://")
	for _, tt := range tests {
		t.Run(tt.method+" "+tt.path, func(t *testing.T) {
			conn, err := net.Dial("tcp", host)
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			start := time.Now()
			conn.SetDeadline(start.Add(10 * time.Second))
			fmt.Fprintf(conn, "%s %s HTTP/1.1\r\nHost: %s\r\nx-functions-key: %s\r\nContent-Type: application/json\r\n"+
				"Transfer-Encoding: chunked\r\nX-Azure-Functions-InvocationId: %s\r\n\r\n", tt.method, tt.path, host, a.functionKey, randomHex(t, 8))
			br := bufio.NewReader(conn)
			resp, err := http.ReadResponse(br, nil)
			if err != nil {
				t.Fatalf("no answer after %v: %v", time.Since(start).Round(time.Millisecond), err)
			}
			body, err := io.ReadAll(resp.Body)
			resp.Body.Close()
			if err != nil {
				t.Fatalf("reading the answer: %v", err)
			}
			r := &reply{status: resp.StatusCode, header: resp.Header, body: body}
			if tt.code != "" {
				r.wantProblem(t, tt.status, tt.code)
			} else if r.status != tt.status {
				t.Errorf("status = %d, want %d (body %.300s)", r.status, tt.status, body)
			}
			if _, err := br.ReadByte(); err != io.EOF {
				t.Errorf("after the answer: %v, want the server to close the connection (EOF)", err)
			}
			if d := time.Since(start); d > 5*time.Second {
				t.Errorf("answered and closed after %v, want at once", d)
			}
		})
	}
	if got := a.stub.Stats().Total - faceCalls; got != 0 {
		t.Errorf("the Face stand-in got %d requests, want none", got)
	}
	if after := a.rows(); !mapsEqual(before, after) {
		t.Errorf("the table changed: %d rows → %d rows", len(before), len(after))
	}
}

// The query is checked as text but never repeated: the host forwards the function key in ?code=.
func TestBadQueryIsNotEchoed(t *testing.T) {
	a := newApp(t, nil)
	r := a.do("POST", "/api/sessions?code="+url.QueryEscape(a.functionKey)+"&x=%FF", []byte(`{}`), nil)
	r.wantProblem(t, http.StatusBadRequest, "invalid_request")
}

// A client that hangs up mid-body is logged as gone (WARN, clientGone), not as the author of a
// bad request; a chunked request, which the app itself answers without its body, is not.
func TestAClientThatHangsUpMidBodyIsLoggedAsGone(t *testing.T) {
	a := newApp(t, nil)
	// The handler alone on a real server: the tests' contract middleware buffers request bodies.
	hs := httptest.NewServer(a.srv.Handler())
	defer hs.Close()
	host := strings.TrimPrefix(hs.URL, "http://")
	send := func(path, head string, then func(net.Conn)) string {
		inv := uuid.NewString()
		conn, err := net.Dial("tcp", host)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		conn.SetDeadline(time.Now().Add(10 * time.Second))
		fmt.Fprintf(conn, "POST %s HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\n"+
			"X-Azure-Functions-InvocationId: %s\r\n%s\r\n", path, host, inv, head)
		then(conn)
		return inv
	}
	lineOf := func(inv string) logLine {
		for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
			if lines := a.linesOf(t, inv); len(lines) == 1 {
				return lines[0]
			}
		}
		t.Fatalf("no request line for invocation %s", inv)
		return nil
	}

	gone := lineOf(send("/api/sessions", "Content-Length: 100\r\n", func(c net.Conn) {
		io.WriteString(c, `{"externalRef`)
		c.(*net.TCPConn).CloseWrite() // and then nothing: the client is gone
		io.Copy(io.Discard, c)
	}))
	if gone["level"] != "WARN" || gone["clientGone"] != true {
		t.Errorf("hang-up mid-body logged as %v, want WARN with clientGone", gone)
	}

	for _, path := range []string{"/api/sessions", "/Reconcile"} {
		chunked := lineOf(send(path, "Transfer-Encoding: chunked\r\n", func(c net.Conn) { io.Copy(io.Discard, c) }))
		if _, ok := chunked["clientGone"]; ok {
			t.Errorf("chunked POST %s logged as %v, want no clientGone: the app cut it short itself", path, chunked)
		}
	}
}

// A query the app does not read is the client's business as long as it is UTF-8 text: a ";"
// (which url.ParseQuery refuses) is no reason to refuse a request.
func TestASemicolonInTheQueryIsAccepted(t *testing.T) {
	a := newApp(t, nil)
	v := a.start(`{"externalReference":"semicolon"}`)
	for _, path := range []string{"/api/health?a=1;b=2", "/api/sessions/" + v.SessionID + "?a=1;b=2&code=x;y"} {
		if r := a.do("GET", path, nil, nil); r.status != http.StatusOK {
			t.Errorf("GET %s = %d %s, want 200", path, r.status, r.body)
		}
	}
}
