package concord

// Layer: The call (ARCHITECTURE.md).

// Whether a server's ETags identify content. An ETag
// is a validator only if a change of content changes it; a server whose
// strong ETag is a file time of one-second resolution (nginx's
// "mtime-size") serves one tag for two contents written within a second.
// There, If-Match cannot tell a stale write from a current one, and a
// revalidated Get is answered 304 for content that changed. concord
// notices it at no extra request, from what it already sees, and then
// stops relying on such a server's ETags.

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"net/url"
)

// noteETag compares what the client knew of a resource whose versions are
// its ETags (before: the snapshot it read or wrote against) with a new
// sight of it (now: its ETag and the content it stands for). The same strong ETag for different content
// means the server's ETags are not validators: the client then stops
// revalidating with them and refuses writes conditional on them (see
// ErrETagUnreliable). It reports whether this sight proved it. Weak tags
// are exempt: RFC 9110 lets one weak tag stand for equivalent contents.
func (c *Client) noteETag(ctx context.Context, v Versioner, u itemURL, before, now snapshot) bool {
	tag, content := now.etag, now.body
	if _, tags := v.(ETagVersion); !tags || c.trustETags || tag == "" || tag.IsWeak() || tag != before.etag || before.body == nil || content == nil {
		return false
	}
	if bytes.Equal(before.body, content) || sameJSON(before.body, content) {
		return false
	}
	c.etagsUnreliable.Store(true)
	if c.logger != nil {
		c.logger.LogAttrs(ctx, slog.LevelWarn, "concord: the server's ETags do not identify content: conditional writes on them are refused",
			slog.String("url", c.redact.url(string(u))), slog.String("etag", string(tag)))
	}
	return true
}

// revalidates reports whether a Get may ask with If-None-Match: only while
// the server's ETags are believed to identify content.
func (c *Client) revalidates() bool { return !c.etagsUnreliable.Load() }

// applyVersion makes a write conditional on version in the versioner's
// terms. A condition on an ETag is refused once the client has seen the
// server serve one ETag for two contents, since it could let a stale
// write through: the error wraps ErrETagUnreliable.
//
// ETagVersion's If-Match goes in o.ifMatch, a value setHeader adds, instead
// of a header map of the request's own: the map cost an allocation on
// every conditional write.
func (c *Client) applyVersion(v Versioner, version string, o *outgoing, q url.Values, body []byte) ([]byte, error) {
	tags, ok := v.(ETagVersion)
	if !ok {
		return v.Apply(version, o.ensureHeader(), q, body)
	}
	if c.etagsUnreliable.Load() {
		return nil, fmt.Errorf("%w: a write conditional on ETag %s could overwrite a newer version; use another Versioner, or WithTrustedETags", ErrETagUnreliable, version)
	}
	if err := tags.check(version); err != nil {
		return nil, err
	}
	o.ifMatch = version
	return body, nil
}
