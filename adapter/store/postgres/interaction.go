package postgres

import (
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/ctibridge/ctibridge/adapter"
	"github.com/ctibridge/ctibridge/contactpad"
)

// The statements of Interactions, by filter: all, by owner, by statuses,
// by both.
var sqlInteractions = [2][2]string{
	{interactionsQuery(false, false), interactionsQuery(false, true)},
	{interactionsQuery(true, false), interactionsQuery(true, true)},
}

func (t *tx) Interaction(id string) (*contactpad.Interaction, error) {
	i, err := scanInteraction(t.queryRow(sqlInteraction, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, notFound("interaction", id)
	}
	if err != nil {
		return nil, fmt.Errorf("get interaction %s: %w", id, err)
	}
	return i, nil
}

func (t *tx) InteractionByCRM(object, crmID string) (*contactpad.Interaction, error) {
	i, err := scanInteraction(t.queryRow(sqlInteractionByCRM, object, crmID))
	if errors.Is(err, pgx.ErrNoRows) {
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
	if _, err := t.exec(sqlPutInteraction, args[:]...); err != nil {
		if isUniqueViolation(err) {
			return fmt.Errorf("put interaction %s: %w", i.ID, &adapter.ConflictError{
				Reason: fmt.Sprintf("%s %s already has another interaction", i.CRMObject, i.CRMID)})
		}
		return fmt.Errorf("put interaction %s: %w", i.ID, err)
	}
	return nil
}

func (t *tx) Interactions(f adapter.InteractionFilter) ([]*contactpad.Interaction, error) {
	args := []any{sqlLimit(f.Limit)}
	byOwner, byStatus := f.Owner != "", len(f.Statuses) > 0
	if byOwner {
		args = append(args, f.Owner)
	}
	if byStatus {
		statuses := make([]string, len(f.Statuses))
		for k, s := range f.Statuses {
			statuses[k] = string(s)
		}
		args = append(args, statuses)
	}
	rows, err := t.query(sqlInteractions[b2i(byOwner)][b2i(byStatus)], args...)
	if err != nil {
		return nil, fmt.Errorf("list interactions: %w", err)
	}
	is, err := scanAll(rows, scanInteraction)
	if err != nil {
		return nil, fmt.Errorf("list interactions: %w", err)
	}
	return is, nil
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

// Queued reads the work reserved for agent, then the best unreserved work
// of all its services in one ordered query.
func (t *tx) Queued(agent string, services []string, limit int) ([]*contactpad.Interaction, error) {
	queued := make([]*contactpad.Interaction, 0)
	if agent != "" {
		rows, err := t.query(sqlQueuedReserved, agent, sqlLimit(limit))
		if err != nil {
			return nil, fmt.Errorf("list queued for %s: %w", agent, err)
		}
		if queued, err = scanAll(rows, scanInteraction); err != nil {
			return nil, fmt.Errorf("list queued for %s: %w", agent, err)
		}
	}
	rest := limit - len(queued)
	if (limit > 0 && rest <= 0) || len(services) == 0 {
		return queued, nil
	}
	rows, err := t.query(sqlQueuedServices, services, sqlLimit(rest))
	if err != nil {
		return nil, fmt.Errorf("list queued for %s: %w", agent, err)
	}
	unreserved, err := scanAll(rows, scanInteraction)
	if err != nil {
		return nil, fmt.Errorf("list queued for %s: %w", agent, err)
	}
	return append(queued, unreserved...), nil
}

func (t *tx) QueueStats() (map[string]adapter.QueueStat, error) {
	rows, err := t.query(sqlQueueStats)
	if err != nil {
		return nil, fmt.Errorf("queue stats: %w", err)
	}
	defer rows.Close()
	stats := map[string]adapter.QueueStat{}
	for rows.Next() {
		var (
			service string
			size    int64
			oldest  *int64
		)
		if err := rows.Scan(&service, &size, &oldest); err != nil {
			return nil, fmt.Errorf("queue stats: %w", err)
		}
		stats[service] = adapter.QueueStat{Size: int(size), OldestQueued: timeOf(oldest)}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("queue stats: %w", err)
	}
	return stats, nil
}

// scanInteraction reads the columns of interactionColumns.
func scanInteraction(sc pgx.Row) (*contactpad.Interaction, error) {
	var (
		i                                                  contactpad.Interaction
		media, status, tags                                string
		priority, held, dueBySet, autoOpened, extended     int64
		dueBy, wrapUpEnds, offerExpires, queuedAt, lastAct *int64
		created, updated                                   *int64
	)
	if err := sc.Scan(&i.ID, &i.CRMID, &i.CRMObject, &media, &i.Service, &i.Subject, &priority, &status, &held, &i.Owner,
		&dueBy, &dueBySet, &autoOpened, &i.ResumedFrom, &i.ReopenReason, &tags, &i.Category,
		&i.TransferNote, &i.TargetAgent, &i.SkipAgent, &wrapUpEnds, &extended,
		&offerExpires, &queuedAt, &lastAct, &created, &updated, &i.Version); err != nil {
		return nil, err
	}
	var d decoder
	i.Media = contactpad.Media(media)
	i.Priority = int(priority)
	i.Status = contactpad.Status(status)
	i.Held = held != 0
	i.DueBy = timePtrOf(dueBy)
	i.DueBySetManually = dueBySet != 0
	i.AutoOpenedDueToDueDate = autoOpened != 0
	i.Tags = d.strings("tags", tags)
	i.WrapUpEndsAt = timePtrOf(wrapUpEnds)
	i.WrapUpExtended = int(extended)
	i.OfferExpiresAt = timePtrOf(offerExpires)
	i.QueuedAt = timePtrOf(queuedAt)
	i.LastActivityAt = timeOf(lastAct)
	i.CreatedAt = timeOf(created)
	i.UpdatedAt = timeOf(updated)
	if d.err != nil {
		return nil, fmt.Errorf("interaction %s: %w", i.ID, d.err)
	}
	return &i, nil
}
