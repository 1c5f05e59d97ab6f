package concord_test

import (
	"context"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/concord-go/concord"
	"go.uber.org/goleak"
)

// TestMain fails the package if any test leaves a goroutine behind: a
// leaked timer, request or connection. Run with CONCORD_TEST_LOCK_HOLDER
// set to an API's URL, the test binary is instead a client that takes the
// lock of widgets/w1 there and never lets go, for
// TestDeadLockHolderDelaysOthersByTheTTL to kill.
func TestMain(m *testing.M) {
	if u := os.Getenv("CONCORD_TEST_LOCK_HOLDER"); u != "" {
		holdLockUntilKilled(u)
	}
	goleak.VerifyTestMain(m)
}

// holdLockUntilKilled takes the lock and blocks inside the Update,
// saying "locked" on stdout once it holds it.
func holdLockUntilKilled(u string) {
	c, err := concord.New(u)
	if err != nil {
		fmt.Println(err)
		os.Exit(2)
	}
	widgets := concord.NewResource[Widget](c, "widgets", concord.WithLocks(concord.WebDAVLocker{}, deadHolderTTL))
	widgets.Update(context.Background(), "w1", func(*Widget) error {
		fmt.Println("locked")
		select {}
	})
	os.Exit(2)
}

// deadHolderTTL is the lock TTL of the client the crash test kills.
const deadHolderTTL = 20 * time.Second
