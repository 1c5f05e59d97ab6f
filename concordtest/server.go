package concordtest

// Layer: Test kit (ARCHITECTURE.md).

import (
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
)

// Server is an API served by an httptest server. Its URL field is the base
// URL to give a client.
type Server struct {
	*API
	*httptest.Server

	mu    sync.Mutex
	conns map[net.Conn]bool
}

// NewServer starts an API on a loopback httptest server that is closed
// when the test ends.
func NewServer(t testing.TB, opts ...Option) *Server {
	t.Helper()
	s := &Server{API: NewAPI(opts...), conns: make(map[net.Conn]bool)}
	s.Server = httptest.NewUnstartedServer(s.API)
	s.Server.Config.ConnState = s.track
	s.Server.Start()
	t.Cleanup(s.Server.Close)
	return s
}

func (s *Server) track(c net.Conn, state http.ConnState) {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch state {
	case http.StateNew:
		s.conns[c] = true
	case http.StateClosed, http.StateHijacked:
		delete(s.conns, c)
	}
}

// OpenConnections returns the number of client connections open now,
// idle ones included. A client that closes every response body and then
// its idle connections brings it to zero.
func (s *Server) OpenConnections() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.conns)
}
