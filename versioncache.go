package concord

// Layer: Memory (ARCHITECTURE.md).

import (
	"container/list"
	"sync"
)

// DefaultVersionCacheBytes bounds what a client remembers of the resources
// it has seen (16 MiB): their versions, and the bodies that serve as
// merge bases and for revalidation.
const DefaultVersionCacheBytes = 16 << 20

// bodyShare is the largest share of the budget one body may take: a body
// larger than maxBytes/bodyShare is not kept (its version still is), so
// one huge document cannot push out every other resource.
const bodyShare = 8

// entryOverhead approximates what an entry costs beyond its strings: the
// list element, the map slot, the snapshot.
const entryOverhead = 160

// itemURL is the URL that names one item: the key of everything the client
// remembers of it (its version and body, the kept copy of its value, its
// write turn). It has a type of its own so that an item's ID, also a
// string, cannot be passed where its address is expected: a Replace that
// created its item once remembered the version under the ID, and its next
// Replace wrote over another writer's change.
type itemURL string

// snapshot is what the client remembers of a resource: its version and the
// body it was seen with, the merge's base. body is nil when it was too
// large to keep.
type snapshot struct {
	version string
	etag    ETag
	body    []byte
	// encoded: body is bytes concord encoded from a T and wrote, which
	// the server stored as they were (it answered without a body, or
	// with the same bytes), so a T decoded from body encodes to body
	// again (see Resource.update).
	encoded bool
	// value, when set, is a *T decoded from body that no caller holds: a
	// copy of what an encoded body was encoded from, kept for large
	// documents of types a copier copies, so that an Update claims it
	// instead of decoding body (see written).
	value any
	held  int64 // the memory value holds (copyOf), charged with the body
}

// versionCache remembers snapshots per resource URL within a byte budget,
// least recently used first out. A budget of 0 remembers nothing. It is
// safe for concurrent use.
type versionCache struct {
	maxBytes int64

	mu    sync.Mutex
	bytes int64
	order *list.List // of *cacheEntry, most recent first
	byURL map[itemURL]*list.Element
}

type cacheEntry struct {
	url  itemURL
	snap snapshot
}

// cost counts a body by its capacity, the memory it holds: a body read
// without a Content-Length sits in a buffer up to twice its length. A kept
// value is counted at the memory it holds (copyOf), which may be far more
// than its JSON.
func (e *cacheEntry) cost() int64 {
	n := int64(len(e.url)+len(e.snap.version)+len(e.snap.etag)+cap(e.snap.body)) + entryOverhead
	if e.snap.value != nil {
		n += e.snap.held
	}
	return n
}

func newVersionCache(maxBytes int64) *versionCache {
	return &versionCache{maxBytes: maxBytes, order: list.New(), byURL: make(map[itemURL]*list.Element)}
}

func (v *versionCache) get(url itemURL) (snapshot, bool) {
	if v.maxBytes == 0 {
		return snapshot{}, false
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	el, ok := v.byURL[url]
	if !ok {
		return snapshot{}, false
	}
	v.order.MoveToFront(el)
	return el.Value.(*cacheEntry).snap, true
}

// put remembers s for url. A snapshot with neither a version nor a body is
// forgotten instead, since it cannot make a write conditional; one with a
// body and no version (a server that sends none) is kept: under the
// server's lock a write is conditional on that content (changedSince).
func (v *versionCache) put(url itemURL, s snapshot) {
	if v.maxBytes == 0 {
		return
	}
	if s.version == "" && s.body == nil {
		v.forget(url)
		return
	}
	if !v.keepsBody(cap(s.body)) {
		s.body, s.value = nil, nil
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	if el, ok := v.byURL[url]; ok {
		e := el.Value.(*cacheEntry)
		v.bytes -= e.cost()
		e.snap = s
		v.bytes += e.cost()
		v.order.MoveToFront(el)
	} else {
		e := &cacheEntry{url: url, snap: s}
		v.byURL[url] = v.order.PushFront(e)
		v.bytes += e.cost()
	}
	for v.bytes > v.maxBytes && v.order.Len() > 0 {
		v.remove(v.order.Back())
	}
}

// claim takes value out of url's snapshot, if it is still there, and
// reports whether it was: the caller then holds the only reference to it.
func (v *versionCache) claim(url itemURL, value any) bool {
	if v.maxBytes == 0 {
		return false
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	el, ok := v.byURL[url]
	if !ok {
		return false
	}
	e := el.Value.(*cacheEntry)
	if e.snap.value != value {
		return false
	}
	v.bytes -= e.cost()
	e.snap.value = nil
	v.bytes += e.cost()
	return true
}

// keepsBody reports whether a body of n bytes is remembered with its
// version: a body larger than a share of the budget is not.
func (v *versionCache) keepsBody(n int) bool {
	return v.maxBytes > 0 && int64(n) <= v.maxBytes/bodyShare
}

func (v *versionCache) forget(url itemURL) {
	if v.maxBytes == 0 {
		return
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	if el, ok := v.byURL[url]; ok {
		v.remove(el)
	}
}

func (v *versionCache) remove(el *list.Element) {
	e := el.Value.(*cacheEntry)
	v.order.Remove(el)
	delete(v.byURL, e.url)
	v.bytes -= e.cost()
}
