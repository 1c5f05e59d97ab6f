package main

import (
	"bytes"
	"context"
	"math/rand/v2"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/concord-go/concord/concordtest"
)

// TestRun runs the narrated example; run itself checks every issue opened
// once and every vote kept.
func TestRun(t *testing.T) {
	var out bytes.Buffer
	if err := run(context.Background(), &out); err != nil {
		t.Fatalf("run = %v\n%s", err, out.String())
	}
	if !strings.Contains(out.String(), "#1 crash on start: 8 votes") {
		t.Errorf("output lacks the 8 votes of #1:\n%s", out.String())
	}
}

// The wrapper's own tests, against concordtest alone, as a service would
// test its wrapper.

// TestOpenIsNotDuplicatedByALostResponse: the server commits the create and
// drops the connection; the wrapper's retry gets the original issue, not a
// second one.
func TestOpenIsNotDuplicatedByALostResponse(t *testing.T) {
	f := newFake()
	srv := httptest.NewServer(f.api)
	t.Cleanup(srv.Close)
	f.api.DropNext(1, "POST", "/repos/octo/issues")
	tracker, err := NewTracker(srv.URL, "octo", f.source, f.counted())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tracker.Open(context.Background(), "crash on start"); err != nil {
		t.Fatalf("Open after a dropped answer = %v", err)
	}
	if n := f.api.Len("repos/octo/issues"); n != 1 {
		t.Errorf("issues stored = %d; want 1", n)
	}
}

// TestRateLimitIsWaitedOut: past GitHub's limit the wrapper waits for the
// reset the headers name instead of failing.
func TestRateLimitIsWaitedOut(t *testing.T) {
	f := newFake()
	srv := httptest.NewServer(f.api)
	t.Cleanup(srv.Close)
	tracker, err := NewTracker(srv.URL, "octo", f.source, f.counted())
	if err != nil {
		t.Fatal(err)
	}
	for i := range 25 { // the limit is 20 a second
		if _, err := tracker.Open(context.Background(), "issue"); err != nil {
			t.Fatalf("Open %d = %v", i, err)
		}
	}
	if f.waits == 0 || f.api.Len("repos/octo/issues") != 25 {
		t.Errorf("25 Opens against a limit of 20 waited %d times and stored %d; want a wait for the reset and 25 issues", f.waits, f.api.Len("repos/octo/issues"))
	}
}

// TestVotesFromSeparateProcessesAreKept: voters with wrappers of their
// own (as separate processes have) conflict, and no vote is lost.
func TestVotesFromSeparateProcessesAreKept(t *testing.T) {
	api := concordtest.NewServer(t, concordtest.Collections("repos/{owner}/issues"))
	if _, err := api.Seed("repos/octo/issues", "1", Issue{ID: "1", Title: "crash"}); err != nil {
		t.Fatal(err)
	}
	source := func(context.Context) (string, time.Time, error) { return "token", time.Time{}, nil }
	trackers := make([]*Tracker, 6)
	for i := range trackers {
		tracker, err := NewTracker(api.URL, "octo", source)
		if err != nil {
			t.Fatal(err)
		}
		trackers[i] = tracker
	}
	concordtest.Contend(t, 1, len(trackers), 5, func(writer, _ int, _ *rand.Rand) error {
		return trackers[writer].Vote(context.Background(), 1)
	})
	doc, _, _ := api.Doc("repos/octo/issues", "1")
	if !strings.Contains(string(doc), `"votes":30`) {
		t.Errorf("after 6 x 5 votes the issue holds %s; want 30 votes", doc)
	}
}
