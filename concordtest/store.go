package concordtest

// Layer: Test kit (ARCHITECTURE.md).

import (
	"crypto/md5"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strconv"
	"time"
)

// collection is one named set of documents.
type collection struct {
	docs   map[string]*resource
	nextID int
	// writing holds, with TornReads, what a read of an item gets while a
	// write of it is in progress: half of what is being written.
	writing map[string][]byte
}

type resource struct {
	doc     map[string]any
	etag    string // quoted, strong
	rev     string // the body version, when VersionInBody is on
	gen     string // the revision number, for GenerationQuery
	written time.Time
	// empty: made by a LOCK of an unmapped URL, and served, as WebDAV
	// servers serve such an item, as zero bytes until written
	empty bool
}

// Len returns the number of documents in a collection.
func (a *API) Len(collection string) int {
	a.mu.Lock()
	defer a.mu.Unlock()
	if c := a.collections[collection]; c != nil {
		return len(c.docs)
	}
	return 0
}

// Doc returns a stored document and its ETag.
func (a *API) Doc(collection, id string) (doc json.RawMessage, etag string, ok bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	c := a.collections[collection]
	if c == nil {
		return nil, "", false
	}
	r := c.docs[id]
	if r == nil {
		return nil, "", false
	}
	b, _ := json.Marshal(r.doc)
	return b, r.etag, true
}

// Seed stores doc (anything that encodes to a JSON object) as
// collection/id, replacing what was there, and returns its ETag. It is
// arrangement, not traffic: Stats does not count it.
func (a *API) Seed(collection, id string, doc any) (etag string, err error) {
	raw, err := json.Marshal(doc)
	if err != nil {
		return "", err
	}
	var obj map[string]any
	if err := decodeJSON(raw, &obj); err != nil || obj == nil {
		return "", fmt.Errorf("concordtest: Seed needs a JSON object, got %s", raw)
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	r := a.store(collection, id, obj)
	return r.etag, nil
}

// store writes a document and gives it a new version. Callers hold a.mu.
func (a *API) store(coll, id string, doc map[string]any) *resource {
	c := a.collection(coll)
	a.revision++
	rev := strconv.FormatInt(a.revision, 10)
	r := &resource{doc: doc, etag: `"r` + rev + `"`, gen: rev, written: a.cfg.now()}
	if a.cfg.bodyVersion != nil {
		r.rev = rev
		setPath(doc, a.cfg.bodyVersion, rev)
	}
	switch a.cfg.etagStyle {
	case etagContentHash, etagFileTime:
		b, _ := json.Marshal(doc) // map keys sorted: one content, one encoding
		if a.cfg.etagStyle == etagContentHash {
			sum := md5.Sum(b)
			r.etag = `"` + hex.EncodeToString(sum[:]) + `"`
		} else {
			r.etag = fmt.Sprintf(`"%x-%x"`, r.written.Unix(), len(b))
		}
	}
	c.docs[id] = r
	return r
}

func (a *API) collection(name string) *collection {
	c := a.collections[name]
	if c == nil {
		c = &collection{docs: make(map[string]*resource), writing: make(map[string][]byte)}
		a.collections[name] = c
	}
	return c
}
