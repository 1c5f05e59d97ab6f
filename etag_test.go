package concord_test

import (
	"errors"
	"testing"

	"github.com/concord-go/concord"
)

func TestParseETag(t *testing.T) {
	tests := []struct {
		in   string
		want concord.ETag
		weak bool
		ok   bool
	}{
		{`"abc"`, `"abc"`, false, true},
		{`W/"abc"`, `W/"abc"`, true, true},
		{`""`, `""`, false, true},
		{`  "x"  `, `"x"`, false, true},
		{`"a!#~"`, `"a!#~"`, false, true},
		{"\"caf\xc3\xa9\"", "\"caf\xc3\xa9\"", false, true}, // obs-text
		{`abc`, "", false, false},
		{`"abc`, "", false, false},
		{`abc"`, "", false, false},
		{`"`, "", false, false},
		{`w/"abc"`, "", false, false},
		{`W/abc`, "", false, false},
		{`"a"b"`, "", false, false},
		{`"a b"`, "", false, false},
		{"\"a\x00\"", "", false, false},
		{"\"a\x7f\"", "", false, false},
		{`"a", "b"`, "", false, false},
		{``, "", false, false},
		{`*`, "", false, false},
	}
	for _, tt := range tests {
		got, err := concord.ParseETag(tt.in)
		if (err == nil) != tt.ok || got != tt.want {
			t.Errorf("ParseETag(%q) = %q, %v; want %q, ok=%v", tt.in, got, err, tt.want, tt.ok)
			continue
		}
		if err != nil && !errors.Is(err, concord.ErrInvalidETag) {
			t.Errorf("ParseETag(%q) error %v does not match ErrInvalidETag", tt.in, err)
		}
		if got.IsWeak() != tt.weak {
			t.Errorf("ParseETag(%q).IsWeak() = %v; want %v", tt.in, got.IsWeak(), tt.weak)
		}
	}
}

// TestETagComparison follows the table in RFC 9110 section 8.8.3.2.
func TestETagComparison(t *testing.T) {
	tests := []struct {
		a, b         concord.ETag
		strong, weak bool
	}{
		{`W/"1"`, `W/"1"`, false, true},
		{`W/"1"`, `W/"2"`, false, false},
		{`W/"1"`, `"1"`, false, true},
		{`"1"`, `"1"`, true, true},
		{`"1"`, `"2"`, false, false},
		{``, ``, false, false},
	}
	for _, tt := range tests {
		if got := tt.a.StrongEqual(tt.b); got != tt.strong {
			t.Errorf("%s.StrongEqual(%s) = %v; want %v", tt.a, tt.b, got, tt.strong)
		}
		if got := tt.a.WeakEqual(tt.b); got != tt.weak {
			t.Errorf("%s.WeakEqual(%s) = %v; want %v", tt.a, tt.b, got, tt.weak)
		}
	}
}
