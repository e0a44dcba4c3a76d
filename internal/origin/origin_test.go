package origin

import (
	"strings"
	"testing"
)

func TestNormalize(t *testing.T) {
	cases := []struct {
		in, want string
		ok       bool
	}{
		{"https://App.Example.com", "https://app.example.com", true},
		{"https://app.example.com:443/", "https://app.example.com", true},
		{"https://app.example.com:8443", "https://app.example.com:8443", true},
		{"http://localhost:3000", "http://localhost:3000", true},
		{"http://127.0.0.1", "http://127.0.0.1", true},
		{"http://[::1]:8080", "http://[::1]:8080", true},
		{"http://app.example.com", "", false},
		{"ftp://app.example.com", "", false},
		{"https://user@app.example.com", "", false},
		{"https://app.example.com/path", "", false},
		{"https://app.example.com?q=1", "", false},
		{"app.example.com", "", false},
		{"javascript:alert(1)", "", false},
	}
	for _, c := range cases {
		got, err := Normalize(c.in)
		if (err == nil) != c.ok || got != c.want {
			t.Errorf("Normalize(%q) = %q, %v; want %q, ok=%v", c.in, got, err, c.want, c.ok)
		}
	}
}

func FuzzNormalize(f *testing.F) {
	for _, s := range []string{"https://a.example", "http://localhost:1", "https://u@h", "http://[::1]"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		o, err := Normalize(s)
		if err != nil {
			return
		}
		if !strings.HasPrefix(o, "https://") && !strings.HasPrefix(o, "http://") {
			t.Fatalf("accepted origin %q has another scheme", o)
		}
		again, err := Normalize(o)
		if err != nil || again != o {
			t.Fatalf("normalizing %q is not stable: %q, %v", o, again, err)
		}
	})
}
