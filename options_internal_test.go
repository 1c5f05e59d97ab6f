package concord

import "testing"

func TestHeaderNames(t *testing.T) {
	for name, ok := range map[string]bool{`a"b`: false, "X-Api-Key": true, "!#$%&'*+-.^_`|~": true, "a b": false, "a\x7f": false, "a:b": false, "": false, "a\x1f": false} {
		if validHeaderName(name) != ok {
			t.Errorf("validHeaderName(%q) = %v; want %v", name, !ok, ok)
		}
	}
}
