package concord

import (
	"fmt"
	"sync"
	"testing"
)

func TestVersionCacheEvictsLeastRecentlyUsed(t *testing.T) {
	c := newVersionCache(2)
	c.put("a", snapshot{version: `"1"`})
	c.put("b", snapshot{version: `"2"`})
	if _, ok := c.get("a"); !ok { // a is now the most recent
		t.Fatal("get(a) missed")
	}
	c.put("c", snapshot{version: `"3"`}) // evicts b
	for url, want := range map[string]bool{"a": true, "b": false, "c": true} {
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
		t.Error("a cache of size 0 remembered something")
	}
}

func TestVersionCacheConcurrentUse(t *testing.T) {
	c := newVersionCache(16)
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 500 {
				url := fmt.Sprint(i % 40)
				c.put(url, snapshot{version: fmt.Sprint(g)})
				c.get(url)
				if i%7 == 0 {
					c.forget(url)
				}
			}
		}()
	}
	wg.Wait()
	if n := c.order.Len(); n > 16 || n != len(c.byURL) {
		t.Errorf("cache holds %d entries (%d indexed); want at most 16, consistent", n, len(c.byURL))
	}
}
