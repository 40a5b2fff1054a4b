package sqlstore

import (
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/ctibridge/ctibridge/adapter"
)

// PutSession inserts a panel session; its times must be set.
func (t *Tx) PutSession(s *adapter.Session) error {
	if s.CreatedAt.IsZero() || s.ExpiresAt.IsZero() {
		return fmt.Errorf("put session of %s: created_at and expires_at must be set", s.Agent)
	}
	if _, err := t.exec(StmtPutSession, s.IDHash, s.Agent, boundTime(s.CreatedAt), boundTime(s.ExpiresAt)); err != nil {
		// Never the hash in the message: it is as good as a name for the session.
		return fmt.Errorf("put session of %s: %w", s.Agent, err)
	}
	return nil
}

func (t *Tx) Session(idHash string) (*adapter.Session, error) {
	var (
		s                         adapter.Session
		created, expires, revoked int64
	)
	err := t.queryRow(StmtSession, idHash).Scan(&s.IDHash, &s.Agent, &created, &expires, &revoked)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("session: %w", adapter.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("read session: %w", err)
	}
	s.CreatedAt, s.ExpiresAt, s.RevokedAt = fromUnixOrZero(created), fromUnixOrZero(expires), fromUnixOrZero(revoked)
	return &s, nil
}

func (t *Tx) RevokeSession(idHash string, at time.Time) (bool, error) {
	n, err := t.exec(StmtRevokeSession, idHash, unixOrZero(at))
	if err != nil {
		return false, fmt.Errorf("revoke session: %w", err)
	}
	return n > 0, nil
}

func (t *Tx) PruneSessions(before time.Time, limit int) (int, error) {
	n, err := t.exec(StmtPruneSessions, boundTime(before), t.limit(limit))
	if err != nil {
		return 0, fmt.Errorf("prune sessions: %w", err)
	}
	return int(n), nil
}
