package concordtest

// Layer: Test kit (ARCHITECTURE.md).

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
)

// preconditions evaluates If-None-Match: *, If-Match and the body version,
// in RFC 9110's order, for a write to res (nil when absent).
func (a *API) preconditions(r *http.Request, res *resource, doc map[string]any) *reply {
	ifMatch := r.Header.Get("If-Match")
	bodyRev, hasBodyRev := a.requestVersion(r, doc)
	if r.Header.Get("If-None-Match") == "*" && res != nil && !a.cfg.ignoreINM {
		a.stats.Conflicts++
		return problem(http.StatusPreconditionFailed, ProblemAlreadyExists, "the resource already exists", r.URL.Path)
	}
	if a.cfg.genParam != "" && r.URL.Query().Has(a.cfg.genParam) {
		switch g := r.URL.Query().Get(a.cfg.genParam); {
		case g == "0" && res != nil:
			a.stats.Conflicts++
			return problem(http.StatusPreconditionFailed, ProblemAlreadyExists, "the resource already exists", r.URL.Path)
		case g != "0" && (res == nil || g != res.gen):
			a.stats.Conflicts++
			return a.stale(r, res, http.StatusPreconditionFailed)
		}
	}
	if ifMatch != "" && !a.cfg.ignoreIfMatch[r.Method] && (res == nil || !a.ifMatch(ifMatch, res)) {
		a.stats.Conflicts++
		return a.stale(r, res, a.cfg.conflictStatusFor(false))
	}
	if hasBodyRev && (res == nil || bodyRev != res.rev) {
		a.stats.Conflicts++
		return a.stale(r, res, a.cfg.conflictStatusFor(true))
	}
	if a.cfg.requirePrecond && res != nil && ifMatch == "" && !hasBodyRev {
		return problem(http.StatusPreconditionRequired, ProblemPreconditionRequired, "this API requires If-Match on writes", r.URL.Path)
	}
	return nil
}

// conflictStatusFor is the status of a stale version: ConflictStatus when
// set, else 412 for If-Match and 409 for a body version.
func (c config) conflictStatusFor(body bool) int {
	if body && c.bodyVersion != nil {
		return c.conflictStatus
	}
	if c.conflictStatus == http.StatusConflict {
		return http.StatusConflict
	}
	return http.StatusPreconditionFailed
}

// requestVersion returns the body version a write carried: in the body,
// or for DELETE in the version query parameter.
func (a *API) requestVersion(r *http.Request, doc map[string]any) (string, bool) {
	if a.cfg.bodyVersion == nil {
		return "", false
	}
	if r.Method == http.MethodDelete {
		if a.cfg.versionQuery == "" || !r.URL.Query().Has(a.cfg.versionQuery) {
			return "", false
		}
		return r.URL.Query().Get(a.cfg.versionQuery), true
	}
	v, ok := lookup(doc, a.cfg.bodyVersion)
	if !ok || v == nil {
		return "", false
	}
	switch t := v.(type) {
	case string:
		return t, true
	case json.Number:
		return t.String(), true
	}
	return fmt.Sprint(v), true
}

// stale is the answer to a write against an old version.
func (a *API) stale(r *http.Request, res *resource, status int) *reply {
	if a.cfg.conflictState && res != nil {
		return a.representation(status, res)
	}
	rep := problem(status, ProblemStaleVersion, "the resource has changed", r.URL.Path)
	if res == nil {
		rep = problem(status, ProblemStaleVersion, "the resource does not exist", r.URL.Path)
	}
	return rep
}

// ifMatch evaluates If-Match against res: strong comparison with the tag
// served now (a weak one never matches), or as opaque strings with
// OpaqueETags.
func (a *API) ifMatch(list string, res *resource) bool {
	served := a.servedETag(res)
	if a.cfg.opaque {
		for _, t := range strings.Split(list, ",") {
			if t = strings.TrimSpace(t); t == "*" || t == served {
				return true
			}
		}
		return false
	}
	return !strings.HasPrefix(served, "W/") && matchesAny(list, res.etag, true)
}

// matchesAny evaluates an If-Match or If-None-Match list against etag,
// with strong (If-Match) or weak (If-None-Match) comparison.
func matchesAny(list, etag string, strong bool) bool {
	for _, t := range strings.Split(list, ",") {
		t = strings.TrimSpace(t)
		if t == "*" {
			return true
		}
		if strong && strings.HasPrefix(t, "W/") {
			continue
		}
		if strings.TrimPrefix(t, "W/") == etag {
			return true
		}
	}
	return false
}
