package main

import (
	"sync"
	"time"
)

// maxLinks bounds the links a demo process holds: each Start adds one, kept until it expires.
const maxLinks = 1000

// linkStore holds each session's link and QR code from StartSession's answer until the link
// expires: GetSession never returns the link (a bearer secret), so the session page reads it
// here. It lives in memory only; a restarted demo shows its sessions without their links.
type linkStore struct {
	mu    sync.Mutex
	now   func() time.Time
	links map[string]link // by session id
}

func newLinkStore(now func() time.Time) *linkStore {
	return &linkStore{now: now, links: map[string]link{}}
}

// put keeps l for session id, first dropping expired links and, when still full, the one that
// expires first.
func (s *linkStore) put(id string, l link) {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	for k, v := range s.links {
		if !v.ExpiresAt.After(now) {
			delete(s.links, k)
		}
	}
	if len(s.links) >= maxLinks {
		first := ""
		for k, v := range s.links {
			if first == "" || v.ExpiresAt.Before(s.links[first].ExpiresAt) {
				first = k
			}
		}
		delete(s.links, first)
	}
	s.links[id] = l
}

// get returns session id's link while it has not expired.
func (s *linkStore) get(id string) (link, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	l, ok := s.links[id]
	if !ok || !l.ExpiresAt.After(s.now()) {
		return link{}, false
	}
	return l, true
}
