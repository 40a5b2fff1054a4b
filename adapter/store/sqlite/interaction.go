package sqlite

import (
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"sort"

	msqlite "modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/ctibridge/ctibridge/adapter"
	"github.com/ctibridge/ctibridge/contactpad"
)

func (t *tx) Interaction(id string) (*contactpad.Interaction, error) {
	i, err := scanInteraction(t.queryRow(stmtInteraction, id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, notFound("interaction", id)
	}
	if err != nil {
		return nil, fmt.Errorf("get interaction %s: %w", id, err)
	}
	return i, nil
}

func (t *tx) InteractionByCRM(object, crmID string) (*contactpad.Interaction, error) {
	i, err := scanInteraction(t.queryRow(stmtInteractionByCRM, object, crmID))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, notFound("interaction for "+object, crmID)
	}
	if err != nil {
		return nil, fmt.Errorf("get interaction for %s %s: %w", object, crmID, err)
	}
	return i, nil
}

func (t *tx) PutInteraction(i *contactpad.Interaction) error {
	var e encoder
	args := [...]any{
		i.ID, i.CRMID, i.CRMObject, string(i.Media), i.Service, i.Subject, int64(i.Priority),
		string(i.Status), boolInt(i.Held), i.Owner,
		e.timePtr("due_by", i.DueBy), boolInt(i.DueBySetManually), boolInt(i.AutoOpenedDueToDueDate),
		i.ResumedFrom, i.ReopenReason, e.strings("tags", i.Tags), i.Category,
		i.TransferNote, i.TargetAgent, i.SkipAgent, e.timePtr("wrap_up_ends_at", i.WrapUpEndsAt),
		int64(i.WrapUpExtended), e.timePtr("offer_expires_at", i.OfferExpiresAt),
		e.timePtr("queued_at", i.QueuedAt), e.time("last_activity_at", i.LastActivityAt),
		e.time("created_at", i.CreatedAt), e.time("updated_at", i.UpdatedAt), i.Version,
	}
	if e.err != nil {
		return fmt.Errorf("put interaction %s: %w", i.ID, e.err)
	}
	if _, err := t.exec(stmtPutInteraction, args[:]...); err != nil {
		if isUniqueViolation(err) {
			return fmt.Errorf("put interaction %s: %w", i.ID, &adapter.ConflictError{
				Reason: fmt.Sprintf("%s %s already has another interaction", i.CRMObject, i.CRMID)})
		}
		return fmt.Errorf("put interaction %s: %w", i.ID, err)
	}
	return nil
}

func (t *tx) Interactions(f adapter.InteractionFilter) ([]*contactpad.Interaction, error) {
	id := stmtInteractionsAll
	var statuses string
	switch {
	case f.Owner != "" && len(f.Statuses) > 0:
		id = stmtInteractionsOwnerStatuses
	case f.Owner != "":
		id = stmtInteractionsOwner
	case len(f.Statuses) > 0:
		id = stmtInteractionsStatuses
	}
	if len(f.Statuses) > 0 {
		b, err := json.Marshal(f.Statuses)
		if err != nil {
			return nil, fmt.Errorf("list interactions: %w", err)
		}
		statuses = string(b)
	}
	rows, err := t.query(id, sqlLimit(f.Limit), f.Owner, statuses)
	if err != nil {
		return nil, fmt.Errorf("list interactions: %w", err)
	}
	is, err := scanAll(rows, scanInteraction)
	if err != nil {
		return nil, fmt.Errorf("list interactions: %w", err)
	}
	return is, nil
}

// Queued reads the work reserved for agent, then the best unreserved work
// of each service, and merges the services' lists in Go: SQLite cannot
// read one index in order across several services, and sorting the whole
// queue on every routing pass would cost more than the merge.
func (t *tx) Queued(agent string, services []string, limit int) ([]*contactpad.Interaction, error) {
	var queued []*contactpad.Interaction
	if agent != "" {
		rows, err := t.query(stmtQueuedReserved, agent, sqlLimit(limit))
		if err != nil {
			return nil, fmt.Errorf("list queued for %s: %w", agent, err)
		}
		if queued, err = scanAll(rows, scanInteraction); err != nil {
			return nil, fmt.Errorf("list queued for %s: %w", agent, err)
		}
	}
	rest := limit - len(queued)
	if limit > 0 && rest <= 0 {
		return queued, nil
	}
	var unreserved []*contactpad.Interaction
	seen := make(map[string]bool, len(services))
	for _, service := range services {
		if seen[service] {
			continue
		}
		seen[service] = true
		rows, err := t.query(stmtQueuedService, service, sqlLimit(rest))
		if err != nil {
			return nil, fmt.Errorf("list queued for %s: %w", agent, err)
		}
		is, err := scanAll(rows, scanInteraction)
		if err != nil {
			return nil, fmt.Errorf("list queued for %s: %w", agent, err)
		}
		unreserved = append(unreserved, is...)
	}
	if len(seen) > 1 {
		sort.Slice(unreserved, func(a, b int) bool { return queuedBefore(unreserved[a], unreserved[b]) })
	}
	if limit > 0 && len(unreserved) > rest {
		unreserved = unreserved[:rest]
	}
	return append(queued, unreserved...), nil
}

// queuedBefore is the order of stmtQueuedService in Go: higher priority
// first, then earlier QueuedAt (none before any, as SQLite sorts NULL
// first), then ID.
func queuedBefore(a, b *contactpad.Interaction) bool {
	if a.Priority != b.Priority {
		return a.Priority > b.Priority
	}
	switch {
	case a.QueuedAt == nil && b.QueuedAt != nil:
		return true
	case a.QueuedAt != nil && b.QueuedAt == nil:
		return false
	case a.QueuedAt != nil && !a.QueuedAt.Equal(*b.QueuedAt):
		return a.QueuedAt.Before(*b.QueuedAt)
	}
	return a.ID < b.ID
}

func (t *tx) QueueStats() (map[string]adapter.QueueStat, error) {
	rows, err := t.query(stmtQueueStats)
	if err != nil {
		return nil, fmt.Errorf("queue stats: %w", err)
	}
	defer rows.Close()
	stats := map[string]adapter.QueueStat{}
	for rows.Next() {
		var (
			service      string
			size, oldest any
			d            decoder
		)
		if err := rows.Scan(&service, &size, &oldest); err != nil {
			return nil, fmt.Errorf("queue stats: %w", err)
		}
		stats[service] = adapter.QueueStat{
			Size:         int(d.int("size", size)),
			OldestQueued: d.time("queued_at", oldest),
		}
		if d.err != nil {
			return nil, fmt.Errorf("queue stats: %w", d.err)
		}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("queue stats: %w", err)
	}
	return stats, nil
}

// scanInteraction reads the columns of interactionColumns.
func scanInteraction(sc scanner) (*contactpad.Interaction, error) {
	var (
		i                                                  contactpad.Interaction
		media, status, tags                                string
		priority, held, dueBy, dueBySet, autoOpened        any
		wrapUpEnds, wrapUpExtended, offerExpires, queuedAt any
		lastActivity, created, updated, version            any
	)
	if err := sc.Scan(&i.ID, &i.CRMID, &i.CRMObject, &media, &i.Service, &i.Subject, &priority, &status, &held, &i.Owner,
		&dueBy, &dueBySet, &autoOpened, &i.ResumedFrom, &i.ReopenReason, &tags, &i.Category,
		&i.TransferNote, &i.TargetAgent, &i.SkipAgent, &wrapUpEnds, &wrapUpExtended,
		&offerExpires, &queuedAt, &lastActivity, &created, &updated, &version); err != nil {
		return nil, err
	}
	var d decoder
	i.Media = contactpad.Media(media)
	i.Priority = int(d.int("priority", priority))
	i.Status = contactpad.Status(status)
	i.Held = d.bool("held", held)
	i.DueBy = d.timePtr("due_by", dueBy)
	i.DueBySetManually = d.bool("due_by_set_manually", dueBySet)
	i.AutoOpenedDueToDueDate = d.bool("auto_opened_due_to_due_date", autoOpened)
	i.Tags = d.strings("tags", tags)
	i.WrapUpEndsAt = d.timePtr("wrap_up_ends_at", wrapUpEnds)
	i.WrapUpExtended = int(d.int("wrap_up_extended", wrapUpExtended))
	i.OfferExpiresAt = d.timePtr("offer_expires_at", offerExpires)
	i.QueuedAt = d.timePtr("queued_at", queuedAt)
	i.LastActivityAt = d.time("last_activity_at", lastActivity)
	i.CreatedAt = d.time("created_at", created)
	i.UpdatedAt = d.time("updated_at", updated)
	i.Version = d.int("version", version)
	if d.err != nil {
		return nil, fmt.Errorf("interaction %s: %w", i.ID, d.err)
	}
	return &i, nil
}

// isUniqueViolation reports whether err is SQLite refusing a duplicate key.
func isUniqueViolation(err error) bool {
	var se *msqlite.Error
	return errors.As(err, &se) && (se.Code() == sqlite3.SQLITE_CONSTRAINT_UNIQUE ||
		se.Code() == sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY)
}
