package concordtest

// Layer: Test kit (ARCHITECTURE.md).

import (
	"net/http"
	"net/url"
	"strconv"
)

// PageSize serves collections in pages of n items: an envelope
// {"items": [...], "next_page_token": "..."} and a Link header with
// rel="next", the next page asked for with ?page_token=. The token is the
// position in the collection sorted by ID.
func PageSize(n int) Option { return func(c *config) { c.pageSize = n } }

// page answers one page of a collection whose IDs are sorted.
func (a *API) page(r *http.Request, c *collection, ids []string) *reply {
	start := 0
	if tok := r.URL.Query().Get("page_token"); tok != "" {
		n, err := strconv.Atoi(tok)
		if err != nil || n < 0 || n > len(ids) {
			return problem(http.StatusBadRequest, ProblemBadRequest, "bad page_token", "")
		}
		start = n
	}
	end := min(start+a.cfg.pageSize, len(ids))
	items := make([]map[string]any, 0, end-start)
	for _, id := range ids[start:end] {
		items = append(items, c.docs[id].doc)
	}
	doc := map[string]any{"items": items}
	rep := jsonReply(http.StatusOK, doc)
	if end < len(ids) {
		tok := strconv.Itoa(end)
		doc["next_page_token"] = tok
		rep = jsonReply(http.StatusOK, doc)
		q := r.URL.Query()
		q.Set("page_token", tok)
		next := url.URL{Path: requestPath(r), RawQuery: q.Encode()}
		rep.header.Set("Link", "<"+next.String()+`>; rel="next"`)
	}
	return rep
}
