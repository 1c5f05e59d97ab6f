package concordtest_test

import (
	"context"
	"math/rand/v2"
	"sync/atomic"
	"testing"
	"time"

	"github.com/concord-go/concord/concordtest"
)

func TestClock(t *testing.T) {
	start := time.Unix(100, 0)
	c := concordtest.NewClock(start)
	if err := c.Sleep(context.Background(), time.Second); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := c.Sleep(ctx, time.Minute); err != context.Canceled {
		t.Errorf("Sleep with a canceled context = %v; want context.Canceled", err)
	}
	if got := c.Now().Sub(start); got != time.Minute+time.Second {
		t.Errorf("clock advanced %v; want 1m1s", got)
	}
	if got := c.Sleeps(); len(got) != 2 || got[0] != time.Second {
		t.Errorf("Sleeps = %v", got)
	}
}

func TestContend(t *testing.T) {
	var calls atomic.Int32
	var firsts [3]uint64
	concordtest.Contend(t, 7, 3, 4, func(w, i int, rnd *rand.Rand) error {
		calls.Add(1)
		if i == 0 {
			firsts[w] = rnd.Uint64()
		}
		return nil
	})
	if calls.Load() != 12 {
		t.Errorf("calls = %d; want 3 writers x 4", calls.Load())
	}
	var again [3]uint64
	concordtest.Contend(t, 7, 3, 1, func(w, _ int, rnd *rand.Rand) error { again[w] = rnd.Uint64(); return nil })
	if again != firsts {
		t.Errorf("the same seed gave %v, then %v; want the same values", firsts, again)
	}
}
