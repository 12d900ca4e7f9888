package provider_test

import (
	"context"
	"encoding/json"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/wazapin/wazapin/internal/provider"
	"github.com/wazapin/wazapin/internal/provider/providertest"
)

// places is a shared bound that grants up to grant places, or fails with err, and records what
// it was asked.
type places struct {
	grant int
	err   error
	block bool // wait for the context instead: every place is held

	mu     sync.Mutex
	wanted []int
	given  int
}

func (p *places) Take(ctx context.Context, want int) (int, func(), error) {
	p.mu.Lock()
	p.wanted = append(p.wanted, want)
	p.mu.Unlock()
	switch {
	case p.block:
		<-ctx.Done()
		return 0, nil, ctx.Err()
	case p.err != nil:
		return 0, nil, p.err
	}
	return min(want, p.grant), func() { p.mu.Lock(); p.given++; p.mu.Unlock() }, nil
}

// TestLookupTakesPlacesInTheSharedBound: a lookup asks the shared bound for as many places as
// it can use (at most its concurrency), has no more requests in flight than it got, and gives
// them back once; it fails as the bound does, asking the provider nothing.
func TestLookupTakesPlacesInTheSharedBound(t *testing.T) {
	lookup := func(ctx context.Context, platform string, fake interface{ Credentials() json.RawMessage }, slots *places, n int) error {
		t.Helper()
		p, err := provider.New(platform, fake.Credentials(), provider.Options{Concurrency: 8, Slots: slots})
		if err != nil {
			t.Fatal(err)
		}
		_, err = p.Lookup(ctx, manyPhones(n))
		return err
	}
	t.Run("a gateway lookup runs as many requests as it got places", func(t *testing.T) {
		fake := providertest.NewGateway(t, providertest.Config{Delay: 20 * time.Millisecond})
		slots := &places{grant: 2}
		if err := lookup(t.Context(), provider.WhatsAppGateway, fake, slots, 20); err != nil {
			t.Fatal(err)
		}
		if m := fake.MaxInFlight(); m != 2 {
			t.Errorf("%d requests in flight at most, want the 2 places", m)
		}
		if len(slots.wanted) != 1 || slots.wanted[0] != 8 || slots.given != 1 {
			t.Errorf("asked for %v places and gave them back %d times, want [8] and once", slots.wanted, slots.given)
		}
	})
	t.Run("a business API lookup asks for a place per check", func(t *testing.T) {
		fake := providertest.NewBusinessAPI(t, providertest.Config{})
		slots := &places{grant: 8}
		if err := lookup(t.Context(), provider.WhatsAppBusinessAPI, fake, slots, 150); err != nil {
			t.Fatal(err)
		}
		if len(slots.wanted) != 1 || slots.wanted[0] != 2 || slots.given != 1 {
			t.Errorf("asked for %v places and gave them back %d times, want [2] and once", slots.wanted, slots.given)
		}
	})
	t.Run("a bound that cannot be counted fails the lookup with its own error", func(t *testing.T) {
		fake := providertest.NewGateway(t, providertest.Config{})
		broken := errors.New("the database is down")
		err := lookup(t.Context(), provider.WhatsAppGateway, fake, &places{err: broken}, 3)
		if !errors.Is(err, broken) || fake.Requests() != 0 {
			t.Errorf("err %v after %d requests, want the bound's error and none", err, fake.Requests())
		}
	})
	t.Run("a lookup whose context ends while it waits for a place is a timeout", func(t *testing.T) {
		fake := providertest.NewGateway(t, providertest.Config{})
		err := lookup(withTimeout(t, 50*time.Millisecond), provider.WhatsAppGateway, fake, &places{block: true}, 3)
		if !errors.Is(err, provider.ErrTimeout) || fake.Requests() != 0 {
			t.Errorf("err %v after %d requests, want ErrTimeout and none", err, fake.Requests())
		}
	})
}
