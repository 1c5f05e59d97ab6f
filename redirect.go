package concord

// Layer: Client and requests (ARCHITECTURE.md).

import (
	"errors"
	"net/http"
	"net/url"
	"strings"
)

// maxRedirects is how many redirects one request follows, as net/http.
const maxRedirects = 10

// redirectPolicy returns the CheckRedirect concord installs on its client.
// A redirect within the request's origin (scheme, host and port) keeps
// every header. A redirect to another origin, including the same host over
// plain http, keeps only the headers concord shows (see safeHeaders): no
// Authorization, cookie, API key or any other header the caller added can
// reach a server the caller did not name, or travel in clear text. next,
// the caller's own CheckRedirect, is then asked as usual; nil means
// net/http's limit of 10 redirects.
//
// A write is followed only within its origin and with its method kept (307,
// 308): its body is never carried to a server the caller did not name, and
// a GET that a 301, 302 or 303 turned it into never answers for it. The
// redirect is then the answer, an error with its 3xx status and Location,
// since the write did not happen where it was sent.
func (c *Client) redirectPolicy(next func(*http.Request, []*http.Request) error) func(*http.Request, []*http.Request) error {
	return func(req *http.Request, via []*http.Request) error {
		if m := via[0].Method; m != "" && !readOnly(m) && (req.Method != m || !sameOrigin(req.URL, via[0].URL)) {
			return http.ErrUseLastResponse
		}
		if !sameOrigin(req.URL, via[0].URL) {
			for name := range req.Header {
				if !c.redact.showHeader(name) {
					delete(req.Header, name)
				}
			}
		}
		if next != nil {
			return next(req, via)
		}
		if len(via) >= maxRedirects {
			return errors.New("stopped after 10 redirects")
		}
		return nil
	}
}

// sameOrigin reports whether two URLs share scheme, host and port (RFC 6454),
// with the scheme's default port filled in.
func sameOrigin(a, b *url.URL) bool {
	return strings.EqualFold(a.Scheme, b.Scheme) && strings.EqualFold(a.Hostname(), b.Hostname()) && port(a) == port(b)
}

func port(u *url.URL) string {
	if p := u.Port(); p != "" {
		return p
	}
	switch strings.ToLower(u.Scheme) {
	case "https":
		return "443"
	case "http":
		return "80"
	}
	return ""
}
