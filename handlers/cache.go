package handlers

import (
	"sync"
	"time"
)

// ttlCache keeps per-merchant values for a short while. It is a per-replica cache
// only: a miss or a stale value costs a query, never correctness (filter menus).
type ttlCache[V any] struct {
	mu  sync.Mutex
	ttl time.Duration
	m   map[int64]ttlEntry[V]
}

type ttlEntry[V any] struct {
	v  V
	at time.Time
}

func newTTLCache[V any](ttl time.Duration) *ttlCache[V] {
	return &ttlCache[V]{ttl: ttl, m: map[int64]ttlEntry[V]{}}
}

// get returns the cached value for key, or loads and caches it.
func (c *ttlCache[V]) get(key int64, now time.Time, load func() (V, error)) (V, error) {
	c.mu.Lock()
	e, ok := c.m[key]
	c.mu.Unlock()
	if ok && now.Sub(e.at) < c.ttl {
		return e.v, nil
	}
	v, err := load()
	if err != nil {
		return v, err
	}
	c.mu.Lock()
	c.m[key] = ttlEntry[V]{v: v, at: now}
	c.mu.Unlock()
	return v, nil
}
