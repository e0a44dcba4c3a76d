// Package origin normalizes web origins (RFC 6454: scheme://host[:port]) under this app's rule:
// https, or http for a loopback host only (local development). Configuration normalizes
// RETURN_URL_ALLOWED_ORIGINS with it and StartSession the origin of a returnUrl, so both sides of
// the comparison are always spelled the same way.
package origin

import (
	"errors"
	"net"
	"net/url"
	"strings"
)

// Normalize turns "https://App.example.com:443/" into "https://app.example.com". Only https
// origins are accepted, and http for loopback hosts (local development).
func Normalize(raw string) (string, error) {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" || u.Opaque != "" {
		return "", errors.New("is not an absolute URL")
	}
	if u.User != nil {
		return "", errors.New("must not carry credentials")
	}
	if (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "" {
		return "", errors.New("must be an origin (scheme://host[:port]) without path, query or fragment")
	}
	return Of(u)
}

// Of returns the normalized origin of an absolute URL, enforcing the https-or-loopback rule.
func Of(u *url.URL) (string, error) {
	scheme := strings.ToLower(u.Scheme)
	host := strings.ToLower(u.Hostname())
	port := u.Port()
	switch {
	case host == "":
		return "", errors.New("has no host")
	case scheme == "https":
		if port == "443" {
			port = ""
		}
	case scheme == "http" && IsLoopback(host):
		if port == "80" {
			port = ""
		}
	case scheme == "http":
		return "", errors.New("must use https (http only for localhost)")
	default:
		return "", errors.New("must use https")
	}
	if port != "" {
		host = net.JoinHostPort(host, port)
	} else if strings.Contains(host, ":") {
		host = "[" + host + "]"
	}
	return scheme + "://" + host, nil
}

// IsLoopback reports whether host names this machine: localhost or a loopback address. Letter
// case is folded for ASCII only (strings.EqualFold would also take "localhoſt", U+017F).
func IsLoopback(host string) bool {
	if strings.ToLower(host) == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
