package interop

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// The real servers, installed by scripts/interop.sh from Debian's packages
// and the npm registry, each started on a free loopback port and stopped by
// its pid when the test ends. A server that does not start fails the test:
// nothing here is skipped.

// freePort returns a loopback port nobody listens on now.
func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// start runs a server in the background, kills it (and its children) when
// the test ends, and waits until ready answers true.
func start(t *testing.T, name string, cmd *exec.Cmd, ready func() bool) {
	t.Helper()
	logPath := filepath.Join(t.TempDir(), name+".log")
	logFile, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout, cmd.Stderr = logFile, logFile
	cmd.SysProcAttr = processGroup()
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting %s: %v (run scripts/interop.sh, which installs it)", name, err)
	}
	t.Cleanup(func() {
		killGroup(cmd)
		cmd.Wait()
		logFile.Close()
	})
	deadline := time.Now().Add(60 * time.Second)
	for !ready() {
		if time.Now().After(deadline) {
			log, _ := os.ReadFile(logPath)
			t.Fatalf("%s did not start within 60s; its log:\n%s", name, log)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// answers reports whether an HTTP GET of u gets any response.
func answers(u string) func() bool {
	return func() bool {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return false
		}
		resp.Body.Close()
		return true
	}
}

// tool returns the path of an installed server binary: in one of the
// folders of $INTEROP_BIN (a path list, where scripts/interop.sh puts what
// it installs), else on $PATH.
func tool(t *testing.T, name string) string {
	t.Helper()
	for _, dir := range filepath.SplitList(os.Getenv("INTEROP_BIN")) {
		if p := filepath.Join(dir, name); fileExists(p) {
			return p
		}
	}
	p, err := exec.LookPath(name)
	if err != nil {
		t.Fatalf("%s is not installed: run scripts/interop.sh", name)
	}
	return p
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

// startApache serves a WebDAV folder with Apache httpd and mod_dav
// (Debian's apache2) and returns its base URL.
func startApache(t *testing.T) string { return startApacheMPM(t, "event") }

// startApacheLocks serves the same with the prefork MPM, one process per
// request: mod_dav_fs guards its lock database with file locks, which
// exclude other processes but not other threads of one process, so under
// the event MPM its locks are lost under contention (seen: a call found
// its lock gone in 5 of 10 runs of the locked counter under the event MPM,
// before concord redid such rounds; under prefork in 2 of 11).
func startApacheLocks(t *testing.T) string { return startApacheMPM(t, "prefork") }

func startApacheMPM(t *testing.T, mpm string) string {
	// Not t.TempDir: its parents are private to root, and Apache's
	// workers run as www-data.
	dir, err := os.MkdirTemp("", "concord-apache-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	os.Chmod(dir, 0o755)
	www, lock := filepath.Join(dir, "www"), filepath.Join(dir, "lock")
	for _, d := range []string{www, lock} {
		if err := os.MkdirAll(d, 0o777); err != nil {
			t.Fatal(err)
		}
		os.Chmod(d, 0o777) // the worker user writes here
	}
	port := freePort(t)
	modules := "/usr/lib/apache2/modules"
	conf := fmt.Sprintf(`ServerName 127.0.0.1
Listen 127.0.0.1:%d
PidFile %s/httpd.pid
ErrorLog %s/error.log
LoadModule mpm_`+mpm+`_module %s/mod_mpm_`+mpm+`.so
LoadModule authz_core_module %s/mod_authz_core.so
LoadModule dav_module %s/mod_dav.so
LoadModule dav_fs_module %s/mod_dav_fs.so
User www-data
Group www-data
DocumentRoot %s
DAVLockDB %s/davlock
<Directory %s>
  Dav On
  Require all granted
</Directory>
`, port, dir, dir, modules, modules, modules, modules, www, lock, www)
	confPath := filepath.Join(dir, "httpd.conf")
	if err := os.WriteFile(confPath, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	base := fmt.Sprintf("http://127.0.0.1:%d", port)
	start(t, "apache2", exec.Command(tool(t, "apache2"), "-f", confPath, "-DFOREGROUND"), answers(base+"/"))
	return base
}

// startPouchDB serves the CouchDB API with pouchdb-server (npm), in
// memory, and returns its base URL.
func startPouchDB(t *testing.T) string {
	port := freePort(t)
	base := fmt.Sprintf("http://127.0.0.1:%d", port)
	cmd := exec.Command(tool(t, "pouchdb-server"), "--in-memory", "--host", "127.0.0.1", "--port", fmt.Sprint(port))
	cmd.Dir = t.TempDir() // it writes its config and log files here
	start(t, "pouchdb-server", cmd, answers(base+"/"))
	return base
}
