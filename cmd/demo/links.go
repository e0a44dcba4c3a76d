package main

import (
	"crypto/subtle"
	"sync"
	"time"
)

// maxLinks bounds the links a demo process holds: each Start adds one, kept until it expires.
const maxLinks = 1000

// linkStore holds each session's link and QR code from StartSession's answer until the link
// expires: GetSession never returns the link (a bearer secret), so the session page reads it
// here, and shows it only to the browser holding the owner token kept with it. It lives in
// memory only; a restarted demo shows its sessions without their links.
type linkStore struct {
	mu    sync.Mutex
	now   func() time.Time
	links map[string]heldLink // by session id
}

// heldLink is a link and the owner token of the browser that pressed Start for it.
type heldLink struct {
	link
	owner string
}

func newLinkStore(now func() time.Time) *linkStore {
	return &linkStore{now: now, links: map[string]heldLink{}}
}

// put keeps l for session id, shown only to owner, first dropping expired links and, when still full, the one that
// expires first.
func (s *linkStore) put(id string, l link, owner string) {
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
	s.links[id] = heldLink{link: l, owner: owner}
}

// get returns session id's link while it has not expired and owner is the token it was put
// with (compared in constant time); held reports whether there is such a link at all, so that
// a page can tell another browser why it shows none.
func (s *linkStore) get(id, owner string) (l link, held, owned bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	h, ok := s.links[id]
	if !ok || !h.ExpiresAt.After(s.now()) {
		return link{}, false, false
	}
	if owner == "" || subtle.ConstantTimeCompare([]byte(owner), []byte(h.owner)) != 1 {
		return link{}, true, false
	}
	return h.link, true, true
}
