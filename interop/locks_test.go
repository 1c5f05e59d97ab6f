package interop

import (
	"context"
	"testing"
	"time"

	"github.com/concord-go/concord"
)

// lockedServers are the servers whose lock concord's lock mode takes.
var lockedServers = []struct {
	name   string
	start  func(t *testing.T) string
	server string // the row of servers or probedServers it shares setup with
	locker concord.Locker
	opts   []concord.Option
}{
	{"Apache httpd 2.4 mod_dav (prefork), WebDAV locks", startApacheLocks, "Apache httpd 2.4 mod_dav", concord.WebDAVLocker{}, nil},
	{"nginx 1.22 WebDAV with dav-ext locks", startNginxLocks, "nginx 1.22 WebDAV with dav-ext locks (Debian)", concord.WebDAVLocker{}, nil},
	{"lighttpd 1.4 mod_webdav, WebDAV locks", startLighttpd, "lighttpd 1.4 mod_webdav with locks (Debian)", concord.WebDAVLocker{}, nil},
	{"Azurite 3.35 Blob, leases", startAzuriteBlob, "Azurite 3.35 Blob", concord.AzureLeaseLocker{}, []concord.Option{concord.WithHeader("X-Ms-Blob-Type", "BlockBlob")}},
}

// TestLockedCounter: 8 separate clients x 5 increments of one counter in
// lock mode end at exactly 40, with and without a Get before each Update,
// with no failed call and no lock left, on
// servers where optimistic writes alone lose updates (Apache's If-Match is
// not atomic, nginx ignores it) and on Azure's leases.
func TestLockedCounter(t *testing.T) {
	for _, ls := range lockedServers {
		t.Run(ls.name, func(t *testing.T) {
			s := serverNamed(t, ls.server)
			s.racyIfMatch = false // under the lock, exactly 40
			base := ls.start(t)
			ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
			defer cancel()
			newClient := func() *concord.Client {
				c, err := concord.New(base, ls.opts...)
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(c.CloseIdleConnections)
				return c
			}
			setup := newClient()
			if err := s.setup(ctx, setup); err != nil {
				t.Fatalf("creating the collection: %v", err)
			}
			var rs []*concord.Resource[doc]
			for range 8 {
				rs = append(rs, concord.NewResource[doc](newClient(), s.collection, concord.WithLocks(ls.locker, 0)))
			}
			counter(ctx, t, s, rs, "counter", false)
			// A Get before each Update: the Update starts from the Get's
			// copy, which is compared by content under the lock (nginx's
			// one-second tags answered 304 for changed content, issue #31).
			counter(ctx, t, s, rs, "counter-read-first", true)
			// No lock left: another holder takes it at once.
			lease, err := ls.locker.Lock(ctx, setup, setup.BaseURL()+"/"+s.collection+"/counter", 30*time.Second)
			if err != nil {
				t.Fatalf("a lock taken after every call ended = %v; want none left held", err)
			}
			if err := lease.Release(ctx); err != nil {
				t.Error(err)
			}
		})
	}
}
