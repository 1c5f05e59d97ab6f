package concordtest

// Layer: Test kit (ARCHITECTURE.md).

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strconv"
)

// reply is a response the API has decided on, before it is written (or
// dropped, or stored for replay).
type reply struct {
	status int
	header http.Header
	body   []byte
}

func methodNotAllowed(allow string) *reply {
	rep := problem(http.StatusMethodNotAllowed, ProblemBadRequest, "method not allowed", "")
	rep.header.Set("Allow", allow)
	return rep
}

func jsonReply(status int, v any) *reply {
	b, _ := json.Marshal(v)
	return &reply{status: status, header: http.Header{"Content-Type": {"application/json"}}, body: b}
}

// problem builds an RFC 9457 problem document.
func problem(status int, typ, title, instance string) *reply {
	doc := map[string]any{"type": typ, "title": title, "status": status}
	if instance != "" {
		doc["instance"] = instance
	}
	rep := jsonReply(status, doc)
	rep.header.Set("Content-Type", "application/problem+json")
	return rep
}

// extend adds a member to a problem document.
func (rep *reply) extend(k string, v any) {
	var doc map[string]any
	_ = json.Unmarshal(rep.body, &doc)
	doc[k] = v
	rep.body, _ = json.Marshal(doc)
}

func (rep *reply) clone() *reply {
	return &reply{status: rep.status, header: rep.header.Clone(), body: bytes.Clone(rep.body)}
}

func writeReply(w http.ResponseWriter, rep *reply) {
	for k, v := range rep.header {
		w.Header()[k] = v
	}
	w.WriteHeader(rep.status)
	_, _ = w.Write(rep.body)
}

// cutBody sends rep's status, headers (its full Content-Length among them)
// and half its body, then closes the connection: the client sees a 2xx
// whose body was cut short.
func cutBody(w http.ResponseWriter, rep *reply) {
	for k, v := range rep.header {
		w.Header()[k] = v
	}
	w.Header().Set("Content-Length", strconv.Itoa(len(rep.body)))
	w.WriteHeader(rep.status)
	_, _ = w.Write(rep.body[:len(rep.body)/2])
	http.NewResponseController(w).Flush()
	panic(http.ErrAbortHandler) // net/http closes the connection
}

// dropConnection closes the connection without a response: the client
// sees the write fail although it committed.
func dropConnection(w http.ResponseWriter) {
	hj, ok := w.(http.Hijacker)
	if !ok {
		panic(http.ErrAbortHandler)
	}
	conn, _, err := hj.Hijack()
	if err != nil {
		panic(http.ErrAbortHandler)
	}
	_ = conn.Close()
}
