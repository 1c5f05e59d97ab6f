package histories

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync"

	"github.com/concord-go/concord"
)

// resends watches a client's requests for the one thing no outcome shows:
// a write the client saw answered 2xx, sent again by the same call.
// concord still reports such a call as applied (ErrWriteApplied), and a
// server that honors keys or the precondition makes the resend harmless,
// so the history stays linearizable; but on a server that honors neither
// the resend is a second write, which is why it is never sent. Only the
// client knows which answers it read, so the watch is on the client's
// hooks, not on the server.
type resends struct {
	mu       sync.Mutex
	answered map[string]bool // invocation + method + URL of writes answered 2xx
	found    []string
}

// hooks are the client hooks that feed the watch.
func (r *resends) hooks() concord.Hooks {
	return concord.Hooks{
		OnAttempt: func(_ context.Context, e concord.AttemptEvent) {
			if !isWrite(e.Method) {
				return
			}
			r.mu.Lock()
			defer r.mu.Unlock()
			if r.answered[e.InvocationID+" "+e.Method+" "+e.URL] {
				r.found = append(r.found, fmt.Sprintf("%s %s (attempt %d) after a 2xx to it", e.Method, e.URL, e.Attempt))
			}
		},
		OnAttemptDone: func(_ context.Context, e concord.AttemptDoneEvent) {
			if !isWrite(e.Method) || e.StatusCode < 200 || e.StatusCode > 299 {
				return
			}
			r.mu.Lock()
			defer r.mu.Unlock()
			if r.answered == nil {
				r.answered = make(map[string]bool)
			}
			r.answered[e.InvocationID+" "+e.Method+" "+e.URL] = true
		},
	}
}

// take returns what was found since the last take, joined, and forgets
// it: a worker runs one operation at a time, so what take returns is its
// last operation's.
func (r *resends) take() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	s := strings.Join(r.found, "; ")
	r.found = nil
	return s
}

// isWrite reports whether method changes the item: the lock methods
// (LOCK, UNLOCK) and reads do not count.
func isWrite(method string) bool {
	switch method {
	case http.MethodPut, http.MethodPost, http.MethodPatch, http.MethodDelete:
		return true
	}
	return false
}
