package concord

import "testing"

func TestTruncateKeepsWhatFits(t *testing.T) {
	if got := truncate("abc", 3); got != "abc" {
		t.Errorf("truncate(abc, 3) = %q; want abc", got)
	}
	if got := truncate("abcd", 3); got != "abc..." {
		t.Errorf("truncate(abcd, 3) = %q; want abc...", got)
	}
}
