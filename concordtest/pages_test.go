package concordtest_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/concord-go/concord/concordtest"
)

func TestPageSize(t *testing.T) {
	srv := concordtest.NewServer(t, concordtest.PageSize(2))
	for _, id := range []string{"1", "2", "3"} {
		if _, err := srv.Seed("widgets", id, map[string]int{"n": 1}); err != nil {
			t.Fatal(err)
		}
	}
	resp, body := call(t, srv, "GET", "/widgets", "")
	if resp.StatusCode != http.StatusOK || !strings.Contains(body, `"next_page_token":"2"`) || resp.Header.Get("Link") != `</widgets?page_token=2>; rel="next"` {
		t.Fatalf("first page = %d %s, Link %q; want 2 items and a next page", resp.StatusCode, body, resp.Header.Get("Link"))
	}
	resp, body = call(t, srv, "GET", "/widgets?page_token=2", "")
	if strings.Contains(body, "next_page_token") || resp.Header.Get("Link") != "" || strings.Count(body, `"n":1`) != 1 {
		t.Errorf("last page = %s, Link %q; want one item and no next page", body, resp.Header.Get("Link"))
	}
	if resp, _ := call(t, srv, "GET", "/widgets?page_token=x", ""); resp.StatusCode != http.StatusBadRequest {
		t.Errorf("bad token = %d; want 400", resp.StatusCode)
	}
}
