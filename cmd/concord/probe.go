package main

// Layer: Commands (ARCHITECTURE.md).

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path"
	"strings"
	"time"

	"github.com/concord-go/concord"
)

// finding is one property of the API, as the probe found it.
type finding struct {
	Property string `json:"property"`
	Verdict  string `json:"verdict"`
	Evidence string `json:"evidence"`
	Concord  string `json:"concord"` // what concord does about it
	// Breaks says no client can have one of concord's guarantees here.
	Breaks bool `json:"breaks,omitempty"`
}

// report is what a probe prints.
type report struct {
	Collection string    `json:"collection"`
	Wrote      bool      `json:"wrote"`
	Findings   []finding `json:"findings"`
	Config     string    `json:"config"` // the recommended concord configuration, as Go
	// Holds says concord's guarantees hold with Config: only after a
	// -write run found nothing broken, never in read-only mode.
	Holds bool `json:"holds"`
	// CouldNotRun, when set, says why the checks did not run to the end
	// (interrupted, timed out, a sample or a create the server refused):
	// then nothing is claimed, no configuration is recommended, and the
	// probe exits 2.
	CouldNotRun string `json:"could_not_run,omitempty"`
}

// broken reports whether any finding is a promise no client can keep.
func (r *report) broken() bool {
	for _, f := range r.Findings {
		if f.Breaks {
			return true
		}
	}
	return false
}

// probeConfig is what the probe was asked to do.
type probeConfig struct {
	collection string
	item       string // item URL template with {id}
	routes     routes // where reads, writes and deletes go, when not to the item
	// versionParam, when set, is the query parameter writes carry the
	// version in (ifGenerationMatch), read from versionHeader or a body
	// member; "0" in it means "only if absent".
	versionParam, versionHeader string
	doc                         []byte // a sample document, a JSON object
	write                       bool
	header                      http.Header
}

func runProbe(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("probe", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var common commonFlags
	common.register(fs)
	var (
		data    = fs.String("d", `{"name":"concord-probe"}`, "a sample document: JSON, or @file")
		item    = fs.String("item", "", "item URL template with {id}, absolute or relative to the collection URL (\"widgets(RowKey='{id}')\"); default: the collection URL + /{id}")
		write   = fs.Bool("write", false, "create a scratch item and run the checks that write (it is deleted at the end)")
		readT   = fs.String("read-item", "", "URL template for reading an item, when not the item URL (\"o/{id}?alt=media\")")
		writeT  = fs.String("write-item", "", "URL template for writing an item, when not the item URL (\"upload/o?uploadType=media&name={id}\")")
		method  = fs.String("write-method", "", "the method that writes an item; default PUT")
		vParam  = fs.String("version-param", "", "the query parameter writes carry the version in (\"ifGenerationMatch\"), for APIs that do not use If-Match")
		vHeader = fs.String("version-header", "X-Goog-Generation", "the response header that carries the version, with -version-param")
		asJSON  = fs.Bool("json", false, "print the report as JSON")
		verbose = fs.Bool("v", false, "print each request as it is made")
	)
	if !parse(fs, args, stderr, "concord probe [flags] URL-of-a-collection") {
		return exitUsage
	}
	cfg := probeConfig{collection: strings.TrimRight(fs.Arg(0), "/"), item: *item, write: *write,
		routes: routes{read: *readT, write: *writeT, method: *method}, versionParam: *vParam, versionHeader: *vHeader}
	var err error
	if cfg.header, err = parseHeaders(common.headers, os.Getenv("CONCORD_HEADERS")); err != nil {
		fmt.Fprintln(stderr, "concord probe:", err)
		return exitUsage
	}
	if cfg.doc, err = readDoc(*data); err != nil {
		fmt.Fprintln(stderr, "concord probe:", err)
		return exitUsage
	}
	ctx, cancel := context.WithTimeout(ctx, common.timeout)
	defer cancel()
	var trace io.Writer
	if *verbose {
		trace = stderr
	}
	rep, err := probe(ctx, cfg, trace)
	if err != nil {
		fmt.Fprintln(stderr, "concord probe:", err)
		return exitUsage
	}
	if ctx.Err() != nil {
		// A check that did not finish proves nothing: a write that failed
		// because the run was cut short reads as a refusal.
		rep.CouldNotRun = fmt.Sprintf("the run was cut short (%v) before its checks finished; nothing was verified", context.Cause(ctx))
	}
	if rep.CouldNotRun != "" {
		rep.Config, rep.Holds = "", false
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		enc.Encode(rep)
	} else {
		printReport(stdout, rep)
	}
	return exitStatus(rep)
}

// Exit statuses of concord probe.
const (
	exitHolds      = 0 // every check ran and concord's guarantees hold
	exitBroken     = 1 // a guarantee cannot hold here for any client (a !! row)
	exitUsage      = 2 // a usage error, or the probe could not run
	exitUnverified = 3 // read-only: nothing about writes was checked
)

// exitStatus is the status a report ends with.
func exitStatus(r *report) int {
	switch {
	case r.CouldNotRun != "":
		return exitUsage
	case r.broken():
		return exitBroken
	case !r.Wrote:
		return exitUnverified
	}
	return exitHolds
}

// readDoc reads -d: inline JSON, or @file.
func readDoc(v string) ([]byte, error) {
	b := []byte(v)
	if name, ok := strings.CutPrefix(v, "@"); ok {
		var err error
		if b, err = os.ReadFile(name); err != nil {
			return nil, err
		}
	}
	var obj map[string]any
	if err := json.Unmarshal(b, &obj); err != nil || obj == nil {
		return nil, fmt.Errorf("-d must be a JSON object")
	}
	return b, nil
}

// prober holds one probe's state.
type prober struct {
	cfg     probeConfig
	c       *concord.Client
	base    string // the base URL of c, and of the configuration check's clients (prove)
	trace   io.Writer
	rep     report
	created []target // items to delete at the end, once proven the probe's own
	// nonces are the values of nonceMember the probe wrote this run: an
	// item holding one is its own (owns), and only such an item is
	// written or deleted.
	nonces  map[string]bool
	dialect string // the first error dialect seen
	hint    bool   // a Retry-After was seen
}

// answer is one response the probe got.
type answer struct {
	status int
	header http.Header
	body   []byte
	err    error // a transport error; an HTTP error status is not one
}

func (a answer) ok() bool { return a.err == nil && a.status >= 200 && a.status < 300 }

// send makes exactly one request (concord with retries off, so that what
// the server does is what is seen) and remembers the error dialect.
func (p *prober) send(ctx context.Context, method, u string, header http.Header, body []byte) answer {
	req := &concord.Request{Method: method, Path: u, Header: header, NoIdempotencyKey: true}
	if body != nil {
		req.Body = body
	}
	resp, err := p.c.Do(ctx, req, nil)
	a := answer{err: err}
	var apiErr *concord.APIError
	switch {
	case errors.As(err, &apiErr):
		a = answer{status: apiErr.StatusCode, header: apiErr.Header, body: apiErr.Body}
		if p.dialect == "" && apiErr.Dialect != "" {
			p.dialect = apiErr.Dialect
		}
	case err == nil:
		a = answer{status: resp.StatusCode, header: resp.Header, body: resp.Body}
	}
	if a.header.Get("Retry-After") != "" {
		p.hint = true
	}
	if p.trace != nil {
		fmt.Fprintf(p.trace, "%s %s %v -> %d %v\n", method, u, header, a.status, a.err)
	}
	return a
}

func (p *prober) add(f finding) { p.rep.Findings = append(p.rep.Findings, f) }

// probe runs the checks and returns the report.
func probe(ctx context.Context, cfg probeConfig, trace io.Writer) (*report, error) {
	u, err := url.Parse(cfg.collection)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("%w: the collection must be an absolute http or https URL", errUsage)
	}
	if cfg.header == nil {
		cfg.header = make(http.Header)
	}
	if err := userCredentials(u, cfg.header); err != nil {
		return nil, err
	}
	opts := []concord.Option{
		// A redirect is reported as what it is: the probe follows none, so
		// that no answer of another request passes for its own.
		concord.WithHTTPClient(&http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}),
		concord.WithRetryPolicy(concord.RetryPolicy{MaxAttempts: 1}),
		concord.WithRetryBudget(nil),
		concord.WithHeader("User-Agent", "concord-probe"),
	}
	opts = append(opts, headerOptions(cfg.header)...)
	// A query on the collection URL (a SAS token) goes on every request,
	// as concord does with a base URL's query, and is never shown.
	base := u.Scheme + "://" + u.Host
	if u.RawQuery != "" {
		base += "/?" + u.RawQuery
	}
	shown := *u
	shown.RawQuery = ""
	cfg.collection = shown.String()
	c, err := concord.New(base, opts...)
	if err != nil {
		return nil, err
	}
	defer c.CloseIdleConnections()
	p := &prober{cfg: cfg, c: c, base: base, trace: trace, rep: report{Collection: cfg.collection, Wrote: cfg.write}, nonces: map[string]bool{}}
	if !cfg.write {
		p.readOnly(ctx)
	} else {
		// Whatever happens, delete what was created, with a context of
		// its own so that Ctrl-C still cleans up.
		defer p.cleanup()
		p.writes(ctx)
	}
	p.finish()
	return &p.rep, nil
}

// headerOptions are the options that send h on every request: the
// headers given with -H (credentials, say).
func headerOptions(h http.Header) []concord.Option {
	var opts []concord.Option
	for name, values := range h {
		for _, v := range values {
			opts = append(opts, concord.WithHeader(name, v))
		}
	}
	return opts
}

// readOnly runs the checks that only read the collection.
func (p *prober) readOnly(ctx context.Context) {
	a := p.send(ctx, http.MethodGet, p.cfg.collection, nil, nil)
	p.add(finding{Property: "collection readable", Verdict: status(a), Evidence: "GET " + p.cfg.collection + " -> " + status(a),
		Concord: "run with -write to check writes, versions and keys on a scratch item"})
	if tag := a.header.Get("ETag"); tag != "" {
		a2 := p.send(ctx, http.MethodGet, p.cfg.collection, http.Header{"If-None-Match": {tag}}, nil)
		p.add(finding{Property: "conditional GET", Verdict: yesNo(a2.status == http.StatusNotModified, "honored (304)", "ignored"),
			Evidence: "GET with If-None-Match: " + tag + " -> " + status(a2), Concord: "Get revalidates when the ETag is the version"})
	}
}

// scratchID is a recognizable, unique name for the probe's item.
func scratchID() string {
	b := make([]byte, 6)
	rand.Read(b)
	return "concord-probe-" + hex.EncodeToString(b)
}

func (p *prober) itemURL(id string) string {
	if p.cfg.item != "" {
		return p.resolve(p.cfg.item, id)
	}
	return p.cfg.collection + "/" + url.PathEscape(id)
}

// routes are URL templates (with {id}) for the operations that do not go
// to the item URL, and the write method.
type routes struct{ read, write, method string }

// target is where one item's operations go.
type target struct{ read, write, del, method string }

// target resolves an item's URLs: the routes' templates for id, else the
// item URL itself. The probe keeps this routing of its own instead of
// Resource's: an item it created is known by the Location the server
// answered, a URL with no ID to route by (id ""), and its templates are
// links resolved against the collection URL, as the server's would be,
// where Resource joins paths to the base URL. It builds no Resource.
func (p *prober) target(id, item string) target {
	t := target{read: item, write: item, del: item, method: http.MethodPut}
	if id != "" && p.cfg.routes.read != "" {
		t.read = p.resolve(p.cfg.routes.read, id)
	}
	if id != "" && p.cfg.routes.write != "" {
		t.write = p.resolve(p.cfg.routes.write, id)
	}
	if p.cfg.routes.method != "" {
		t.method = p.cfg.routes.method
	}
	return t
}

// resolve fills a template with id and resolves it against the collection
// URL, as a link in a page at that URL would be.
func (p *prober) resolve(template, id string) string {
	ref := strings.ReplaceAll(template, "{id}", url.PathEscape(id))
	if base, err := url.Parse(p.cfg.collection); err == nil {
		if u, err := base.Parse(ref); err == nil {
			return u.String()
		}
	}
	return ref
}

// refused reports whether a precondition failed as it should: 412 or 409.
func refused(a answer) bool {
	return a.status == http.StatusPreconditionFailed || a.status == http.StatusConflict
}

// precondition is the finding for a request whose precondition should
// fail: refused (412/409), ignored (2xx), or answered otherwise.
func precondition(property, request string, a answer, refusedVerdict, refusedConcord, ignoredVerdict, ignoredConcord string) finding {
	f := finding{Property: property, Evidence: request + " -> " + status(a)}
	switch {
	case refused(a):
		f.Verdict, f.Concord = refusedVerdict+" ("+status(a)+")", refusedConcord
	case a.ok():
		f.Verdict, f.Concord = ignoredVerdict, ignoredConcord
	default:
		f.Verdict, f.Concord = "answered "+status(a), "treats it as an error"
	}
	return f
}

// staleValue returns a version that is surely not current, of the same
// JSON type as the current one.
func staleValue(current string) json.RawMessage {
	if strings.HasPrefix(current, `"`) {
		return json.RawMessage(`"0-concord-probe-stale"`)
	}
	return json.RawMessage(`0`)
}

// withMember returns body with a top-level member set.
func withMember(body []byte, member string, v json.RawMessage) []byte {
	var doc map[string]json.RawMessage
	if json.Unmarshal(body, &doc) != nil {
		return body
	}
	doc[member] = v
	out, _ := json.Marshal(doc)
	return out
}

// create makes the scratch item: a write with If-None-Match: * (or the
// version parameter at 0) to a new ID, or a POST to the collection. It
// returns where the item's operations go and how it was made.
func (p *prober) create(ctx context.Context) (target, string) {
	id := scratchID()
	t := p.target(id, p.itemURL(id))
	u, h, how := t.write, jsonHeader("If-None-Match", "*"), t.method+" If-None-Match: * to a new ID"
	if p.cfg.versionParam != "" {
		u, h, how = appendParam(t.write, p.cfg.versionParam, "0"), jsonHeader(), t.method+" ?"+p.cfg.versionParam+"=0 to a new ID"
	}
	// Known before it is sent, so that cleanup finds it even when the
	// run is cut short while the answer is pending; cleanup deletes it
	// only if it holds this run's marker.
	p.created = append(p.created, t)
	a := p.send(ctx, t.method, u, h, p.withNonce(p.cfg.doc))
	if a.ok() && p.owns(p.send(ctx, http.MethodGet, t.read, nil, nil)) {
		return t, how + " -> " + status(a)
	}
	b := p.send(ctx, http.MethodPost, p.cfg.collection, jsonHeader(), p.withNonce(p.cfg.doc))
	if !b.ok() {
		p.rep.CouldNotRun = fmt.Sprintf("the probe could not create a scratch item (%s -> %s; POST -> %s): "+
			"pass with -d a sample document of the API's own shape, or -item (or -read-item and -write-item)", how, status(a), status(b))
		return target{}, ""
	}
	t, ok := p.ownCreated(ctx, b)
	if !ok {
		return target{}, ""
	}
	return t, "POST to the collection -> " + status(b)
}

// ownCreated returns the item a POST created, once a read there shows this
// run's marker: an answer that names another item (a Location or an "id"
// echoing the sample's) would otherwise have the probe write and delete
// an item it did not create. When it cannot prove it, the probe could not
// run.
func (p *prober) ownCreated(ctx context.Context, a answer) (target, bool) {
	created := p.createdURL(a)
	if created == "" {
		p.rep.CouldNotRun = "a POST created an item (" + status(a) + ") but its answer said where neither by Location nor by an id: pass -item"
		return target{}, false
	}
	t := p.target("", created)
	if !p.owns(p.send(ctx, http.MethodGet, t.read, nil, nil)) {
		p.rep.CouldNotRun = "a POST's answer named " + created + ", which does not hold what the probe wrote: the probe does not touch an item it cannot prove its own; pass -item"
		return target{}, false
	}
	p.created = append(p.created, t)
	return t, true
}

// withNonce returns body with a fresh nonce, remembered as this run's.
func (p *prober) withNonce(body []byte) []byte {
	b, n := withNonce(body)
	p.nonces[n] = true
	return b
}

// owns reports whether a read found an item holding one of this run's
// nonces.
func (p *prober) owns(a answer) bool {
	var doc map[string]json.RawMessage
	var n string
	return a.ok() && json.Unmarshal(a.body, &doc) == nil && json.Unmarshal(doc[nonceMember], &n) == nil && p.nonces[n]
}

// createdURL finds the URL of an item a POST created: its Location, or an
// id member of the body.
func (p *prober) createdURL(a answer) string {
	if loc := a.header.Get("Location"); loc != "" {
		base, _ := url.Parse(p.cfg.collection + "/")
		if u, err := base.Parse(loc); err == nil {
			return u.String()
		}
	}
	var doc map[string]any
	if json.Unmarshal(a.body, &doc) == nil {
		for _, m := range []string{"id", "_id", "RowKey", "name"} {
			if s, ok := doc[m].(string); ok && s != "" {
				return p.itemURL(path.Base(s))
			}
		}
	}
	return ""
}

// finish adds the findings gathered along the way and the verdict.
func (p *prober) finish() {
	if p.dialect != "" {
		p.add(finding{Property: "error format", Verdict: p.dialect, Evidence: "error responses", Concord: "reads its codes"})
	} else if p.rep.Wrote {
		p.add(finding{Property: "error format", Verdict: "plain", Evidence: "error responses carried no code concord reads", Concord: "classifies by status and by what it sent"})
	}
	p.add(finding{Property: "Retry-After", Verdict: yesNo(p.hint, "seen", "not seen"), Evidence: "any response", Concord: "honored up to 30s"})
	p.rep.Holds = p.rep.Wrote && !p.rep.broken()
	if p.rep.Config == "" {
		p.rep.Config = "c, err := concord.New(base)\nr := concord.NewResource[T](c, path)"
	}
}

// cleanup deletes what the probe created, conditionally on the version it
// reads (waiting out a weak tag), and as a last resort without one, each
// only while a read shows it holds this run's marker: these are the
// probe's own scratch items. It runs with a deadline of its own, so that
// an interrupted run still cleans up.
func (p *prober) cleanup() {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for _, t := range p.created {
		for try := 0; ; try++ {
			cur := p.send(ctx, http.MethodGet, t.read, nil, nil)
			if !p.owns(cur) {
				break
			}
			h := http.Header{}
			tag, _ := concord.ParseETag(cur.header.Get("ETag"))
			if tag != "" {
				h.Set("If-Match", string(tag))
			}
			if try == 2 {
				h.Del("If-Match")
			}
			target := t.del
			if m, rev := bodyVersion(cur.body); m == "_rev" {
				var s string
				if json.Unmarshal([]byte(rev), &s) == nil {
					target = appendParam(t.del, "rev", s) // CouchDB's delete
				}
			}
			if a := p.send(ctx, http.MethodDelete, target, h, nil); a.ok() || a.status == http.StatusNotFound || try == 2 {
				break
			}
			if tag.IsWeak() && !sleep(ctx, 1100*time.Millisecond) {
				break
			}
		}
	}
}

// bodyVersion finds a version member in a document.
func bodyVersion(body []byte) (member, value string) {
	var doc map[string]any
	if json.Unmarshal(body, &doc) != nil {
		return "", ""
	}
	for _, m := range versionMembers {
		var v any = doc
		found := true
		for _, part := range strings.Split(m, ".") {
			obj, ok := v.(map[string]any)
			if !ok {
				found = false
				break
			}
			if v, ok = obj[part]; !ok {
				found = false
				break
			}
		}
		if found && v != nil {
			raw, _ := json.Marshal(v)
			return m, string(raw)
		}
	}
	return "", ""
}

// stripMember returns body without a top-level member.
func stripMember(body []byte, member string) []byte {
	if member == "" || strings.Contains(member, ".") {
		return body
	}
	var doc map[string]json.RawMessage
	if json.Unmarshal(body, &doc) != nil {
		return body
	}
	delete(doc, member)
	out, _ := json.Marshal(doc)
	return out
}

func appendParam(u, k, v string) string {
	sep := "?"
	if strings.Contains(u, "?") {
		sep = "&"
	}
	return u + sep + url.QueryEscape(k) + "=" + url.QueryEscape(v)
}

func jsonHeader(kv ...string) http.Header {
	h := http.Header{"Content-Type": {"application/json"}}
	for i := 0; i+1 < len(kv); i += 2 {
		h.Set(kv[i], kv[i+1])
	}
	return h
}

func status(a answer) string {
	if a.err != nil {
		return "error: " + a.err.Error()
	}
	return fmt.Sprint(a.status)
}

func yesNo(b bool, yes, no string) string {
	if b {
		return yes
	}
	return no
}

func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

// printReport prints the report as a table and the configuration.
func printReport(w io.Writer, r *report) {
	var b bytes.Buffer
	fmt.Fprintf(&b, "concord probe %s\n\n", r.Collection)
	if r.CouldNotRun != "" {
		// No row: each is a claim, and a run that did not finish proves
		// none of them.
		fmt.Fprintf(&b, "The probe could not run to the end: %s.\n", r.CouldNotRun)
		w.Write(b.Bytes())
		return
	}
	width := 0
	for _, f := range r.Findings {
		width = max(width, len(f.Property))
	}
	for _, f := range r.Findings {
		mark := "  "
		if f.Breaks {
			mark = "!!"
		}
		fmt.Fprintf(&b, "%s %-*s  %s\n%s %-*s  evidence: %s\n%s %-*s  concord:  %s\n", mark, width, f.Property, f.Verdict, "  ", width, "", f.Evidence, "  ", width, "", f.Concord)
	}
	switch {
	case r.broken():
		b.WriteString("\nSome guarantee cannot hold on this API for any client (marked !!).\n")
	case !r.Wrote:
		b.WriteString("\nWrites were not verified: this run only read. Run with -write to check versions, preconditions, keys and deletes on a scratch item.\n")
	}
	if r.Wrote {
		fmt.Fprintf(&b, "\nRecommended configuration:\n\n%s\n\n", r.Config)
	}
	if r.Holds {
		b.WriteString("concord's guarantees hold on this API with that configuration.\n")
	}
	w.Write(b.Bytes())
}

// queryVersions runs the checks for an API whose writes carry the version
// in a query parameter (-version-param), as Google Cloud Storage does.
func (p *prober) queryVersions(ctx context.Context, t target) {
	param := p.cfg.versionParam
	version := func(a answer) string {
		if v := a.header.Get(p.cfg.versionHeader); v != "" {
			return v
		}
		var doc map[string]any
		if json.Unmarshal(a.body, &doc) == nil {
			if s, ok := doc["generation"].(string); ok {
				return s
			}
		}
		return ""
	}
	cur := p.send(ctx, http.MethodGet, t.read, nil, nil)
	v1 := version(cur)
	if !cur.ok() || v1 == "" {
		p.add(finding{Property: "version", Verdict: "not found", Evidence: "GET -> " + status(cur) + ", no " + p.cfg.versionHeader,
			Concord: "give -version-header", Breaks: true})
		return
	}
	p.add(finding{Property: "version", Verdict: "in " + p.cfg.versionHeader, Evidence: "GET -> " + p.cfg.versionHeader + ": " + v1, Concord: "QueryVersion reads it"})
	current := p.send(ctx, t.method, appendParam(t.write, param, v1), jsonHeader(), cur.body)
	p.add(finding{Property: "current " + param, Verdict: yesNo(current.ok(), "accepted", "refused ("+status(current)+")"),
		Evidence: fmt.Sprintf("%s ?%s=%s -> %s", t.method, param, v1, status(current)), Concord: "writes conditionally"})
	stale := p.send(ctx, t.method, appendParam(t.write, param, v1), jsonHeader(), cur.body) // v1 is stale now
	honored := refused(stale)
	p.add(precondition("stale "+param, fmt.Sprintf("%s ?%s=%s (stale)", t.method, param, v1), stale,
		"rejected", "refetches, merges and writes again", "IGNORED: the stale write overwrote", "cannot make writes conditional here"))
	if !honored {
		p.add(finding{Property: "preconditions", Verdict: "NONE HONORED", Evidence: "a stale " + param + " was not refused", Concord: "cannot prevent lost updates here: no client can", Breaks: true})
	}
	absent := p.send(ctx, t.method, appendParam(t.write, param, "0"), jsonHeader(), p.cfg.doc)
	p.add(precondition(param+"=0", fmt.Sprintf("%s ?%s=0 on an existing item", t.method, param), absent,
		"honored", "CreateAt is create-only (QueryVersion.Absent)", "IGNORED: an upsert", "CreateAt cannot be create-only here"))
	del := p.send(ctx, http.MethodDelete, appendParam(t.del, param, "1"), nil, nil)
	f := finding{Property: "stale conditional DELETE", Evidence: fmt.Sprintf("DELETE ?%s=1 (stale) -> %s", param, status(del))}
	if p.send(ctx, http.MethodGet, t.read, nil, nil).status == http.StatusNotFound {
		f.Verdict, f.Concord, f.Breaks = "IGNORED: the item was deleted", "cannot make a delete conditional here: no client can", true
	} else {
		f.Verdict, f.Concord = "refused ("+status(del)+")", "never deletes a version its caller did not see"
	}
	p.add(f)
	opts := []option{versioner(concord.QueryVersion{Header: p.cfg.versionHeader, Member: "generation", Param: param, Absent: "0"})}
	p.configure(nil, opts, "")
	p.prove(ctx, opts, promises{updates: honored, deletes: !f.Breaks, creates: refused(absent)})
}
