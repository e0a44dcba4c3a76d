// Package layout has no code: its test holds the repository to the import rules of design §2
// and style.md — what the handler binary ships, and which way couplings point.
package layout
