package concordtest

// Layer: Test kit (ARCHITECTURE.md).

import (
	"encoding/json"
	"io"
	"mime"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"
)

// ServeHTTP serves the collections at /{collection} and
// /{collection}/{id}, and at the paths Collections declares.
func (a *API) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(io.LimitReader(r.Body, a.cfg.maxBody+1))
	if err != nil {
		return // the client went away
	}
	a.mu.Lock()
	a.stats.Requests++
	a.requests = append(a.requests, Request{Method: r.Method, Path: r.URL.RequestURI(), Header: r.Header.Clone(), Body: body})
	fault := a.matchFault(r)
	latency := a.latency
	a.mu.Unlock()

	if a.cfg.leases {
		// Every answer of Azure Storage names its version; a blob's, its
		// type.
		w.Header().Set("X-Ms-Version", "2025-01-05")
		w.Header().Set("X-Ms-Blob-Type", "BlockBlob")
	}
	if int64(len(body)) > a.cfg.maxBody {
		writeReply(w, problem(http.StatusRequestEntityTooLarge, ProblemBadRequest, "body too large", ""))
		return
	}
	if rep := a.cfg.authorize(r); rep != nil {
		writeReply(w, a.cfg.inDialect(rep))
		return
	}
	var limits http.Header // the rate limit's headers, on every response
	if l := a.cfg.rateLimit; l != nil {
		var over *reply
		if limits, over = l.take(a.cfg.now()); over != nil {
			writeReply(w, over)
			return
		}
	}
	if fault != nil && fault.Status != 0 {
		rep := problem(fault.Status, ProblemInjected, "injected fault", "")
		if fault.RetryAfter != "" {
			rep.header.Set("Retry-After", fault.RetryAfter)
		}
		writeReply(w, a.cfg.inDialect(rep))
		return
	}
	rep := a.withIdempotency(r, body, latency)
	if rep == nil {
		return // the client went away during the latency
	}
	if fault != nil && fault.DropAfterCommit && rep.status < 300 {
		a.mu.Lock()
		a.stats.Dropped++
		a.mu.Unlock()
		dropConnection(w)
		return
	}
	if fault != nil && fault.CutAfterCommit && rep.status < 300 && len(rep.body) > 1 {
		a.mu.Lock()
		a.stats.Dropped++
		a.mu.Unlock()
		cutBody(w, a.cfg.inDialect(rep))
		return
	}
	rep = a.cfg.inDialect(rep)
	if limits != nil {
		with := *rep // a stored replay keeps its own headers
		with.header = rep.header.Clone()
		for k, v := range limits {
			with.header[k] = v
		}
		rep = &with
	}
	writeReply(w, rep)
}

// sleep waits d or until the request is canceled, reporting whether the
// request is still wanted.
func sleep(r *http.Request, d time.Duration) bool {
	if d <= 0 {
		return true
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-r.Context().Done():
		return false
	case <-t.C:
		return true
	}
}

// handle decides the response to one request.
func (a *API) handle(r *http.Request, body []byte) *reply {
	// The escaped path, each segment unescaped once by route: an ID
	// holding "/" or "%" is one segment, and "%2541" is not "A".
	coll, id, ok := a.cfg.route(r.URL.EscapedPath())
	if !ok {
		return problem(http.StatusNotFound, ProblemNotFound, "no such route", r.URL.Path)
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if id == "" {
		if a.cfg.redirectStatus != 0 && !strings.HasSuffix(r.URL.Path, "/") {
			return &reply{status: a.cfg.redirectStatus, header: http.Header{"Location": {requestPath(r) + "/"}}}
		}
		switch {
		case r.Method == http.MethodGet:
			return a.list(r, coll)
		case r.Method == http.MethodPost && !a.cfg.noPOSTCreate:
			return a.create(r, coll, body)
		case r.Method == http.MethodPost:
			return methodNotAllowed("GET")
		}
		return methodNotAllowed("GET, POST")
	}
	switch {
	case a.cfg.locks && (r.Method == "LOCK" || r.Method == "UNLOCK"):
		return a.davLock(r, coll, id, body)
	case a.cfg.leases && r.Method == http.MethodPut && r.URL.Query().Get("comp") == "lease":
		return a.lease(r, coll, id)
	}
	switch r.Method {
	case http.MethodGet, http.MethodHead:
		return a.get(r, coll, id)
	case http.MethodPut, http.MethodPatch, http.MethodDelete:
		return a.write(r, coll, id, body)
	case http.MethodPost:
		if a.cfg.postUpdates {
			return a.write(r, coll, id, body)
		}
	}
	return methodNotAllowed("GET, HEAD, PUT, PATCH, DELETE")
}

func (a *API) list(r *http.Request, coll string) *reply {
	c := a.collection(coll)
	ids := make([]string, 0, len(c.docs))
	for id := range c.docs {
		ids = append(ids, id)
	}
	sort.Slice(ids, func(i, j int) bool {
		if len(ids[i]) != len(ids[j]) {
			return len(ids[i]) < len(ids[j])
		}
		return ids[i] < ids[j]
	})
	if a.cfg.pageSize > 0 {
		return a.page(r, c, ids)
	}
	docs := make([]map[string]any, len(ids))
	for i, id := range ids {
		docs[i] = c.docs[id].doc
	}
	return jsonReply(http.StatusOK, docs)
}

func (a *API) create(r *http.Request, coll string, body []byte) *reply {
	doc, rep := parseDoc(r, body)
	if rep != nil {
		return rep
	}
	if rep := a.checkUnique(coll, "", doc); rep != nil {
		return rep
	}
	c := a.collection(coll)
	c.nextID++
	id := strconv.Itoa(c.nextID)
	doc["id"] = id
	res := a.store(coll, id, doc)
	a.stats.Writes++
	rep = a.representation(http.StatusCreated, res)
	rep.header.Set("Location", strings.TrimRight(requestPath(r), "/")+"/"+url.PathEscape(id))
	return rep
}

func (a *API) get(r *http.Request, coll, id string) *reply {
	if torn, ok := a.collection(coll).writing[id]; ok {
		return &reply{status: http.StatusOK, header: http.Header{"Content-Type": {"application/json"}}, body: torn}
	}
	res := a.collection(coll).docs[id]
	switch {
	case res == nil && a.cfg.leases:
		return a.azureError(http.StatusNotFound, "BlobNotFound") // as Blob storage answers
	case res == nil:
		return problem(http.StatusNotFound, ProblemNotFound, "no such resource", r.URL.Path)
	}
	if inm := r.Header.Get("If-None-Match"); inm != "" && !a.cfg.noETags && matchesAny(inm, res.etag, false) {
		rep := &reply{status: http.StatusNotModified, header: http.Header{"Etag": {a.servedETag(res)}}}
		if a.cfg.genHeader != "" {
			rep.header.Set(a.cfg.genHeader, res.gen)
		}
		return rep
	}
	return a.representation(http.StatusOK, res)
}

// write handles PUT, PATCH and DELETE of one resource, preconditions first.
func (a *API) write(r *http.Request, coll, id string, body []byte) *reply {
	c := a.collection(coll)
	for _, ok := c.writing[id]; ok; _, ok = c.writing[id] {
		// Another write of the item is in progress (TornReads): its turn.
		a.mu.Unlock()
		time.Sleep(time.Millisecond)
		a.mu.Lock()
	}
	res := c.docs[id]
	var doc map[string]any
	if r.Method != http.MethodDelete {
		var rep *reply
		if doc, rep = parseDoc(r, body); rep != nil {
			return rep
		}
	}
	if rep := a.lockedOut(r, coll, id); rep != nil {
		return rep
	}
	if rep := a.preconditions(r, res, doc); rep != nil {
		return rep
	}
	if a.cfg.racyIfMatch && r.Header.Get("If-Match") != "" {
		// Checked; now written, with the API open to others in between.
		a.mu.Unlock()
		time.Sleep(5 * time.Millisecond)
		a.mu.Lock()
		res = c.docs[id]
	}
	switch r.Method {
	case http.MethodDelete:
		if res == nil {
			return problem(http.StatusNotFound, ProblemNotFound, "no such resource", r.URL.Path)
		}
		delete(c.docs, id)
		delete(a.locks, coll+"/"+id) // a deleted item's lock goes with it
		a.stats.Writes++
		return &reply{status: http.StatusNoContent, header: http.Header{}}
	case http.MethodPatch:
		if res == nil {
			return problem(http.StatusNotFound, ProblemNotFound, "no such resource", r.URL.Path)
		}
		if a.cfg.ignorePatch {
			return a.representation(http.StatusOK, res)
		}
		doc = applyMergePatch(cloneDoc(res.doc), doc).(map[string]any)
	}
	if rep := a.checkUnique(coll, id, doc); rep != nil {
		return rep
	}
	status := http.StatusOK
	if res == nil {
		status = http.StatusCreated
	}
	if a.cfg.tornReads {
		// Written in place: a read meanwhile gets the half written so far.
		b, _ := json.Marshal(doc)
		c.writing[id] = b[:len(b)/2]
		a.mu.Unlock()
		time.Sleep(2 * time.Millisecond)
		a.mu.Lock()
		delete(c.writing, id)
	}
	stored := a.store(coll, id, doc)
	a.stats.Writes++
	if a.cfg.bareWrites {
		if status == http.StatusOK {
			status = http.StatusNoContent
		}
		return &reply{status: status, header: http.Header{}}
	}
	rep := a.representation(status, stored)
	if a.cfg.receipts {
		rep.body, _ = json.Marshal(map[string]any{"ok": true, "id": id, "rev": stored.rev})
	}
	return rep
}

// checkUnique answers 409 when doc would duplicate a unique member of
// another document in the collection.
func (a *API) checkUnique(coll, id string, doc map[string]any) *reply {
	for _, member := range a.cfg.unique[coll] {
		v, ok := doc[member]
		if !ok {
			continue
		}
		for otherID, other := range a.collection(coll).docs {
			if otherID != id && jsonEqual(other.doc[member], v) {
				a.stats.Conflicts++
				rep := problem(http.StatusConflict, ProblemAlreadyExists, "a resource with this "+member+" already exists", "")
				rep.extend("member", member)
				return rep
			}
		}
	}
	return nil
}

func (a *API) representation(status int, res *resource) *reply {
	rep := jsonReply(status, res.doc)
	if res.empty {
		rep.body = nil
	}
	if !a.cfg.noETags {
		rep.header.Set("ETag", a.servedETag(res))
	}
	if a.cfg.genHeader != "" {
		rep.header.Set(a.cfg.genHeader, res.gen)
	}
	return rep
}

// parseDoc decodes a request body that must be a JSON object.
func parseDoc(r *http.Request, body []byte) (map[string]any, *reply) {
	if mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err != nil ||
		(mt != "application/json" && mt != "application/merge-patch+json") {
		return nil, problem(http.StatusUnsupportedMediaType, ProblemBadRequest, "send application/json or application/merge-patch+json", "")
	}
	var doc map[string]any
	if err := decodeJSON(body, &doc); err != nil || doc == nil {
		return nil, problem(http.StatusBadRequest, ProblemBadRequest, "the body must be a JSON object", "")
	}
	return doc, nil
}
