package bench

import (
	"context"
	"testing"
)

// run benchmarks one client's call, made b.N times.
func run(b *testing.B, call Call, done func()) {
	b.Helper()
	defer done()
	ctx := context.Background()
	b.ReportAllocs()
	for range b.N {
		if err := call(ctx); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkGet(b *testing.B) {
	srv := NewHappyServer()
	defer srv.Close()
	for _, client := range HappyClients {
		b.Run("client="+client, func(b *testing.B) { call, done := Get(client, srv.URL); run(b, call, done) })
	}
}

func BenchmarkConditionalPut(b *testing.B) {
	srv := NewHappyServer()
	defer srv.Close()
	for _, client := range append(HappyClients, "concord-nokey") {
		b.Run("client="+client, func(b *testing.B) { call, done := Put(client, srv.URL); run(b, call, done) })
	}
}
