package handlers

import (
	"bytes"
	"compress/gzip"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/liveness-quicklink/functions/internal/liveness"
	"github.com/liveness-quicklink/functions/internal/standin/facestub"
)

// hostileCase is one hostile request of TestHostileInput: what it is sent as, and the answer it
// must get. Every case must also leave the table as it was and call no upstream service.
type hostileCase struct {
	endpoint string // StartSession, GetSession, CancelSession, IssueLink, Callback, Health, Reconcile
	name     string
	method   string
	path     string // escaped, with its query
	body     []byte // nil: none
	header   map[string]string
	lines    [][2]string // header lines added as they are, for repeated headers
	status   int
	// code is the problem code of a problem+json answer; "" for an answer that is not a problem
	// (a HEAD, a redirect, the timer's envelope), which then only needs status.
	code string
	// check, when set, looks further at an answer that is not a problem.
	check func(t *testing.T, r *reply)
}

// hostileFixture holds the sessions the hostile cases point at: open (created, with a returnUrl),
// linked (its link issued) and final (completed through its callback).
type hostileFixture struct {
	open, linked, final string
	returnURL           string
}

// nested is n arrays inside one another: encoding/json stops at 10000 levels.
func nested(n int) string { return strings.Repeat("[", n) + strings.Repeat("]", n) }

// gzipOf is data compressed with gzip.
func gzipOf(t *testing.T, data []byte) []byte {
	t.Helper()
	var b bytes.Buffer
	w := gzip.NewWriter(&b)
	if _, err := w.Write(data); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// withQuery is path with the query of a signed callback link, changed by set (nil: as signed).
func withQuery(link string, set func(q url.Values)) string {
	u, _ := url.Parse(link)
	q := u.Query()
	if set != nil {
		set(q)
	}
	return u.Path + "?" + q.Encode()
}

func hostileCases(t *testing.T, a *app, fx hostileFixture) []hostileCase {
	const guid = "3f1e5a4c-8d2b-4c6e-9a7f-0b1c2d3e4f50"
	// A gzip bomb: 16 MB of zeros in about 16 KB, far beyond the body limit once inflated.
	bomb := gzipOf(t, make([]byte, 16<<20))
	gz := map[string]string{"Content-Encoding": "gzip"}
	bad := func(endpoint, name, method, path string, body []byte, header map[string]string) hostileCase {
		return hostileCase{endpoint: endpoint, name: name, method: method, path: path, body: body, header: header,
			status: http.StatusBadRequest, code: "invalid_request"}
	}
	unsupported := func(c hostileCase) hostileCase {
		c.status, c.code = http.StatusUnsupportedMediaType, "unsupported_media_type"
		return c
	}
	notFound := func(endpoint, name, method, path string) hostileCase {
		return hostileCase{endpoint: endpoint, name: name, method: method, path: path, status: http.StatusNotFound, code: "not_found"}
	}
	start := func(name, body string) hostileCase {
		return bad("StartSession", name, "POST", "/api/sessions", []byte(body), nil)
	}
	link := func(name, body string) hostileCase {
		return bad("IssueLink", name, "POST", "/api/sessions/"+fx.open+"/link", []byte(body), nil)
	}

	// Ids in every position they take: OData injection, path tricks, lookalikes, length.
	cyrillic := strings.Replace(guid, "e", "\u0435", 1) // CYRILLIC SMALL LETTER IE
	hostileIDs := []struct{ name, id string }{
		{"OData quote escaped", "%27"},
		{"OData or-clause", url.PathEscape(guid + "' or PartitionKey ne '")},
		{"slash escaped", guid + "%2F.."},
		{"dot-dot escaped", "%2E%2E"},
		{"NUL", guid + "%00"},
		{"Cyrillic lookalike", url.PathEscape(cyrillic)},
		{"fullwidth digit", url.PathEscape(strings.Replace(guid, "3", "\uff13", 1))},
		{"Unicode hyphen", url.PathEscape(strings.ReplaceAll(guid, "-", "\u2010"))},
		{"64 KB long", strings.Repeat("a", 64<<10)},
		{"not UTF-8", "%C0%AF"},
	}

	cases := []hostileCase{
		// StartSession: structure, numbers, keys, bytes.
		start("deep nesting in a field", `{"externalReference":`+nested(20000)+`}`),
		start("deep nesting in an unknown field", `{"x":`+nested(20000)+`}`),
		start("deep nesting as the body", nested(100000)),
		start("ttlSeconds 1e400", `{"ttlSeconds":1e400}`),
		start("ttlSeconds 2^64", `{"ttlSeconds":18446744073709551616}`),
		start("ttlSeconds below int64", `{"ttlSeconds":-9223372036854775809}`),
		start("ttlSeconds 6e2", `{"ttlSeconds":6e2}`),
		start("ttlSeconds 600.0", `{"ttlSeconds":600.0}`),
		start("duplicate key, same value", `{"externalReference":"a","externalReference":"a"}`),
		start("duplicate key, other value", `{"kind":"liveness","kind":"livenessWithVerify"}`),
		start("case-variant key", `{"ExternalReference":"a"}`),
		start("case-variant key beside the key", `{"kind":"liveness","KIND":"liveness"}`),
		start("key with a Kelvin sign", `{"\u212aind":"liveness"}`), // encoding/json would fold it to "kind"
		start("NUL after the object", "{}\x00"),
		start("NUL as the body", "\x00"),
		start("NUL escaped in returnUrl", `{"returnUrl":"https://app.example.com/\u0000"}`),
		start("byte order mark", "\xef\xbb\xbf{}"),
		start("overlong UTF-8 encoding", "{\"externalReference\":\"\xc0\xaf\"}"),
		start("UTF-8 encoded surrogate", "{\"externalReference\":\"\xed\xa0\x80\"}"),
		start("CRLF in externalReference", `{"externalReference":"order\r\nlevel=ERROR"}`),
		start("CRLF in returnUrl", `{"returnUrl":"https://app.example.com/done\r\nSet-Cookie: a=b"}`),
		start("CRLF in returnUrl's query", `{"returnUrl":"https://app.example.com/done?x=\r\n"}`),
		start("returnUrl with a lookalike host", `{"returnUrl":"https://\u0430pp.example.com/done"}`),
		start("returnUrl with a backslash", `{"returnUrl":"https://app.example.com\\@evil.example/"}`),
		start("returnUrl on a suffix host", `{"returnUrl":"https://app.example.com.evil.example/"}`),
		start("returnUrl with the allowed host in the fragment", `{"returnUrl":"https://evil.example#@app.example.com/"}`),
		start("returnUrl over 2048 characters", `{"returnUrl":"https://app.example.com/`+strings.Repeat("a", 2048)+`"}`),
		bad("StartSession", "form body declared as JSON", "POST", "/api/sessions", []byte("kind=liveness"), nil),
		bad("StartSession", "Latin-1 body declared UTF-8", "POST", "/api/sessions",
			[]byte("{\"externalReference\":\"M\xfcller\"}"), map[string]string{"Content-Type": "application/json; charset=utf-8"}),
		unsupported(bad("StartSession", "multipart body", "POST", "/api/sessions", []byte("--x\r\n\r\n{}\r\n--x--"),
			map[string]string{"Content-Type": "multipart/form-data; boundary=x"})),
		unsupported(bad("StartSession", "application/jsonp", "POST", "/api/sessions", []byte(`{}`), map[string]string{"Content-Type": "application/jsonp"})),
		unsupported(bad("StartSession", "text/json", "POST", "/api/sessions", []byte(`{}`), map[string]string{"Content-Type": "text/json"})),
		unsupported(bad("StartSession", "charset twice", "POST", "/api/sessions", []byte(`{}`),
			map[string]string{"Content-Type": "application/json; charset=utf-8; charset=latin1"})),
		unsupported(bad("StartSession", "charset UTF-16 in capitals", "POST", "/api/sessions", []byte(`{}`),
			map[string]string{"Content-Type": "APPLICATION/JSON; CHARSET=UTF-16"})),
		unsupported(bad("StartSession", "gzip bomb", "POST", "/api/sessions", bomb, gz)),
		unsupported(bad("StartSession", "gzip declared, plain JSON sent", "POST", "/api/sessions", []byte(`{"externalReference":"gz"}`), gz)),
		unsupported(bad("StartSession", "deflate declared, plain JSON sent", "POST", "/api/sessions", []byte(`{}`),
			map[string]string{"Content-Encoding": "deflate"})),
		unsupported(hostileCase{endpoint: "StartSession", name: "gzip declared twice, empty body", method: "POST", path: "/api/sessions",
			lines: [][2]string{{"Content-Encoding", "gzip"}, {"Content-Encoding", "gzip"}}}),
		bad("StartSession", "Idempotency-Key of 64 KB", "POST", "/api/sessions", []byte(`{}`),
			map[string]string{"Idempotency-Key": strings.Repeat("k", 64<<10)}),
		unsupported(bad("StartSession", "Content-Type with a charset of 16 KB", "POST", "/api/sessions", []byte(`{}`),
			map[string]string{"Content-Type": "application/json; charset=" + strings.Repeat("y", 16<<10)})),
		bad("StartSession", "case and trailing slash, duplicate key", "POST", "/API/SESSIONS/", []byte(`{"kind":"liveness","kind":"liveness"}`), nil),
		notFound("StartSession", "PUT", "PUT", "/api/sessions"),
		notFound("StartSession", "PATCH", "PATCH", "/api/sessions"),
		notFound("StartSession", "GET lists nothing", "GET", "/api/sessions"),

		// GetSession and CancelSession: method confusion and path tricks (the ids follow).
		notFound("GetSession", "PUT on a session", "PUT", "/api/sessions/"+fx.open),
		notFound("GetSession", "POST on a session", "POST", "/api/sessions/"+fx.open),
		notFound("GetSession", "dot-dot after the id", "GET", "/api/sessions/"+fx.open+"/.."),
		notFound("CancelSession", "dot-dot to Health", "DELETE", "/api/sessions/../health"),
		notFound("CancelSession", "PATCH on a session", "PATCH", "/api/sessions/"+fx.open),
		notFound("CancelSession", "empty segment before the id", "DELETE", "/api/sessions//"+fx.open),

		// IssueLink: its body, its state, its methods (the ids follow).
		link("deep nesting in qr", `{"qr":`+nested(400)+`}`),
		{endpoint: "IssueLink", name: "deep nesting beyond the body limit", method: "POST", path: "/api/sessions/" + fx.open + "/link",
			body: []byte(`{"qr":` + nested(20000) + `}`), status: http.StatusRequestEntityTooLarge, code: "payload_too_large"},
		link("qr twice", `{"qr":"svg","qr":"png"}`),
		link("qr key in another case", `{"QR":"svg"}`),
		link("qr value in another case", `{"qr":"SVG"}`),
		link("qr a number", `{"qr":1e400}`),
		link("qr with CRLF", `{"qr":"svg\r\n"}`),
		link("an array", `[{"qr":"svg"}]`),
		link("NUL after the object", "{}\x00"),
		link("not UTF-8", "{\"qr\":\"sv\xff\"}"),
		{endpoint: "IssueLink", name: "body over 1 KB", method: "POST", path: "/api/sessions/" + fx.open + "/link",
			body: []byte(`{"qr":"svg"` + strings.Repeat(" ", 1<<10) + `}`), status: http.StatusRequestEntityTooLarge, code: "payload_too_large"},
		// Refused for its length before its coding: neither is read.
		{endpoint: "IssueLink", name: "gzip bomb", method: "POST", path: "/api/sessions/" + fx.open + "/link", body: bomb, header: gz,
			status: http.StatusRequestEntityTooLarge, code: "payload_too_large"},
		unsupported(bad("IssueLink", "gzip declared, empty body", "POST", "/api/sessions/"+fx.open+"/link", nil, gz)),
		unsupported(bad("IssueLink", "gzip declared, plain JSON sent", "POST", "/api/sessions/"+fx.open+"/link", []byte(`{"qr":"svg"}`), gz)),
		unsupported(bad("IssueLink", "charset Latin-1", "POST", "/api/sessions/"+fx.open+"/link", []byte(`{}`),
			map[string]string{"Content-Type": "application/json; charset=latin1"})),
		{endpoint: "IssueLink", name: "on a final session", method: "POST", path: "/api/sessions/" + fx.final + "/link",
			status: http.StatusConflict, code: "session_finalized"},
		{endpoint: "IssueLink", name: "a second time", method: "POST", path: "/api/sessions/" + fx.linked + "/link",
			status: http.StatusConflict, code: "link_already_issued"},
		{endpoint: "IssueLink", name: "a second time, in capitals with a trailing slash", method: "POST",
			path: "/API/SESSIONS/" + strings.ToUpper(fx.linked) + "/LINK/", status: http.StatusConflict, code: "link_already_issued"},
		notFound("IssueLink", "GET", "GET", "/api/sessions/"+fx.open+"/link"),
		notFound("IssueLink", "DELETE", "DELETE", "/api/sessions/"+fx.open+"/link"),
		notFound("IssueLink", "PUT", "PUT", "/api/sessions/"+fx.open+"/link"),
		notFound("IssueLink", "dot-dot after link", "POST", "/api/sessions/"+fx.open+"/link/.."),

		// Health.
		notFound("Health", "POST", "POST", "/api/health"),
		notFound("Health", "DELETE", "DELETE", "/api/health"),
		notFound("Health", "a segment more", "GET", "/api/health/x"),
		notFound("Health", "NUL after it", "GET", "/api/health%00"),
		notFound("Health", "dot-dot after it", "GET", "/api/health/.."),
		notFound("Health", "escaped slash after it", "GET", "/api/health%2F"),

		// Reconcile, as only the host calls it: a payload it cannot read is logged and the run
		// goes on (nothing is due here), and no other method or spelling reaches it.
		timerRun("payload not JSON", []byte("not json")),
		timerRun("payload deeply nested", []byte(`{"Data":`+nested(20000)+`}`)),
		timerRun("payload over 1 MB", []byte(`{"Data":{"x":"`+strings.Repeat("a", 2<<20)+`"}}`)),
		timerRun("payload not UTF-8", []byte("{\"Data\":{\"x\":\"\xff\"}}")),
		notFound("Reconcile", "GET", "GET", "/Reconcile"),
		notFound("Reconcile", "lower case", "POST", "/reconcile"),
		notFound("Reconcile", "trailing slash", "POST", "/Reconcile/"),
		notFound("Reconcile", "under the route prefix", "POST", "/api/Reconcile"),
	}
	for _, id := range hostileIDs {
		cases = append(cases,
			bad("GetSession", "id "+id.name, "GET", "/api/sessions/"+id.id, nil, nil),
			bad("CancelSession", "id "+id.name, "DELETE", "/api/sessions/"+id.id, nil, nil),
			bad("IssueLink", "id "+id.name, "POST", "/api/sessions/"+id.id+"/link", nil, nil))
	}
	return append(cases, callbackCases(t, a, fx, hostileIDs, bomb)...)
}

// timerRun is a timer invocation with payload, which must succeed and change nothing.
func timerRun(name string, payload []byte) hostileCase {
	return hostileCase{endpoint: "Reconcile", name: name, method: "POST", path: "/Reconcile", body: payload, status: http.StatusOK,
		check: func(t *testing.T, r *reply) {
			if !bytes.Contains(r.body, []byte(`"Logs":["reconcile: 0 due, 0 finalized`)) {
				t.Errorf("the run's envelope is %.300s, want a run that found nothing due", r.body)
			}
		}}
}

// callbackCases are the Callback's: signatures tampered with and repeated, hostile ids signed by
// the app's own key, replays after the session is final, and methods the route does not take.
func callbackCases(t *testing.T, a *app, fx hostileFixture, ids []struct{ name, id string }, bomb []byte) []hostileCase {
	valid := a.signedCallback(fx.open)
	u, _ := url.Parse(valid)
	sig, exp := u.Query().Get("sig"), u.Query().Get("exp")
	refused := func(name, path string) hostileCase {
		return hostileCase{endpoint: "Callback", name: name, method: "GET", path: path, status: http.StatusUnauthorized, code: "invalid_signature"}
	}
	set := func(k, v string) func(url.Values) { return func(q url.Values) { q.Set(k, v) } }
	flip := func(s string) string { // each letter in the other case
		return strings.Map(func(r rune) rune {
			switch {
			case 'a' <= r && r <= 'z':
				return r - 32
			case 'A' <= r && r <= 'Z':
				return r + 32
			}
			return r
		}, s)
	}
	later, _ := strconv.ParseInt(exp, 10, 64)
	fu, _ := url.Parse(a.signedCallback(fx.final))
	finalQuery := fu.RawQuery
	cases := []hostileCase{
		refused("exp a year later, same sig", withQuery(valid, set("exp", strconv.FormatInt(later+365*24*3600, 10)))),
		refused("exp beyond int64", withQuery(valid, set("exp", "99999999999999999999999"))),
		refused("exp negative", withQuery(valid, set("exp", "-1"))),
		refused("exp with a plus sign", withQuery(valid, set("exp", "+"+exp))),
		refused("exp with a leading space", withQuery(valid, set("exp", " "+exp))),
		refused("exp with NUL", withQuery(valid, set("exp", exp+"\x00"))),
		refused("sig with padding", withQuery(valid, set("sig", sig+"="))),
		refused("sig in the standard alphabet", withQuery(valid, set("sig", strings.NewReplacer("-", "+", "_", "/").Replace(sig)+"+/"))),
		refused("sig in the other letter case", withQuery(valid, set("sig", flip(sig)))),
		refused("sig twice, comma-joined as the host forwards it", withQuery(valid, set("sig", sig+","+sig))),
		refused("exp twice, comma-joined as the host forwards it", withQuery(valid, set("exp", exp+","+exp))),
		refused("keys in capitals", u.Path+"?SIG="+url.QueryEscape(sig)+"&EXP="+exp),
		{endpoint: "Callback", name: "tampered exp, POST from a back end", method: "POST", path: withQuery(valid, set("exp", exp+"0")),
			header: plainPOST, body: []byte(`{}`), status: http.StatusUnauthorized, code: "invalid_signature"},
		{endpoint: "Callback", name: "tampered exp, HEAD", method: "HEAD", path: withQuery(valid, set("exp", exp+"0")), status: http.StatusUnauthorized},
		{endpoint: "Callback", name: "replay after final, GET", method: "GET", path: a.signedCallback(fx.final), header: browserGET,
			status: http.StatusSeeOther, check: func(t *testing.T, r *reply) {
				r.wantRedirect(t, fx.returnURL, fx.final, liveness.StatusCompleted)
			}},
		{endpoint: "Callback", name: "replay after final, POST from a back end", method: "POST", path: a.signedCallback(fx.final),
			header: plainPOST, body: []byte(`{"status":"failed"}`), status: http.StatusOK, check: func(t *testing.T, r *reply) {
				if v := strictJSON[callbackAnswer](t, r.body); v.Status != liveness.StatusCompleted {
					t.Errorf("replay answered %+v, want the session completed", v)
				}
			}},
		{endpoint: "Callback", name: "replay after final, id in capitals", method: "GET", path: "/API/CALLBACK/" + strings.ToUpper(fx.final) + "/?" + finalQuery,
			header: browserGET, status: http.StatusSeeOther, check: func(t *testing.T, r *reply) {
				r.wantRedirect(t, fx.returnURL, fx.final, liveness.StatusCompleted)
			}},
		{endpoint: "Callback", name: "replay after final, HEAD", method: "HEAD", path: a.signedCallback(fx.final), status: http.StatusOK},
		{endpoint: "Callback", name: "replay after final with a gzip bomb", method: "POST", path: a.signedCallback(fx.final),
			header: map[string]string{"Content-Encoding": "gzip", "Accept": "application/json"}, body: bomb, status: http.StatusOK},
		{endpoint: "Callback", name: "PUT", method: "PUT", path: valid, status: http.StatusNotFound, code: "not_found"},
		{endpoint: "Callback", name: "DELETE", method: "DELETE", path: valid, status: http.StatusNotFound, code: "not_found"},
		{endpoint: "Callback", name: "PATCH", method: "PATCH", path: valid, status: http.StatusNotFound, code: "not_found"},
	}
	// Each hostile id with a signature the app's own key made for it: the id check still refuses it.
	for _, id := range ids {
		raw, err := url.PathUnescape(id.id)
		if err != nil {
			t.Fatal(err)
		}
		link := callbackLink(t, a.srv.settings.Callbacks, raw, a.clock.Now().Add(time.Hour))
		if lu, _ := url.Parse(link); lu != nil {
			link = "/api/callback/" + id.id + "?" + lu.RawQuery
		}
		cases = append(cases, refused("id "+id.name+", signed", link))
	}
	return cases
}

// TestHostileInput sends hostile requests to every route and expects each refused as it should
// be (status, problem code, application/problem+json), with the table unchanged (every row and its
// ETag) and no call to Face or the quick link service. Routing as the host does it is in
// hostcontract's TestHostileInputThroughTheHost.
func TestHostileInput(t *testing.T) {
	a, gate := newLinkApp(t)
	fx := hostileFixture{returnURL: "https://app.example.com/done"}
	fx.open = a.start(`{"returnUrl":"` + fx.returnURL + `"}`).SessionID
	fx.linked = a.start(`{"externalReference":"linked"}`).SessionID
	if r := a.link(fx.linked, nil); r.status != http.StatusCreated {
		t.Fatalf("IssueLink: %d %s", r.status, r.body)
	}
	fx.final = a.start(`{"returnUrl":"` + fx.returnURL + `"}`).SessionID
	if err := a.stub.AddAttempt(fx.final, facestub.Attempt{Decision: "realface"}); err != nil {
		t.Fatal(err)
	}
	a.callback("GET", a.signedCallback(fx.final), browserGET).wantRedirect(t, fx.returnURL, fx.final, liveness.StatusCompleted)

	cases := hostileCases(t, a, fx)
	perEndpoint := map[string]int{}
	for _, tc := range cases {
		perEndpoint[tc.endpoint]++
		t.Run(tc.endpoint+"/"+tc.name, func(t *testing.T) {
			a := a.on(t)
			before, faceCalls, linkCalls := a.rows(), a.stub.Stats().Total, gate.calls.Load()
			req := a.request(tc.method, tc.path, tc.body, tc.header)
			for _, l := range tc.lines {
				req.Header.Add(l[0], l[1])
			}
			r := a.send(req)
			switch {
			case tc.code != "":
				r.wantProblem(t, tc.status, tc.code)
			case r.status != tc.status:
				t.Errorf("status = %d, want %d (body %.300s)", r.status, tc.status, r.body)
			}
			if tc.check != nil {
				tc.check(t, r)
			}
			if got := a.stub.Stats().Total - faceCalls; got != 0 {
				t.Errorf("the Face stand-in got %d requests, want none", got)
			}
			if got := gate.calls.Load() - linkCalls; got != 0 {
				t.Errorf("the quick link stand-in got %d requests, want none", got)
			}
			if after := a.rows(); !mapsEqual(before, after) {
				t.Errorf("the table changed: %v → %v", before, after)
			}
		})
	}
	names := make([]string, 0, len(perEndpoint))
	for e, n := range perEndpoint {
		names = append(names, e+" "+strconv.Itoa(n))
	}
	sort.Strings(names)
	t.Logf("%d hostile cases: %s", len(cases), strings.Join(names, ", "))
	if len(cases) < 60 {
		t.Errorf("%d hostile cases, want at least 60", len(cases))
	}
	for _, e := range []string{"StartSession", "GetSession", "CancelSession", "IssueLink", "Callback", "Health", "Reconcile"} {
		if perEndpoint[e] == 0 {
			t.Errorf("no hostile case for %s", e)
		}
	}
}
