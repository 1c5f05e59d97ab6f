package concord

import (
	"errors"
	"net/http"
	"strings"
	"testing"
)

// TestScrubByValueFromEightBytes: the client's own secrets and the call's
// token are scrubbed from a server's text from minSecret bytes on; a
// shorter value is left, since it would blank ordinary words.
func TestScrubByValueFromEightBytes(t *testing.T) {
	tests := []struct {
		secret string
		want   bool // scrubbed
	}{
		{strings.Repeat("s", minSecret), true},
		{strings.Repeat("s", minSecret-1), false},
	}
	for _, tt := range tests {
		r := newRedactor("")
		r.keep(http.Header{"X-Api-Key": {tt.secret}}, "")
		text := "denied: " + tt.secret + "!"
		if got := r.scrub(text, ""); strings.Contains(got, tt.secret) == tt.want {
			t.Errorf("scrub(%q) with the header secret %q = %q; want it scrubbed: %v", text, tt.secret, got, tt.want)
		}
		if got := newRedactor("").scrub(text, tt.secret); strings.Contains(got, tt.secret) == tt.want {
			t.Errorf("scrub(%q) with the token %q = %q; want it scrubbed: %v", text, tt.secret, got, tt.want)
		}
	}
}

// TestTransportErrorTextIsBounded: an error's text of up to maxErrorText
// bytes is shown whole; a longer one is cut.
func TestTransportErrorTextIsBounded(t *testing.T) {
	r := newRedactor("")
	for _, n := range []int{maxErrorText, maxErrorText + 1} {
		err := errors.New(strings.Repeat("e", n))
		got := r.err(err)
		if cut := strings.HasSuffix(got.Error(), "[cut]"); cut != (n > maxErrorText) {
			t.Errorf("err(a text of %d bytes) = %d bytes ending %q; want it cut: %v", n, len(got.Error()), got.Error()[max(0, len(got.Error())-8):], n > maxErrorText)
		}
		if !errors.Is(got, err) {
			t.Errorf("err(a text of %d bytes) does not unwrap to the error", n)
		}
	}
}
