package auth

import (
	"fmt"
	"slices"
	"sync"
	"time"
)

// Guard keeps the state tokens are judged by beyond their signature: the
// ids of single-use tokens already spent, and the revocation list. It is
// in memory: a restart forgets both (a revoked token is then refused only
// if the seat is disabled or the secret rotated; see SECURITY.md).
//
// Entries live as long as the tokens they can concern: at most the
// maximum token lifetime plus the clock skew.
type Guard struct {
	keep time.Duration // max lifetime + 2 skew
	skew time.Duration
	now  func() time.Time

	mu       sync.Mutex
	used     map[string]time.Time  // jti -> forget after; guarded by mu
	ids      map[string]Revocation // revoked jti; guarded by mu
	seats    map[string]Revocation // revoked seat -> tokens issued at or before At; guarded by mu
	onRevoke []func()              // guarded by mu
}

// Revocation is one entry of the revocation list.
type Revocation struct {
	// Seat, when set, revokes every token of the seat issued at or before At.
	Seat string `json:"seat,omitempty"`
	// TokenID, when set, revokes the token with this jti.
	TokenID string `json:"token_id,omitempty"`
	// At is when the revocation was made.
	At time.Time `json:"at"`
	// Until is when the entry is dropped: no token it concerns is valid by then.
	Until time.Time `json:"until"`
}

// NewGuard returns a Guard for tokens of at most maxLifetime, judged with
// skew; now is the clock (nil = time.Now).
func NewGuard(maxLifetime, skew time.Duration, now func() time.Time) *Guard {
	if now == nil {
		now = time.Now
	}
	if maxLifetime <= 0 {
		maxLifetime = DefaultMaxLifetime
	}
	return &Guard{keep: maxLifetime + 2*skew, skew: skew, now: now,
		used: map[string]time.Time{}, ids: map[string]Revocation{}, seats: map[string]Revocation{}}
}

// Check refuses a revoked token (ErrTokenRevoked). With spend, a token
// with an id is also marked used, and refused if it was already
// (ErrTokenReplayed); a resume passes spend=false.
func (g *Guard) Check(c *Claims, spend bool) error {
	g.mu.Lock()
	defer g.mu.Unlock()
	now := g.now()
	g.expire(now)
	if r, ok := g.seats[c.Seat]; ok && (c.IssuedAt.IsZero() || !c.IssuedAt.After(r.At)) {
		return fmt.Errorf("%w: seat %q's tokens issued before %s were revoked", ErrTokenRevoked, c.Seat, r.At.UTC().Format(time.RFC3339))
	}
	if c.ID == "" {
		return nil
	}
	if _, ok := g.ids[c.ID]; ok {
		return fmt.Errorf("%w: token id %q", ErrTokenRevoked, c.ID)
	}
	if spend {
		if _, ok := g.used[c.ID]; ok {
			return fmt.Errorf("%w: token id %q opened a session before; mint one token per page", ErrTokenReplayed, c.ID)
		}
		g.used[c.ID] = c.ExpiresAt.Add(g.skew) // refused by its exp after that
	}
	return nil
}

// RevokeSeat refuses every token of seat issued until now, and closes its
// live sessions (the OnRevoke callbacks run before it returns).
func (g *Guard) RevokeSeat(seat string) Revocation {
	now := g.now()
	r := Revocation{Seat: seat, At: now, Until: now.Add(g.keep)}
	g.mu.Lock()
	g.seats[seat] = r
	g.mu.Unlock()
	g.notify()
	return r
}

// RevokeToken refuses the token with id jti, and closes the sessions it opened.
func (g *Guard) RevokeToken(jti string) Revocation {
	now := g.now()
	r := Revocation{TokenID: jti, At: now, Until: now.Add(g.keep)}
	g.mu.Lock()
	g.ids[jti] = r
	g.mu.Unlock()
	g.notify()
	return r
}

// Revocations lists the entries in force, seats first.
func (g *Guard) Revocations() []Revocation {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.expire(g.now())
	out := make([]Revocation, 0, len(g.seats)+len(g.ids))
	for _, r := range g.seats {
		out = append(out, r)
	}
	for _, r := range g.ids {
		out = append(out, r)
	}
	slices.SortFunc(out, func(a, b Revocation) int {
		if a.Seat != b.Seat {
			if a.Seat == "" {
				return 1
			}
			if b.Seat == "" {
				return -1
			}
		}
		return a.At.Compare(b.At)
	})
	return out
}

// OnRevoke registers f to run after every revocation (the signaling
// server closes the sessions the revocation concerns).
func (g *Guard) OnRevoke(f func()) {
	g.mu.Lock()
	g.onRevoke = append(g.onRevoke, f)
	g.mu.Unlock()
}

func (g *Guard) notify() {
	g.mu.Lock()
	fs := slices.Clone(g.onRevoke)
	g.mu.Unlock()
	for _, f := range fs {
		f()
	}
}

// expire drops entries no token can be concerned by any more; g.mu held.
func (g *Guard) expire(now time.Time) {
	for id, until := range g.used {
		if now.After(until) {
			delete(g.used, id)
		}
	}
	for k, r := range g.ids {
		if now.After(r.Until) {
			delete(g.ids, k)
		}
	}
	for k, r := range g.seats {
		if now.After(r.Until) {
			delete(g.seats, k)
		}
	}
}
