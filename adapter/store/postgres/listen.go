package postgres

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/ctibridge/ctibridge/adapter/store/internal/sqlstore"
)

// Listen calls notify with the last seq of every commit that appended
// events, by any replica of the store, until ctx is done or the store is
// closed. It holds a connection of its own (outside the pool) and LISTENs
// on the store's channel. When that connection fails it reports the error
// to lost (if not nil) and connects again with backoff until it listens
// again, reporting none of the attempts that fail meanwhile (the database
// is out, which its Updates and Views report); after every
// (re)connect it calls notify with the store's last seq, since commits
// meanwhile were not heard. notify runs on Listen's goroutine and must not
// block; it may be called with a seq already seen.
func (s *Store) Listen(ctx context.Context, notify func(seq int64), lost func(error)) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() {
		select {
		case <-s.done:
			cancel()
		case <-ctx.Done():
		}
	}()
	const minBackoff, maxBackoff = 100 * time.Millisecond, 5 * time.Second
	backoff := minBackoff
	for first := true; ctx.Err() == nil; first = false {
		heard, err := s.listen(ctx, notify)
		if ctx.Err() != nil {
			return
		}
		if lost != nil && (heard || first) {
			lost(err)
		}
		if heard {
			backoff = minBackoff
		}
		t := time.NewTimer(backoff)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
		backoff = min(2*backoff, maxBackoff)
	}
}

// listen connects, LISTENs and relays notifications until the connection
// or ctx fails. heard reports whether it got as far as listening.
func (s *Store) listen(ctx context.Context, notify func(int64)) (heard bool, err error) {
	conn, err := pgx.ConnectConfig(ctx, s.pool.Config().ConnConfig.Copy())
	if err != nil {
		return false, fmt.Errorf("listen for events: %w", err)
	}
	defer conn.Close(context.WithoutCancel(ctx))
	if _, err := conn.Exec(ctx, "LISTEN "+s.channel); err != nil {
		return false, fmt.Errorf("listen for events: %w", err)
	}
	var last int64
	if err := conn.QueryRow(ctx, statements[sqlstore.StmtLastEventSeq]).Scan(&last); err != nil {
		return false, fmt.Errorf("listen for events: %w", err)
	}
	notify(last)
	for {
		n, err := conn.WaitForNotification(ctx)
		if err != nil {
			return true, fmt.Errorf("listen for events: %w", err)
		}
		seq, err := strconv.ParseInt(n.Payload, 10, 64)
		if err != nil {
			// Not one of ours; still a reason to look.
			seq = 0
		}
		notify(seq)
	}
}
