package stack

import (
	"context"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"strings"
)

// Secrets maps each secret a run saw to what it is ("Face auth token", "callback sig"), for the
// scan that must find none of them where it does not belong.
type Secrets map[string]string

// Add names each non-empty value as kind.
func (n Secrets) Add(kind string, values ...string) {
	for _, v := range values {
		if v != "" {
			n[v] = kind
		}
	}
}

// Secrets is every secret the stack itself knows: each Face auth token and quick link id the
// stand-in issued, the signing key in every encoding, the function key and the Face API key.
// atLeast is the sessions the run started: fewer tokens or links would mean a scan that misses
// secrets, an error.
func (s *Stack) Secrets(ctx context.Context, atLeast int) (Secrets, error) {
	tokens, err := s.IssuedTokens(ctx)
	if err != nil {
		return nil, fmt.Errorf("the stand-in's issued tokens: %w", err)
	}
	linkIDs, err := s.IssuedLinkIDs(ctx)
	if err != nil {
		return nil, fmt.Errorf("the stand-in's issued link ids: %w", err)
	}
	if len(tokens) < atLeast || len(linkIDs) < atLeast {
		return nil, fmt.Errorf("the stand-in issued %d tokens and %d links for %d sessions: the scan would miss secrets", len(tokens), len(linkIDs), atLeast)
	}
	named := Secrets{}
	named.Add("Face auth token", tokens...)
	named.Add("quick link id", linkIDs...)
	named.Add("signing key (raw)", string(s.SigningKey))
	named.Add("signing key (base64)", base64.StdEncoding.EncodeToString(s.SigningKey), base64.RawStdEncoding.EncodeToString(s.SigningKey))
	named.Add("signing key (base64url)", base64.URLEncoding.EncodeToString(s.SigningKey), base64.RawURLEncoding.EncodeToString(s.SigningKey))
	named.Add("signing key (hex)", hex.EncodeToString(s.SigningKey))
	named.Add("function key", s.FunctionKey)
	named.Add("Face API key", s.FaceAPIKey)
	return named, nil
}

// Scanned counts what ScanForLeaks looked through.
type Scanned struct {
	Lines, Answers, Events, Rows int
}

// ScanForLeaks reads every table row, closes the stack (so that every process's last lines are
// in Lines), and returns each place where a secret of named appears in a log line, an answer
// body, an event or a table row, with every secret redacted. The stack is closed afterwards
// either way.
func (s *Stack) ScanForLeaks(ctx context.Context, named Secrets) ([]string, Scanned, error) {
	rows, err := s.TableRows(ctx)
	s.Close()
	if err != nil {
		return nil, Scanned{}, fmt.Errorf("reading the table rows: %w", err)
	}
	if len(rows) == 0 {
		return nil, Scanned{}, fmt.Errorf("no table rows: the scan would prove nothing")
	}
	lines, answers, evs := s.Lines.All(), s.Seen.All(), s.Events.All()
	haystack := append([]string(nil), lines...) // "<where>: <text>"
	for _, a := range answers {
		haystack = append(haystack, "answer to "+RedactAll(a.Request, named)+": "+a.Body)
	}
	for _, ev := range evs {
		haystack = append(haystack, fmt.Sprintf("event %s: %s %v", ev.MessageID, ev.Body, ev.Props))
	}
	for _, r := range rows {
		haystack = append(haystack, "table row "+r)
	}
	return FindLeaks(haystack, named), Scanned{Lines: len(lines), Answers: len(answers), Events: len(evs), Rows: len(rows)}, nil
}

// FindLeaks names, with every secret in it redacted, each place in haystack where a secret of
// named appears.
func FindLeaks(haystack []string, named Secrets) []string {
	var leaks []string
	for _, h := range haystack {
		for secret, kind := range named {
			if strings.Contains(h, secret) {
				leaks = append(leaks, fmt.Sprintf("a %s appears in %.400s", kind, RedactAll(h, named)))
			}
		}
	}
	return leaks
}

// RedactAll replaces every secret in s, so that a failure message does not print one.
func RedactAll(s string, named Secrets) string {
	for secret, kind := range named {
		s = strings.ReplaceAll(s, secret, "<"+kind+">")
	}
	return s
}
