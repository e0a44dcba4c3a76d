package callbackurl_test

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/liveness-quicklink/functions/internal/callbackurl"
)

const (
	sessionA = "3fa85f64-5717-4562-b3fc-2c963f66afa6"
	sessionB = "0b4c2d1e-9f8a-4b7c-8d6e-5f4a3b2c1d0e"
)

var (
	now  = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	exp  = now.Add(10 * time.Minute)
	base = mustParse("https://fn.example.com")

	keyOld     = key(1) // the first key before the rotation, second after it
	keyNew     = key(2) // put first by the rotation
	keyRemoved = key(3) // was in the list once, is no more
)

// key returns a 32-byte key whose bytes all differ from another seed's.
func key(seed byte) []byte {
	k := make([]byte, callbackurl.MinKeyBytes)
	for i := range k {
		k[i] = seed*37 + byte(i)*11
	}
	return k
}

func mustParse(raw string) *url.URL {
	u, err := url.Parse(raw)
	if err != nil {
		panic(err)
	}
	return u
}

func signer(t testing.TB, keys ...[]byte) *callbackurl.Signer {
	t.Helper()
	s, err := callbackurl.NewSigner(keys)
	if err != nil {
		t.Fatalf("NewSigner: %v", err)
	}
	return s
}

// query returns the parsed query of a URL that s signs for (id, e).
func query(t testing.TB, s *callbackurl.Signer, id string, e time.Time) url.Values {
	t.Helper()
	return mustParse(s.URL(base, id, e)).Query()
}

// with returns q with name's values replaced (none when vals is empty).
func with(q url.Values, name string, vals ...string) url.Values {
	out := url.Values{}
	for k, v := range q {
		out[k] = append([]string(nil), v...)
	}
	delete(out, name)
	if len(vals) > 0 {
		out[name] = vals
	}
	return out
}

// flipLast changes the last character of a base64url signature to another that still decodes.
func flipLast(sig string, bitmask int) string {
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
	i := strings.IndexByte(alphabet, sig[len(sig)-1])
	return sig[:len(sig)-1] + string(alphabet[i^bitmask])
}

// TestKnownAnswer pins the wire format: links in flight must keep verifying across deployments.
// The expected signature was computed independently (Python's hmac over the documented message:
// domain || uint64be(len(id)) || id || int64be(exp)).
func TestKnownAnswer(t *testing.T) {
	k := make([]byte, 32)
	for i := range k {
		k[i] = byte(i)
	}
	s := signer(t, k)
	got := s.URL(base, sessionA, time.Unix(1767225600, 0))
	want := "https://fn.example.com/api/callback/" + sessionA + "?exp=1767225600&sig=EsNb5VdQqa85IBdVSY_D1yVac_d6eCBJumJIhIoM0q8"
	if got != want {
		t.Errorf("URL = %q, want %q", got, want)
	}
}

func TestVerify(t *testing.T) {
	current := signer(t, keyNew, keyOld)
	valid := query(t, current, sessionA, exp)
	sig := valid.Get("sig")
	e := valid.Get("exp")
	byOld := query(t, signer(t, keyOld), sessionA, exp)
	forged := base64.RawURLEncoding.EncodeToString(bytes.Repeat([]byte{0x5a}, 32))

	cases := []struct {
		name   string
		id     string
		q      url.Values
		reason string // "" when the query verifies
	}{
		{"signed by the first key", sessionA, valid, ""},
		{"signed by a later key (rotation)", sessionA, byOld, ""},
		{"extra parameters ignored", sessionA, with(with(valid, "s", "abc"), "callbackUrl", "x", "y"), ""},
		{"one second before exp", sessionA, query(t, current, sessionA, now.Add(time.Second)), ""},

		{"forged signature", sessionA, with(valid, "sig", forged), "no key matches"},
		{"signature with one bit changed", sessionA, with(valid, "sig", flipLast(sig, 4)), "no key matches"},
		{"another session's signature", sessionB, valid, "no key matches"},
		{"same session id in upper case", strings.ToUpper(sessionA), valid, "no key matches"},
		{"signature by a removed key", sessionA, query(t, signer(t, keyRemoved), sessionA, exp), "no key matches"},
		{"tampered exp (later)", sessionA, with(valid, "exp", strconv.FormatInt(exp.Unix()+1, 10)), "no key matches"},
		{"tampered exp (earlier)", sessionA, with(valid, "exp", strconv.FormatInt(exp.Unix()-1, 10)), "no key matches"},
		{"expired exp", sessionA, query(t, current, sessionA, now.Add(-time.Second)), "expired"},
		{"exp equal to now", sessionA, query(t, current, sessionA, now), "expired"},

		{"empty query", sessionA, url.Values{}, "exp missing"},
		{"missing exp", sessionA, with(valid, "exp"), "exp missing"},
		{"missing sig", sessionA, with(valid, "sig"), "sig missing"},
		{"repeated sig, both valid", sessionA, with(valid, "sig", sig, sig), "sig repeated"},
		{"repeated sig, valid and forged", sessionA, with(valid, "sig", forged, sig), "sig repeated"},
		{"repeated exp", sessionA, with(valid, "exp", e, e), "exp repeated"},

		{"empty exp", sessionA, with(valid, "exp", ""), "exp malformed"},
		{"exp not a number", sessionA, with(valid, "exp", "soon"), "exp malformed"},
		{"exp with a leading zero", sessionA, with(valid, "exp", "0"+e), "exp malformed"},
		{"exp with a plus sign", sessionA, with(valid, "exp", "+"+e), "exp malformed"},
		{"exp with a space", sessionA, with(valid, "exp", " "+e), "exp malformed"},
		{"exp negative", sessionA, with(valid, "exp", "-1"), "exp malformed"},
		{"exp zero", sessionA, with(valid, "exp", "0"), "exp malformed"},
		{"exp in exponent form", sessionA, with(valid, "exp", "1e10"), "exp malformed"},
		{"exp past int64", sessionA, with(valid, "exp", "9223372036854775808"), "exp malformed"},

		{"empty sig", sessionA, with(valid, "sig", ""), "sig has the wrong length"},
		{"sig one character short", sessionA, with(valid, "sig", sig[:42]), "sig has the wrong length"},
		{"sig one character long", sessionA, with(valid, "sig", sig+"A"), "sig has the wrong length"},
		{"sig with padding", sessionA, with(valid, "sig", sig+"="), "sig has the wrong length"},
		{"sig in standard base64", sessionA, with(valid, "sig", "+/"+sig[2:]), "sig is not base64url"},
		{"sig with non-zero padding bits", sessionA, with(valid, "sig", flipLast(sig, 1)), "sig is not base64url"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := current.Verify(c.id, c.q, now)
			if c.reason == "" {
				if err != nil {
					t.Fatalf("Verify = %v, want nil", err)
				}
				return
			}
			if !errors.Is(err, callbackurl.ErrInvalidSignature) {
				t.Fatalf("Verify = %v, want an error wrapping ErrInvalidSignature", err)
			}
			if want := "invalid callback signature: " + c.reason; err.Error() != want {
				t.Errorf("Verify error = %q, want %q", err, want)
			}
		})
	}
}

// TestKeyRotation plays a rotation: old alone, then new put first, then old removed.
func TestKeyRotation(t *testing.T) {
	before := signer(t, keyOld)
	during := signer(t, keyNew, keyOld)
	after := signer(t, keyNew)

	inFlight := query(t, before, sessionA, exp)
	issuedDuring := query(t, during, sessionA, exp)

	cases := []struct {
		name   string
		s      *callbackurl.Signer
		q      url.Values
		wantOK bool
	}{
		{"old link, old list", before, inFlight, true},
		{"old link, new key put first", during, inFlight, true},
		{"old link, old key removed", after, inFlight, false},
		{"link issued during rotation, new list", during, issuedDuring, true},
		{"link issued during rotation is signed by the new key", after, issuedDuring, true},
		{"link issued during rotation, old key only", before, issuedDuring, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := c.s.Verify(sessionA, c.q, now)
			if (err == nil) != c.wantOK {
				t.Errorf("Verify = %v, want ok=%v", err, c.wantOK)
			}
		})
	}
}

// TestMessageEncoding: pairs whose naive concatenations (id+exp, id+"|"+exp) coincide sign
// differently, and one's signature does not verify for the other.
func TestMessageEncoding(t *testing.T) {
	s := signer(t, keyNew)
	pairs := []struct {
		id1 string
		e1  int64
		id2 string
		e2  int64
	}{
		{"s1", 1767225623, "s17", 67225623},
		{"s|1", 1767225600, "s", 11767225600},
		{"", 1767225600, "1", 767225600},
	}
	for _, p := range pairs {
		q1 := query(t, s, p.id1, time.Unix(p.e1, 0))
		q2 := query(t, s, p.id2, time.Unix(p.e2, 0))
		if q1.Get("sig") == q2.Get("sig") {
			t.Errorf("(%q, %d) and (%q, %d) share a signature", p.id1, p.e1, p.id2, p.e2)
		}
		if err := s.Verify(p.id2, with(q2, "sig", q1.Get("sig")), time.Unix(0, 0)); err == nil {
			t.Errorf("signature of (%q, %d) verifies for (%q, %d)", p.id1, p.e1, p.id2, p.e2)
		}
	}
}

func TestNewSigner(t *testing.T) {
	cases := []struct {
		name    string
		keys    [][]byte
		wantErr string
	}{
		{"nil", nil, "callbackurl: no signing key"},
		{"empty", [][]byte{}, "callbackurl: no signing key"},
		{"short second key", [][]byte{keyNew, keyOld[:31]}, "callbackurl: signing key 2 is shorter than 32 bytes"},
		{"empty key", [][]byte{{}}, "callbackurl: signing key 1 is shorter than 32 bytes"},
		{"32 bytes", [][]byte{keyNew}, ""},
		{"longer keys", [][]byte{append(key(4), key(5)...), keyOld}, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s, err := callbackurl.NewSigner(c.keys)
			got := ""
			if err != nil {
				got = err.Error()
			}
			if got != c.wantErr {
				t.Errorf("NewSigner error = %q, want %q", got, c.wantErr)
			}
			if (s == nil) == (c.wantErr == "") {
				t.Errorf("NewSigner signer = %v, want non-nil exactly when there is no error", s)
			}
		})
	}
}

// TestNewSignerCopiesKeys: the caller reusing its slices later changes nothing.
func TestNewSignerCopiesKeys(t *testing.T) {
	k := append([]byte(nil), keyNew...)
	s := signer(t, k)
	want := s.URL(base, sessionA, exp)
	k[0] ^= 0xff
	if got := s.URL(base, sessionA, exp); got != want {
		t.Errorf("URL after the caller changed its key = %q, want %q", got, want)
	}
}

func TestURL(t *testing.T) {
	s := signer(t, keyNew)
	cases := []struct {
		name, base, id string
		exp            time.Time
		wantPrefix     string // everything before "&sig="
	}{
		{"plain", "https://fn.example.com", sessionA, exp,
			"https://fn.example.com/api/callback/" + sessionA + "?exp=" + strconv.FormatInt(exp.Unix(), 10)},
		{"base with a trailing slash", "https://fn.example.com/", sessionA, exp,
			"https://fn.example.com/api/callback/" + sessionA + "?exp=" + strconv.FormatInt(exp.Unix(), 10)},
		{"base with a path prefix", "https://example.com/live/", sessionA, exp,
			"https://example.com/live/api/callback/" + sessionA + "?exp=" + strconv.FormatInt(exp.Unix(), 10)},
		{"loopback base with a port", "http://127.0.0.1:7071", sessionA, exp,
			"http://127.0.0.1:7071/api/callback/" + sessionA + "?exp=" + strconv.FormatInt(exp.Unix(), 10)},
		{"exp truncated to seconds", "https://fn.example.com", sessionA, exp.Add(999 * time.Millisecond),
			"https://fn.example.com/api/callback/" + sessionA + "?exp=" + strconv.FormatInt(exp.Unix(), 10)},
		{"id escaped as one segment", "https://fn.example.com", "a/b c?d#e&f%", exp,
			"https://fn.example.com/api/callback/a%2Fb%20c%3Fd%23e&f%25?exp=" + strconv.FormatInt(exp.Unix(), 10)},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := s.URL(mustParse(c.base), c.id, c.exp)
			prefix, sig, ok := strings.Cut(got, "&sig=")
			if !ok {
				t.Fatalf("URL = %q, want an &sig= parameter", got)
			}
			if prefix != c.wantPrefix {
				t.Errorf("URL before &sig= = %q, want %q", prefix, c.wantPrefix)
			}
			if len(sig) != 43 || strings.ContainsAny(sig, "+/=%") {
				t.Errorf("sig = %q, want 43 characters of base64url without padding", sig)
			}
		})
	}
}

// TestURLMatchesCallbackRoute follows URLs over HTTP to a mux with the Callback route of design §3
// and checks that {sessionId} decodes to the signed id, the query holds exactly exp and sig, and
// the request verifies.
func TestURLMatchesCallbackRoute(t *testing.T) {
	s := signer(t, keyNew, keyOld)
	type seen struct {
		ID   string
		Keys []string
		Err  string
	}
	var got seen
	mux := http.NewServeMux()
	mux.HandleFunc("/api/callback/{sessionId}", func(w http.ResponseWriter, r *http.Request) {
		got = seen{ID: r.PathValue("sessionId")}
		for k := range r.URL.Query() {
			got.Keys = append(got.Keys, k)
		}
		if err := s.Verify(got.ID, r.URL.Query(), now); err != nil {
			got.Err = err.Error()
		}
	})
	srv := httptest.NewServer(mux)
	defer srv.Close()

	for _, id := range []string{sessionA, "a/b", "a b", "ü", "%2F", "?#&=+", "x;y"} {
		for _, method := range []string{http.MethodGet, http.MethodHead, http.MethodPost} {
			got = seen{}
			req, err := http.NewRequest(method, s.URL(mustParse(srv.URL), id, exp), nil)
			if err != nil {
				t.Fatalf("%s %q: %v", method, id, err)
			}
			resp, err := srv.Client().Do(req)
			if err != nil {
				t.Fatalf("%s %q: %v", method, id, err)
			}
			resp.Body.Close()
			want := seen{ID: id, Keys: []string{"exp", "sig"}}
			slices.Sort(got.Keys)
			if resp.StatusCode != http.StatusOK {
				t.Errorf("%s %q: status %d, want 200 (the route matched without a redirect)", method, id, resp.StatusCode)
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("%s %q: the route saw (-want +got):\n%s", method, id, diff)
			}
		}
	}
}

// TestNoSecretsInOutput: neither errors nor any printed form of a Signer hold a key or a signature.
func TestNoSecretsInOutput(t *testing.T) {
	keys := [][]byte{keyNew, keyOld}
	s := signer(t, keys...)
	valid := query(t, s, sessionA, exp)
	sig := valid.Get("sig")

	var secrets []string
	for _, k := range append(keys, keyRemoved) {
		list := fmt.Sprint(k)
		secrets = append(secrets, string(k), hex.EncodeToString(k), fmt.Sprintf("%X", k), list[1:len(list)-1],
			base64.StdEncoding.EncodeToString(k), base64.RawURLEncoding.EncodeToString(k))
	}
	secrets = append(secrets, sig, sig[:20])

	var out []string
	for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%d", "%x", "%X", "%q"} {
		out = append(out, fmt.Sprintf(verb, s), fmt.Sprintf(verb, *s), fmt.Sprintf(verb, []*callbackurl.Signer{s}))
	}
	var logs bytes.Buffer
	log := slog.New(slog.NewJSONHandler(&logs, nil))
	log.Info("signer", slog.Any("signer", s), slog.Any("value", *s))
	log.Info("text", "signer", s)
	out = append(out, logs.String())

	removed := query(t, signer(t, keyRemoved), sessionA, exp)
	for _, q := range []url.Values{
		with(valid, "sig", sig, sig), with(valid, "exp", "x"+sig), with(valid, "sig", sig+"A"),
		with(valid, "sig", "+"+sig[1:]), removed, valid,
	} {
		if err := s.Verify(sessionB, q, now); err != nil {
			out = append(out, err.Error(), fmt.Sprintf("%+v", err))
		}
	}
	if _, err := callbackurl.NewSigner([][]byte{keyNew, keyOld[:31]}); err != nil {
		out = append(out, err.Error())
	}

	for _, o := range out {
		for _, secret := range secrets {
			if strings.Contains(o, secret) {
				t.Errorf("output %q holds a key or signature", o)
			}
		}
	}
	if got, want := fmt.Sprint(s), "callbackurl.Signer{keys: 2}"; got != want {
		t.Errorf("fmt.Sprint(signer) = %q, want %q", got, want)
	}
}

// FuzzVerify: arbitrary session ids and raw query strings never panic, every refusal wraps
// ErrInvalidSignature, and a query verifies only when it carries exactly one exp and one sig that
// one of the keys wrote for this id, unexpired.
func FuzzVerify(f *testing.F) {
	keys := [][]byte{keyNew, keyOld}
	s := signer(f, keys...)
	perKey := []*callbackurl.Signer{signer(f, keyNew), signer(f, keyOld)}

	for _, id := range []string{sessionA, sessionB, "", "a/b"} {
		for _, sg := range []*callbackurl.Signer{s, perKey[1], signer(f, keyRemoved)} {
			raw := mustParse(sg.URL(base, id, exp)).RawQuery
			f.Add(id, raw)
			f.Add(id, raw+"&s=x&callbackUrl=y")
			f.Add(id, raw+"&"+raw)
		}
	}
	f.Add(sessionA, "exp=1767226200&sig=")
	f.Add(sessionA, "exp=0&sig=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA")

	f.Fuzz(func(t *testing.T, id, rawQuery string) {
		q, _ := url.ParseQuery(rawQuery) // as r.URL.Query() does: malformed pairs dropped
		err := s.Verify(id, q, now)
		if err != nil {
			if !errors.Is(err, callbackurl.ErrInvalidSignature) {
				t.Fatalf("Verify = %v, want an error wrapping ErrInvalidSignature", err)
			}
			return
		}
		if len(q["exp"]) != 1 || len(q["sig"]) != 1 {
			t.Fatalf("Verify accepted exp %d times and sig %d times", len(q["exp"]), len(q["sig"]))
		}
		e, perr := strconv.ParseInt(q.Get("exp"), 10, 64)
		if perr != nil || !now.Before(time.Unix(e, 0)) {
			t.Fatalf("Verify accepted exp %q at %v", q.Get("exp"), now)
		}
		for _, one := range perKey {
			want := query(t, one, id, time.Unix(e, 0))
			if want.Get("exp") == q.Get("exp") && want.Get("sig") == q.Get("sig") {
				return
			}
		}
		t.Fatalf("Verify accepted (%q, %q), which no key signed", id, rawQuery)
	})
}

func BenchmarkURL(b *testing.B) {
	s := signer(b, keyNew, keyOld)
	for b.Loop() {
		_ = s.URL(base, sessionA, exp)
	}
}

func BenchmarkVerify(b *testing.B) {
	s := signer(b, keyNew, keyOld)
	q := query(b, s, sessionA, exp)
	for b.Loop() {
		if err := s.Verify(sessionA, q, now); err != nil {
			b.Fatal(err)
		}
	}
}
