// Command fakeapi serves concordtest's fake REST API for trying concord, or
// any other client, by hand:
//
//	go run ./concordtest/cmd/fakeapi -addr 127.0.0.1:8080
//	curl -i -X POST -H 'Content-Type: application/json' -H 'Idempotency-Key: k1' \
//	     -d '{"name":"gear"}' http://127.0.0.1:8080/widgets
//	curl -i -X PUT -H 'Content-Type: application/json' -H 'If-Match: "r0"' \
//	     -d '{"name":"cog"}' http://127.0.0.1:8080/widgets/1      # 412: stale
//
// Collections are created on first use at /{collection} and
// /{collection}/{id}. Flags select the API's behavior and faults.
package main

// Layer: Test kit (ARCHITECTURE.md).

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/concord-go/concord/concordtest"
)

func main() {
	var (
		addr          = flag.String("addr", "127.0.0.1:8080", "address to listen on")
		conflict      = flag.Int("conflict-status", 0, "status for a stale version: 412 (default for If-Match) or 409")
		requireMatch  = flag.Bool("require-if-match", false, "answer unconditional writes of existing resources with 428")
		bodyVersion   = flag.String("body-version", "", `keep the version in the body at this member path ("version", "metadata.resourceVersion", "_rev")`)
		versionQuery  = flag.String("version-query", "", `query parameter a DELETE carries the body version in ("rev")`)
		conflictState = flag.Bool("conflict-state", false, "conflict responses carry the current representation and ETag")
		requireKey    = flag.Bool("require-key", false, "answer a POST without an idempotency key with 400")
		keyHeader     = flag.String("key-header", "Idempotency-Key", "idempotency key header")
		keyTTL        = flag.Duration("key-ttl", 24*time.Hour, "how long idempotency keys are remembered")
		unique        = flag.String("unique", "", "comma-separated collection.member pairs that must be unique")
		latency       = flag.Duration("latency", 0, "delay every request by this much")
		failRate      = flag.Float64("fail-rate", 0, "fraction of requests answered with -fail-status")
		failStatus    = flag.Int("fail-status", http.StatusServiceUnavailable, "status for -fail-rate")
		seed          = flag.Uint64("seed", 1, "seed for -fail-rate")
		weak          = flag.Duration("weak-etags", -1, "serve weak ETags for this long after each write (0: always)")
		opaque        = flag.Bool("opaque-etags", false, "compare If-Match as opaque strings, weak tags included")
		upsert        = flag.Bool("ignore-if-none-match", false, "treat PUT with If-None-Match: * as an upsert")
		postKeys      = flag.Bool("keys-post-only", false, "honor idempotency keys on POST only")
		generation    = flag.String("generation-query", "", `take the version from this query parameter on writes ("ifGenerationMatch") and send it in X-Generation`)
		errorFormat   = flag.String("errors", "problem+json", "error format: problem+json, plain, azure, google or s3")
	)
	flag.Parse()
	opts := []concordtest.Option{concordtest.IdempotencyKeyHeader(*keyHeader), concordtest.IdempotencyKeyTTL(*keyTTL), concordtest.FaultSeed(*seed)}
	if *conflict != 0 {
		opts = append(opts, concordtest.ConflictStatus(*conflict))
	}
	if *requireMatch {
		opts = append(opts, concordtest.RequirePreconditions())
	}
	if *bodyVersion != "" {
		opts = append(opts, concordtest.VersionInBody(*bodyVersion, *versionQuery))
	}
	if *conflictState {
		opts = append(opts, concordtest.ConflictWithState())
	}
	if *requireKey {
		opts = append(opts, concordtest.RequireIdempotencyKey())
	}
	if *weak >= 0 {
		opts = append(opts, concordtest.WeakETags(*weak))
	}
	if *opaque {
		opts = append(opts, concordtest.OpaqueETags())
	}
	if *upsert {
		opts = append(opts, concordtest.IgnoreIfNoneMatch())
	}
	if *postKeys {
		opts = append(opts, concordtest.KeysOnPOSTOnly())
	}
	if *generation != "" {
		opts = append(opts, concordtest.GenerationQuery(*generation, "X-Generation"))
	}
	found := false
	for _, d := range []concordtest.ErrorDialect{concordtest.DialectProblemJSON, concordtest.DialectPlainText, concordtest.DialectAzure, concordtest.DialectGoogle, concordtest.DialectS3} {
		if d.String() == *errorFormat {
			opts, found = append(opts, concordtest.Errors(d)), true
		}
	}
	if !found {
		fmt.Fprintf(os.Stderr, "fakeapi: unknown -errors %q\n", *errorFormat)
		os.Exit(2)
	}
	for _, pair := range strings.Split(*unique, ",") {
		if pair == "" {
			continue
		}
		coll, member, ok := strings.Cut(pair, ".")
		if !ok {
			fmt.Fprintf(os.Stderr, "fakeapi: -unique wants collection.member, got %q\n", pair)
			os.Exit(2)
		}
		opts = append(opts, concordtest.Unique(coll, member))
	}
	api := concordtest.NewAPI(opts...)
	api.SetLatency(*latency)
	if *failRate > 0 {
		api.FailFraction(*failRate, *failStatus)
	}

	srv := &http.Server{Addr: *addr, Handler: api, ReadHeaderTimeout: 10 * time.Second}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	go func() {
		<-ctx.Done()
		shutdown, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(shutdown)
	}()
	log.Printf("fakeapi listening on http://%s", *addr)
	if err := srv.ListenAndServe(); err != nil && !errors.Is(err, http.ErrServerClosed) {
		log.Fatal(err)
	}
}
