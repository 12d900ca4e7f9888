package tenant

import "time"

// TrustUnwatchedFor sets how long a key is trusted while no listener runs, so that a test can
// tell a revocation heard from one that merely outlived the cache.
func (a *Authenticator) TrustUnwatchedFor(d time.Duration) { a.unwatched = d }

// Watching tells whether the revocation listener listens.
func (a *Authenticator) Watching() bool { return a.watching.Load() != 0 }
