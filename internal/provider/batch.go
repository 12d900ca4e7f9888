package provider

import (
	"context"
	"sync"
	"sync/atomic"
)

// forEach calls fn for 0..n-1 from at most limit goroutines, so one lookup never has more than
// limit requests in flight however many numbers it asks about. The first error cancels the
// context the other calls run under and is the one returned: the errors after it are mostly that
// cancellation echoing back.
func forEach(ctx context.Context, n, limit int, fn func(ctx context.Context, i int) error) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		next   atomic.Int64
		failed atomic.Bool
		once   sync.Once
		first  error
		wg     sync.WaitGroup
	)
	for range min(max(limit, 1), n) {
		wg.Go(func() {
			for !failed.Load() {
				i := int(next.Add(1) - 1)
				if i >= n {
					return
				}
				if err := fn(ctx, i); err != nil {
					once.Do(func() {
						first = err
						failed.Store(true)
						cancel()
					})
					return
				}
			}
		})
	}
	wg.Wait()
	return first
}
