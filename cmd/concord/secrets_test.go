package main

import (
	"bytes"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync/atomic"
	"testing"
)

// TestURLCredentialsAreUsedNeverShown: a user and password in the URL are
// sent as Basic credentials, and appear in neither the report, its JSON
// form nor the -v trace.
func TestURLCredentialsAreUsedNeverShown(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if user, pass, ok := r.BasicAuth(); !ok || user != "probe-user" || pass != "s3cr3t-pw" {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		fmt.Fprint(w, `[]`)
	}))
	t.Cleanup(srv.Close)
	withUser := strings.Replace(srv.URL, "http://", "http://probe-user:s3cr3t-pw@", 1) + "/widgets"
	for _, flags := range [][]string{{}, {"-json"}, {"-v"}} {
		var out, errs bytes.Buffer
		code := run(append(append([]string{"probe"}, flags...), withUser), nil, &out, &errs)
		shown := out.String() + errs.String()
		if code != exitUnverified || !strings.Contains(shown, "200") {
			t.Errorf("probe %v with credentials in the URL = %d; want the collection read with them: %s", flags, code, shown)
		}
		if strings.Contains(shown, "s3cr3t-pw") || strings.Contains(shown, "probe-user") {
			t.Errorf("probe %v shows the URL's credentials: %s", flags, shown)
		}
	}
	var out, errs bytes.Buffer
	if code := run([]string{"probe", "-H", "Authorization: Bearer x", withUser}, nil, &out, &errs); code != 2 {
		t.Errorf("probe with credentials in the URL and an Authorization header = %d; want a usage error", code)
	}
}

// TestMalformedHeaderIsNamedByPlace: a header argument that does not
// parse is named by where it is, never by its text, which may be a secret.
func TestMalformedHeaderIsNamedByPlace(t *testing.T) {
	tests := []struct {
		flags []string
		env   string
		where string
	}{
		{[]string{"Accept: application/json", "Authorization Bearer SECRET1"}, "", "-H argument 2"},
		{nil, "Accept: application/json\nX-Api-Key SECRET1", "CONCORD_HEADERS line 2"},
		{[]string{"X-Key: SECRET1\r\nX-Other: 1"}, "", "-H argument 1"},
		{[]string{"Bad Name: SECRET1"}, "", "-H argument 1"},
	}
	for _, tt := range tests {
		_, err := parseHeaders(tt.flags, tt.env)
		if err == nil || strings.Contains(err.Error(), "SECRET1") || !strings.Contains(err.Error(), tt.where) {
			t.Errorf("parseHeaders(%q, %q) = %v; want an error naming %s and not the value", tt.flags, tt.env, err, tt.where)
		}
	}
	for _, cmd := range []string{"probe", "edit"} {
		var out, errs bytes.Buffer
		code := run([]string{cmd, "-H", "Authorization Bearer SECRET1", "http://127.0.0.1:1/widgets"}, nil, &out, &errs)
		if code != 2 || strings.Contains(out.String()+errs.String(), "SECRET1") {
			t.Errorf("%s with a malformed -H = %d, %q; want 2 and the secret not echoed", cmd, code, errs.String())
		}
	}
}

// TestEditWriteRedirectedAwayIsNotWritten: a write that the server
// redirects to another origin stored nothing where it was sent: edit says
// so and exits 1, and the other origin receives nothing.
func TestEditWriteRedirectedAwayIsNotWritten(t *testing.T) {
	var elsewhere atomic.Int32
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		elsewhere.Add(1)
		w.WriteHeader(http.StatusOK)
	}))
	t.Cleanup(other.Close)
	for _, status := range []int{http.StatusTemporaryRedirect, http.StatusPermanentRedirect} {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.Method == http.MethodGet {
				w.Header().Set("ETag", `"v1"`)
				fmt.Fprint(w, `{"name":"gear","stock":1}`)
				return
			}
			http.Redirect(w, r, other.URL+"/widgets/w1", status)
		}))
		t.Cleanup(srv.Close)
		t.Setenv("EDITOR", os.Args[0])
		t.Setenv("CONCORD_TEST_EDITOR", "1")
		t.Setenv("CONCORD_TEST_EDITS", "stock=5")
		var out, errs bytes.Buffer
		code := run([]string{"edit", srv.URL + "/widgets/w1"}, nil, &out, &errs)
		if code != 1 || strings.Contains(out.String(), "written") || !strings.Contains(errs.String(), fmt.Sprint(status)) {
			t.Errorf("edit whose PUT is answered %d to another origin = %d, %q, %q; want 1 and the redirect reported", status, code, out.String(), errs.String())
		}
	}
	if n := elsewhere.Load(); n != 0 {
		t.Errorf("the other origin received %d requests; want none", n)
	}
}

// FuzzParseHeaders: for any header arguments, parsing never panics, never
// echoes a value in its error, and yields only valid headers.
func FuzzParseHeaders(f *testing.F) {
	f.Add("Authorization: Bearer x", "X-Api-Key: k\nAccept: */*")
	f.Add("Authorization Bearer x", "")
	f.Add(":", "\n\n: v")
	f.Add("X: a\r\nY: b", "X-\x00: v")
	f.Fuzz(func(t *testing.T, flag, env string) {
		h, err := parseHeaders([]string{flag}, env)
		if err != nil {
			for _, line := range append(strings.Split(env, "\n"), flag) {
				if _, value, ok := strings.Cut(line, ":"); ok && len(strings.TrimSpace(value)) > 8 && strings.Contains(err.Error(), strings.TrimSpace(value)) {
					t.Fatalf("parseHeaders(%q, %q) = %v, which shows a value", flag, env, err)
				}
			}
			return
		}
		for name, values := range h {
			if !validHeaderName(name) {
				t.Fatalf("parseHeaders(%q, %q) gave the name %q", flag, env, name)
			}
			for _, v := range values {
				if !validHeaderValue(v) {
					t.Fatalf("parseHeaders(%q, %q) gave the value %q", flag, env, v)
				}
			}
		}
	})
}
