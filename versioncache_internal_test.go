package concord

import (
	"bytes"
	"fmt"
	"runtime"
	"sync"
	"testing"
)

func TestVersionCacheEvictsLeastRecentlyUsed(t *testing.T) {
	c := newVersionCache(3 * (entryOverhead + 8))
	c.put("a", snapshot{version: `"1"`})
	c.put("b", snapshot{version: `"2"`})
	c.put("c", snapshot{version: `"3"`})
	if _, ok := c.get("a"); !ok { // a is now the most recent
		t.Fatal("get(a) missed")
	}
	c.put("d", snapshot{version: `"4"`}) // evicts b
	for url, want := range map[itemURL]bool{"a": true, "b": false, "c": true, "d": true} {
		if _, ok := c.get(url); ok != want {
			t.Errorf("get(%s) found=%v; want %v", url, ok, want)
		}
	}
	c.put("a", snapshot{}) // no version: forgotten
	if _, ok := c.get("a"); ok {
		t.Error("a snapshot without a version was kept")
	}
	off := newVersionCache(0)
	off.put("a", snapshot{version: `"1"`})
	if _, ok := off.get("a"); ok {
		t.Error("a cache of 0 bytes remembered something")
	}
}

// TestVersionCacheIsBoundedInBytes: 1024 distinct 1 MiB documents, read
// with the default budget, leave a live heap near the budget, not 1 GiB;
// a body too large for its share keeps only its version.
func TestVersionCacheIsBoundedInBytes(t *testing.T) {
	c := newVersionCache(DefaultVersionCacheBytes)
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	for i := range 1024 {
		// Half of them in buffers twice their length, as a body read
		// without a Content-Length is: the budget counts what they hold.
		body := make([]byte, 1<<20-512, (1+i%2)<<20)
		copy(body, bytes.Repeat([]byte("x"), len(body)))
		c.put(itemURL(fmt.Sprint("https://api.example.com/docs/", i)), snapshot{version: fmt.Sprintf(`"%d"`, i), body: body})
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	if c.bytes > DefaultVersionCacheBytes {
		t.Errorf("cache accounts %d bytes; want at most %d", c.bytes, DefaultVersionCacheBytes)
	}
	if grew := int64(after.HeapAlloc) - int64(before.HeapAlloc); grew > DefaultVersionCacheBytes*9/8 {
		t.Errorf("live heap grew by %d MiB after 1024 documents of 1 MiB; want at most the %d MiB budget and a little", grew>>20, DefaultVersionCacheBytes>>20)
	}
	c.put("big", snapshot{version: `"b"`, body: make([]byte, DefaultVersionCacheBytes/bodyShare+1)})
	if s, ok := c.get("big"); !ok || s.body != nil || s.version != `"b"` {
		t.Errorf("a body over the share: kept=%v, body %d bytes; want its version only", ok, len(s.body))
	}
}

func TestVersionCacheConcurrentUse(t *testing.T) {
	const budget = 16 * (entryOverhead + 8)
	c := newVersionCache(budget)
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 500 {
				url := itemURL(fmt.Sprint(i % 40))
				c.put(url, snapshot{version: fmt.Sprint(g)})
				c.get(url)
				if i%7 == 0 {
					c.forget(url)
				}
			}
		}()
	}
	wg.Wait()
	if n := c.order.Len(); c.bytes > budget || n != len(c.byURL) {
		t.Errorf("cache holds %d bytes in %d entries (%d indexed); want at most %d, consistent", c.bytes, n, len(c.byURL), budget)
	}
}

// TestVersionCacheAccountsExactly: an entry costs its URL, version, ETag
// and body plus a fixed overhead; a budget filled exactly keeps every
// entry, and a body of exactly its share is kept.
func TestVersionCacheAccountsExactly(t *testing.T) {
	c := newVersionCache(2 * (entryOverhead + 1 + 3 + 3 + 10))
	c.put("a", snapshot{version: `"1"`, etag: `"1"`, body: make([]byte, 10)})
	if want := int64(entryOverhead + 1 + 3 + 3 + 10); c.bytes != want {
		t.Errorf("one entry costs %d; want %d", c.bytes, want)
	}
	c.put("b", snapshot{version: `"2"`, etag: `"2"`, body: make([]byte, 10)})
	if _, ok := c.get("a"); !ok || c.order.Len() != 2 {
		t.Errorf("a budget filled exactly kept %d entries; want 2", c.order.Len())
	}
	// A kept copy is charged the memory it holds, until it is claimed.
	held := newVersionCache(1 << 20)
	v := new(int)
	held.put("h", snapshot{version: `"1"`, body: make([]byte, 10), value: v, held: 100})
	if want := int64(entryOverhead + 1 + 3 + 10 + 100); held.bytes != want {
		t.Errorf("an entry with a copy holding 100 bytes costs %d; want %d", held.bytes, want)
	}
	if !held.claim("h", v) || held.bytes != entryOverhead+1+3+10 {
		t.Errorf("after its copy is claimed the entry costs %d; want %d", held.bytes, entryOverhead+1+3+10)
	}
	share := newVersionCache(8 * 1024)
	share.put("s", snapshot{version: `"1"`, body: make([]byte, 1024)})
	if s, _ := share.get("s"); len(s.body) != 1024 {
		t.Errorf("a body of exactly its share was dropped")
	}
}
