package interop

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/concord-go/concord"
	"github.com/concord-go/concord/histories"
)

// TestMain runs the test binary as one worker of a history when the
// history checker asks it to (histories.ServeWorker).
func TestMain(m *testing.M) {
	histories.ServeWorker(func(name string) (histories.Target, bool) {
		for _, h := range checkedServers {
			if h.name == name {
				return h.target(), true
			}
		}
		return histories.Target{}, false
	})
	os.Exit(m.Run())
}

// checkedServers are the real servers whose histories the checker checks,
// each with the configuration docs/servers.md gives it. Where a server
// cannot keep a promise whatever the client does, as docs/servers.md
// says, its limits give that promise up in the model, and
// TestLimitsOfRealServers shows that its histories break there: Apache
// without its locks checks If-Match and writes with nothing held between
// them, fake-gcs-server deletes whatever the precondition says, and
// nginx's one-second ETags answer a revalidation 304 for changed content.
var checkedServers = []checkedServer{
	{name: "Apache httpd 2.4 mod_dav (event), no locks", server: "Apache httpd 2.4 mod_dav", start: startApache,
		limits: histories.Limits{RacyPreconditions: true}},
	{name: "fake-gcs-server 1.56", server: "fake-gcs-server 1.56 (Google Cloud Storage JSON API)", start: startFakeGCS,
		limits: histories.Limits{BlindDeletes: true}},
	{name: "Apache httpd 2.4 mod_dav (prefork), WebDAV locks", server: "Apache httpd 2.4 mod_dav", start: startApacheLocks, locker: concord.WebDAVLocker{}},
	{name: "nginx 1.22 WebDAV with dav-ext locks", server: "nginx 1.22 WebDAV with dav-ext locks (Debian)", start: startNginxLocks, locker: concord.WebDAVLocker{},
		// Its ETag is the modification time in seconds and the size: a
		// revalidation answers 304 for content changed within the second.
		limits: histories.Limits{StaleReads: true}},
	{name: "lighttpd 1.4 mod_webdav, WebDAV locks", server: "lighttpd 1.4 mod_webdav with locks (Debian)", start: startLighttpd, locker: concord.WebDAVLocker{}},
	{name: "gofakes3 1.2 (S3 API)", server: "gofakes3 1.2 (S3 API)", start: startS3, limits: histories.Limits{BlindDeletes: true}},
	{name: "Azurite 3.35 Blob", server: "Azurite 3.35 Blob", start: startAzuriteBlob},
	{name: "Azurite 3.35 Blob, leases", server: "Azurite 3.35 Blob", start: startAzuriteBlob, locker: concord.AzureLeaseLocker{}},
	{name: "pouchdb-server 4.2 (CouchDB API)", server: "pouchdb-server 4.2 (CouchDB API)", start: startPouchDB},
}

// checkedServer is a real server under the history checker.
type checkedServer struct {
	name   string
	server string // its row of servers or probedServers: setup and options
	start  func(t *testing.T) string
	locker concord.Locker // nil: optimistic writes alone
	limits histories.Limits
}

// row is the server's row of the suite.
func (h checkedServer) row() server {
	s, _ := rowNamed(h.server)
	return s
}

// open starts a fresh server, creates its collection, and returns its
// base URL.
func (h checkedServer) open(t *testing.T) string {
	t.Helper()
	base := h.start(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	c, err := concord.New(base, h.row().clientOptions...)
	if err != nil {
		t.Fatal(err)
	}
	defer c.CloseIdleConnections()
	if err := h.row().setup(ctx, c); err != nil {
		t.Fatalf("creating the collection: %v", err)
	}
	return base
}

// target is what a worker's client needs for the server: the options of
// its row, and its lock.
func (h checkedServer) target() histories.Target {
	s := h.row()
	return histories.Target{Client: s.clientOptions, Resource: s.resourceOptions, Items: s.collection, Locker: h.locker}
}

// TestLimitsOfRealServers: where a checked server's limits give a promise
// up, a history made to reach it breaks the model without the limit, and
// not with it (histories.VerifyLimits), on the real server.
func TestLimitsOfRealServers(t *testing.T) {
	for _, h := range checkedServers {
		if h.limits == (histories.Limits{}) {
			continue
		}
		t.Run(h.name, func(t *testing.T) {
			base := h.open(t)
			histories.VerifyLimits(t, histories.Server{Name: h.name, URL: base, Target: h.target(), Limits: h.limits})
		})
	}
}

// TestHistoriesOnRealServers runs random concurrent histories under
// network faults against each checked server, a fresh server for each
// seed, and checks each for linearizability (histories.Verify).
// HISTORIES_SEED and HISTORIES_RUNS choose the seeds, as in the histories
// module; scripts/interop.sh sets them for CI.
func TestHistoriesOnRealServers(t *testing.T) {
	seed, err := strconv.ParseUint(os.Getenv("HISTORIES_SEED"), 10, 64)
	if err != nil {
		seed = uint64(time.Now().UnixNano() % 1e6)
	}
	runs, err := strconv.Atoi(os.Getenv("HISTORIES_RUNS"))
	if err != nil {
		runs = 1
	}
	for _, h := range checkedServers {
		if _, ok := rowNamed(h.server); !ok {
			t.Fatalf("%s: no server %q in the suite", h.name, h.server)
		}
		for run := range runs {
			s := seed + uint64(run)
			t.Run(fmt.Sprintf("%s/seed=%d", h.name, s), func(t *testing.T) {
				base := h.open(t)
				histories.Verify(t, histories.Server{Name: h.name, URL: base, Target: h.target(), Limits: h.limits}, s, 30)
			})
		}
	}
}
