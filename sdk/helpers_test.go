package sdk

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/xszz/xszz/sdk/internal/fakeidp"
)

// fakeClock is an injectable clock; tests advance it instead of sleeping.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *fakeClock { return &fakeClock{t: time.Unix(1_800_000_000, 0)} }

func (c *fakeClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }

func (c *fakeClock) Advance(d time.Duration) { c.mu.Lock(); c.t = c.t.Add(d); c.mu.Unlock() }

// setup starts a fake IdP sharing clk and discovers it.
func setup(t testing.TB, clk *fakeClock) (*fakeidp.IdP, *Provider) {
	t.Helper()
	idp := fakeidp.New(t)
	idp.SetClock(clk.Now)
	p, err := discover(t, idp, clk)
	if err != nil {
		t.Fatal(err)
	}
	return idp, p
}

func discover(t testing.TB, idp *fakeidp.IdP, clk *fakeClock) (*Provider, error) {
	return (&ProviderConfig{Endpoints: Endpoints{Issuer: idp.Issuer}, Now: clk.Now}).discover(context.Background())
}
