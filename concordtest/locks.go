package concordtest

// Layer: Test kit (ARCHITECTURE.md).

import (
	"crypto/rand"
	"encoding/hex"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// lock is a lock held on one item: a WebDAV lock token or a lease ID.
type lock struct {
	token   string
	expires time.Time
}

// Locks serves RFC 4918 WebDAV locks on items, as Apache mod_dav with a
// lock database and nginx's dav-ext module do: LOCK takes an exclusive
// lock for its Timeout (Second-n; 60s without one) and answers its token
// in Lock-Token (201 when the item did not exist: it is created, empty),
// 423 while another holds it; LOCK with If: (<token>) and no body
// refreshes it; UNLOCK with Lock-Token releases it. While an item is
// locked, a PUT, PATCH or DELETE without its token in If is answered 423.
func Locks() Option { return func(c *config) { c.locks = true } }

// LockTimeout grants every WebDAV lock d, whatever Timeout the client
// asks for, as nginx's dav-ext module grants its lock zone's setting; the
// answer's lockdiscovery says what was granted, as RFC 4918 has it.
func LockTimeout(d time.Duration) Option { return func(c *config) { c.lockTimeout = d } }

// Leases serves Azure Blob leases on items: PUT ?comp=lease with
// x-ms-lease-action acquire (x-ms-lease-duration 15 to 60 seconds; 409
// LeaseAlreadyPresent while another holds one, 404 for a missing item),
// renew and release with x-ms-lease-id. While an item is leased, a write
// without its lease ID is answered 412 LeaseIdMissing, one with another ID
// 412 LeaseIdMismatchWithBlobOperation.
func Leases() Option { return func(c *config) { c.leases = true } }

// ExpireLocks ends every lock and lease now, as if their time had run
// out: a test can check what a client does when its lock is lost.
func (a *API) ExpireLocks() {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.locks = nil
}

// Locked reports whether the item at collection/id is locked or leased
// now, for a test to check that a finished call left no lock behind.
func (a *API) Locked(collection, id string) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.heldLock(collection+"/"+id) != nil
}

// heldLock returns the unexpired lock of an item, forgetting an expired
// one. Callers hold a.mu.
func (a *API) heldLock(key string) *lock {
	l := a.locks[key]
	if l != nil && !a.cfg.now().Before(l.expires) {
		delete(a.locks, key)
		return nil
	}
	return l
}

func newLockToken(prefix string) string {
	b := make([]byte, 16)
	rand.Read(b)
	return prefix + hex.EncodeToString(b)
}

// davLock answers LOCK and UNLOCK of an item. Callers hold a.mu.
func (a *API) davLock(r *http.Request, coll, id string, body []byte) *reply {
	key := coll + "/" + id
	held := a.heldLock(key)
	if r.Method == "UNLOCK" {
		tok := strings.Trim(strings.TrimSpace(r.Header.Get("Lock-Token")), "<>")
		if held == nil || held.token != tok {
			return problem(http.StatusConflict, ProblemBadRequest, "no such lock on the resource", r.URL.Path)
		}
		delete(a.locks, key)
		return &reply{status: http.StatusNoContent, header: http.Header{}}
	}
	ttl := time.Minute
	if s, ok := strings.CutPrefix(r.Header.Get("Timeout"), "Second-"); ok {
		if n, err := strconv.Atoi(s); err == nil && n > 0 {
			ttl = time.Duration(n) * time.Second
		}
	}
	if a.cfg.lockTimeout > 0 {
		ttl = a.cfg.lockTimeout
	}
	if len(body) == 0 { // a refresh
		if held == nil || !strings.Contains(r.Header.Get("If"), "<"+held.token+">") {
			return problem(http.StatusPreconditionFailed, ProblemStaleVersion, "no lock to refresh", r.URL.Path)
		}
		held.expires = a.cfg.now().Add(ttl)
		return &reply{status: http.StatusOK, header: http.Header{"Content-Type": {"application/xml"}}, body: lockDiscovery(held.token, ttl)}
	}
	if held != nil {
		return &reply{status: http.StatusLocked, header: http.Header{}}
	}
	status := http.StatusOK
	if a.collection(coll).docs[id] == nil {
		a.store(coll, id, map[string]any{}).empty = true
		status = http.StatusCreated
	}
	l := &lock{token: newLockToken("opaquelocktoken:"), expires: a.cfg.now().Add(ttl)}
	if a.locks == nil {
		a.locks = make(map[string]*lock)
	}
	a.locks[key] = l
	return &reply{status: status, header: http.Header{"Lock-Token": {"<" + l.token + ">"}, "Content-Type": {"application/xml"}}, body: lockDiscovery(l.token, ttl)}
}

// lockDiscovery is the body of a LOCK's answer: the lock granted, with its
// timeout in whole seconds.
func lockDiscovery(token string, ttl time.Duration) []byte {
	return []byte(`<?xml version="1.0" encoding="utf-8"?><D:prop xmlns:D="DAV:"><D:lockdiscovery><D:activelock>` +
		`<D:locktype><D:write/></D:locktype><D:lockscope><D:exclusive/></D:lockscope><D:depth>0</D:depth>` +
		`<D:timeout>Second-` + strconv.Itoa(max(int(ttl/time.Second), 1)) + `</D:timeout>` +
		`<D:locktoken><D:href>` + token + `</D:href></D:locktoken></D:activelock></D:lockdiscovery></D:prop>`)
}

// lease answers PUT ?comp=lease on an item. Callers hold a.mu.
func (a *API) lease(r *http.Request, coll, id string) *reply {
	key := coll + "/" + id
	if a.collection(coll).docs[id] == nil {
		return a.azureError(http.StatusNotFound, "BlobNotFound")
	}
	held := a.heldLock(key)
	given := r.Header.Get("X-Ms-Lease-Id")
	switch r.Header.Get("X-Ms-Lease-Action") {
	case "acquire":
		if held != nil {
			return a.azureError(http.StatusConflict, "LeaseAlreadyPresent")
		}
		n, err := strconv.Atoi(r.Header.Get("X-Ms-Lease-Duration"))
		if err != nil || n < 15 || n > 60 {
			return a.azureError(http.StatusBadRequest, "InvalidHeaderValue")
		}
		l := &lock{token: newLockToken(""), expires: a.cfg.now().Add(time.Duration(n) * time.Second)}
		if a.locks == nil {
			a.locks = make(map[string]*lock)
		}
		a.locks[key] = l
		return &reply{status: http.StatusCreated, header: http.Header{"X-Ms-Lease-Id": {l.token}}}
	case "renew", "release":
		if held == nil || held.token != given {
			return a.azureError(http.StatusConflict, "LeaseIdMismatchWithLeaseOperation")
		}
		if r.Header.Get("X-Ms-Lease-Action") == "release" {
			delete(a.locks, key)
		} else {
			held.expires = a.cfg.now().Add(time.Minute)
		}
		return &reply{status: http.StatusOK, header: http.Header{}}
	}
	return a.azureError(http.StatusBadRequest, "InvalidHeaderValue")
}

// azureError is an Azure Storage error: its code in x-ms-error-code and an
// XML body.
func (a *API) azureError(status int, code string) *reply {
	return &reply{status: status, header: http.Header{"X-Ms-Error-Code": {code}, "Content-Type": {"application/xml"}},
		body: []byte(`<?xml version="1.0" encoding="utf-8"?><Error><Code>` + code + `</Code><Message>` + code + `</Message></Error>`)}
}

// lockedOut answers a write to a locked or leased item that does not
// carry the lock's proof, or nil when it may go on. A lock token in an If
// header that is not the item's lock fails the If header (412), as RFC
// 4918 has it; a lease ID on an item with no lease is refused (412
// LeaseNotPresentWithBlobOperation), as Azure does. Callers hold a.mu.
func (a *API) lockedOut(r *http.Request, coll, id string) *reply {
	held := a.heldLock(coll + "/" + id)
	ifHeader, leaseID := r.Header.Get("If"), r.Header.Get("X-Ms-Lease-Id")
	switch {
	case a.cfg.locks && ifHeader != "" && (held == nil || !strings.Contains(ifHeader, "<"+held.token+">")):
		return problem(http.StatusPreconditionFailed, ProblemStaleVersion, "the If header names a lock the resource does not have", r.URL.Path)
	case a.cfg.leases && leaseID != "" && held == nil:
		return a.azureError(http.StatusPreconditionFailed, "LeaseNotPresentWithBlobOperation")
	case held == nil:
		return nil
	case a.cfg.locks && strings.Contains(r.Header.Get("If"), "<"+held.token+">"):
		return nil
	case a.cfg.locks:
		return &reply{status: http.StatusLocked, header: http.Header{}}
	case r.Header.Get("X-Ms-Lease-Id") == held.token:
		return nil
	case r.Header.Get("X-Ms-Lease-Id") == "":
		return a.azureError(http.StatusPreconditionFailed, "LeaseIdMissing")
	}
	return a.azureError(http.StatusPreconditionFailed, "LeaseIdMismatchWithBlobOperation")
}
