// Command concord tells what a REST API guarantees to a client that writes
// concurrently, and edits its documents the way concord writes them.
//
//	concord probe [flags] URL-of-a-collection
//	concord edit  [flags] URL-of-an-item
//
// probe runs small checks against the API (with -write, against scratch
// items it creates and deletes) and prints, for each property, the
// verdict, the evidence and what concord does about it, then the concord
// configuration to use. Every verdict about a write rests on what a read
// back showed, never on a status alone. Rows marked !! are promises no
// client can keep on this API. Its exit status is
//
//	0  -write found nothing broken: concord's guarantees hold with the
//	   recommended configuration
//	1  a guarantee cannot hold on this API for any client (a !! row)
//	2  a usage error, or the probe could not run to the end (interrupted,
//	   timed out, its sample or its create refused): it then prints why
//	   and what to pass instead, and claims nothing
//	3  read-only (no -write): nothing about writes was verified
//
// The probe writes, and deletes, only items it proved its own: each
// carries a marker of the run, read back before any write or delete.
//
// Its flags (concord probe -h): -write; -d, a sample document (JSON or
// @file); -item, -read-item, -write-item and -write-method, for APIs whose
// items live elsewhere than the collection URL + /{id}; -version-param and
// -version-header, for a version carried in the query (Google Cloud
// Storage); -json, the report as JSON; -v, each request as it is made.
// It also looks for a lock the server enforces (a WebDAV LOCK, an Azure
// Blob lease) and races concurrent writes carrying one tag, to recommend
// the lock mode (concord.WithLocks) where only the lock keeps updates.
//
// edit does what kubectl edit does, for any JSON REST API: it reads the
// item, opens $EDITOR on it, and writes the result back conditionally; on
// a conflict it merges the edit onto the newer version with concord's
// three-way merge, reopening the editor with the clashes marked when the
// merge needs a person.
//
// Headers (-H 'Authorization: Bearer …', repeatable) can also come from
// the CONCORD_HEADERS environment variable, one per line, so that secrets
// stay out of shell history.
package main

// Layer: Commands (ARCHITECTURE.md).

import (
	"context"
	"encoding/base64"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"strings"
	"time"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}

// run is the command, with its streams, returning the exit status.
func run(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprintln(stderr, "usage: concord probe|edit [flags] URL (concord probe -h for the flags)")
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	switch args[0] {
	case "probe":
		return runProbe(ctx, args[1:], stdout, stderr)
	case "edit":
		return runEdit(ctx, args[1:], stdin, stdout, stderr)
	}
	fmt.Fprintf(stderr, "concord: unknown command %q: want probe or edit\n", args[0])
	return 2
}

// headerFlag collects -H values.
type headerFlag []string

func (h *headerFlag) String() string     { return strings.Join(*h, "; ") }
func (h *headerFlag) Set(v string) error { *h = append(*h, v); return nil }

// parseHeaders turns "Name: value" lines, from -H and from the
// CONCORD_HEADERS variable's value env, into a header. A malformed line is
// named by its place, never by its text, which may hold a secret.
func parseHeaders(flags []string, env string) (http.Header, error) {
	h := make(http.Header)
	add := func(where string, l string) error {
		if strings.TrimSpace(l) == "" {
			return nil
		}
		name, value, ok := strings.Cut(l, ":")
		name, value = strings.TrimSpace(name), strings.TrimSpace(value)
		if !ok || !validHeaderName(name) || !validHeaderValue(value) {
			return fmt.Errorf("%s: want a header as 'Name: value'", where)
		}
		h.Add(name, value)
		return nil
	}
	for i, l := range flags {
		if err := add(fmt.Sprintf("-H argument %d", i+1), l); err != nil {
			return nil, err
		}
	}
	if env != "" {
		for i, l := range strings.Split(env, "\n") {
			if err := add(fmt.Sprintf("CONCORD_HEADERS line %d", i+1), strings.TrimSuffix(l, "\r")); err != nil {
				return nil, err
			}
		}
	}
	return h, nil
}

// validHeaderName reports whether name is an RFC 9110 token.
func validHeaderName(name string) bool {
	if name == "" {
		return false
	}
	for _, r := range name {
		if r >= 0x7f || r <= ' ' || strings.ContainsRune(`"(),/:;<=>?@[\]{}`, r) {
			return false
		}
	}
	return true
}

// validHeaderValue reports whether value has no control character but tab.
func validHeaderValue(value string) bool {
	for _, r := range value {
		if r < ' ' && r != '\t' || r == 0x7f {
			return false
		}
	}
	return true
}

// userCredentials takes the user information out of u and sets it in
// header as Basic credentials: a URL's user and password are used as such,
// and so never printed with the URL. Given with an Authorization header as
// well, they are a usage error.
func userCredentials(u *url.URL, header http.Header) error {
	if u.User == nil {
		return nil
	}
	pass, _ := u.User.Password()
	auth := "Basic " + base64.StdEncoding.EncodeToString([]byte(u.User.Username()+":"+pass))
	u.User = nil
	if header.Get("Authorization") != "" {
		return fmt.Errorf("%w: the URL has a user and password and an Authorization header is given too", errUsage)
	}
	header.Set("Authorization", auth)
	return nil
}

// commonFlags are the flags both commands take.
type commonFlags struct {
	headers headerFlag
	timeout time.Duration
}

func (c *commonFlags) register(fs *flag.FlagSet) {
	fs.Var(&c.headers, "H", "a request header, 'Name: value' (repeatable; also CONCORD_HEADERS, one per line)")
	fs.DurationVar(&c.timeout, "timeout", 2*time.Minute, "how long the whole command may take")
}

// parse parses a command's flags and wants exactly one URL argument. It
// returns false, having printed the usage, when the call is wrong.
func parse(fs *flag.FlagSet, args []string, stderr io.Writer, usage string) bool {
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: "+usage)
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return false
	}
	if fs.NArg() != 1 {
		fs.Usage()
		return false
	}
	return true
}

// errUsage marks an error in how the command was called.
var errUsage = errors.New("usage")
