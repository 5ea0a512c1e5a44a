// Package cache is a tiny per-replica TTL cache keyed by merchant. It holds copies
// of database state for a few seconds or minutes (filter menus, channel settings);
// a miss or a stale value costs a query, never correctness.
package cache

import (
	"sync"
	"time"
)

// TTL keeps values per key for a while.
type TTL[V any] struct {
	mu  sync.Mutex
	ttl time.Duration
	m   map[int64]entry[V]
}

type entry[V any] struct {
	v  V
	at time.Time
}

// New returns a cache whose values live for ttl.
func New[V any](ttl time.Duration) *TTL[V] {
	return &TTL[V]{ttl: ttl, m: map[int64]entry[V]{}}
}

// Get returns the cached value for key, or loads and caches it. A clock that went
// backwards counts as stale.
func (c *TTL[V]) Get(key int64, now time.Time, load func() (V, error)) (V, error) {
	c.mu.Lock()
	e, ok := c.m[key]
	c.mu.Unlock()
	if age := now.Sub(e.at); ok && age >= 0 && age < c.ttl {
		return e.v, nil
	}
	v, err := load()
	if err != nil {
		return v, err
	}
	c.mu.Lock()
	c.m[key] = entry[V]{v: v, at: now}
	c.mu.Unlock()
	return v, nil
}

// Forget drops key's value, so the next Get loads it afresh (after a change made
// through this replica).
func (c *TTL[V]) Forget(key int64) {
	c.mu.Lock()
	delete(c.m, key)
	c.mu.Unlock()
}
