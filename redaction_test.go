package concord_test

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/concord-go/concord"
)

func TestDebugLogShowsOnlySafeHeaderValues(t *testing.T) {
	var logs bytes.Buffer
	logger := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	c, mux := setup(t, concord.WithLogger(logger),
		concord.WithHeader("X-Auth-Key", "secret-1"), concord.WithHeader("Ocp-Apim-Subscription-Key", "secret-2"),
		concord.WithHeader("X-Functions-Key", "secret-3"), concord.WithHeader("Authorization", "Bearer "+"secret-4"))
	mux.HandleFunc("/widgets/1", func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, `{"name":"gear"}`) })
	if _, err := concord.NewResource[Widget](c, "widgets").Get(bounded(t), "1"); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(logs.String(), "secret") || !strings.Contains(logs.String(), "concord-go") {
		t.Errorf("debug log = %s; want no credential values and the user agent shown", logs.String())
	}
}

// TestTransportErrorsDoNotLeakQueryCredentials: a connection error names
// the URL; its credentials are redacted before it reaches the caller, a
// hook or a log.
func TestTransportErrorsDoNotLeakQueryCredentials(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // nothing listens there now: every attempt is refused
	var logs bytes.Buffer
	var events []string
	c := newClient(t, "http://"+addr,
		concord.WithLogger(slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))),
		concord.WithSensitive("tenant_secret_id"),
		concord.WithHooks(concord.Hooks{OnRetry: func(_ context.Context, e concord.RetryEvent) {
			events = append(events, e.Reason, e.Err.Error(), e.URL)
		}}))
	_, err = c.Do(bounded(t), &concord.Request{Path: "/widgets?api_key=S1&access_token=S2&sig=S3&tenant_secret_id=S4&page=2"}, nil)
	if err == nil {
		t.Fatal("Do against a closed port succeeded")
	}
	shown := err.Error() + logs.String() + strings.Join(events, " ")
	for _, secret := range []string{"S1", "S2", "S3", "S4"} {
		if strings.Contains(shown, "="+secret) {
			t.Errorf("secret %s shown in %s", secret, shown)
		}
	}
	if !strings.Contains(err.Error(), "page=2") || len(events) == 0 {
		t.Errorf("error = %v, %d retry events; want the harmless query kept and retries reported", err, len(events))
	}
}

// TestBaseQueryIsNeverShown: every value of the base URL's query is a
// secret (Azure API Management's subscription-key, a SAS's fields beyond
// sig), kept out of errors, logs and every hook event of a call whose
// attempts fail on the transport.
func TestBaseQueryIsNeverShown(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	var logs, events bytes.Buffer
	record := func(e any) { fmt.Fprintf(&events, "%+v\n", e) }
	c := newClient(t, "http://"+addr+"/v1?subscription-key=KEYVALUE&sv=SVVALUE&sp=SPVALUE&sig=SIGVALUE",
		concord.WithRetryPolicy(concord.RetryPolicy{BaseDelay: time.Microsecond}),
		concord.WithLogger(slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))),
		concord.WithHooks(concord.Hooks{
			OnAttempt:     func(_ context.Context, e concord.AttemptEvent) { record(e) },
			OnRetry:       func(_ context.Context, e concord.RetryEvent) { record(e); record(e.Err.Error()) },
			OnAttemptDone: func(_ context.Context, e concord.AttemptDoneEvent) { record(e); record(e.Err.Error()) },
			OnCallDone:    func(_ context.Context, e concord.CallEvent) { record(e); record(e.Err.Error()) },
		}))
	_, err = concord.NewResource[Widget](c, "widgets").Get(bounded(t), "1")
	if err == nil {
		t.Fatal("Get against a closed port succeeded")
	}
	shown := err.Error() + logs.String() + events.String()
	for _, secret := range []string{"KEYVALUE", "SVVALUE", "SPVALUE", "SIGVALUE"} {
		if strings.Contains(shown, secret) {
			t.Errorf("base query value %s shown in %s", secret, shown)
		}
	}
	if !strings.Contains(events.String(), "subscription-key=REDACTED") {
		t.Errorf("events = %s; want the parameter named, its value redacted", events.String())
	}
	if _, err := concord.New("ftp://host/?subscription-key=KEYVALUE"); err == nil || strings.Contains(err.Error(), "KEYVALUE") {
		t.Errorf("New(ftp URL with a key) = %v; want an error without the key", err)
	}
}

func TestUserInfoIsNeverShown(t *testing.T) {
	_, err := concord.New("https://user:hunter2@api.example.com/%zz?auth=xyz")
	if err == nil || strings.Contains(err.Error(), "hunter2") || strings.Contains(err.Error(), "xyz") {
		t.Errorf("New(bad URL) = %v; want an error that shows neither password nor query", err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	c := newClient(t, "http://TOKEN123@"+addr, concord.WithRetryPolicy(concord.RetryPolicy{MaxAttempts: 1}))
	_, err = concord.NewResource[Widget](c, "widgets").Get(bounded(t), "1")
	if err == nil || strings.Contains(err.Error(), "TOKEN123") {
		t.Errorf("Get with a token as user name = %v; want an error without the token", err)
	}
}

func TestServerTextCannotForgeLogLines(t *testing.T) {
	c, mux := setup(t)
	mux.HandleFunc("/x", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/problem+json")
		w.Header().Set("X-Request-Id", "id\r\nlevel=ERROR")
		w.WriteHeader(http.StatusBadRequest)
		fmt.Fprint(w, `{"title":"bad\nlevel=ERROR msg=forged","detail":"\u2028x\u0000"}`)
	})
	_, err := c.Do(bounded(t), &concord.Request{Path: "/x"}, nil)
	if err == nil || strings.ContainsAny(err.Error(), "\r\n\x00\u2028") {
		t.Errorf("Error() = %q; want no control characters", err)
	}
}

// TestRedactionByWhatAValueIs: a paging cursor is no credential and stays
// visible in a failed page's error, while credentials stay redacted by
// name, and a cursor whose value is a credential (a JWT, a GitHub token)
// by its value.
func TestRedactionByWhatAValueIs(t *testing.T) {
	c, mux := setup(t, concord.WithRetryPolicy(concord.RetryPolicy{MaxAttempts: 1}))
	mux.HandleFunc("/issues", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusBadRequest) })
	tests := []struct {
		query  string
		shown  []string
		hidden []string
	}{
		{"page_token=CgdwYWdlLTI&pageToken=p2&cursor=c3&continue=k4&starting_after=cus_5", []string{"CgdwYWdlLTI", "p2", "c3", "k4", "cus_5"}, nil},
		{"access_token=s1&api_key=s2&client_secret=s3&sig=s4", nil, []string{"s1", "s2", "s3", "s4"}},
		{"page_token=eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJl&cursor=ghp_abcdef123456", nil, []string{"eyJhbGciOiJIUzI1NiJ9", "ghp_abcdef123456"}},
		// Names that are a paging word and a credential word are
		// credentials; values of documented token families are hidden
		// whatever their name (issue #30).
		{"page_access_token=s5&cursor_secret=s6&pagerduty_api_key=s7", nil, []string{"s5", "s6", "s7"}},
		{"a=xapp-1-A0&b=xoxe.xoxp-1-x&c=xoxe-1-y&d=rk_test_51x&e=1//0gabc&f=eyJhbGciOiJSU0EtT0FFUCJ9.a2V5.aXY.Y2lwaGVy.dGFn",
			nil, []string{"xapp-1-A0", "xoxe.xoxp-1-x", "xoxe-1-y", "rk_test_51x", "1//0gabc", "eyJhbGciOiJSU0EtT0FFUCJ9"}},
	}
	for _, tt := range tests {
		_, err := c.Do(bounded(t), &concord.Request{Path: "/issues?" + tt.query}, nil)
		if err == nil {
			t.Fatal("Do = nil; want the 400")
		}
		for _, v := range tt.shown {
			if !strings.Contains(err.Error(), "="+v) {
				t.Errorf("error %q hides %s; want paging cursors shown", err, v)
			}
		}
		for _, v := range tt.hidden {
			if strings.Contains(err.Error(), v) {
				t.Errorf("error %q shows the credential %s", err, v)
			}
		}
	}
}

func TestLoggerNeverLogsCredentials(t *testing.T) {
	var buf bytes.Buffer
	logger := slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
	c, mux := setup(t, concord.WithLogger(logger), concord.WithHeader("Authorization", "Bearer "+"tok-SECRET"), concord.WithHeader("X-Api-Key", "key-SECRET"), concord.WithHeader("Cookie", "c=SECRET"))
	var n atomic.Int32
	mux.HandleFunc("/widgets/1", func(w http.ResponseWriter, r *http.Request) {
		if n.Add(1) == 1 {
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		fmt.Fprint(w, `{"name":"gear"}`)
	})
	if _, err := concord.NewResource[Widget](c, "widgets").Get(context.Background(), "1", concord.WithQuery("api_key", "q-SECRET")); err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	if !strings.Contains(out, "concord: retrying") || !strings.Contains(out, "concord: request") {
		t.Errorf("log lacks request and retry records:\n%s", out)
	}
	if strings.Contains(out, "SECRET") {
		t.Errorf("log contains a credential:\n%s", out)
	}
}

// TestServerEchoOfTheClientsSecrets: a server that echoes the client's own
// credentials in its error message (GitHub, problem+json and Azure XML
// bodies were seen to) does not get them into APIError.Error(): the
// client's default credential headers, its token source's token and its
// base URL's query values are scrubbed by value (issue #30).
func TestServerEchoOfTheClientsSecrets(t *testing.T) {
	const bearer, apiKey, token, sig = "bearer-secret-123", "apikey-secret-456", "source-token-789", "sassig0123456789"
	bodies := []struct{ contentType, body string }{
		{"application/json", `{"message":"Bad credentials: Bearer ` + bearer + ` / ` + apiKey + ` / ` + token + `","documentation_url":"x"}`},
		{"application/problem+json", `{"title":"Unauthorized","detail":"token ` + bearer + ` key ` + apiKey + ` ` + token + `"}`},
		{"application/xml", `<Error><Code>AuthenticationFailed</Code><Message>sig=` + sig + ` ` + token + `</Message></Error>`},
	}
	for _, b := range bodies {
		for _, client := range []struct {
			opts    []concord.Option
			secrets []string // what this client knows and sends
		}{
			{[]concord.Option{concord.WithHeader("Authorization", "Bearer "+bearer), concord.WithHeader("X-Api-Key", apiKey)}, []string{bearer, apiKey, sig}},
			{[]concord.Option{concord.WithTokenSource(func(context.Context) (string, time.Time, error) { return token, time.Time{}, nil })}, []string{token, sig}},
		} {
			mux := http.NewServeMux()
			srv := httptest.NewServer(mux)
			t.Cleanup(srv.Close)
			mux.HandleFunc("/x", func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", b.contentType)
				w.WriteHeader(http.StatusForbidden)
				fmt.Fprint(w, b.body)
			})
			c := newClient(t, srv.URL+"?sig="+sig, client.opts...)
			_, err := c.Do(bounded(t), &concord.Request{Path: "/x"}, nil)
			if err == nil {
				t.Fatal("Do = nil; want the 403")
			}
			for _, secret := range client.secrets {
				if strings.Contains(err.Error(), secret) {
					t.Errorf("Error() = %q shows the client's own secret %s", err, secret)
				}
			}
		}
	}
}
