package concord

// Layer: Values (ARCHITECTURE.md).

import (
	"fmt"
	"strings"
)

// ETag is an HTTP entity tag in its wire form, quotes included: `"abc"` for a
// strong tag, `W/"abc"` for a weak one. The zero value means "no tag".
//
// Values come from ParseETag, so a tag that concord sends back in If-Match is
// always one that parsed per RFC 9110 section 8.8.3; a malformed header is
// never echoed to the server.
type ETag string

// ParseETag parses one entity-tag as RFC 9110 defines it:
//
//	entity-tag = [ "W/" ] DQUOTE *etagc DQUOTE
//	etagc      = %x21 / %x23-7E / obs-text
//
// Surrounding spaces are ignored. Anything else, including an unquoted token,
// a list of tags or a tag holding control characters, returns an error that
// wraps ErrInvalidETag.
func ParseETag(s string) (ETag, error) {
	s = strings.TrimSpace(s)
	opaque := strings.TrimPrefix(s, "W/")
	if len(opaque) < 2 || opaque[0] != '"' || opaque[len(opaque)-1] != '"' {
		return "", fmt.Errorf("%w: %q is not a quoted entity-tag", ErrInvalidETag, truncate(s, 64))
	}
	for i := 1; i < len(opaque)-1; i++ {
		if c := opaque[i]; c != 0x21 && (c < 0x23 || c == 0x7F) {
			return "", fmt.Errorf("%w: %q holds a byte not allowed in an entity-tag", ErrInvalidETag, truncate(s, 64))
		}
	}
	return ETag(s), nil
}

// IsWeak reports whether e is a weak tag (W/"...").
func (e ETag) IsWeak() bool { return strings.HasPrefix(string(e), "W/") }

// opaque returns the quoted part of the tag, without any W/ prefix.
func (e ETag) opaque() string { return strings.TrimPrefix(string(e), "W/") }

// StrongEqual reports whether e and other match under RFC 9110's strong
// comparison: both are strong and their opaque tags are identical. This is the
// comparison a server applies to If-Match, which is why a weak tag can never
// satisfy it.
func (e ETag) StrongEqual(other ETag) bool {
	return e != "" && !e.IsWeak() && !other.IsWeak() && e == other
}

// WeakEqual reports whether e and other match under RFC 9110's weak
// comparison: their opaque tags are identical, weak or not.
func (e ETag) WeakEqual(other ETag) bool {
	return e != "" && e.opaque() == other.opaque()
}

// String returns the tag in its wire form.
func (e ETag) String() string { return string(e) }
