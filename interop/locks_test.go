package interop

import (
	"context"
	"errors"
	"sync"
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
	{"Azurite 3.35 Blob, leases", startAzuriteBlob, "Azurite 3.35 Blob", concord.AzureLeaseLocker{}, []concord.Option{concord.WithHeader("X-Ms-Blob-Type", "BlockBlob")}},
}

// TestLockedCounter: 8 separate clients x 5 increments of one counter in
// lock mode end at exactly 40, with no failed call and no lock left, on
// servers where optimistic writes alone lose updates (Apache's If-Match is
// not atomic, nginx ignores it) and on Azure's leases.
func TestLockedCounter(t *testing.T) {
	for _, ls := range lockedServers {
		t.Run(ls.name, func(t *testing.T) {
			var s server
			for _, x := range append(servers, probedServers...) {
				if x.name == ls.server {
					s = x
				}
			}
			base := ls.start(t)
			ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
			defer cancel()
			newResource := func() *concord.Resource[doc] {
				c, err := concord.New(base, ls.opts...)
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(c.CloseIdleConnections)
				return concord.NewResource[doc](c, s.collection, concord.WithLocks(ls.locker, 0))
			}
			setup, err := concord.New(base, ls.opts...)
			if err != nil {
				t.Fatal(err)
			}
			if err := s.setup(ctx, setup); err != nil {
				t.Fatalf("creating the collection: %v", err)
			}
			first := newResource()
			if _, err := first.CreateAt(ctx, "counter", doc{Name: "counter"}); err != nil {
				t.Fatalf("CreateAt under a lock = %v", err)
			}
			var wg sync.WaitGroup
			errs := make(chan error, 40)
			for range 8 {
				r := newResource()
				wg.Add(1)
				go func() {
					defer wg.Done()
					for range 5 {
						if _, err := r.Update(ctx, "counter", func(d *doc) error { d.N++; return nil }); err != nil {
							errs <- err
						}
					}
				}()
			}
			wg.Wait()
			close(errs)
			for err := range errs {
				t.Errorf("increment failed: %v", err)
			}
			got, err := first.Get(ctx, "counter")
			if err != nil || got.Value.N != 40 {
				t.Errorf("counter = %+v, %v after 8 clients x 5 locked increments; want exactly 40", got, err)
			}
			// No lock left: another holder takes it at once.
			lease, err := ls.locker.Lock(ctx, setup, setup.BaseURL()+"/"+s.collection+"/counter", 30*time.Second)
			if errors.Is(err, concord.ErrLocked) || err != nil {
				t.Fatalf("a lock taken after every call ended = %v; want none left held", err)
			}
			if err := lease.Release(ctx); err != nil {
				t.Error(err)
			}
		})
	}
}
