// Package sdktest holds what the tests of the SDK's subpackages share: an
// injectable clock and a fake IdP discovered on that clock.
package sdktest

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/xszz/xszz/sdk"
	"github.com/xszz/xszz/sdk/internal/fakeidp"
)

// Clock is an injectable clock; tests advance it instead of sleeping.
type Clock struct {
	mu sync.Mutex
	t  time.Time
}

// NewClock returns a clock at a fixed instant.
func NewClock() *Clock { return &Clock{t: time.Unix(1_800_000_000, 0)} }

// Now returns the clock's time.
func (c *Clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }

// Advance moves the clock on by d.
func (c *Clock) Advance(d time.Duration) { c.mu.Lock(); c.t = c.t.Add(d); c.mu.Unlock() }

// Setup starts a fake IdP on clk and returns it with a Provider for it,
// also on clk.
func Setup(t testing.TB, clk *Clock) (*fakeidp.IdP, *sdk.Provider) {
	t.Helper()
	idp := fakeidp.New(t)
	idp.SetClock(clk.Now)
	ctx := context.Background()
	d, err := sdk.NewProvider(ctx, idp.Issuer)
	if err != nil {
		t.Fatal(err)
	}
	p, err := (&sdk.ProviderConfig{Endpoints: d.Endpoints(), Now: clk.Now}).NewProvider(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return idp, p
}

// panicT lets the examples use the fake IdP outside a test.
type panicT struct{}

func (panicT) Fatal(args ...any)                 { panic(fmt.Sprint(args...)) }
func (panicT) Fatalf(format string, args ...any) { panic(fmt.Sprintf(format, args...)) }
func (panicT) Cleanup(func())                    {}

var (
	demoOnce              sync.Once
	demoIdP               *fakeidp.IdP
	demoIssuer, demoToken string
)

// Demo stands in for `xszz serve` in the examples: an in-process IdP that
// lives as long as the process, and an access token it issued to the
// "office" client.
func Demo() (issuer, accessToken string) {
	demoOnce.Do(func() {
		demoIdP = fakeidp.New(panicT{})
		demoIssuer, demoToken = demoIdP.Issuer, fakeidp.Sign(panicT{}, demoIdP.Key("ec-1"), "at+jwt", demoIdP.AccessClaims("office", nil))
	})
	return demoIssuer, demoToken
}
