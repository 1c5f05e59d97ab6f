package concord_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cenkalti/backoff/v4"
	"github.com/concord-go/concord"
	"github.com/concord-go/concord/concordtest"
)

func TestNewValidates(t *testing.T) {
	tests := []struct {
		name string
		url  string
		opts []concord.Option
		ok   bool
	}{
		{"https", "https://api.example.com/v1", nil, true},
		{"trailing slash", "http://127.0.0.1:8080/", nil, true},
		{"relative", "/v1", nil, false},
		{"no scheme", "api.example.com", nil, false},
		{"ftp", "ftp://example.com", nil, false},
		{"query (a SAS token)", "https://example.com/?sv=2023&sig=abc", nil, true},
		{"fragment", "https://example.com/#x", nil, false},
		{"malformed query", "https://example.com/?a=%zz", nil, false},
		{"garbage", "http://[::1", nil, false},
		{"bad header", "https://example.com", []concord.Option{concord.WithHeader("Bad Name", "x")}, false},
		{"header injection", "https://example.com", []concord.Option{concord.WithHeader("X-A", "a\r\nX-B: b")}, false},
		{"empty token", "https://example.com", []concord.Option{concord.WithBearerToken("")}, false},
		{"negative cache", "https://example.com", []concord.Option{concord.WithVersionCacheBytes(-1)}, false},
		{"negative retries", "https://example.com", []concord.Option{concord.WithRetryPolicy(concord.RetryPolicy{MaxAttempts: -1})}, false},
		{"bad key header", "https://example.com", []concord.Option{concord.WithIdempotencyKeyHeader("a b")}, false},
		{"nil key func", "https://example.com", []concord.Option{concord.WithIdempotencyKeyFunc(nil)}, false},
		{"nil options mean defaults", "https://example.com", []concord.Option{nil, concord.WithHTTPClient(nil), concord.WithTransport(nil), concord.WithClock(nil)}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := concord.New(tt.url, tt.opts...)
			if (err == nil) != tt.ok {
				t.Errorf("New(%q) = %v; want ok=%v", tt.url, err, tt.ok)
			}
		})
	}
}

func TestGetTracksVersionAndRevalidates(t *testing.T) {
	c, srv := setupFake(t, nil)
	etag := seedWidget(t, srv, "w1", Widget{Name: "gear", Price: 5})
	widgets := concord.NewResource[Widget](c, "widgets")

	got, err := widgets.Get(context.Background(), "w1")
	if err != nil {
		t.Fatalf("Get(w1) = %v", err)
	}
	if got.Value.Name != "gear" || got.Version != etag || got.ETag != concord.ETag(etag) {
		t.Errorf("Get(w1) = %+v, version %q; want gear at %s", got.Value, got.Version, etag)
	}
	again, err := widgets.Get(context.Background(), "w1")
	if err != nil {
		t.Fatalf("second Get(w1) = %v", err)
	}
	if again.StatusCode != http.StatusNotModified || again.Value.Name != "gear" {
		t.Errorf("second Get(w1) = %d %+v; want 304 with the remembered body", again.StatusCode, again.Value)
	}
	reqs := srv.Requests()
	if inm := reqs[len(reqs)-1].Header.Get("If-None-Match"); inm != etag {
		t.Errorf("revalidation If-None-Match = %q; want %q", inm, etag)
	}
}

func TestGetNotFoundIsTyped(t *testing.T) {
	c, mux := setup(t, concord.WithMaxErrorBodyBytes(64))
	mux.HandleFunc("/widgets/nope", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/problem+json")
		w.Header().Set("X-Request-Id", "req-42")
		w.WriteHeader(http.StatusNotFound)
		fmt.Fprintf(w, `{"type":"https://example.com/not-found","title":"Not Found","detail":"no widget %s","pad":%q}`, "nope", strings.Repeat("x", 5000))
	})
	_, err := concord.NewResource[Widget](c, "widgets").Get(context.Background(), "nope")
	if !errors.Is(err, concord.ErrNotFound) {
		t.Fatalf("Get(nope) = %v; want ErrNotFound", err)
	}
	var apiErr *concord.APIError
	if !errors.As(err, &apiErr) {
		t.Fatalf("Get(nope) = %T; want *APIError", err)
	}
	if apiErr.StatusCode != 404 || apiErr.RequestID != "req-42" || apiErr.Method != "GET" || !strings.HasSuffix(apiErr.URL, "/widgets/nope") {
		t.Errorf("APIError = %+v; want 404 GET .../widgets/nope with request ID req-42", apiErr)
	}
	if len(apiErr.Body) != 64 || !apiErr.Truncated {
		t.Errorf("APIError body = %d bytes, truncated=%v; want a 64-byte prefix", len(apiErr.Body), apiErr.Truncated)
	}
	// The problem document is larger than the kept prefix, so it is not parsed.
	if apiErr.Problem != nil {
		t.Errorf("APIError.Problem = %+v from a truncated body; want nil", apiErr.Problem)
	}
}

func TestProblemDetailsAreParsed(t *testing.T) {
	c, mux := setup(t)
	mux.HandleFunc("/widgets/1", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/problem+json")
		w.WriteHeader(http.StatusForbidden)
		io := `{"type":"https://example.com/probs/out-of-credit","title":"You do not have enough credit.","detail":"Your balance is 30.","balance":30}`
		fmt.Fprint(w, io)
	})
	_, err := concord.NewResource[Widget](c, "widgets").Get(context.Background(), "1")
	var apiErr *concord.APIError
	if !errors.As(err, &apiErr) || apiErr.Problem == nil {
		t.Fatalf("Get(1) = %v; want *APIError with a Problem", err)
	}
	p := apiErr.Problem
	if p.Type != "https://example.com/probs/out-of-credit" || p.Title != "You do not have enough credit." || p.Extensions["balance"] != 30.0 {
		t.Errorf("Problem = %+v; want the out-of-credit document", p)
	}
	if !strings.Contains(err.Error(), "enough credit") {
		t.Errorf("error text %q does not carry the problem title", err)
	}
}

func TestDecodeErrorNamesURLAndStatus(t *testing.T) {
	c, mux := setup(t)
	mux.HandleFunc("/widgets/1", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, `{"name": 42`)
	})
	_, err := concord.NewResource[Widget](c, "widgets").Get(context.Background(), "1")
	var decErr *concord.DecodeError
	if !errors.As(err, &decErr) || !errors.Is(err, concord.ErrDecode) {
		t.Fatalf("Get(1) = %v; want *DecodeError", err)
	}
	if decErr.StatusCode != 200 || !strings.HasSuffix(decErr.URL, "/widgets/1") || !strings.Contains(decErr.Type, "Widget") {
		t.Errorf("DecodeError = %+v; want status 200, the URL and the type", decErr)
	}
}

func TestResponseTooLarge(t *testing.T) {
	c, mux := setup(t, concord.WithMaxResponseBytes(100))
	mux.HandleFunc("/widgets/1", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, `{"name":%q}`, strings.Repeat("x", 1000))
	})
	_, err := concord.NewResource[Widget](c, "widgets").Get(context.Background(), "1")
	if !errors.Is(err, concord.ErrResponseTooLarge) {
		t.Fatalf("Get(1) = %v; want ErrResponseTooLarge", err)
	}
}

func TestCreateSendsTheSameKeyOnEveryRetry(t *testing.T) {
	c, mux := setup(t)
	var keys []string
	mux.HandleFunc("/widgets", func(w http.ResponseWriter, r *http.Request) {
		testMethod(t, r, "POST")
		testHeader(t, r, "Content-Type", "application/json")
		testBody(t, r, `{"name":"gear","price":3,"stock":0}`)
		keys = append(keys, r.Header.Get("Idempotency-Key"))
		if len(keys) < 3 {
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		w.WriteHeader(http.StatusCreated)
		fmt.Fprint(w, `{"id":"7","name":"gear","price":3}`)
	})
	res, err := concord.NewResource[Widget](c, "widgets").Create(context.Background(), Widget{Name: "gear", Price: 3})
	if err != nil {
		t.Fatalf("Create = %v", err)
	}
	if res.Value.ID != "7" || res.StatusCode != 201 || res.Requests != 3 {
		t.Errorf("Create = %+v (status %d, %d requests); want id 7, 201, 3 requests", res.Value, res.StatusCode, res.Requests)
	}
	if len(keys) != 3 || keys[0] == "" || keys[1] != keys[0] || keys[2] != keys[0] {
		t.Errorf("keys sent = %q; want one non-empty key three times", keys)
	}
}

func TestCreateAfterLostResponseMakesOneResource(t *testing.T) {
	c, srv := setupFake(t, nil)
	srv.DropNext(1, "POST", "/widgets")
	res, err := concord.NewResource[Widget](c, "widgets").Create(context.Background(), Widget{Name: "gear"})
	if err != nil {
		t.Fatalf("Create = %v", err)
	}
	if !res.Replayed || res.Value.ID == "" {
		t.Errorf("Create = %+v, replayed=%v; want the original result, replayed", res.Value, res.Replayed)
	}
	if n := srv.Len("widgets"); n != 1 {
		t.Errorf("stored widgets = %d; want 1", n)
	}
}

func TestCreateWithoutKeyIsSentOnce(t *testing.T) {
	c, srv := setupFake(t, nil)
	srv.DropNext(1, "POST", "/widgets")
	_, err := concord.NewResource[Widget](c, "widgets", concord.WithoutIdempotencyKey()).Create(context.Background(), Widget{Name: "gear"})
	if err == nil {
		t.Fatal("Create without a key over a dropped connection = nil error; want the transport error")
	}
	var retryErr *concord.RetryError
	if errors.As(err, &retryErr) {
		t.Errorf("Create without a key was retried: %v", err)
	}
	if got := countRequests(srv, "POST"); got != 1 {
		t.Errorf("POSTs sent = %d; want 1", got)
	}
	if n := srv.Len("widgets"); n != 1 {
		t.Errorf("stored widgets = %d; want 1 (committed once, never duplicated)", n)
	}
}

func TestCreateWithCallerKey(t *testing.T) {
	c, srv := setupFake(t, nil)
	widgets := concord.NewResource[Widget](c, "widgets")
	first, err := widgets.Create(context.Background(), Widget{Name: "gear"}, concord.WithIdempotencyKey("order-123"))
	if err != nil {
		t.Fatalf("Create = %v", err)
	}
	// A second process, after a restart, repeats the create with the stored key.
	c2 := newClient(t, srv.URL)
	second, err := concord.NewResource[Widget](c2, "widgets").Create(context.Background(), Widget{Name: "gear"}, concord.WithIdempotencyKey("order-123"))
	if err != nil {
		t.Fatalf("repeated Create = %v", err)
	}
	if !second.Replayed || second.Value.ID != first.Value.ID || srv.Len("widgets") != 1 {
		t.Errorf("repeated Create = %+v replayed=%v, %d stored; want a replay of %s and 1 stored", second.Value, second.Replayed, srv.Len("widgets"), first.Value.ID)
	}
	_, err = widgets.Create(context.Background(), Widget{Name: "other"}, concord.WithIdempotencyKey("order-123"))
	if !errors.Is(err, concord.ErrIdempotencyKeyReused) {
		t.Errorf("Create with a reused key and another payload = %v; want ErrIdempotencyKeyReused", err)
	}
	_, err = widgets.Create(context.Background(), Widget{Name: "x"}, concord.WithIdempotencyKey("bad key\r\n"))
	if err == nil || srv.Len("widgets") != 1 {
		t.Errorf("Create with an invalid key = %v; want an error before sending", err)
	}
}

func TestCreateWaitsForAKeyInProgress(t *testing.T) {
	c, mux := setup(t, concord.WithConflictPolicy(concord.ConflictPolicy{MaxAttempts: 5}))
	var calls atomic.Int32
	var keys sync.Map
	mux.HandleFunc("/widgets", func(w http.ResponseWriter, r *http.Request) {
		keys.Store(r.Header.Get("Idempotency-Key"), true)
		if calls.Add(1) <= 2 {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusConflict)
			fmt.Fprint(w, `{"error":{"type":"invalid_request_error","code":"idempotency_key_in_use"}}`)
			return
		}
		w.WriteHeader(http.StatusCreated)
		fmt.Fprint(w, `{"id":"1","name":"gear"}`)
	})
	res, err := concord.NewResource[Widget](c, "widgets").Create(context.Background(), Widget{Name: "gear"})
	if err != nil {
		t.Fatalf("Create = %v", err)
	}
	distinct := 0
	keys.Range(func(_, _ any) bool { distinct++; return true })
	if calls.Load() != 3 || distinct != 1 || res.Value.ID != "1" {
		t.Errorf("Create made %d requests with %d distinct keys, got %+v; want 3 requests with 1 key", calls.Load(), distinct, res.Value)
	}
}

func TestCreateUniqueViolationIsAlreadyExists(t *testing.T) {
	c, _ := setupFake(t, []concordtest.Option{concordtest.Unique("widgets", "name")})
	widgets := concord.NewResource[Widget](c, "widgets")
	if _, err := widgets.Create(context.Background(), Widget{Name: "gear"}); err != nil {
		t.Fatalf("first Create = %v", err)
	}
	_, err := widgets.Create(context.Background(), Widget{Name: "gear"})
	var apiErr *concord.APIError
	if !errors.Is(err, concord.ErrAlreadyExists) || !errors.As(err, &apiErr) || apiErr.Problem.Extensions["member"] != "name" {
		t.Errorf("duplicate Create = %v; want ErrAlreadyExists naming the member", err)
	}
}

func TestCreateAt(t *testing.T) {
	tests := []struct {
		name    string
		seed    *Widget
		wantErr error
		adopted bool
	}{
		{name: "absent", seed: nil},
		{name: "our lost create", seed: &Widget{Name: "gear", Price: 1}, adopted: true},
		{name: "someone else's", seed: &Widget{Name: "gear", Price: 2}, wantErr: concord.ErrAlreadyExists},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, srv := setupFake(t, nil)
			if tt.seed != nil {
				seedWidget(t, srv, "w1", *tt.seed)
			}
			res, err := concord.NewResource[Widget](c, "widgets").CreateAt(context.Background(), "w1", Widget{Name: "gear", Price: 1})
			if !errors.Is(err, tt.wantErr) || (tt.wantErr == nil && err != nil) {
				t.Fatalf("CreateAt = %v; want %v", err, tt.wantErr)
			}
			if err == nil && res.Adopted != tt.adopted {
				t.Errorf("CreateAt adopted = %v; want %v", res.Adopted, tt.adopted)
			}
			for _, r := range srv.Requests() {
				if r.Method == "PUT" && r.Header.Get("If-None-Match") != "*" {
					t.Errorf("PUT without If-None-Match: *")
				}
			}
			doc, _, _ := srv.Doc("widgets", "w1")
			var stored Widget
			_ = json.Unmarshal(doc, &stored)
			if tt.seed != nil && stored.Price != tt.seed.Price {
				t.Errorf("stored price = %d; want the seeded %d untouched", stored.Price, tt.seed.Price)
			}
		})
	}
}

func TestReplaceWithoutMergeReturnsConflict(t *testing.T) {
	c, srv := setupFake(t, nil)
	widgets, _, theirs := trackThenChange(t, c, srv, "w1", Widget{Name: "gear", Price: 1}, Widget{Name: "gear", Price: 2}) // another writer
	_, err := widgets.Replace(context.Background(), "w1", Widget{Name: "gear", Price: 3})
	var conflict *concord.ConflictError
	if !errors.Is(err, concord.ErrConflict) || !errors.As(err, &conflict) {
		t.Fatalf("Replace over a stale version = %v; want *ConflictError", err)
	}
	if conflict.Kind != concord.KindStaleVersion || conflict.Attempts != 1 {
		t.Errorf("ConflictError = %+v; want a stale version after 1 attempt", conflict)
	}
	if _, etag, _ := srv.Doc("widgets", "w1"); etag != theirs {
		t.Errorf("the other writer's version %s was overwritten (now %s)", theirs, etag)
	}
}

func TestReplaceMergesOnConflict(t *testing.T) {
	c, srv := setupFake(t, nil)
	widgets, _, theirsTag := trackThenChange(t, c, srv, "w1", Widget{Name: "gear", Price: 1, Stock: 5}, Widget{Name: "gear", Price: 2, Stock: 5})

	var calls int
	merge := func(base, mine, theirs Widget) (Widget, error) {
		calls++
		if base.Price != 1 || mine.Stock != 9 || theirs.Price != 2 {
			t.Errorf("merge(%+v, %+v, %+v); want base price 1, mine stock 9, theirs price 2", base, mine, theirs)
		}
		mine.Price = theirs.Price
		return mine, nil
	}
	res, err := widgets.WithMerge(merge).Replace(context.Background(), "w1", Widget{Name: "gear", Price: 1, Stock: 9})
	if err != nil {
		t.Fatalf("Replace = %v", err)
	}
	if calls != 1 || res.Conflicts != 1 || res.Value.Price != 2 || res.Value.Stock != 9 {
		t.Errorf("Replace = %+v after %d merges, %d conflicts; want price 2 stock 9 after 1", res.Value, calls, res.Conflicts)
	}
	puts := []concordtest.Request{}
	for _, r := range srv.Requests() {
		if r.Method == "PUT" {
			puts = append(puts, r)
		}
	}
	if len(puts) != 2 || puts[1].Header.Get("If-Match") != theirsTag {
		t.Fatalf("PUTs = %d, the retry's If-Match = %q; want 2, %s", len(puts), puts[len(puts)-1].Header.Get("If-Match"), theirsTag)
	}
	var sent Widget
	if err := json.Unmarshal(puts[1].Body, &sent); err != nil || sent.Price != 2 || sent.Stock != 9 {
		t.Errorf("merged body sent = %s; want price 2, stock 9", puts[1].Body)
	}
}

func TestReplaceMergeOutcomes(t *testing.T) {
	boom := errors.New("boom")
	tests := []struct {
		name      string
		merge     concord.MergeFunc[Widget]
		wantErr   error
		unchanged bool
		puts      int
	}{
		{"aborted", func(_, _, _ Widget) (Widget, error) { return Widget{}, concord.ErrMergeAborted }, concord.ErrMergeAborted, false, 1},
		{"own error", func(_, _, _ Widget) (Widget, error) { return Widget{}, boom }, boom, false, 1},
		{"theirs wins", concord.TheirsWins[Widget](), nil, true, 1},
		{"mine wins", concord.MineWins[Widget](), nil, false, 2},
		{"clash fails", concord.ThreeWay[Widget](), concord.ErrMergeAborted, false, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, srv := setupFake(t, nil)
			widgets, _, _ := trackThenChange(t, c, srv, "w1", Widget{Name: "gear", Price: 1}, Widget{Name: "gear", Price: 2})
			res, err := widgets.WithMerge(tt.merge).Replace(context.Background(), "w1", Widget{Name: "gear", Price: 3})
			if !errors.Is(err, tt.wantErr) || (tt.wantErr == nil && err != nil) {
				t.Fatalf("Replace = %v; want %v", err, tt.wantErr)
			}
			if err == nil && res.Unchanged != tt.unchanged {
				t.Errorf("Replace unchanged = %v; want %v", res.Unchanged, tt.unchanged)
			}
			if got := countRequests(srv, "PUT"); got != tt.puts {
				t.Errorf("PUTs = %d; want %d", got, tt.puts)
			}
		})
	}
}

func TestReplaceOfAMissingResourceCreatesIt(t *testing.T) {
	c, srv := setupFake(t, nil)
	res, err := concord.NewResource[Widget](c, "widgets").Replace(context.Background(), "new", Widget{Name: "gear"})
	if err != nil || res.StatusCode != http.StatusCreated {
		t.Fatalf("Replace(new) = %v, %v; want 201", res, err)
	}
	reqs := srv.Requests()
	if last := reqs[len(reqs)-1]; last.Header.Get("If-None-Match") != "*" {
		t.Errorf("create-by-replace sent If-None-Match %q; want *", last.Header.Get("If-None-Match"))
	}
}

func TestUpdateManyWritersLoseNothing(t *testing.T) {
	const writers, increments = 64, 10
	tests := []struct {
		name   string
		client func(t *testing.T, url string) func() *concord.Client
	}{
		// The usual shape: one client shared by the goroutines, whose
		// writes to one resource take turns.
		{"shared client", func(t *testing.T, url string) func() *concord.Client {
			c := newClient(t, url)
			return func() *concord.Client { return c }
		}},
		// A shared client that lets its writes race, resolved by conflicts.
		{"concurrent writes", func(t *testing.T, url string) func() *concord.Client {
			c := newClient(t, url, concord.WithConcurrentWrites())
			return func() *concord.Client { return c }
		}},
		// A client per goroutine, as separate processes would have.
		{"client per writer", func(t *testing.T, url string) func() *concord.Client {
			return func() *concord.Client { return newClient(t, url) }
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := concordtest.NewServer(t)
			seedWidget(t, srv, "counter", Widget{Name: "counter"})
			client := tt.client(t, srv.URL)
			var wg sync.WaitGroup
			errs := make(chan error, writers*increments)
			for range writers {
				widgets := concord.NewResource[Widget](client(), "widgets")
				wg.Add(1)
				go func() {
					defer wg.Done()
					for range increments {
						_, err := widgets.Update(context.Background(), "counter", func(w *Widget) error {
							w.Stock++
							return nil
						}, concord.WithMaxConflicts(1000))
						if err != nil {
							errs <- err
						}
					}
				}()
			}
			wg.Wait()
			close(errs)
			for err := range errs {
				t.Errorf("Update = %v", err)
			}
			doc, _, _ := srv.Doc("widgets", "counter")
			var w Widget
			if err := json.Unmarshal(doc, &w); err != nil || w.Stock != writers*increments {
				t.Errorf("counter = %s; want stock %d", doc, writers*increments)
			}
			t.Logf("%d conflicts for %d updates", srv.Stats().Conflicts, writers*increments)
		})
	}
}

func TestWritesOfOneClientTakeTurns(t *testing.T) {
	c, srv := setupFake(t, nil)
	seedWidget(t, srv, "w", Widget{Name: "gear"})
	widgets := concord.NewResource[Widget](c, "widgets")
	var wg sync.WaitGroup
	for range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := widgets.Update(context.Background(), "w", func(w *Widget) error { w.Stock++; return nil }); err != nil {
				t.Errorf("Update = %v", err)
			}
		}()
	}
	wg.Wait()
	if st := srv.Stats(); st.Conflicts != 0 || st.Writes != 20 {
		t.Errorf("stats = %+v; want 20 writes and no conflicts among one client's goroutines", st)
	}
	// Waiting for a turn ends with the context.
	ctx, cancel := context.WithCancel(context.Background())
	started := make(chan struct{})
	done := make(chan error)
	go func() {
		_, err := widgets.Update(context.Background(), "w", func(w *Widget) error {
			close(started)
			<-ctx.Done() // hold the turn until the waiter gives up
			w.Stock++
			return nil
		})
		done <- err
	}()
	<-started
	waitCtx, waitCancel := context.WithCancel(context.Background())
	waitCancel()
	if _, err := widgets.Update(waitCtx, "w", func(w *Widget) error { return nil }); !errors.Is(err, context.Canceled) {
		t.Errorf("Update waiting for a turn with a canceled context = %v; want context.Canceled", err)
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("the Update holding the turn = %v", err)
	}
}

func TestUpdateModes(t *testing.T) {
	tests := []struct {
		name string
		api  []concordtest.Option
		opts []concord.ResourceOption
	}{
		{"412", nil, nil},
		{"409", []concordtest.Option{concordtest.ConflictStatus(409)}, nil},
		{"conflict carries state", []concordtest.Option{concordtest.ConflictWithState()}, nil},
		{"body version", []concordtest.Option{concordtest.VersionInBody("version", "")}, []concord.ResourceOption{concord.WithVersioner(concord.BodyVersion{Path: "version"})}},
		{"merge patch", nil, []concord.ResourceOption{concord.WithPatch()}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, srv := setupFake(t, tt.api)
			seedWidget(t, srv, "w1", Widget{Name: "gear", Stock: 1})
			widgets := concord.NewResource[Widget](c, "widgets", tt.opts...)
			if _, err := widgets.Get(context.Background(), "w1"); err != nil {
				t.Fatal(err)
			}
			// Another writer changes the price behind our back.
			doc, _, _ := srv.Doc("widgets", "w1")
			var other map[string]any
			_ = json.Unmarshal(doc, &other)
			other["price"] = 50
			if _, err := srv.Seed("widgets", "w1", other); err != nil {
				t.Fatal(err)
			}
			before := len(srv.Requests())
			res, err := widgets.Update(context.Background(), "w1", func(w *Widget) error { w.Stock += 2; return nil })
			if err != nil {
				t.Fatalf("Update = %v", err)
			}
			if res.Value.Stock != 3 || res.Value.Price != 50 || res.Conflicts != 1 {
				t.Errorf("Update = %+v after %d conflicts; want stock 3, price 50, 1 conflict", res.Value, res.Conflicts)
			}
			want := 3 // write, refetch, write
			if tt.name == "conflict carries state" {
				want = 2 // the conflict response was the refetch
			}
			if got := len(srv.Requests()) - before; got != want {
				t.Errorf("requests for one conflict = %d; want %d", got, want)
			}
		})
	}
}

func TestUpdateAnswersPreconditionRequired(t *testing.T) {
	c, srv := setupFake(t, []concordtest.Option{concordtest.RequirePreconditions()})
	seedWidget(t, srv, "w1", Widget{Name: "gear"})
	res, err := concord.NewResource[Widget](c, "widgets", concord.WithUnconditional()).Replace(context.Background(), "w1", Widget{Name: "cog"})
	if err != nil {
		t.Fatalf("Replace = %v", err)
	}
	var seq []string
	for _, r := range srv.Requests()[0:] {
		seq = append(seq, r.Method+" "+r.Header.Get("If-Match"))
	}
	_, etag, _ := srv.Doc("widgets", "w1")
	if res.Value.Name != "cog" || len(seq) != 3 || seq[0] != "PUT " || seq[1] != "GET " || !strings.HasPrefix(seq[2], "PUT \"") || etag != res.Version {
		t.Errorf("Replace = %+v via %q; want cog via a blind PUT, a GET and a conditional PUT", res.Value, seq)
	}
}

func TestWeakETagIsNeverSentInIfMatch(t *testing.T) {
	clock := newFakeClock()
	c, mux := setup(t, concord.WithClock(clock))
	var ifMatch []string
	mux.HandleFunc("/widgets/1", func(w http.ResponseWriter, r *http.Request) {
		if r.Method == "PUT" {
			ifMatch = append(ifMatch, r.Header.Get("If-Match"))
		}
		w.Header().Set("ETag", `W/"weak"`)
		fmt.Fprint(w, `{"name":"gear"}`)
	})
	start := clock.Now()
	_, err := concord.NewResource[Widget](c, "widgets").Replace(context.Background(), "1", Widget{Name: "cog"})
	if !errors.Is(err, concord.ErrNoVersion) {
		t.Errorf("Replace with only weak ETags = %v; want ErrNoVersion", err)
	}
	if len(ifMatch) != 0 {
		t.Errorf("PUTs sent with If-Match %q; want none", ifMatch)
	}
	// It waited for a strong tag within the conflict policy: reads with
	// backoffs between them until the time budget ran out.
	if waited := clock.Now().Sub(start); waited < concord.DefaultConflictMaxElapsed || waited > concord.DefaultConflictMaxElapsed+2*concord.DefaultWaitMaxInterval {
		t.Errorf("waited %v for a strong ETag over %d waits; want the default budget, %v", waited, len(clock.Sleeps()), concord.DefaultConflictMaxElapsed)
	}
}

func TestGarbageETagIsNotEchoed(t *testing.T) {
	c, mux := setup(t)
	var puts int
	mux.HandleFunc("/widgets/1", func(w http.ResponseWriter, r *http.Request) {
		if r.Method == "PUT" {
			puts++
		}
		w.Header().Set("ETag", `unquoted, "two", W/"x`)
		fmt.Fprint(w, `{"name":"gear"}`)
	})
	res, err := concord.NewResource[Widget](c, "widgets").Get(context.Background(), "1")
	if err != nil || res.ETag != "" || res.Version != "" {
		t.Fatalf("Get = %v, etag %q; want success without an ETag", err, res.ETag)
	}
	_, err = concord.NewResource[Widget](c, "widgets").Replace(context.Background(), "1", Widget{Name: "cog"})
	if !errors.Is(err, concord.ErrNoVersion) || puts != 0 {
		t.Errorf("Replace = %v after %d PUTs; want ErrNoVersion before any PUT", err, puts)
	}
}

func TestDelete(t *testing.T) {
	t.Run("conditional on the tracked version", func(t *testing.T) {
		c, srv := setupFake(t, nil)
		etag := seedWidget(t, srv, "w1", Widget{Name: "gear"})
		widgets := concord.NewResource[Widget](c, "widgets")
		if _, err := widgets.Get(context.Background(), "w1"); err != nil {
			t.Fatal(err)
		}
		if err := widgets.Delete(context.Background(), "w1"); err != nil {
			t.Fatalf("Delete = %v", err)
		}
		reqs := srv.Requests()
		if got := reqs[len(reqs)-1].Header.Get("If-Match"); got != etag || srv.Len("widgets") != 0 {
			t.Errorf("DELETE If-Match = %q, %d left; want %s, 0 left", got, srv.Len("widgets"), etag)
		}
	})
	t.Run("stale version", func(t *testing.T) {
		c, srv := setupFake(t, nil)
		widgets, _, _ := trackThenChange(t, c, srv, "w1", Widget{Name: "gear"}, Widget{Name: "changed"})
		err := widgets.Delete(context.Background(), "w1")
		var conflict *concord.ConflictError
		if !errors.As(err, &conflict) || srv.Len("widgets") != 1 {
			t.Errorf("Delete of a changed resource = %v; want *ConflictError and the resource kept", err)
		}
	})
	t.Run("lost response", func(t *testing.T) {
		c, srv := setupFake(t, nil)
		seedWidget(t, srv, "w1", Widget{Name: "gear"})
		widgets := concord.NewResource[Widget](c, "widgets")
		if _, err := widgets.Get(context.Background(), "w1"); err != nil {
			t.Fatal(err)
		}
		srv.DropNext(1, "DELETE", "/widgets/w1")
		if err := widgets.Delete(context.Background(), "w1"); err != nil {
			t.Errorf("Delete whose response was lost = %v; want success", err)
		}
	})
	t.Run("precondition required", func(t *testing.T) {
		c, srv := setupFake(t, []concordtest.Option{concordtest.RequirePreconditions()})
		etag := seedWidget(t, srv, "w1", Widget{Name: "gear"})
		if err := concord.NewResource[Widget](c, "widgets").Delete(context.Background(), "w1"); err != nil {
			t.Fatalf("Delete against a server requiring If-Match = %v", err)
		}
		reqs := srv.Requests()
		if len(reqs) != 2 || reqs[0].Method != "GET" || reqs[1].Header.Get("If-Match") != etag || srv.Len("widgets") != 0 {
			t.Errorf("requests = %d (last If-Match %q), %d left; want GET, DELETE If-Match %s", len(reqs), reqs[len(reqs)-1].Header.Get("If-Match"), srv.Len("widgets"), etag)
		}
	})
	t.Run("unconditional by choice, precondition required", func(t *testing.T) {
		c, srv := setupFake(t, []concordtest.Option{concordtest.RequirePreconditions()})
		etag := seedWidget(t, srv, "w1", Widget{Name: "gear"})
		if err := concord.NewResource[Widget](c, "widgets", concord.WithUnconditional()).Delete(context.Background(), "w1"); err != nil {
			t.Fatalf("Delete against a server requiring If-Match = %v", err)
		}
		reqs := srv.Requests()
		if len(reqs) != 3 || reqs[0].Header.Get("If-Match") != "" || reqs[1].Method != "GET" || reqs[2].Header.Get("If-Match") != etag || srv.Len("widgets") != 0 {
			t.Errorf("requests = %d (last If-Match %q), %d left; want DELETE 428, GET, DELETE If-Match %s", len(reqs), reqs[len(reqs)-1].Header.Get("If-Match"), srv.Len("widgets"), etag)
		}
	})
	t.Run("missing", func(t *testing.T) {
		c, _ := setupFake(t, nil)
		err := concord.NewResource[Widget](c, "widgets").Delete(context.Background(), "nope")
		if !errors.Is(err, concord.ErrNotFound) {
			t.Errorf("Delete(nope) = %v; want ErrNotFound", err)
		}
	})
}

func TestDo(t *testing.T) {
	c, mux := setup(t, concord.WithBearerToken("s3cret"), concord.WithUserAgent("test/1"), concord.WithHeader("X-Tenant", "t1"))
	mux.HandleFunc("/orders", func(w http.ResponseWriter, r *http.Request) {
		testMethod(t, r, "POST")
		testHeader(t, r, "Authorization", "Bearer s3cret")
		testHeader(t, r, "User-Agent", "test/1")
		testHeader(t, r, "X-Tenant", "t1")
		testHeader(t, r, "X-Extra", "1")
		testHeader(t, r, "Idempotency-Key", "k1")
		testBody(t, r, `{"qty":2}`)
		w.Header().Set("Idempotent-Replayed", "true")
		fmt.Fprint(w, `{"id":"o1"}`)
	})
	var out struct{ ID string }
	resp, err := c.Do(context.Background(), &concord.Request{
		Method: "POST", Path: "/orders", Body: map[string]int{"qty": 2},
		Header: http.Header{"X-Extra": {"1"}}, IdempotencyKey: "k1",
	}, &out)
	if err != nil || out.ID != "o1" || !resp.Replayed {
		t.Errorf("Do = %+v, %v, out %+v; want o1, replayed", resp, err, out)
	}
	var bodies []string
	mux.HandleFunc("/raw", func(w http.ResponseWriter, r *http.Request) {
		b := new(strings.Builder)
		_, _ = io.Copy(b, r.Body)
		bodies = append(bodies, b.String())
		if len(bodies) == 1 {
			w.WriteHeader(http.StatusServiceUnavailable)
		}
	})
	if _, err := c.Do(context.Background(), &concord.Request{Method: "PUT", Path: "/raw", Body: strings.NewReader(`{"raw":true}`)}, nil); err != nil || len(bodies) != 2 || bodies[1] != `{"raw":true}` {
		t.Errorf("Do with a reader body = %v, bodies %q; want the same bytes twice", err, bodies)
	}
	if _, err := c.Do(context.Background(), &concord.Request{Path: "https://elsewhere.example/steal"}, nil); err == nil || !strings.Contains(err.Error(), "outside the client's base URL") {
		t.Errorf("Do to another origin = %v; want it refused before anything is sent", err)
	}
	if _, err := c.Do(context.Background(), &concord.Request{Path: c.BaseURL() + "/raw", Method: "PUT", Body: []byte(`{}`)}, nil); err != nil {
		t.Errorf("Do to an absolute URL below the base = %v", err)
	}
	if _, err := c.Do(context.Background(), &concord.Request{Path: "/x", IfMatch: `W/"w"`}, nil); !errors.Is(err, concord.ErrInvalidETag) {
		t.Errorf("Do with a weak If-Match = %v; want ErrInvalidETag", err)
	}
}

func TestLoggerNeverLogsCredentials(t *testing.T) {
	var buf bytes.Buffer
	logger := slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
	c, mux := setup(t, concord.WithLogger(logger), concord.WithBearerToken("tok-SECRET"), concord.WithHeader("X-Api-Key", "key-SECRET"), concord.WithHeader("Cookie", "c=SECRET"))
	var n atomic.Int32
	mux.HandleFunc("/widgets/1", func(w http.ResponseWriter, r *http.Request) {
		if n.Add(1) == 1 {
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		fmt.Fprint(w, `{"name":"gear"}`)
	})
	if _, err := concord.NewResource[Widget](c, "widgets").Get(context.Background(), "1", concord.WithQuery("api_key", "q-SECRET")); err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	if !strings.Contains(out, "concord: retrying") || !strings.Contains(out, "concord: request") {
		t.Errorf("log lacks request and retry records:\n%s", out)
	}
	if strings.Contains(out, "SECRET") {
		t.Errorf("log contains a credential:\n%s", out)
	}
}

func TestHooksAndInvocationHeaders(t *testing.T) {
	var (
		mu       sync.Mutex
		attempts []concord.AttemptEvent
		retries  []concord.RetryEvent
	)
	hooks := concord.Hooks{
		OnAttempt: func(_ context.Context, e concord.AttemptEvent) {
			mu.Lock()
			attempts = append(attempts, e)
			mu.Unlock()
		},
		OnRetry: func(_ context.Context, e concord.RetryEvent) { mu.Lock(); retries = append(retries, e); mu.Unlock() },
	}
	c, mux := setup(t, concord.WithHooks(hooks), concord.WithInvocationHeaders())
	var ids, nums []string
	mux.HandleFunc("/widgets/1", func(w http.ResponseWriter, r *http.Request) {
		ids = append(ids, r.Header.Get(concord.HeaderInvocationID))
		nums = append(nums, r.Header.Get(concord.HeaderAttempt))
		if len(ids) == 1 {
			w.WriteHeader(http.StatusBadGateway)
			return
		}
		fmt.Fprint(w, `{"name":"gear"}`)
	})
	if _, err := concord.NewResource[Widget](c, "widgets").Get(context.Background(), "1"); err != nil {
		t.Fatal(err)
	}
	if len(ids) != 2 || ids[0] == "" || ids[0] != ids[1] || nums[0] != "1" || nums[1] != "2" {
		t.Errorf("invocation IDs %q, attempts %q; want one ID, attempts 1 and 2", ids, nums)
	}
	if len(attempts) != 2 || len(retries) != 1 || retries[0].StatusCode != 502 || attempts[1].Attempt != 2 {
		t.Errorf("hooks saw %d attempts, retries %+v; want 2 attempts and one retry after 502", len(attempts), retries)
	}
}

func TestCancelDuringConflictBackoffReturnsPromptly(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	hooks := concord.Hooks{OnConflict: func(context.Context, concord.ConflictEvent) { cancel() }}
	// A conflict backoff of an hour: only cancellation can end the wait.
	policy := concord.ConflictPolicy{NewBackOff: func() backoff.BackOff { return backoff.NewConstantBackOff(time.Hour) }}
	c, srv := setupFake(t, nil, concord.WithHooks(hooks), concord.WithConflictPolicy(policy))
	seedWidget(t, srv, "w1", Widget{Name: "gear"})
	widgets := concord.NewResource[Widget](c, "widgets")
	if _, err := widgets.Get(ctx, "w1"); err != nil {
		t.Fatal(err)
	}
	seedWidget(t, srv, "w1", Widget{Name: "changed"})
	var err error
	returnsWithin(t, 10*time.Second, func() {
		_, err = widgets.Update(ctx, "w1", func(w *Widget) error { w.Stock++; return nil })
	})
	if !errors.Is(err, context.Canceled) || !errors.Is(err, concord.ErrConflict) {
		t.Errorf("Update canceled during backoff = %v; want context.Canceled inside a conflict error", err)
	}
}
