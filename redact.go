package concord

// Layer: Values (ARCHITECTURE.md).

import (
	"errors"
	"net/http"
	"net/textproto"
	"net/url"
	"strings"
)

// Redaction: what concord shows of a request in errors, logs and hook
// events, and what it lets follow a redirect. The rule is an allowlist:
// only the headers below are shown or carried to another origin, because no
// name heuristic can know every API's credential header (X-Auth-Key,
// Ocp-Apim-Subscription-Key, X-Functions-Key, ...). Query parameters are
// shown unless their name looks like a credential or was named with
// WithSensitive, and user information in a URL is never shown.

// safeHeaders are the request headers that carry no credential: shown in
// logs, and kept on a redirect to another origin. Keys are canonical.
var safeHeaders = map[string]bool{
	"Accept":              true,
	"Accept-Encoding":     true,
	"Accept-Language":     true,
	"Cache-Control":       true,
	"Content-Language":    true,
	"Content-Length":      true,
	"Content-Type":        true,
	"If-Match":            true,
	"If-Modified-Since":   true,
	"If-None-Match":       true,
	"If-Unmodified-Since": true,
	"Prefer":              true,
	"Traceparent":         true,
	"Tracestate":          true,
	"User-Agent":          true,
	HeaderInvocationID:    true,
	HeaderAttempt:         true,
}

// redactor decides what of a request may be shown or forwarded. Its zero
// value applies the built-in rules; sensitive adds the names given to
// WithSensitive (lower case).
type redactor struct {
	sensitive map[string]bool
	// baseParams are the names of the base URL's query parameters (lower
	// case): all of them are secret, since a base URL is where an API's
	// key goes (Azure API Management's subscription-key, a SAS's every
	// field), and no name list knows them all.
	baseParams map[string]bool
	keyHeader  string // the idempotency key header, which is no credential
	// secrets are the client's own credential values (its default
	// headers that are not shown, its base URL's query values), scrubbed
	// from a server's message wherever they appear (see scrub).
	secrets []string
}

// minSecret is the shortest value scrubbed by value: a shorter one would
// blank ordinary words of a message.
const minSecret = 8

// keep learns the client's own secrets: the values of its headers that
// are not shown (a "Bearer x" or "Basic x" also as x), and of its base
// URL's query.
func (r *redactor) keep(h http.Header, baseQuery string) {
	add := func(v string) {
		if v = strings.TrimSpace(v); len(v) >= minSecret {
			r.secrets = append(r.secrets, v)
		}
	}
	for k, vs := range h {
		if r.showHeader(k) {
			continue
		}
		for _, v := range vs {
			add(v)
			if _, cred, ok := strings.Cut(v, " "); ok {
				add(cred)
			}
		}
	}
	q, _ := url.ParseQuery(baseQuery)
	for _, vs := range q {
		for _, v := range vs {
			add(v)
		}
	}
}

// scrub returns s, a server's text, with each of the client's own secrets,
// and token (the call's bearer token from its token source), replaced.
func (r redactor) scrub(s, token string) string {
	for _, v := range r.secrets {
		s = strings.ReplaceAll(s, v, redacted)
	}
	if len(token) >= minSecret {
		s = strings.ReplaceAll(s, token, redacted)
	}
	return s
}

// newRedactor returns the redactor for a client whose base URL has the
// query rawQuery.
func newRedactor(rawQuery string) redactor {
	q, _ := url.ParseQuery(rawQuery) // New refuses a malformed one
	r := redactor{baseParams: make(map[string]bool, len(q))}
	for k := range q {
		r.baseParams[strings.ToLower(k)] = true
	}
	return r
}

// redacted is what stands in for a value that is not shown.
const redacted = "REDACTED"

// showHeader reports whether a header's value may appear in a log or
// follow a redirect to another origin.
func (r redactor) showHeader(name string) bool {
	name = textproto.CanonicalMIMEHeaderKey(name)
	if r.sensitive[strings.ToLower(name)] {
		return false
	}
	return safeHeaders[name] || name == r.keyHeader
}

// header returns a copy of h for logging with every value that is not
// allowlisted replaced.
func (r redactor) header(h http.Header) http.Header {
	out := make(http.Header, len(h))
	for k, v := range h {
		if r.showHeader(k) {
			out[k] = v
		} else {
			out[k] = []string{redacted}
		}
	}
	return out
}

// sensitiveParam reports whether a query parameter carries a credential,
// by its name and its value: api_key, access_token, client_secret, sig
// (Azure SAS), key (Google), password, a name given to WithSensitive, any
// parameter of the base URL's query, or any value that looks like a
// credential. A paging cursor (page_token, pageToken, cursor, continue,
// starting_after, ...) is no credential, and stays visible so that a
// failed page can be told apart; a name that is both (page_access_token,
// cursor_secret) is a credential.
func (r redactor) sensitiveParam(name, value string) bool {
	n := strings.ReplaceAll(strings.ToLower(name), "_", "-")
	if r.sensitive[strings.ToLower(name)] || r.baseParams[strings.ToLower(name)] || credentialValue(value) {
		return true
	}
	switch n {
	case "key", "sig", "signature", "code", "auth", "authorization", "credential", "x-amz-credential", "x-amz-signature", "x-goog-signature", "x-goog-credential":
		return true
	case "page-token", "pagetoken", "next-page-token", "nextpagetoken", "continuation-token", "continuationtoken",
		"$skiptoken", "skiptoken", "next-token", "nexttoken", "page-cursor":
		return false // paging cursors named "token"
	}
	return strings.Contains(n, "token") || strings.Contains(n, "secret") || strings.Contains(n, "api-key") ||
		strings.Contains(n, "apikey") || strings.Contains(n, "password") || strings.Contains(n, "passwd")
}

// url returns raw with its user information and credential-like query
// values replaced, for errors, logs and events. A URL that does not parse
// is not shown at all.
func (r redactor) url(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "(unparseable URL)"
	}
	if u.User != nil {
		// A user name can be a token (https://TOKEN@host), so all of it goes.
		u.User = url.User(redacted)
	}
	if u.RawQuery != "" {
		q := u.Query()
		changed := false
		for k, vs := range q {
			for i, v := range vs {
				if r.sensitiveParam(k, v) {
					vs[i], changed = redacted, true
				}
			}
		}
		if changed {
			u.RawQuery = q.Encode()
		}
	}
	return u.String()
}

// err returns err with the URL of any *url.Error in it redacted. net/http
// reports transport failures as *url.Error holding the full URL, query
// credentials included; this is applied before an error reaches a hook, a
// log or the caller.
func (r redactor) err(err error) error {
	if err == nil {
		return nil // before ue, which escapes: a success costs nothing
	}
	var ue *url.Error
	if errors.As(err, &ue) {
		if shown := r.url(ue.URL); shown != ue.URL {
			// Replace it in place: the *url.Error was made for this
			// attempt and is not shared.
			ue.URL = shown
		}
	}
	if len(err.Error()) > maxErrorText {
		return boundedError{err}
	}
	return err
}

// maxErrorText bounds the text of a transport error: net/http quotes what
// the server sent, a header line it refuses whole (seen: 840 KB).
const maxErrorText = 2048

// boundedError shows at most maxErrorText bytes of an error's text, fit
// for one log line, and unwraps to the error itself.
type boundedError struct{ err error }

func (e boundedError) Error() string {
	return printable(e.err.Error(), maxErrorText) + " [cut]"
}

func (e boundedError) Unwrap() error { return e.err }

// credentialPrefixes begin the tokens of common services: GitHub, Slack
// (bot, user, app-level, refresh and rotated tokens), Stripe (secret and
// restricted keys), AWS access keys, Google API keys, OAuth access and
// refresh tokens.
var credentialPrefixes = []string{"ghp_", "gho_", "ghu_", "ghs_", "ghr_", "github_pat_",
	"xoxb-", "xoxp-", "xoxa-", "xoxs-", "xoxr-", "xapp-", "xoxe.", "xoxe-",
	"sk_live_", "sk_test_", "rk_live_", "rk_test_", "AKIA", "ASIA", "AIza", "ya29.", "1//"}

// credentialValue reports whether a value looks like a credential whatever
// its name: a JWT (three base64url parts, the first a JSON object) or a
// JWE (five), or a token of a known service.
func credentialValue(v string) bool {
	if dots := strings.Count(v, "."); strings.HasPrefix(v, "eyJ") && (dots == 2 || dots == 4) {
		return true
	}
	for _, p := range credentialPrefixes {
		if strings.HasPrefix(v, p) {
			return true
		}
	}
	return false
}
