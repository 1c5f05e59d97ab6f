package main

import (
	"bytes"
	"encoding/json"
	"net/http"
	"os"
	"strings"
	"testing"

	"github.com/concord-go/concord/concordtest"
)

// fakeEditor replaces CONCORD_TEST_FROM with CONCORD_TEST_TO in the file,
// after PUTting CONCORD_TEST_OTHER to CONCORD_TEST_OTHER_URL if set, once.
func fakeEditor(file string) int {
	if u := os.Getenv("CONCORD_TEST_OTHER_URL"); u != "" {
		marker := os.Getenv("CONCORD_TEST_MARKER")
		if _, err := os.Stat(marker); err != nil { // only the first time
			os.WriteFile(marker, nil, 0o600)
			req, _ := http.NewRequest(http.MethodPut, u, strings.NewReader(os.Getenv("CONCORD_TEST_OTHER")))
			req.Header.Set("Content-Type", "application/json")
			if resp, err := http.DefaultClient.Do(req); err == nil {
				resp.Body.Close()
			}
		}
	}
	b, err := os.ReadFile(file)
	if err != nil {
		return 1
	}
	var doc map[string]any
	if err := json.Unmarshal(b, &doc); err != nil {
		return 1
	}
	if _, clashes := doc[clashMember]; clashes {
		// The person resolves: keep theirs, take the stock from mine.
		doc["stock"] = 7.0
	} else {
		for k, v := range parseEdits(os.Getenv("CONCORD_TEST_EDITS")) {
			doc[k] = v
		}
	}
	out, _ := json.MarshalIndent(doc, "", "  ")
	if os.WriteFile(file, out, 0o600) != nil {
		return 1
	}
	return 0
}

// parseEdits reads "name=json;name=json".
func parseEdits(s string) map[string]any {
	out := map[string]any{}
	for _, kv := range strings.Split(s, ";") {
		k, v, ok := strings.Cut(kv, "=")
		if !ok {
			continue
		}
		var val any
		if json.Unmarshal([]byte(v), &val) == nil {
			out[k] = val
		}
	}
	return out
}

// TestEditResolvesAConflictMadeWhileTheEditorWasOpen: another writer
// changes the item while the person edits it; edit merges the two, and
// reopens the editor only when they clash.
func TestEditResolvesAConflictMadeWhileTheEditorWasOpen(t *testing.T) {
	tests := []struct {
		name, other, edits string
		want               map[string]float64
	}{
		{"different members merge", `{"name":"gear","price":2,"stock":1}`, `stock=5`, map[string]float64{"price": 2, "stock": 5}},
		{"a clash reopens the editor", `{"name":"gear","price":1,"stock":9}`, `stock=5`, map[string]float64{"price": 1, "stock": 7}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := concordtest.NewServer(t)
			if _, err := srv.Seed("widgets", "w1", map[string]any{"name": "gear", "price": 1, "stock": 1}); err != nil {
				t.Fatal(err)
			}
			t.Setenv("EDITOR", os.Args[0])
			t.Setenv("CONCORD_TEST_EDITOR", "1")
			t.Setenv("CONCORD_TEST_EDITS", tt.edits)
			t.Setenv("CONCORD_TEST_OTHER_URL", srv.URL+"/widgets/w1")
			t.Setenv("CONCORD_TEST_OTHER", tt.other)
			t.Setenv("CONCORD_TEST_MARKER", t.TempDir()+"/edited")
			var out, errs bytes.Buffer
			if code := run([]string{"edit", srv.URL + "/widgets/w1"}, nil, &out, &errs); code != 0 {
				t.Fatalf("edit = %d: %s %s", code, out.String(), errs.String())
			}
			doc, _, _ := srv.Doc("widgets", "w1")
			var got map[string]any
			json.Unmarshal(doc, &got)
			for k, v := range tt.want {
				if got[k] != v {
					t.Errorf("after edit %s = %v; want %v (document %s)", k, got[k], v, doc)
				}
			}
			if _, marked := got[clashMember]; marked {
				t.Errorf("the clash marker was written: %s", doc)
			}
		})
	}
}
