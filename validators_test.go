package concord_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"

	"github.com/concord-go/concord"
)

// stuckTagServer serves one counter document whose strong ETag never
// moves, as a file time of one-second resolution does not within a second.
// It honors If-Match and If-None-Match against that tag (so they prove
// nothing), unless ignoreINM; cutWrites answers writes with a body cut
// short.
type stuckTagServer struct {
	mu        sync.Mutex
	n         int
	puts      int
	ifNone    []string // If-None-Match of each GET
	ignoreINM bool
	cutWrites bool
}

func (s *stuckTagServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	const tag = `"t1"`
	w.Header().Set("ETag", tag)
	switch r.Method {
	case http.MethodGet:
		s.ifNone = append(s.ifNone, r.Header.Get("If-None-Match"))
		if r.Header.Get("If-None-Match") == tag && !s.ignoreINM {
			w.WriteHeader(http.StatusNotModified)
			return
		}
		fmt.Fprintf(w, `{"name":"counter","stock":%d}`, s.n)
	case http.MethodPut:
		if r.Header.Get("If-Match") != tag {
			w.WriteHeader(http.StatusPreconditionFailed)
			return
		}
		s.puts++
		var doc Widget
		body, _ := io.ReadAll(r.Body)
		if err := json.Unmarshal(body, &doc); err != nil {
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		s.n = doc.Stock
		if s.cutWrites {
			conn, buf, _ := w.(http.Hijacker).Hijack()
			fmt.Fprintf(buf, "HTTP/1.1 200 OK\r\nETag: %s\r\nContent-Length: 50\r\n\r\n{", tag)
			buf.Flush()
			conn.Close()
			return
		}
		fmt.Fprintf(w, `{"name":"counter","stock":%d}`, s.n)
	}
}

func (s *stuckTagServer) state() (n, puts int, ifNone []string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.n, s.puts, append([]string(nil), s.ifNone...)
}

// TestETagThatDoesNotMoveIsNoticed: a write answered with the ETag it was
// conditional on, for other content, proves the server's ETags do not
// identify content. That write took effect and says so; every later write
// conditional on an ETag is refused before it is sent, and Get stops
// revalidating. WithTrustedETags turns the check off.
func TestETagThatDoesNotMoveIsNoticed(t *testing.T) {
	s := &stuckTagServer{n: 1}
	srv := httptest.NewServer(s)
	t.Cleanup(srv.Close)
	widgets := concord.NewResource[Widget](newClient(t, srv.URL), "widgets")
	incr := func(w *Widget) error { w.Stock++; return nil }
	if _, err := widgets.Get(bounded(t), "c"); err != nil {
		t.Fatal(err)
	}
	res, err := widgets.Update(bounded(t), "c", incr)
	if !errors.Is(err, concord.ErrETagUnreliable) || !errors.Is(err, concord.ErrWriteApplied) || res == nil || res.Value.Stock != 2 {
		t.Fatalf("Update answered with the same ETag = %+v, %v; want the result, ErrETagUnreliable and ErrWriteApplied", res, err)
	}
	_, err = widgets.Update(bounded(t), "c", incr)
	n, puts, _ := s.state()
	if !errors.Is(err, concord.ErrETagUnreliable) || puts != 1 || n != 2 {
		t.Errorf("Update after = %v with %d PUTs, n=%d; want ErrETagUnreliable before any write", err, puts, n)
	}
	if err := widgets.Delete(bounded(t), "c"); !errors.Is(err, concord.ErrETagUnreliable) {
		t.Errorf("Delete after = %v; want ErrETagUnreliable", err)
	}
	got, err := widgets.Get(bounded(t), "c")
	_, _, ifNone := s.state()
	if err != nil || got.Value.Stock != 2 || ifNone[len(ifNone)-1] != "" {
		t.Errorf("Get after = %+v, %v with If-None-Match %q; want a full read", got, err, ifNone[len(ifNone)-1])
	}

	trusting := concord.NewResource[Widget](newClient(t, srv.URL, concord.WithTrustedETags()), "widgets")
	for range 2 {
		if _, err := trusting.Update(bounded(t), "c", incr); err != nil {
			t.Errorf("Update WithTrustedETags = %v; want success", err)
		}
	}
}

// TestTwoReadsOfOneTagWithOtherContent: two reads that show one strong
// ETag for different contents are enough; no write is sent after them.
func TestTwoReadsOfOneTagWithOtherContent(t *testing.T) {
	s := &stuckTagServer{n: 1, ignoreINM: true}
	srv := httptest.NewServer(s)
	t.Cleanup(srv.Close)
	widgets := concord.NewResource[Widget](newClient(t, srv.URL), "widgets")
	if _, err := widgets.Get(bounded(t), "c"); err != nil {
		t.Fatal(err)
	}
	s.mu.Lock()
	s.n = 5 // another writer, within the same second
	s.mu.Unlock()
	if got, err := widgets.Get(bounded(t), "c"); err != nil || got.Value.Stock != 5 {
		t.Fatalf("second Get = %+v, %v", got, err)
	}
	_, err := widgets.Update(bounded(t), "c", func(w *Widget) error { w.Stock++; return nil })
	if _, puts, _ := s.state(); !errors.Is(err, concord.ErrETagUnreliable) || puts != 0 {
		t.Errorf("Update = %v after %d PUTs; want ErrETagUnreliable and no write", err, puts)
	}
}

// TestGetIsNeverOlderThanOurOwnWrite: after a write that took effect but
// whose answer was cut short, Get does not revalidate the copy from before
// the write (a server whose tag did not move would answer 304 for it).
func TestGetIsNeverOlderThanOurOwnWrite(t *testing.T) {
	s := &stuckTagServer{n: 1, cutWrites: true}
	srv := httptest.NewServer(s)
	t.Cleanup(srv.Close)
	widgets := concord.NewResource[Widget](newClient(t, srv.URL), "widgets")
	if _, err := widgets.Get(bounded(t), "c"); err != nil {
		t.Fatal(err)
	}
	if _, err := widgets.Update(bounded(t), "c", func(w *Widget) error { w.Stock = 2; return nil }); !errors.Is(err, concord.ErrWriteApplied) {
		t.Fatalf("Update answered with a cut body = %v; want ErrWriteApplied", err)
	}
	got, err := widgets.Get(bounded(t), "c")
	if err != nil || got.Value.Stock != 2 {
		t.Errorf("Get after our own write = %+v, %v; want stock 2, not the copy from before it", got, err)
	}
}
