package concord

// Layer: Client and requests (ARCHITECTURE.md).

import (
	"bytes"
	"cmp"
	"crypto/rand"
	"errors"
	"fmt"
	"net/http"
	"net/textproto"
	"strconv"
	"strings"

	"github.com/google/uuid"
)

// Header names concord reads and writes.
const (
	// DefaultIdempotencyKeyHeader is the header creates carry their key in,
	// as in the IETF httpapi Idempotency-Key draft and Stripe.
	DefaultIdempotencyKeyHeader = "Idempotency-Key"
	// HeaderReplayed is set to "true" by servers (Stripe, concordtest) on a
	// response replayed from an earlier request with the same key.
	HeaderReplayed = "Idempotent-Replayed"
	// HeaderInvocationID carries one ID per logical call, the same on every
	// attempt, when WithInvocationHeaders is on.
	HeaderInvocationID = "X-Concord-Invocation-Id"
	// HeaderAttempt carries the attempt number (1 for the first request of
	// a call) when WithInvocationHeaders is on.
	HeaderAttempt = "X-Concord-Attempt"
)

// KeyPolicy says how idempotency keys are made and sent (WithKeyPolicy).
// The zero value means the defaults in the field comments.
type KeyPolicy struct {
	// Header is the header keys are sent in. Default
	// DefaultIdempotencyKeyHeader.
	Header string
	// Format is how a key is written in it. Default KeyBare.
	Format KeyFormat
	// New makes the key of a create that names none (WithIdempotencyKey,
	// KeyFor). It must be safe for concurrent use and return unique keys.
	// Default: a random UUID.
	New func() (string, error)
}

func (p KeyPolicy) withDefaults() KeyPolicy {
	p.Header = textproto.CanonicalMIMEHeaderKey(cmp.Or(p.Header, DefaultIdempotencyKeyHeader))
	if p.New == nil {
		p.New = newUUIDKey
	}
	return p
}

// MaxIdempotencyKeyLen is the longest key concord sends, Stripe's limit.
const MaxIdempotencyKeyLen = 255

// KeyFormat says how an idempotency key is written in its header.
type KeyFormat int

const (
	// KeyBare sends the key as it is: Idempotency-Key: 5f1c... It is what
	// Stripe and most servers expect, and the default.
	KeyBare KeyFormat = iota
	// KeyQuoted sends the key as a structured-field string, as the IETF
	// draft specifies: Idempotency-Key: "5f1c...".
	KeyQuoted
)

// KeyFor derives an idempotency key from what identifies a create in the
// caller's own terms (KeyFor("orders", orderID)): a name-based UUID
// (version 5) in a namespace of concord's own, the same in every process,
// on every machine and in every version of concord, and different for any
// other list of parts ("a","bc" and "ab","c" included). Passed to Create
// with WithIdempotencyKey, it makes a create safe across a crash: a
// process that sent the POST and died before reading the answer, once
// restarted, sends the same create with the same key, and a server that
// honors keys answers with the original result (Result.Replayed) instead
// of making a second order. A random key, the default, survives only
// within the process. The server keeps keys for as long as it says
// (Stripe: 24 hours): a retry after that is a new create.
func KeyFor(parts ...string) string {
	var b []byte
	for _, p := range parts {
		// Each part prefixed by its length: no two lists join alike.
		b = strconv.AppendInt(b, int64(len(p)), 10)
		b = append(b, ':')
		b = append(b, p...)
	}
	return uuid.NewSHA1(keyNamespace, b).String()
}

// keyNamespace is the UUID namespace of KeyFor's keys. It must never
// change: keys derived by one version must equal those of the next.
var keyNamespace = uuid.NewSHA1(uuid.NameSpaceURL, []byte("https://github.com/concord-go/concord#KeyFor"))

// newUUIDKey is the default key generator: a random (version 4) UUID, as
// uuid.NewRandom makes, from crypto/rand.Read, which keeps its buffer off
// the heap (uuid.NewRandom reads through an io.Reader, which moves it
// there): one allocation per key, its string.
func newUUIDKey() (string, error) {
	var id uuid.UUID
	if _, err := rand.Read(id[:]); err != nil {
		return "", fmt.Errorf("concord: generating an idempotency key: %w", err)
	}
	id[6] = id[6]&0x0f | 0x40 // version 4
	id[8] = id[8]&0x3f | 0x80 // RFC 4122 variant
	return id.String(), nil
}

// validateKey checks a key before it is sent: non-empty, at most
// MaxIdempotencyKeyLen bytes of visible ASCII, and no quote or backslash so
// that both formats can carry it unescaped.
func validateKey(k string) error {
	if k == "" || len(k) > MaxIdempotencyKeyLen {
		return fmt.Errorf("concord: idempotency key must be 1 to %d bytes, got %d", MaxIdempotencyKeyLen, len(k))
	}
	for i := 0; i < len(k); i++ {
		if c := k[i]; c <= ' ' || c >= 0x7F || c == '"' || c == '\\' {
			return fmt.Errorf("concord: idempotency key %q holds byte %#x; use visible ASCII without quotes or backslashes", truncate(k, 64), c)
		}
	}
	return nil
}

// idempotencyKey is the key of one logical write, bound to what it was
// first sent with (its body, and for a conditional write its version): the
// same request reuses it on every retry, any other gets a new key, because
// a server must never see one key with two requests.
type idempotencyKey struct {
	key     string
	version string
	body    []byte
}

// keyFor returns the key to send with a request of this version and body.
// The first call uses the caller's key when given one, else a generated
// key.
func (c *Client) keyFor(k *idempotencyKey, callerKey, version string, body []byte) (string, error) {
	if k.key != "" && k.version == version && bytes.Equal(k.body, body) {
		return k.key, nil
	}
	key := callerKey
	if k.key != "" || key == "" {
		var err error
		if key, err = c.keys.New(); err != nil {
			return "", err
		}
	}
	if err := validateKey(key); err != nil {
		return "", err
	}
	k.key, k.version, k.body = key, version, body
	return key, nil
}

// keyValue returns key as its header's value in the client's format.
func (c *Client) keyValue(key string) string {
	if c.keys.Format == KeyQuoted {
		return strconv.Quote(key)
	}
	return key
}

// replayed reports whether a response says it was replayed for a repeated
// idempotency key.
func replayed(h http.Header) bool {
	return strings.EqualFold(strings.TrimSpace(h.Get(HeaderReplayed)), "true")
}

// exchange sends o and, when the server says an earlier request with the
// same idempotency key is still in progress, waits (as told by Retry-After,
// or by the backoff for waits, see ConflictPolicy) and resends the same key
// and bytes.
func (c *Client) exchange(cl *call, o *outgoing) (Response, error) {
	waiting := c.waitingBackOff()
	for round := 1; ; round++ {
		resp, err := c.send(cl, o)
		if err == nil || o.key == "" {
			return resp, err
		}
		var apiErr *APIError // escapes: declared after the success return
		if !errors.As(err, &apiErr) || apiErr.Kind != KindInProgress {
			return resp, err
		}
		c.observeConflict(cl.ctx, ConflictEvent{InvocationID: cl.id, Method: o.method, URL: c.redact.url(o.url), Kind: KindInProgress, StatusCode: apiErr.StatusCode, Attempt: round})
		if c.spent(cl, round) {
			return resp, &ConflictError{Kind: KindInProgress, Attempts: round, Err: err}
		}
		if werr := waiting.wait(cl, apiErr.Header); werr != nil {
			return resp, &ConflictError{Kind: KindInProgress, Attempts: round, Err: errors.Join(werr, err)}
		}
	}
}
