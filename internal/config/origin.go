package config

import (
	"errors"
	"net"
	"net/url"
	"strings"
)

// NormalizeOrigin turns "https://App.example.com:443/" into "https://app.example.com". Only https
// origins are accepted, and http for loopback hosts (local development).
func NormalizeOrigin(raw string) (string, error) {
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
	return Origin(u)
}

// Origin returns the normalized origin of an absolute URL, enforcing the https-or-loopback rule.
func Origin(u *url.URL) (string, error) {
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

// IsLoopback reports whether host names this machine: localhost or a loopback address.
func IsLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
