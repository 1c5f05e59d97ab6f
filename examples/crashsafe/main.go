// Command crashsafe shows a create that survives a crash. A process sends
// a create and is killed (SIGKILL) after the server committed it and
// before the answer arrives; restarted, it sends the same create again.
// With a key derived from the order's own identity (concord.KeyFor), the
// restarted process gets the original answer (Replayed) and the server
// holds one order; with the default key, random per process, it would
// hold two. It runs an embedded API, starts itself as the child process
// twice, and exits non-zero if the server holds anything but one order.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"strings"
	"sync"
	"time"

	"github.com/concord-go/concord"
	"github.com/concord-go/concord/concordtest"
)

// Order is the resource the example creates.
type Order struct {
	Number string `json:"number"`
	Total  int    `json:"total"`
}

// childEnv names the API a child process creates its order on.
const childEnv = "CRASHSAFE_API"

func main() {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if api := os.Getenv(childEnv); api != "" {
		if err := child(ctx, os.Stdout, api); err != nil {
			fmt.Fprintln(os.Stderr, "crashsafe child:", err)
			os.Exit(1)
		}
		return
	}
	self, err := os.Executable()
	if err != nil {
		fmt.Fprintln(os.Stderr, "crashsafe:", err)
		os.Exit(1)
	}
	if err := run(ctx, os.Stdout, self); err != nil {
		fmt.Fprintln(os.Stderr, "crashsafe:", err)
		os.Exit(1)
	}
}

// child is the service: it creates order 1001, with a key derived from
// the order's number, and prints what it got.
func child(ctx context.Context, w io.Writer, api string) error {
	c, err := concord.New(api)
	if err != nil {
		return err
	}
	orders := concord.NewResource[Order](c, "orders")
	order := Order{Number: "1001", Total: 4200}
	res, err := orders.Create(ctx, order, concord.WithIdempotencyKey(concord.KeyFor("orders", order.Number)))
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "created order %s: status %d, replayed=%v\n", res.Value.Number, res.StatusCode, res.Replayed)
	return nil
}

// run starts the API and the service (self, run as a child) twice: the
// first is killed once the server committed its create.
func run(ctx context.Context, w io.Writer, self string) error {
	api := concordtest.NewAPI()
	committed := make(chan struct{})
	var once sync.Once
	srv := httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		first := false
		if r.Method == http.MethodPost {
			once.Do(func() { first = true })
		}
		if !first {
			api.ServeHTTP(rw, r)
			return
		}
		// The first create is committed, and its answer held back until
		// the process that sent it is gone.
		api.ServeHTTP(httptest.NewRecorder(), r)
		close(committed)
		<-r.Context().Done()
	}))
	defer srv.Close()
	fmt.Fprintf(w, "embedded API at %s\n", srv.URL)

	first := exec.CommandContext(ctx, self)
	first.Env = append(os.Environ(), childEnv+"="+srv.URL)
	if err := first.Start(); err != nil {
		return err
	}
	select {
	case <-committed:
	case <-ctx.Done():
		_ = first.Process.Kill()
		return ctx.Err()
	}
	if err := first.Process.Kill(); err != nil {
		return err
	}
	_ = first.Wait()
	fmt.Fprintf(w, "service killed after the server committed its create: orders stored: %d\n", api.Len("orders"))

	second := exec.CommandContext(ctx, self)
	second.Env = append(os.Environ(), childEnv+"="+srv.URL)
	out, err := second.CombinedOutput()
	fmt.Fprintf(w, "service restarted: %s", out)
	if err != nil {
		return fmt.Errorf("the restarted service failed: %w", err)
	}
	n := api.Len("orders")
	fmt.Fprintf(w, "orders stored: %d\n", n)
	switch {
	case n != 1:
		return fmt.Errorf("the server holds %d orders; want 1", n)
	case !strings.Contains(string(out), "replayed=true"):
		return errors.New("the restarted service's create was not answered with the original result")
	}
	fmt.Fprintln(w, "one order: the restart got the original answer, not a second order")
	return nil
}
