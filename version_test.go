package concord_test

import (
	"strings"
	"testing"

	"github.com/concord-go/concord"
)

// TestBodyVersionJSONPointer: a member whose name holds a dot is reached
// with a JSON Pointer.
func TestBodyVersionJSONPointer(t *testing.T) {
	v := concord.BodyVersion{Path: "/odata.etag"}
	body := []byte(`{"odata.etag":"W/\"x\"","odata":{"etag":"wrong"}}`)
	if got := v.Version(nil, body); got != `"W/\"x\""` {
		t.Errorf("Version(%s) = %s; want the odata.etag member", body, got)
	}
	out, err := v.Apply(`"W/\"y\""`, nil, nil, body)
	if err != nil || !strings.Contains(string(out), `"odata.etag":"W/\"y\""`) {
		t.Errorf("Apply = %s, %v; want odata.etag replaced", out, err)
	}
}
