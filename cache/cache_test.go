package cache

import (
	"errors"
	"testing"
	"time"
)

func TestTTL(t *testing.T) {
	c := New[int](time.Minute)
	now := time.Unix(1000, 0)
	loads := 0
	load := func() (int, error) { loads++; return loads, nil }
	if v, _ := c.Get(1, now, load); v != 1 {
		t.Fatal(v)
	}
	if v, _ := c.Get(1, now.Add(30*time.Second), load); v != 1 || loads != 1 {
		t.Fatal("not cached")
	}
	if v, _ := c.Get(1, now.Add(61*time.Second), load); v != 2 {
		t.Fatal("not expired")
	}
	if v, _ := c.Get(2, now, load); v != 3 {
		t.Fatal("keys mixed")
	}
	if _, err := c.Get(3, now, func() (int, error) { return 0, errors.New("x") }); err == nil {
		t.Fatal("error swallowed")
	}
	if v, _ := c.Get(3, now, load); v != 4 {
		t.Fatal("error cached")
	}
}
