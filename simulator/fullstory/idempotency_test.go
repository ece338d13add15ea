package fullstory

import (
	"crypto/sha256"
	"testing"
	"time"
)

func TestIdemCacheStates(t *testing.T) {
	c := newIdemCache()
	now := fakeNow
	fp := sha256.Sum256([]byte("a"))
	other := sha256.Sum256([]byte("b"))
	check := func(step string, got, want idemState) {
		t.Helper()
		if got != want {
			t.Errorf("%s: state %d, want %d", step, got, want)
		}
	}
	st, _ := c.begin("k", fp, now)
	check("first", st, idemNew)
	st, _ = c.begin("k", fp, now)
	check("while running", st, idemInFlight)
	st, _ = c.begin("k", other, now)
	check("other body while running", st, idemMismatch)
	c.abort("k")
	st, _ = c.begin("k", fp, now)
	check("after abort", st, idemNew)
	c.finish("k", 200, []byte(`{"id":"1"}`), now.Add(IdempotencyKeyTTL))
	st, e := c.begin("k", fp, now.Add(time.Hour))
	check("replay", st, idemReplay)
	if e.status != 200 || string(e.body) != `{"id":"1"}` {
		t.Errorf("replayed %d %s", e.status, e.body)
	}
	// The sweep (after a minute) drops expired entries.
	st, _ = c.begin("k", other, now.Add(IdempotencyKeyTTL))
	check("expired", st, idemNew)
	if n := len(c.m); n != 1 {
		t.Errorf("%d entries after sweep, want 1", n)
	}
}
