package concordtest

// Layer: Test kit (ARCHITECTURE.md).

import (
	"math/rand/v2"
	"sync"
	"testing"
)

// Contend runs writers goroutines that each call write times times, all
// released at once so that they contend, and fails t with every error
// they return. Each writer gets its own random source, seeded from seed and
// its number, for the values it writes, so a failing run can be repeated.
// Use it to prove that a merge loses nothing: count what the writers did,
// then compare with what the API holds.
func Contend(t testing.TB, seed uint64, writers, times int, write func(writer, i int, rnd *rand.Rand) error) {
	t.Helper()
	var wg sync.WaitGroup
	start := make(chan struct{})
	errs := make(chan error, writers*times)
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rnd := rand.New(rand.NewPCG(seed, uint64(w)))
			<-start
			for i := range times {
				if err := write(w, i, rnd); err != nil {
					errs <- err
				}
			}
		}()
	}
	close(start)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Errorf("a writer failed: %v", err)
	}
}
