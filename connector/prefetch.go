package connector

import (
	"context"
	"sync"
	"time"
)

// Bounds of reading ahead.
const (
	// readAheadPages is how many pages may wait, fetched, for baton to ask.
	// Fullstory's pages form a chain (each token comes with the previous
	// page), so they are fetched one after another whatever the depth; a
	// few pages of slack let the fetching run back to back while baton
	// stores pages at its own pace.
	readAheadPages = 3
	// readAheadMaxAge is how long a fetched page may wait. Within a sync
	// baton asks for the next page milliseconds later; when it does not (a
	// sync paused, aborted or resumed elsewhere) the pages are dropped and
	// the reading stops.
	readAheadMaxAge = 30 * time.Second
)

// prefetcher reads the user listing ahead of baton: when List returns a
// page, the pages after it are fetched in the background, so Fullstory's
// latency overlaps with baton storing pages.
//
// It is a cache in front of listPage, a function of baton's page token;
// the listing never depends on it. A List call for any other token than the
// one expected next (another process, a retried or restarted sync) stops
// the reading and fetches as if there were no prefetcher. Each page is
// still requested once, with the same filters; pages read ahead and never
// asked for (at most readAheadPages) are wasted requests.
type prefetcher struct {
	mu  sync.Mutex
	cur *readAhead
	// first is the first page, fetched by Validate just before the sync
	// starts; the sync's first List takes it once, if it is not too old.
	first *aheadPage
	// maxAge replaces readAheadMaxAge when set (tests).
	maxAge time.Duration
}

func (p *prefetcher) ageLimit() time.Duration {
	if p.maxAge > 0 {
		return p.maxAge
	}
	return readAheadMaxAge
}

// readAhead is one run of pages fetched in the background.
type readAhead struct {
	next   string // baton's token of the next page to hand out
	pages  chan aheadPage
	cancel context.CancelFunc
	maxAge time.Duration
	done   chan struct{} // closed when the reading has stopped
}

type aheadPage struct {
	token string // baton's token of this page
	page  listedPage
	at    time.Time // when it was fetched
}

// take returns the page read ahead for token, waiting for it if it is on
// its way; ok is false when there is none (then the caller fetches it).
func (p *prefetcher) take(ctx context.Context, token string) (listedPage, bool, error) {
	p.mu.Lock()
	ra := p.cur
	if ra == nil || ra.next != token || token == "" {
		p.stopLocked()
		p.mu.Unlock()
		return listedPage{}, false, nil
	}
	p.mu.Unlock()

	var a aheadPage
	var open bool
	select {
	case a, open = <-ra.pages:
	case <-ctx.Done():
		p.stop()
		return listedPage{}, false, ctx.Err()
	}

	p.mu.Lock()
	defer p.mu.Unlock()
	if !open || a.token != token || time.Since(a.at) > ra.maxAge {
		// The reading gave up (it waited too long) or the page is stale.
		if p.cur == ra {
			p.stopLocked()
		}
		return listedPage{}, false, nil
	}
	if p.cur == ra {
		ra.next = a.page.next
		if a.page.err != nil || a.page.next == "" {
			p.cur = nil // the reading ended with this page
		}
	}
	return a.page, true, nil
}

// keepFirst keeps the first page of the listing for the next List call
// without a token.
func (p *prefetcher) keepFirst(page listedPage) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.first = &aheadPage{page: page, at: time.Now()}
}

// takeFirst hands out the kept first page once; ok is false when there is
// none or it is older than the read-ahead age limit (a sync that starts
// long after Validate, as in service mode, fetches a fresh one).
func (p *prefetcher) takeFirst() (page listedPage, ok bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	f := p.first
	p.first = nil
	if f == nil || time.Since(f.at) > p.ageLimit() {
		return listedPage{}, false
	}
	return f.page, true
}

// start reads ahead from token, the page after the one List is returning,
// using list. The reading keeps ctx's values but not its cancellation: ctx
// ends when the List call returns.
func (p *prefetcher) start(ctx context.Context, token string, list func(context.Context, string) listedPage) {
	rctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	ra := &readAhead{next: token, pages: make(chan aheadPage, readAheadPages), cancel: cancel,
		maxAge: p.ageLimit(), done: make(chan struct{})}
	p.mu.Lock()
	p.stopLocked()
	p.cur = ra
	p.mu.Unlock()
	go ra.run(rctx, token, list)
}

func (ra *readAhead) run(ctx context.Context, token string, list func(context.Context, string) listedPage) {
	defer close(ra.done)
	defer close(ra.pages)
	defer ra.cancel()
	idle := time.NewTimer(ra.maxAge)
	defer idle.Stop()
	for token != "" {
		page := list(ctx, token)
		if ctx.Err() != nil {
			return // stopped: the result may be the cancellation itself
		}
		idle.Reset(ra.maxAge)
		select {
		case ra.pages <- aheadPage{token: token, page: page, at: time.Now()}:
		case <-ctx.Done():
			return
		case <-idle.C:
			return // nobody is asking any more
		}
		if page.err != nil {
			return
		}
		token = page.next
	}
}

func (p *prefetcher) stop() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.stopLocked()
}

func (p *prefetcher) stopLocked() {
	if p.cur != nil {
		p.cur.cancel()
		p.cur = nil
	}
}
