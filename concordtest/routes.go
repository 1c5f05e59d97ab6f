package concordtest

// Layer: Test kit (ARCHITECTURE.md).

import (
	"net/http"
	"net/url"
	"strings"
)

// Collections declares collections at paths of any shape, as the APIs
// people wrap have them: "repos/{owner}/issues" serves
// /repos/octo/issues as a collection and /repos/octo/issues/7 as its item
// 7, one collection per owner, named by its path ("repos/octo/issues",
// as Seed, Doc and Len take it). A segment in braces matches any value.
// Paths that match no pattern are served as /{collection} and
// /{collection}/{id}.
func Collections(patterns ...string) Option {
	return func(c *config) {
		for _, p := range patterns {
			c.routes = append(c.routes, strings.Split(strings.Trim(p, "/"), "/"))
		}
	}
}

// route finds the collection and item a path names: id is "" for the
// collection itself; ok is false when the path names neither.
func (c *config) route(path string) (coll, id string, ok bool) {
	parts := strings.Split(strings.Trim(path, "/"), "/")
	if parts[0] == "" {
		return "", "", false
	}
	for i, p := range parts {
		if u, err := url.PathUnescape(p); err == nil {
			parts[i] = u
		}
	}
	for _, pat := range c.routes {
		if len(parts) != len(pat) && len(parts) != len(pat)+1 || !matches(pat, parts[:len(pat)]) {
			continue
		}
		coll = strings.Join(parts[:len(pat)], "/")
		if len(parts) > len(pat) {
			id = parts[len(pat)]
		}
		return coll, id, true
	}
	switch len(parts) {
	case 1:
		return parts[0], "", true
	case 2:
		return parts[0], parts[1], true
	}
	return "", "", false
}

// matches reports whether path segments fit a pattern's.
func matches(pattern, parts []string) bool {
	for i, p := range pattern {
		if !(strings.HasPrefix(p, "{") && strings.HasSuffix(p, "}")) && p != parts[i] {
			return false
		}
	}
	return true
}

// requestPath is the path the client asked for, before any
// http.StripPrefix the API is mounted under took part of it, so that the
// links the API sends back (Location, a next page) work from the client's
// side.
func requestPath(r *http.Request) string {
	if u, err := url.ParseRequestURI(r.RequestURI); err == nil && u.Path != "" {
		return u.Path
	}
	return r.URL.Path
}
