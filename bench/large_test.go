package bench

import "testing"

// BenchmarkLarge: a GET, a conditional PUT and a read-modify-write of a
// 1 MiB document, by hand with net/http and encoding/json and with
// concord; and a change of one member, by hand a conditional PUT of the
// whole document against a server that answers 204 or echoes the
// document, with concord a warm Update.
func BenchmarkLarge(b *testing.B) {
	const size = 1 << 20
	for _, client := range LargeClients {
		b.Run("op=get/client="+client, func(b *testing.B) {
			srv := NewLargeServer(size, false)
			defer srv.Close()
			call, done := LargeGet(client, srv.URL)
			run(b, call, done)
		})
		b.Run("op=put/client="+client, func(b *testing.B) {
			srv := NewLargeServer(size, false)
			defer srv.Close()
			call, done := LargePut(client, srv.URL, LargeDoc(size))
			run(b, call, done)
		})
		b.Run("op=update/client="+client, func(b *testing.B) {
			srv := NewLargeServer(size, false)
			defer srv.Close()
			call, done := LargeUpdate(client, srv.URL)
			run(b, call, done)
		})
		for _, answer := range []struct {
			name string
			echo bool
		}{{"204", false}, {"echo", true}} {
			b.Run("op=change/answer="+answer.name+"/client="+client, func(b *testing.B) {
				srv := NewLargeServer(size, answer.echo)
				defer srv.Close()
				call, done := LargeChange(client, srv.URL, LargeDoc(size))
				run(b, call, done)
			})
		}
	}
}
