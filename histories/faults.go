package histories

import (
	"fmt"
	"math/rand/v2"
	"strings"

	toxiproxy "github.com/Shopify/toxiproxy/v2"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"
)

// Faults are the toxics of one run, chosen from its seed: what the wire
// between the clients and the server does to their requests.
type Faults struct {
	Latency, Jitter int     // ms added to every answer
	Reset           float64 // share of connections reset by the peer before the request is sent
	Cut             float64 // share of connections cut after CutAfter bytes of answers: a server that committed, an answer cut short
	CutAfter        int
	Stall           float64 // share of connections whose requests stall and are then dropped
	Bandwidth       int     // KB/s of answers, 0 for no limit
}

// PickFaults chooses a run's faults from its seed: every run has latency,
// and each other fault is on or off at random.
func PickFaults(seed uint64) Faults {
	rnd := rand.New(rand.NewPCG(seed, 0xfa17))
	f := Faults{Latency: 1 + rnd.IntN(10), Jitter: rnd.IntN(5)}
	if rnd.IntN(2) == 0 {
		f.Reset = 0.05 + 0.1*rnd.Float64()
	}
	if rnd.IntN(2) == 0 {
		// A connection carries several answers: cut anywhere in them,
		// headers or body, of the first answer or a later one.
		f.Cut, f.CutAfter = 0.05+0.15*rnd.Float64(), 100+rnd.IntN(2000)
	}
	if rnd.IntN(3) == 0 {
		f.Stall = 0.02 + 0.05*rnd.Float64()
	}
	if rnd.IntN(4) == 0 {
		f.Bandwidth = 64 + rnd.IntN(512)
	}
	return f
}

// String names the faults, for the run's log.
func (f Faults) String() string {
	return fmt.Sprintf("latency %d±%dms, reset %.0f%%, cut %.0f%% after %d bytes, stall %.0f%%, bandwidth %d KB/s",
		f.Latency, f.Jitter, 100*f.Reset, 100*f.Cut, f.CutAfter, 100*f.Stall, f.Bandwidth)
}

// Proxy is toxiproxy, in this process, between the clients and upstream,
// on 127.0.0.1.
type Proxy struct {
	proxy *toxiproxy.Proxy
}

// StartProxy starts a proxy to upstream (host:port) with the faults.
func StartProxy(upstream string, f Faults) (*Proxy, error) {
	srv := toxiproxy.NewServer(toxiproxy.NewMetricsContainer(prometheus.NewRegistry()), zerolog.Nop())
	p := toxiproxy.NewProxy(srv, "api", "127.0.0.1:0", upstream)
	if err := p.Start(); err != nil {
		return nil, err
	}
	toxics := []string{fmt.Sprintf(`{"name":"latency","type":"latency","stream":"downstream","attributes":{"latency":%d,"jitter":%d}}`, f.Latency, f.Jitter)}
	if f.Reset > 0 {
		toxics = append(toxics, fmt.Sprintf(`{"name":"reset","type":"reset_peer","stream":"upstream","toxicity":%f,"attributes":{"timeout":0}}`, f.Reset))
	}
	if f.Cut > 0 {
		toxics = append(toxics, fmt.Sprintf(`{"name":"cut","type":"limit_data","stream":"downstream","toxicity":%f,"attributes":{"bytes":%d}}`, f.Cut, f.CutAfter))
	}
	if f.Stall > 0 {
		toxics = append(toxics, fmt.Sprintf(`{"name":"stall","type":"timeout","stream":"upstream","toxicity":%f,"attributes":{"timeout":300}}`, f.Stall))
	}
	if f.Bandwidth > 0 {
		toxics = append(toxics, fmt.Sprintf(`{"name":"bandwidth","type":"bandwidth","stream":"downstream","attributes":{"rate":%d}}`, f.Bandwidth))
	}
	for _, t := range toxics {
		if _, err := p.Toxics.AddToxicJson(strings.NewReader(t)); err != nil {
			p.Stop()
			return nil, fmt.Errorf("toxic %s: %w", t, err)
		}
	}
	return &Proxy{proxy: p}, nil
}

// Addr is where clients reach the server through the proxy: host:port.
func (p *Proxy) Addr() string { return p.proxy.Listen }

// Close stops the proxy and its connections.
func (p *Proxy) Close() { p.proxy.Stop() }
