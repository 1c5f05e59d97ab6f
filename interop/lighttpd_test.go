package interop

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/concord-go/concord"
)

// startLighttpd serves a WebDAV folder with lighttpd's mod_webdav
// (Debian's lighttpd and lighttpd-mod-webdav), its locks and properties in
// SQLite, and returns its base URL. It is a WebDAV family of its own (not
// Apache's, not nginx's): it honors If-Match and If-None-Match: * on PUT
// and DELETE, enforces its locks (423 without the token), and sends no
// ETag on its items, so a client has no version to send: only the lock
// keeps updates there.
func startLighttpd(t *testing.T) string {
	dir := t.TempDir()
	www := filepath.Join(dir, "www")
	if err := os.MkdirAll(www, 0o777); err != nil {
		t.Fatal(err)
	}
	port := freePort(t)
	conf := fmt.Sprintf(`server.document-root = %q
server.bind = "127.0.0.1"
server.port = %d
server.modules = ("mod_webdav")
server.errorlog = %q
webdav.activate = "enable"
webdav.is-readonly = "disable"
webdav.sqlite-db-name = %q
`, www, port, filepath.Join(dir, "error.log"), filepath.Join(dir, "webdav.db"))
	confPath := filepath.Join(dir, "lighttpd.conf")
	if err := os.WriteFile(confPath, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	base := fmt.Sprintf("http://127.0.0.1:%d", port)
	start(t, "lighttpd", exec.Command(tool(t, "lighttpd"), "-D", "-f", confPath), answers(base+"/"))
	return base
}

func init() {
	probedServers = append(probedServers, server{
		name:            "lighttpd 1.4 mod_webdav with locks (Debian)",
		start:           startLighttpd,
		collection:      "files",
		setup:           mkcol("files/"),
		resourceOptions: []concord.ResourceOption{concord.WithLocks(concord.WebDAVLocker{}, 0)},
		options:         "`WithLocks(WebDAVLocker{}, 0)`",
	})
}
