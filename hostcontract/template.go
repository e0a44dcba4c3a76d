package hostcontract

import (
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"strings"
	"unicode/utf8"
)

// Template is an ASP.NET route template as function.json's "route" holds it, with the prefix,
// e.g. "api/sessions/{sessionId}". Constraints ({id:int}) are kept but not enforced: the host
// enforces them, and our routes have none.
type Template struct {
	raw      string
	segments [][]part
	re       *regexp.Regexp
}

// part is a literal or a parameter of one path segment.
type part struct {
	literal  string
	param    string // empty for a literal
	optional bool
	catchAll bool
}

// ParseTemplate parses a route template. Leading and trailing slashes are ignored.
func ParseTemplate(s string) (*Template, error) {
	if !utf8.ValidString(s) {
		return nil, fmt.Errorf("route %q is not UTF-8", s)
	}
	t := &Template{raw: s}
	seen := map[string]bool{}
	trimmed := strings.Trim(s, "/")
	if trimmed != "" {
		for i, seg := range strings.Split(trimmed, "/") {
			parts, err := parseSegment(seg)
			if err != nil {
				return nil, fmt.Errorf("route %q, segment %d: %w", s, i+1, err)
			}
			for _, p := range parts {
				if p.param == "" {
					continue
				}
				key := strings.ToLower(p.param)
				if seen[key] {
					return nil, fmt.Errorf("route %q: parameter %q appears twice", s, p.param)
				}
				seen[key] = true
				if (p.catchAll || p.optional) && (len(parts) != 1 || i != strings.Count(trimmed, "/")) {
					return nil, fmt.Errorf("route %q: optional and catch-all parameters must be a whole last segment", s)
				}
			}
			t.segments = append(t.segments, parts)
		}
	}
	t.re = regexp.MustCompile(t.pattern())
	return t, nil
}

func parseSegment(seg string) ([]part, error) {
	if seg == "" {
		return nil, errors.New("empty segment")
	}
	var parts []part
	var lit strings.Builder
	for i := 0; i < len(seg); {
		switch {
		case strings.HasPrefix(seg[i:], "{{"):
			lit.WriteByte('{')
			i += 2
		case strings.HasPrefix(seg[i:], "}}"):
			lit.WriteByte('}')
			i += 2
		case seg[i] == '}':
			return nil, errors.New("unmatched }")
		case seg[i] == '{':
			inner, n, err := paramText(seg[i+1:])
			if err != nil {
				return nil, err
			}
			p, err := parseParam(inner)
			if err != nil {
				return nil, err
			}
			if lit.Len() > 0 {
				parts = append(parts, part{literal: lit.String()})
				lit.Reset()
			}
			if len(parts) > 0 && parts[len(parts)-1].param != "" {
				return nil, errors.New("two parameters without a literal between them")
			}
			parts = append(parts, p)
			i += 1 + n
		default:
			lit.WriteByte(seg[i])
			i++
		}
	}
	if lit.Len() > 0 {
		parts = append(parts, part{literal: lit.String()})
	}
	return parts, nil
}

// paramText returns what is inside {…} (s starts after the "{") and how many bytes it used,
// closing "}" included. Inside a parameter "{{" and "}}" are escaped braces of a constraint.
func paramText(s string) (string, int, error) {
	var b strings.Builder
	for i := 0; i < len(s); {
		switch {
		case strings.HasPrefix(s[i:], "{{"), strings.HasPrefix(s[i:], "}}"):
			b.WriteByte(s[i])
			i += 2
		case s[i] == '{':
			return "", 0, errors.New("unescaped { inside a parameter")
		case s[i] == '}':
			return b.String(), i + 1, nil
		default:
			b.WriteByte(s[i])
			i++
		}
	}
	return "", 0, errors.New("unterminated parameter")
}

var paramName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

func parseParam(inner string) (part, error) {
	p := part{}
	switch {
	case strings.HasPrefix(inner, "**"):
		p.catchAll, inner = true, inner[2:]
	case strings.HasPrefix(inner, "*"):
		p.catchAll, inner = true, inner[1:]
	}
	name := inner
	if i := strings.IndexAny(inner, ":=?"); i >= 0 {
		name = inner[:i]
	}
	p.optional = strings.HasSuffix(inner, "?") || strings.Contains(inner, "=")
	if !paramName.MatchString(name) {
		return p, fmt.Errorf("bad parameter name %q", name)
	}
	p.param = name
	return p, nil
}

// A parameter's value is whole percent-escapes and other bytes, so that a value never ends
// inside an escape and the literal after it never starts there.
const (
	escapedByte = `%[0-9A-Fa-f]{2}`
	segmentText = `(?:[^/%]|` + escapedByte + `)+`
)

// pattern is the case-insensitive regexp of the whole path, "/" first.
func (t *Template) pattern() string {
	var b strings.Builder
	b.WriteString(`(?i)^`)
	for _, seg := range t.segments {
		if len(seg) == 1 && seg[0].catchAll {
			fmt.Fprintf(&b, `(?:/(?P<%s>(?:[^%%]|%s)*))?`, seg[0].param, escapedByte)
			continue
		}
		if len(seg) == 1 && seg[0].optional {
			fmt.Fprintf(&b, `(?:/(?P<%s>%s))?`, seg[0].param, segmentText)
			continue
		}
		b.WriteString("/")
		for _, p := range seg {
			if p.param == "" {
				b.WriteString(regexp.QuoteMeta(url.PathEscape(p.literal)))
				continue
			}
			fmt.Fprintf(&b, `(?P<%s>%s?)`, p.param, segmentText)
		}
	}
	if len(t.segments) == 0 {
		b.WriteString("/")
	}
	b.WriteString(`/?$`)
	return b.String()
}

// String returns the template as parsed.
func (t *Template) String() string { return t.raw }

// Params lists the parameter names in order.
func (t *Template) Params() []string {
	var names []string
	for _, seg := range t.segments {
		for _, p := range seg {
			if p.param != "" {
				names = append(names, p.param)
			}
		}
	}
	return names
}

// Expand returns the path ("/" first) with each parameter replaced by its path-escaped value from
// vars. An optional parameter without a value is left out; any other missing value is an error.
func (t *Template) Expand(vars map[string]string) (string, error) {
	var b strings.Builder
	for _, seg := range t.segments {
		var s strings.Builder
		for _, p := range seg {
			if p.param == "" {
				s.WriteString(url.PathEscape(p.literal))
				continue
			}
			v, ok := vars[p.param]
			switch {
			case !ok && (p.optional || p.catchAll):
			case !ok:
				return "", fmt.Errorf("route %q: no value for {%s}", t.raw, p.param)
			case v == "" && !p.catchAll:
				return "", fmt.Errorf("route %q: empty value for {%s}", t.raw, p.param)
			case p.catchAll:
				segs := strings.Split(v, "/")
				for i := range segs {
					segs[i] = url.PathEscape(segs[i])
				}
				s.WriteString(strings.Join(segs, "/"))
			default:
				s.WriteString(url.PathEscape(v))
			}
		}
		if s.Len() > 0 {
			b.WriteString("/")
			b.WriteString(s.String())
		}
	}
	if b.Len() == 0 {
		return "/", nil
	}
	return b.String(), nil
}

// Match reports whether the escaped path ("/" first) matches the template, ignoring case as the
// host does, and returns the unescaped parameter values.
func (t *Template) Match(escapedPath string) (map[string]string, bool) {
	m := t.re.FindStringSubmatch(escapedPath)
	if m == nil {
		return nil, false
	}
	vars := map[string]string{}
	for i, name := range t.re.SubexpNames() {
		if name == "" || m[i] == "" {
			continue
		}
		v, err := url.PathUnescape(m[i])
		if err != nil {
			return nil, false
		}
		vars[name] = v
	}
	return vars, true
}
