package bench

import (
	"context"
	"testing"
)

// contexts are the two contexts every comparison is made under: a
// handler's (the headline) and context.Background().
var contexts = []struct {
	name string
	new  func() (context.Context, context.CancelFunc)
}{
	{"handler", HandlerContext},
	{"background", func() (context.Context, context.CancelFunc) { return context.Background(), func() {} }},
}

// run benchmarks one client's call, made b.N times under each context. A
// handler's context is made anew every 1024 calls, before its deadline.
func run(b *testing.B, call Call, done func()) {
	b.Helper()
	defer done()
	for _, c := range contexts {
		b.Run("ctx="+c.name, func(b *testing.B) {
			ctx, cancel := c.new()
			b.ReportAllocs()
			for i := range b.N {
				if i%1024 == 1023 {
					cancel()
					ctx, cancel = c.new()
				}
				if err := call(ctx); err != nil {
					b.Fatal(err)
				}
			}
			cancel()
		})
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
