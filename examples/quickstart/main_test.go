package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
)

// TestRun runs the quickstart against its embedded API; run itself checks
// what it narrates (one stored widget, one merge, no lost update).
func TestRun(t *testing.T) {
	var out bytes.Buffer
	if err := run(context.Background(), &out, "", 8); err != nil {
		t.Fatalf("run = %v\n%s", err, out.String())
	}
	for _, want := range []string{"replayed=true", "widgets stored on the server: 1", "conflict! merge", "no update lost"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}
}
