package concordtest_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/concord-go/concord/concordtest"
)

// call sends one plain net/http request: these tests pin the fake API's
// behavior without going through concord.
func call(t *testing.T, srv *concordtest.Server, method, path, body string, header ...string) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest(method, srv.URL+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, string(b)
}

func wantStatus(t *testing.T, resp *http.Response, body string, want int) {
	t.Helper()
	if resp.StatusCode != want {
		t.Fatalf("%s %s = %d %s; want %d", resp.Request.Method, resp.Request.URL.Path, resp.StatusCode, body, want)
	}
}

func wantProblem(t *testing.T, resp *http.Response, body, typ string) {
	t.Helper()
	var p struct{ Type string }
	if resp.Header.Get("Content-Type") != "application/problem+json" || json.Unmarshal([]byte(body), &p) != nil || p.Type != typ {
		t.Errorf("%s %s body = %s (%s); want problem %s", resp.Request.Method, resp.Request.URL.Path, body, resp.Header.Get("Content-Type"), typ)
	}
}

func TestCreateGetAndRevalidate(t *testing.T) {
	srv := concordtest.NewServer(t)
	resp, body := call(t, srv, "POST", "/widgets", `{"name":"gear"}`)
	wantStatus(t, resp, body, 201)
	etag := resp.Header.Get("ETag")
	if resp.Header.Get("Location") != "/widgets/1" || !strings.HasPrefix(etag, `"`) || body != `{"id":"1","name":"gear"}` {
		t.Errorf("POST = %s, Location %q, ETag %q; want id 1 at /widgets/1 with a strong ETag", body, resp.Header.Get("Location"), etag)
	}
	resp, body = call(t, srv, "GET", "/widgets/1", "")
	wantStatus(t, resp, body, 200)
	if resp.Header.Get("ETag") != etag {
		t.Errorf("GET ETag = %q; want %q", resp.Header.Get("ETag"), etag)
	}
	for _, inm := range []string{etag, "W/" + etag, `"other", ` + etag, "*"} {
		resp, body = call(t, srv, "GET", "/widgets/1", "", "If-None-Match", inm)
		wantStatus(t, resp, body, 304)
	}
	resp, body = call(t, srv, "GET", "/widgets/1", "", "If-None-Match", `"other"`)
	wantStatus(t, resp, body, 200)
	resp, body = call(t, srv, "GET", "/widgets", "")
	if resp.StatusCode != 200 || body != `[{"id":"1","name":"gear"}]` {
		t.Errorf("GET /widgets = %d %s; want the one widget", resp.StatusCode, body)
	}
	resp, body = call(t, srv, "GET", "/widgets/2", "")
	wantStatus(t, resp, body, 404)
	resp, body = call(t, srv, "POST", "/widgets", `[1,2]`)
	wantStatus(t, resp, body, 400)
	resp, body = call(t, srv, "POST", "/widgets", `{"name":"x"}`, "Content-Type", "text/plain")
	wantStatus(t, resp, body, 415)
	resp, body = call(t, srv, "GET", "/a/b/c", "")
	wantStatus(t, resp, body, 404)
}

func TestPreconditions(t *testing.T) {
	tests := []struct {
		name   string
		opts   []concordtest.Option
		method string
		path   string
		header func(etag string) []string
		want   int
		typ    string
	}{
		{"current If-Match", nil, "PUT", "/w/1", func(e string) []string { return []string{"If-Match", e} }, 200, ""},
		{"star If-Match", nil, "PUT", "/w/1", func(string) []string { return []string{"If-Match", "*"} }, 200, ""},
		{"stale If-Match", nil, "PUT", "/w/1", func(string) []string { return []string{"If-Match", `"r999"`} }, 412, concordtest.ProblemStaleVersion},
		{"weak If-Match never matches", nil, "PUT", "/w/1", func(e string) []string { return []string{"If-Match", "W/" + e} }, 412, concordtest.ProblemStaleVersion},
		{"stale in 409 mode", []concordtest.Option{concordtest.ConflictStatus(409)}, "PUT", "/w/1", func(string) []string { return []string{"If-Match", `"r999"`} }, 409, concordtest.ProblemStaleVersion},
		{"If-Match on a missing resource", nil, "PUT", "/w/2", func(e string) []string { return []string{"If-Match", e} }, 412, concordtest.ProblemStaleVersion},
		{"create-only on an existing one", nil, "PUT", "/w/1", func(string) []string { return []string{"If-None-Match", "*"} }, 412, concordtest.ProblemAlreadyExists},
		{"create-only on a new one", nil, "PUT", "/w/2", func(string) []string { return []string{"If-None-Match", "*"} }, 201, ""},
		{"unconditional by default", nil, "PUT", "/w/1", func(string) []string { return nil }, 200, ""},
		{"required precondition", []concordtest.Option{concordtest.RequirePreconditions()}, "PUT", "/w/1", func(string) []string { return nil }, 428, concordtest.ProblemPreconditionRequired},
		{"required precondition given", []concordtest.Option{concordtest.RequirePreconditions()}, "PUT", "/w/1", func(e string) []string { return []string{"If-Match", e} }, 200, ""},
		{"required precondition on delete", []concordtest.Option{concordtest.RequirePreconditions()}, "DELETE", "/w/1", func(string) []string { return nil }, 428, concordtest.ProblemPreconditionRequired},
		{"conditional delete", nil, "DELETE", "/w/1", func(e string) []string { return []string{"If-Match", e} }, 204, ""},
		{"stale delete", nil, "DELETE", "/w/1", func(string) []string { return []string{"If-Match", `"r999"`} }, 412, concordtest.ProblemStaleVersion},
		{"stale patch", nil, "PATCH", "/w/1", func(string) []string { return []string{"If-Match", `"r999"`} }, 412, concordtest.ProblemStaleVersion},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := concordtest.NewServer(t, tt.opts...)
			etag, err := srv.Seed("w", "1", map[string]any{"name": "gear"})
			if err != nil {
				t.Fatal(err)
			}
			body := `{"name":"cog"}`
			if tt.method == "DELETE" {
				body = ""
			}
			resp, got := call(t, srv, tt.method, tt.path, body, tt.header(etag)...)
			wantStatus(t, resp, got, tt.want)
			if tt.typ != "" {
				wantProblem(t, resp, got, tt.typ)
			}
			if tt.want < 300 && tt.method != "DELETE" && (resp.Header.Get("ETag") == "" || resp.Header.Get("ETag") == etag) {
				t.Errorf("write ETag = %q; want a new one (was %s)", resp.Header.Get("ETag"), etag)
			}
		})
	}
}

func TestConflictWithStateCarriesTheCurrentRepresentation(t *testing.T) {
	srv := concordtest.NewServer(t, concordtest.ConflictWithState())
	etag, _ := srv.Seed("w", "1", map[string]any{"name": "gear"})
	resp, body := call(t, srv, "PUT", "/w/1", `{"name":"cog"}`, "If-Match", `"old"`)
	wantStatus(t, resp, body, 412)
	if resp.Header.Get("ETag") != etag || body != `{"name":"gear"}` || resp.Header.Get("Content-Type") != "application/json" {
		t.Errorf("conflict = %s with ETag %q; want the current document with %s", body, resp.Header.Get("ETag"), etag)
	}
}

func TestVersionInBody(t *testing.T) {
	srv := concordtest.NewServer(t, concordtest.VersionInBody("metadata.resourceVersion", "rv"))
	resp, body := call(t, srv, "POST", "/pods", `{"name":"web"}`)
	wantStatus(t, resp, body, 201)
	var doc struct {
		Metadata struct{ ResourceVersion string }
	}
	if err := json.Unmarshal([]byte(body), &doc); err != nil || doc.Metadata.ResourceVersion == "" {
		t.Fatalf("created = %s; want metadata.resourceVersion", body)
	}
	rv := doc.Metadata.ResourceVersion
	resp, body = call(t, srv, "PUT", "/pods/1", `{"name":"web","metadata":{"resourceVersion":"stale"}}`)
	wantStatus(t, resp, body, 409)
	wantProblem(t, resp, body, concordtest.ProblemStaleVersion)
	resp, body = call(t, srv, "PUT", "/pods/1", fmt.Sprintf(`{"name":"web2","metadata":{"resourceVersion":%q}}`, rv))
	wantStatus(t, resp, body, 200)
	if strings.Contains(body, fmt.Sprintf("%q", rv)) {
		t.Errorf("write kept the version %s: %s", rv, body)
	}
	resp, body = call(t, srv, "DELETE", "/pods/1?rv="+rv, "")
	wantStatus(t, resp, body, 409)
	if srv.Len("pods") != 1 {
		t.Error("a stale DELETE deleted")
	}
}

func TestMergePatch(t *testing.T) {
	srv := concordtest.NewServer(t)
	etag, _ := srv.Seed("w", "1", map[string]any{"name": "gear", "color": "red", "dims": map[string]any{"h": 1, "w": 2}})
	resp, body := call(t, srv, "PATCH", "/w/1", `{"color":null,"dims":{"h":5}}`, "If-Match", etag, "Content-Type", "application/merge-patch+json")
	wantStatus(t, resp, body, 200)
	if body != `{"dims":{"h":5,"w":2},"name":"gear"}` {
		t.Errorf("PATCH result = %s; want color removed and dims.h replaced", body)
	}
	resp, body = call(t, srv, "PATCH", "/w/9", `{"a":1}`)
	wantStatus(t, resp, body, 404)
}

func TestDelete(t *testing.T) {
	srv := concordtest.NewServer(t)
	_, _ = srv.Seed("w", "1", map[string]any{"name": "gear"})
	resp, body := call(t, srv, "DELETE", "/w/1", "")
	wantStatus(t, resp, body, 204)
	resp, body = call(t, srv, "DELETE", "/w/1", "")
	wantStatus(t, resp, body, 404)
	if srv.Stats().Writes != 1 { // the delete; seeding is arrangement, not a write
		t.Errorf("writes = %d; want 1", srv.Stats().Writes)
	}
}

func TestIdempotencyKeys(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	var mu sync.Mutex
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	srv := concordtest.NewServer(t, concordtest.IdempotencyKeyTTL(time.Hour), concordtest.Now(clock))

	first, body1 := call(t, srv, "POST", "/w", `{"name":"gear"}`, "Idempotency-Key", "k1")
	wantStatus(t, first, body1, 201)
	again, body2 := call(t, srv, "POST", "/w", `{"name":"gear"}`, "Idempotency-Key", `"k1"`) // the draft's quoted form
	wantStatus(t, again, body2, 201)
	if body2 != body1 || again.Header.Get("Idempotent-Replayed") != "true" || again.Header.Get("ETag") != first.Header.Get("ETag") {
		t.Errorf("replay = %s (replayed %q); want %s replayed", body2, again.Header.Get("Idempotent-Replayed"), body1)
	}
	other, body := call(t, srv, "POST", "/w", `{"name":"cog"}`, "Idempotency-Key", "k1")
	wantStatus(t, other, body, 422)
	wantProblem(t, other, body, concordtest.ProblemKeyReused)
	if srv.Len("w") != 1 || srv.Stats().Replays != 1 {
		t.Errorf("stored %d, replays %d; want 1 and 1", srv.Len("w"), srv.Stats().Replays)
	}
	mu.Lock()
	now = now.Add(2 * time.Hour)
	mu.Unlock()
	expired, body := call(t, srv, "POST", "/w", `{"name":"gear"}`, "Idempotency-Key", "k1")
	wantStatus(t, expired, body, 201)
	if expired.Header.Get("Idempotent-Replayed") != "" || srv.Len("w") != 2 {
		t.Errorf("after expiry: replayed %q, stored %d; want a new create", expired.Header.Get("Idempotent-Replayed"), srv.Len("w"))
	}
}

func TestIdempotencyKeyInFlight(t *testing.T) {
	srv := concordtest.NewServer(t)
	// Long enough that the second request surely arrives in it; the test
	// takes that long, it does not assert on time.
	srv.SetLatency(time.Second)
	done := make(chan int)
	go func() {
		resp, _ := call(t, srv, "POST", "/w", `{"name":"gear"}`, "Idempotency-Key", "slow")
		done <- resp.StatusCode
	}()
	// Wait until the first request is being processed, its key registered.
	for srv.InFlight() == 0 {
		time.Sleep(time.Millisecond)
	}
	resp, body := call(t, srv, "POST", "/w", `{"name":"gear"}`, "Idempotency-Key", "slow")
	wantStatus(t, resp, body, 409)
	wantProblem(t, resp, body, concordtest.ProblemRequestInProgress)
	if resp.Header.Get("Retry-After") == "" {
		t.Error("in-progress 409 without Retry-After")
	}
	if got := <-done; got != 201 {
		t.Errorf("first request = %d; want 201", got)
	}
}

func TestRequireIdempotencyKey(t *testing.T) {
	srv := concordtest.NewServer(t, concordtest.RequireIdempotencyKey(), concordtest.IdempotencyKeyHeader("X-Idempotency-Key"))
	resp, body := call(t, srv, "POST", "/w", `{"name":"gear"}`)
	wantStatus(t, resp, body, 400)
	wantProblem(t, resp, body, concordtest.ProblemKeyMissing)
	resp, body = call(t, srv, "POST", "/w", `{"name":"gear"}`, "X-Idempotency-Key", "k")
	wantStatus(t, resp, body, 201)
}

func TestUnique(t *testing.T) {
	srv := concordtest.NewServer(t, concordtest.Unique("users", "email"))
	resp, body := call(t, srv, "POST", "/users", `{"email":"a@example.com"}`)
	wantStatus(t, resp, body, 201)
	resp, body = call(t, srv, "POST", "/users", `{"email":"a@example.com"}`)
	wantStatus(t, resp, body, 409)
	wantProblem(t, resp, body, concordtest.ProblemAlreadyExists)
	if !strings.Contains(body, `"member":"email"`) {
		t.Errorf("unique violation = %s; want it to name the member", body)
	}
	resp, body = call(t, srv, "PUT", "/users/1", `{"email":"a@example.com","name":"x"}`)
	wantStatus(t, resp, body, 200) // the same document may keep its own value
}

func TestFaults(t *testing.T) {
	srv := concordtest.NewServer(t)
	srv.FailNext(2, "POST", "/w", 503, "7")
	for range 2 {
		resp, body := call(t, srv, "POST", "/w", `{"name":"gear"}`)
		wantStatus(t, resp, body, 503)
		if resp.Header.Get("Retry-After") != "7" {
			t.Errorf("Retry-After = %q; want 7", resp.Header.Get("Retry-After"))
		}
	}
	resp, body := call(t, srv, "POST", "/w", `{"name":"gear"}`)
	wantStatus(t, resp, body, 201)

	srv.DropNext(1, "PUT", "/w/*")
	req, _ := http.NewRequest("PUT", srv.URL+"/w/9", strings.NewReader(`{"name":"dropped"}`))
	req.Header.Set("Content-Type", "application/json")
	if resp, err := srv.Client().Do(req); err == nil {
		resp.Body.Close()
		t.Errorf("PUT through DropNext = %d; want a transport error", resp.StatusCode)
	}
	if _, _, ok := srv.Doc("w", "9"); !ok {
		t.Error("the dropped PUT did not commit")
	}
	st := srv.Stats()
	if st.Faults != 2 || st.Dropped != 1 || st.Writes != 2 {
		t.Errorf("stats = %+v; want 2 faults, 1 dropped, 2 writes (the POST and the dropped PUT)", st)
	}
	srv.ClearFaults()
	resp, body = call(t, srv, "GET", "/w/9", "")
	wantStatus(t, resp, body, 200)
}

func TestFailFractionIsSeeded(t *testing.T) {
	run := func(seed uint64) string {
		srv := concordtest.NewServer(t, concordtest.FaultSeed(seed))
		srv.FailFraction(0.5, 502)
		var codes strings.Builder
		for range 40 {
			resp, _ := call(t, srv, "GET", "/w", "")
			fmt.Fprintf(&codes, "%d ", resp.StatusCode)
		}
		return codes.String()
	}
	a, b := run(7), run(7)
	if a != b {
		t.Errorf("same seed, different faults:\n%s\n%s", a, b)
	}
	if !strings.Contains(a, "502") || !strings.Contains(a, "200") {
		t.Errorf("FailFraction(0.5) = %s; want a mix", a)
	}
}

func TestRecordsRequests(t *testing.T) {
	srv := concordtest.NewServer(t)
	call(t, srv, "POST", "/w?x=1", `{"name":"gear"}`, "X-Trace", "t1")
	reqs := srv.Requests()
	if len(reqs) != 1 || reqs[0].Method != "POST" || reqs[0].Path != "/w?x=1" || reqs[0].Header.Get("X-Trace") != "t1" || string(reqs[0].Body) != `{"name":"gear"}` {
		t.Errorf("Requests() = %+v; want the POST with its header and body", reqs)
	}
}

func TestConcurrentUse(t *testing.T) {
	srv := concordtest.NewServer(t)
	var wg sync.WaitGroup
	for range 50 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			resp, body := call(t, srv, "POST", "/w", `{"name":"gear"}`)
			if resp.StatusCode != 201 {
				t.Errorf("POST = %d %s", resp.StatusCode, body)
			}
		}()
	}
	wg.Wait()
	if n := srv.Len("w"); n != 50 {
		t.Errorf("stored = %d; want 50", n)
	}
	srv.Client().CloseIdleConnections()
	deadline := time.Now().Add(5 * time.Second)
	for srv.OpenConnections() != 0 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	if n := srv.OpenConnections(); n != 0 {
		t.Errorf("open connections after closing the client's = %d; want 0", n)
	}
}

// TestIDsAreRoutedAsEscaped: an item's ID is its path segment unescaped
// once: "%41" (sent as %2541) and "A" are two items, and an ID holding a
// slash (sent as %2F) is one (issue #30: they were one item, and "no such
// route").
func TestIDsAreRoutedAsEscaped(t *testing.T) {
	srv := concordtest.NewServer(t)
	for _, path := range []string{"/w/%2541", "/w/A", "/w/a%2Fb"} {
		resp, body := call(t, srv, "PUT", path, `{"name":"`+path+`"}`)
		wantStatus(t, resp, body, 201)
	}
	for _, id := range []string{"%41", "A", "a/b"} {
		if _, _, ok := srv.Doc("w", id); !ok {
			t.Errorf("Doc(w, %q) found nothing; want the item written at its escaped path", id)
		}
	}
	if n := srv.Len("w"); n != 3 {
		t.Errorf("Len(w) = %d; want 3 items", n)
	}
}

// TestCutFractionCommitsAndCutsTheBody: a write whose answer is cut is
// stored, and its client sees the 2xx status and a body cut short.
func TestCutFractionCommitsAndCutsTheBody(t *testing.T) {
	srv := concordtest.NewServer(t)
	srv.CutFraction(1)
	req, err := http.NewRequest("PUT", srv.URL+"/w/1", strings.NewReader(`{"name":"gear","padding":"0123456789"}`))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	_, rerr := io.ReadAll(resp.Body)
	if resp.StatusCode != 201 || rerr == nil {
		t.Errorf("PUT with its answer cut = %d, body read error %v; want 201 and an error", resp.StatusCode, rerr)
	}
	if _, _, ok := srv.Doc("w", "1"); !ok {
		t.Error("the write whose answer was cut was not stored")
	}
}
