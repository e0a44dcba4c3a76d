package quicklinkstub

import (
	"net/url"
	"strings"
	"testing"
)

func TestWithParams(t *testing.T) {
	p := [][2]string{{"sessionId", "a b"}, {"result", "realface"}, {"timestamp", "1"}}
	for _, tc := range []struct{ in, want string }{
		{"http://h/cb", "http://h/cb?sessionId=a+b&result=realface&timestamp=1"},
		{"http://h/cb?exp=1&sig=x", "http://h/cb?exp=1&sig=x&sessionId=a+b&result=realface&timestamp=1"},
		{"http://h/cb?", "http://h/cb?sessionId=a+b&result=realface&timestamp=1"},
		{"http://h/cb?a=1&", "http://h/cb?a=1&sessionId=a+b&result=realface&timestamp=1"},
		{"http://h/cb?a=1#frag?x", "http://h/cb?a=1&sessionId=a+b&result=realface&timestamp=1#frag?x"},
	} {
		if got := withParams(tc.in, p); got != tc.want {
			t.Errorf("withParams(%q) = %q, want %q", tc.in, got, tc.want)
		}
		if got := withParams(tc.in, nil); got != tc.in {
			t.Errorf("withParams(%q, none) = %q, want it unchanged", tc.in, got)
		}
	}
}

// FuzzCallbackURL checks the hand-written callbackUrl rule and parameter appending: an accepted URL
// is absolute http(s), and appending keeps every byte of it, its scheme and host, and its query.
func FuzzCallbackURL(f *testing.F) {
	for _, s := range []string{"http://127.0.0.1:7071/api/callback/x?exp=1&sig=a%2Bb", "javascript:alert(1)",
		"//evil/x", "https://h/p?q#f", "http://h?", "HTTP://H/", "http://[::1]:80/a(b)'", "http://h/%zz"} {
		f.Add(s, "realface")
	}
	f.Fuzz(func(t *testing.T, cb, result string) {
		if checkCallbackURL(cb) != nil {
			return
		}
		u, err := url.Parse(cb)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			t.Fatalf("accepted %q: %+v, %v", cb, u, err)
		}
		out := withParams(cb, [][2]string{{"sessionId", "s"}, {"result", result}, {"timestamp", "1"}})
		base, _, _ := strings.Cut(cb, "#")
		if !strings.HasPrefix(out, base) {
			t.Fatalf("withParams(%q) = %q, lost the URL's bytes", cb, out)
		}
		v, err := url.Parse(out)
		if err != nil || v.Scheme != u.Scheme || v.Host != u.Host || v.Fragment != u.Fragment {
			t.Fatalf("withParams(%q) = %q (%+v, %v): scheme, host or fragment changed", cb, out, v, err)
		}
		if !strings.HasPrefix(v.RawQuery, u.RawQuery) {
			t.Fatalf("withParams(%q) = %q: query %q does not keep %q", cb, out, v.RawQuery, u.RawQuery)
		}
		if got := v.Query().Get("result"); got != result && !strings.Contains(u.RawQuery, "result=") {
			t.Fatalf("withParams(%q, result %q): result read back as %q", cb, result, got)
		}
	})
}
