package concord

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
)

// The fuzz targets check properties that must hold for any input: no
// panic, and the invariants in each. `go test` runs their seeds (below and
// in testdata/fuzz); scripts/fuzz.sh runs each with the fuzzer.

func FuzzParseETag(f *testing.F) {
	for _, s := range []string{`"abc"`, `W/"abc"`, `""`, `abc`, `"a"b"`, "\"\x80\"", `W/""`, ` "x" `, `"a", "b"`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		tag, err := ParseETag(s)
		if err != nil {
			if !errors.Is(err, ErrInvalidETag) || tag != "" {
				t.Fatalf("ParseETag(%q) = %q, %v; want \"\" and ErrInvalidETag", s, tag, err)
			}
			return
		}
		again, err := ParseETag(string(tag))
		if err != nil || again != tag {
			t.Fatalf("ParseETag(%q) = %q does not parse to itself: %q, %v", s, tag, again, err)
		}
		if strings.ContainsAny(string(tag), "\r\n\x00 ") {
			t.Fatalf("ParseETag(%q) = %q: a header-breaking byte got through", s, tag)
		}
		if !tag.WeakEqual(tag) || tag.StrongEqual(tag) == tag.IsWeak() {
			t.Fatalf("comparison of %q with itself is wrong", tag)
		}
	})
}

func FuzzParseRetryAfter(f *testing.F) {
	for _, s := range []string{"0", "120", "-1", "1e3", "99999999999999999999", "Sun, 06 Nov 1994 08:49:37 GMT", "Sunday, 06-Nov-94 08:49:37 GMT", "Sun Nov  6 08:49:37 1994", "soon", ""} {
		f.Add(s)
	}
	now := time.Date(2026, 11, 22, 0, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, s string) {
		d, ok := parseRetryAfter(s, now)
		// Never negative (a far date saturates rather than wraps), and
		// nothing from a value that did not parse.
		if d < 0 || !ok && d != 0 {
			t.Fatalf("parseRetryAfter(%q) = %v, %v", s, d, ok)
		}
	})
}

func FuzzClassify(f *testing.F) {
	seeds := []struct {
		status int
		ct     string
		body   string
	}{
		{409, "application/json", `{"kind":"Status","reason":"Conflict"}`},
		{409, "application/json", `{"error":"conflict","reason":"Document update conflict."}`},
		{409, "application/json", `{"error":{"code":"idempotency_key_in_use"}}`},
		{422, "application/problem+json", `{"type":"urn:x:idempotency-key-reused","status":422}`},
		{412, "text/html", `<html>`},
		{428, "", ``},
		{409, "application/json", `{"odata.error":{"code":"EntityAlreadyExists","message":{"value":"x"}}}`},
		{412, "application/json", `{"error":{"code":412,"errors":[{"reason":"conditionNotMet"}]}}`},
		{409, "application/json", `{"error":{"code":409,"status":"ALREADY_EXISTS"}}`},
		{412, "application/xml", `<Error><Code>PreconditionFailed</Code></Error>`},
		{422, "application/json", `{"message":"Validation Failed","errors":[{"code":"already_exists"}]}`},
		{409, "application/json", `{"message":"name already taken"}`},
	}
	for _, s := range seeds {
		f.Add(s.status, s.ct, []byte(s.body), true, false, true)
	}
	f.Fuzz(func(t *testing.T, status int, ct string, body []byte, conditional, createOnly, keyed bool) {
		h := http.Header{"Content-Type": {ct}}
		info := ConflictInfo{StatusCode: status, Header: h, Body: body, Problem: parseProblem(h, body), Conditional: conditional, CreateOnly: createOnly, Keyed: keyed}
		kind, code := classify(nil, info)
		if kind < KindNone || kind > KindBusinessRule || kind.String() == "unknown" {
			t.Fatalf("classify = %d", kind)
		}
		if isConflictStatus(status) && kind == KindNone {
			t.Fatalf("classify(%d) = none for a conflict status", status)
		}
		if len(code) > len(body) {
			t.Fatalf("code %q longer than the body", code)
		}
	})
}

func FuzzMergeJSON(f *testing.F) {
	f.Add(`{"a":1,"b":1}`, `{"a":2,"b":1}`, `{"a":1,"b":3}`)
	f.Add(`{"o":{"x":[1,2]}}`, `{"o":{"x":[1]}}`, `{"o":null}`)
	f.Add(`1`, `"s"`, `[true]`)
	f.Add(`{"n":1.0}`, `{"n":1}`, `{"n":1e0}`)
	f.Fuzz(func(t *testing.T, base, mine, theirs string) {
		if !json.Valid([]byte(base)) || !json.Valid([]byte(mine)) || !json.Valid([]byte(theirs)) {
			_, err := MergeJSON([]byte(base), []byte(mine), []byte(theirs))
			if err == nil && !(json.Valid([]byte(base)) && json.Valid([]byte(mine)) && json.Valid([]byte(theirs))) {
				t.Fatalf("MergeJSON of invalid JSON gave no error")
			}
			return
		}
		// Nothing changed on my side: the result is theirs.
		if got, err := MergeJSON([]byte(base), []byte(base), []byte(theirs)); err != nil || !equalAsJSON(got, []byte(theirs)) {
			t.Fatalf("MergeJSON(b, b, t) = %s, %v; want t = %s", got, err, theirs)
		}
		// Nothing changed on theirs: the result is mine.
		if got, err := MergeJSON([]byte(base), []byte(mine), []byte(base)); err != nil || !equalAsJSON(got, []byte(mine)) {
			t.Fatalf("MergeJSON(b, m, b) = %s, %v; want m = %s", got, err, mine)
		}
		got, err := MergeJSON([]byte(base), []byte(mine), []byte(theirs))
		var clash *MergeClashError
		if err != nil && !errors.As(err, &clash) {
			t.Fatalf("MergeJSON = %v; want a result or a clash", err)
		}
		if err == nil && !json.Valid(got) {
			t.Fatalf("MergeJSON = %s: not JSON", got)
		}
	})
}

// equalAsJSON compares as values, with null members and absent ones equal
// (the merge follows RFC 7396 there).
func equalAsJSON(a, b []byte) bool {
	var x, y any
	if decodeJSON(a, &x) != nil || decodeJSON(b, &y) != nil {
		return false
	}
	ca, _ := json.Marshal(dropNulls(x))
	cb, _ := json.Marshal(dropNulls(y))
	return bytes.Equal(ca, cb)
}

func dropNulls(v any) any {
	switch t := v.(type) {
	case map[string]any:
		for k, e := range t {
			if e == nil {
				delete(t, k)
			} else {
				t[k] = dropNulls(e)
			}
		}
	case []any:
		for i, e := range t {
			t[i] = dropNulls(e)
		}
	}
	return v
}

func FuzzRedactURL(f *testing.F) {
	f.Add("https://user:pass@api.example.com/v1/w?api_key=s1&page=2")
	f.Add("http://TOKEN@h/x?access_token=s&sig=s&code=c")
	f.Add("https://h/%zz?x=1")
	f.Add("/relative?client_secret=s#frag")
	f.Add("https://h/x?page_token=abc&cursor=ghp_secret&pageToken=eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2ln")
	f.Fuzz(func(t *testing.T, raw string) {
		r := redactor{sensitive: map[string]bool{"tenant": true}}
		shown := r.url(raw)
		if shown == "(unparseable URL)" {
			return
		}
		u, err := url.Parse(shown)
		if err != nil {
			t.Fatalf("url(%q) = %q does not parse: %v", raw, shown, err)
		}
		if u.User != nil && u.User.String() != redacted {
			t.Fatalf("url(%q) = %q shows user information", raw, shown)
		}
		for k, vs := range u.Query() {
			for _, v := range vs {
				if r.sensitiveParam(k, v) && v != redacted {
					t.Fatalf("url(%q) = %q shows %s=%s", raw, shown, k, v)
				}
			}
		}
	})
}

func FuzzRedirectPolicy(f *testing.F) {
	f.Add("https://api.example.com/a", "http://api.example.com/b", "X-Auth-Key")
	f.Add("https://api.example.com/a", "https://api.example.com:443/b", "Authorization")
	f.Add("https://api.example.com/a", "https://evil.example/b", "Accept")
	f.Fuzz(func(t *testing.T, from, to, header string) {
		fu, err1 := url.Parse(from)
		tu, err2 := url.Parse(to)
		if err1 != nil || err2 != nil || !validHeaderName(header) {
			return
		}
		c := &Client{}
		req := &http.Request{URL: tu, Header: http.Header{}}
		req.Header.Set(header, "v")
		req.Header.Set("Authorization", "Bearer secret")
		if err := c.redirectPolicy(nil)(req, []*http.Request{{URL: fu}}); err != nil {
			t.Fatalf("redirect %s -> %s: %v", from, to, err)
		}
		if sameOrigin(fu, tu) {
			if req.Header.Get("Authorization") == "" {
				t.Fatalf("redirect within the origin %s -> %s dropped Authorization", from, to)
			}
			return
		}
		for name := range req.Header {
			if !c.redact.showHeader(name) {
				t.Fatalf("redirect %s -> %s kept %s", from, to, name)
			}
		}
	})
}

// FuzzNextPage: for any Link header and page body, finding the items and
// the next page never panics, and a next page found is an absolute URL
// whose Link target, when it came from one, is in the header.
func FuzzNextPage(f *testing.F) {
	seeds := []struct{ link, body string }{
		{`</widgets?p=2>; rel="next"`, `[{"id":1}]`},
		{`<https://api.example.com/v1/widgets?page=3>; rel="prev next", <x>; rel=last`, `[]`},
		{``, `{"data":[{"id":"a"}],"has_more":true}`},
		{``, `{"items":[],"metadata":{"continue":"c1"}}`},
		{``, `{"value":[],"@odata.nextLink":"https://api.example.com/v1/widgets?$skip=2"}`},
		{``, `{"results":[1],"next_page_token":"%zz"}`},
		{`<%zz>; rel=next`, `[1]`},
		{`<>; rel=next`, `{"data":{"x":1}}`},
		{`<a;b>;rel=next;x`, `{"data":[null],"has_more":true}`},
	}
	for _, s := range seeds {
		f.Add(s.link, s.body)
	}
	const page = "https://api.example.com/v1/widgets?p=1"
	f.Fuzz(func(t *testing.T, link, body string) {
		h := http.Header{}
		if link != "" {
			h.Set("Link", link)
		}
		if target := linkNext(h); target != "" && !strings.Contains(link, target) {
			t.Fatalf("linkNext(%q) = %q, which is not in the header", link, target)
		}
		items, doc, err := pageItems([]byte(body), Paging{})
		if err != nil {
			return
		}
		next, err := nextPage(page, h, doc, items, Paging{})
		if err != nil || next == "" {
			return
		}
		if u, err := url.Parse(next); err != nil || !u.IsAbs() {
			t.Fatalf("nextPage(%q, %q) = %q; want an absolute URL", link, body, next)
		}
	})
}
