package interop

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/concord-go/concord"
)

// probedServers are the rows of the README's "Works with" table for
// servers that the scenario suite does not run, since their optimistic
// writes cannot keep concord's promises: TestProbeAgainstRealServers
// runs them, and TestLockedCounter those with locks.
var probedServers = []server{
	{
		name:       "nginx 1.22 WebDAV (Debian nginx-light)",
		start:      startNginx,
		collection: "files",
		setup:      mkcol("files/"),
		options:    "none helps",
	},
	{
		name:            "nginx 1.22 WebDAV with dav-ext locks (Debian)",
		start:           startNginxLocks,
		collection:      "files",
		setup:           mkcol("files/"),
		resourceOptions: []concord.ResourceOption{concord.WithLocks(concord.WebDAVLocker{}, 0)},
		options:         "`WithLocks(WebDAVLocker{}, 0)`",
	},
	{
		name:       "json-server 0.17 (Express)",
		start:      startJSONServer,
		collection: "widgets",
		setup:      func(context.Context, *concord.Client) error { return nil },
		options:    "none helps",
	},
}

// Servers whose optimistic writes cannot keep concord's promises, run so
// that concord probe is proven to say so: nginx's WebDAV module (Debian),
// with and without its locks, and json-server (npm).
// startNginx serves a WebDAV folder with nginx's dav module (Debian's
// nginx-light) and returns its base URL. Its ETags are the file's
// modification time in seconds and its size; it ignores If-Match and
// If-None-Match on PUT and DELETE, and refuses POST.
func startNginx(t *testing.T) string { return startNginxDAV(t, false) }

// startNginxLocks is startNginx with WebDAV locks (Debian's
// libnginx-mod-http-dav-ext): while an item is locked, a PUT or DELETE
// without its token is answered 423.
func startNginxLocks(t *testing.T) string { return startNginxDAV(t, true) }

func startNginxDAV(t *testing.T, locks bool) string {
	dir := t.TempDir()
	www, tmp := filepath.Join(dir, "www"), filepath.Join(dir, "tmp")
	for _, d := range []string{www, tmp} {
		if err := os.MkdirAll(d, 0o777); err != nil {
			t.Fatal(err)
		}
	}
	port := freePort(t)
	module, zone, lock := "", "", ""
	if locks {
		module = "load_module /usr/lib/nginx/modules/ngx_http_dav_ext_module.so;"
		// A lock lasts the zone's timeout whatever a client asks (one
		// minute by default): 10 s, so that a lock whose LOCK answer was
		// lost (nobody holds its token) expires within a history.
		zone = "dav_ext_lock_zone zone=locks:1m timeout=10s;"
		lock = "dav_ext_methods PROPFIND OPTIONS LOCK UNLOCK; dav_ext_lock zone=locks;"
	}
	conf := fmt.Sprintf(module+`
daemon off;
master_process off;
pid %[1]s/nginx.pid;
error_log %[1]s/error.log;
events {}
http {
  access_log off;
  client_body_temp_path %[2]s;
  `+zone+`
  server {
    listen 127.0.0.1:%[3]d;
    root %[4]s;
    location / {
      dav_methods PUT DELETE MKCOL;
      create_full_put_path on;
      autoindex on;
      autoindex_format json;
      `+lock+`
    }
  }
}
`, dir, tmp, port, www)
	confPath := filepath.Join(dir, "nginx.conf")
	if err := os.WriteFile(confPath, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	base := fmt.Sprintf("http://127.0.0.1:%d", port)
	start(t, "nginx", exec.Command(tool(t, "nginx"), "-c", confPath, "-p", dir, "-e", filepath.Join(dir, "error.log")), answers(base+"/"))
	return base
}

// startJSONServer serves json-server's REST API (npm) over an empty
// "widgets" collection and returns its base URL. Its ETags are weak hashes
// of the content; it ignores every precondition and key, and answers a
// merge patch 200 without applying it.
func startJSONServer(t *testing.T) string {
	dir := t.TempDir()
	db := filepath.Join(dir, "db.json")
	if err := os.WriteFile(db, []byte(`{"widgets":[]}`), 0o644); err != nil {
		t.Fatal(err)
	}
	port := freePort(t)
	base := fmt.Sprintf("http://127.0.0.1:%d", port)
	cmd := exec.Command(tool(t, "json-server"), "--host", "127.0.0.1", "--port", fmt.Sprint(port), "--quiet", db)
	cmd.Dir = dir
	start(t, "json-server", cmd, answers(base+"/widgets"))
	return base
}
