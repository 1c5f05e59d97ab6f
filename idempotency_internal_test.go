package concord

import (
	"strings"
	"testing"

	"github.com/google/uuid"
)

func TestIdempotencyKeyValidation(t *testing.T) {
	tests := []struct {
		key string
		ok  bool
	}{
		{strings.Repeat("k", MaxIdempotencyKeyLen), true},
		{strings.Repeat("k", MaxIdempotencyKeyLen+1), false},
		{"", false}, {"a b", false}, {" a", false}, {"a\x7f", false}, {"a\"b", false}, {"a\\b", false}, {"!~", true},
	}
	for _, tt := range tests {
		if err := validateKey(tt.key); (err == nil) != tt.ok {
			t.Errorf("validateKey(%.20q) = %v; want ok=%v", tt.key, err, tt.ok)
		}
	}
}

// TestDefaultKeysAreVersion4UUIDs: the default key generator makes what
// uuid.NewRandom makes, random version 4 UUIDs, never the same twice.
func TestDefaultKeysAreVersion4UUIDs(t *testing.T) {
	seen := make(map[string]bool)
	for range 1000 {
		key, err := newUUIDKey()
		if err != nil {
			t.Fatal(err)
		}
		id, err := uuid.Parse(key)
		if err != nil || id.Version() != 4 || id.Variant() != uuid.RFC4122 || id.String() != key {
			t.Fatalf("newUUIDKey() = %q (%v); want a canonical version 4 UUID", key, err)
		}
		if seen[key] {
			t.Fatalf("newUUIDKey() = %q twice", key)
		}
		seen[key] = true
	}
}
