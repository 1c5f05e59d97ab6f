package concordtest

// Layer: Test kit (ARCHITECTURE.md).

import (
	"crypto/sha256"
	"net/http"
	"strings"
	"time"
)

// keyEntry is the remembered outcome of a request with an idempotency key.
type keyEntry struct {
	fingerprint [32]byte
	done        bool
	reply       *reply
	expires     time.Time
}

// withIdempotency runs a write (POST, PUT, PATCH or DELETE) under the
// Idempotency-Key rules of the IETF draft: a repeated key with the same
// request replays the stored response, with another request gets 422,
// while the first is still running gets 409. The draft names POST and PATCH;
// honoring keys on every write also makes a retried conditional PUT whose
// answer was lost replay that answer instead of failing as stale.
func (a *API) withIdempotency(r *http.Request, body []byte, latency time.Duration) *reply {
	key := strings.Trim(strings.TrimSpace(r.Header.Get(a.cfg.keyHeader)), `"`)
	if a.cfg.ignoreKeys || a.cfg.keysPOSTOnly && r.Method != http.MethodPost {
		key = ""
	}
	if r.Method == http.MethodGet || r.Method == http.MethodHead || key == "" {
		if a.cfg.requireKey && r.Method == http.MethodPost {
			return problem(http.StatusBadRequest, ProblemKeyMissing, "an Idempotency-Key header is required", "")
		}
		a.mu.Lock()
		a.inFlight++
		a.mu.Unlock()
		defer func() {
			a.mu.Lock()
			a.inFlight--
			a.mu.Unlock()
		}()
		if !sleep(r, latency) {
			return nil
		}
		return a.handle(r, body)
	}
	fp := sha256.Sum256([]byte(r.Method + " " + r.URL.Path + "\n" + string(body)))
	a.mu.Lock()
	now := a.cfg.now()
	e, seen := a.keys[key]
	if seen && now.After(e.expires) {
		seen = false
	}
	switch {
	case seen && e.fingerprint != fp:
		a.mu.Unlock()
		return problem(http.StatusUnprocessableEntity, ProblemKeyReused, "idempotency key reused with a different request", "")
	case seen && !e.done:
		a.mu.Unlock()
		rep := problem(http.StatusConflict, ProblemRequestInProgress, "a request with this idempotency key is in progress", "")
		rep.header.Set("Retry-After", "1")
		return rep
	case seen:
		a.stats.Replays++
		rep := e.reply.clone()
		a.mu.Unlock()
		rep.header.Set("Idempotent-Replayed", "true")
		return rep
	}
	e = &keyEntry{fingerprint: fp, expires: now.Add(a.cfg.keyTTL)}
	a.keys[key] = e
	a.inFlight++
	a.mu.Unlock()

	if !sleep(r, latency) {
		a.mu.Lock()
		delete(a.keys, key)
		a.inFlight--
		a.mu.Unlock()
		return nil
	}
	rep := a.handle(r, body)
	a.mu.Lock()
	defer a.mu.Unlock()
	a.inFlight--
	if rep.status >= 500 {
		delete(a.keys, key) // not processed: the key may be used again
	} else {
		e.done, e.reply = true, rep.clone()
	}
	return rep
}
