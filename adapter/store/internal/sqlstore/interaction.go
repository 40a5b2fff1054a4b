package sqlstore

import (
	"database/sql"
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/ctibridge/ctibridge/adapter"
	"github.com/ctibridge/ctibridge/contactpad"
)

func (t *Tx) Interaction(id string) (*contactpad.Interaction, error) {
	i, err := scanInteraction(t.queryRow(StmtInteraction, id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, notFound("interaction", id)
	}
	if err != nil {
		return nil, fmt.Errorf("get interaction %s: %w", id, err)
	}
	return i, nil
}

func (t *Tx) Omni(id string) (*contactpad.OmniRouting, error) {
	var (
		omni any
		o    *contactpad.OmniRouting
		d    decoder
	)
	err := t.queryRow(StmtInteractionOmni, id).Scan(&omni)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, notFound("interaction", id)
	}
	if err == nil {
		d.json("omni", omni, &o)
		err = d.err
	}
	if err != nil {
		return nil, fmt.Errorf("get Omni-Channel routing of interaction %s: %w", id, err)
	}
	return o, nil
}

func (t *Tx) InteractionByCRM(object, crmID string) (*contactpad.Interaction, error) {
	i, err := scanInteraction(t.queryRow(StmtInteractionByCRM, object, crmID))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, notFound("interaction for "+object, crmID)
	}
	if err != nil {
		return nil, fmt.Errorf("get interaction for %s %s: %w", object, crmID, err)
	}
	return i, nil
}

func (t *Tx) PutInteraction(i *contactpad.Interaction) error {
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
		e.sync(&i.Sync), i.TransferredFrom,
		i.Customer, e.timePtr("connected_at", i.ConnectedAt),
		e.json("omni", i.Omni, i.Omni == nil),
	}
	if e.err != nil {
		return fmt.Errorf("put interaction %s: %w", i.ID, e.err)
	}
	// An interaction saved before (Version counts the saves) is nearly
	// always in the store: an UPDATE changes it without the upsert's try
	// at an INSERT first, which seeks the key and the CRM key's unique
	// index only to find the conflict. One that is not there after all
	// (0 rows) takes the upsert. A Queuer pipelines the upsert instead:
	// to read the UPDATE's count it would wait for the database.
	if _, queues := t.conn.(Queuer); i.Version > 1 && !queues {
		var params [len(args)]any
		for k, at := range interactionUpdateOrder {
			params[k] = args[at]
		}
		n, err := t.exec(StmtUpdateInteraction, params[:len(interactionUpdateOrder)]...)
		if err != nil {
			return fmt.Errorf("put interaction %s: %w", i.ID, err)
		}
		if n == 1 {
			return nil
		}
	}
	return t.write(StmtPutInteraction, args[:]...)
}

// InteractionSyncs reads the crm_sync column of the interactions ids in
// one query, decoding nothing else of them.
func (t *Tx) InteractionSyncs(ids []string) (map[string]*contactpad.RecordSync, error) {
	list, err := t.list(ids)
	if err != nil {
		return nil, fmt.Errorf("read CRM sync of %d interactions: %w", len(ids), err)
	}
	rows, err := t.query(StmtInteractionSyncs, list)
	if err != nil {
		return nil, fmt.Errorf("read CRM sync of %d interactions: %w", len(ids), err)
	}
	defer rows.Close()
	out := make(map[string]*contactpad.RecordSync, len(ids))
	for rows.Next() {
		var (
			id      string
			crmSync any
			d       decoder
			s       contactpad.RecordSync
		)
		if err := rows.Scan(&id, &crmSync); err != nil {
			return nil, fmt.Errorf("read CRM sync of %d interactions: %w", len(ids), err)
		}
		if d.sync("crm_sync", crmSync, &s); d.err != nil {
			return nil, fmt.Errorf("interaction %s: %w", id, d.err)
		}
		out[id] = &s
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read CRM sync of %d interactions: %w", len(ids), err)
	}
	return out, nil
}

// PutInteractionSync writes the crm_sync column of interaction id alone.
func (t *Tx) PutInteractionSync(id string, s *contactpad.RecordSync) error {
	var e encoder
	value := e.sync(s)
	if e.err != nil {
		return fmt.Errorf("put CRM sync of interaction %s: %w", id, e.err)
	}
	return t.write(StmtPutInteractionSync, id, value)
}

// interactionFixed are the columns set when an interaction is first put
// and never changed after: an update leaves them, and the indexes on
// them, alone.
var interactionFixed = []string{"crm_id", "crm_object", "media", "created_at"}

// interactionUpdateOrder maps StmtUpdateInteraction's parameters to
// StmtPutInteraction's (see updateOrder).
var interactionUpdateOrder = updateOrder(interactionColumns, "id", interactionFixed...)

// interactionsStmts are the statements of Interactions by order (oldest,
// newest first) and filter: all, by statuses; by owner, by owner and
// statuses.
var interactionsStmts = [2][2][2]Stmt{
	{
		{StmtInteractionsAll, StmtInteractionsStatuses},
		{StmtInteractionsOwner, StmtInteractionsOwnerStatuses},
	},
	{
		{StmtInteractionsAllNewest, StmtInteractionsStatusesNewest},
		{StmtInteractionsOwnerNewest, StmtInteractionsOwnerStatusesNewest},
	},
}

func (t *Tx) Interactions(f adapter.InteractionFilter) ([]*contactpad.Interaction, error) {
	if f.Search != "" || f.Before != nil {
		return t.interactionsPage(f)
	}
	args := make([]any, 1, 3)
	args[0] = t.limit(f.Limit)
	byOwner, byStatus := f.Owner != "", len(f.Statuses) > 0
	if byOwner {
		args = append(args, f.Owner)
	}
	if byStatus {
		statuses := make([]string, len(f.Statuses))
		for k, s := range f.Statuses {
			statuses[k] = string(s)
		}
		list, err := t.list(statuses)
		if err != nil {
			return nil, fmt.Errorf("list interactions: %w", err)
		}
		args = append(args, list)
	}
	rows, err := t.query(interactionsStmts[boolInt(f.Newest)][boolInt(byOwner)][boolInt(byStatus)], args...)
	if err != nil {
		return nil, fmt.Errorf("list interactions: %w", err)
	}
	is, err := scanAll(rows, scanInteraction)
	if err != nil {
		return nil, fmt.Errorf("list interactions: %w", err)
	}
	return is, nil
}

// interactionsPage is Interactions with a search or a cursor, which only
// lists newest first (the History folder, page by page).
func (t *Tx) interactionsPage(f adapter.InteractionFilter) ([]*contactpad.Interaction, error) {
	if !f.Newest {
		return nil, fmt.Errorf("list interactions: a search or a cursor lists newest first only")
	}
	statuses, err := t.statusList(f.Statuses)
	if err != nil {
		return nil, fmt.Errorf("list interactions: %w", err)
	}
	var (
		e      encoder
		after  int64
		at, id any = int64(0), ""
	)
	if f.Before != nil {
		after, at, id = 1, e.time("cursor", f.Before.UpdatedAt), f.Before.ID
	}
	if e.err != nil {
		return nil, fmt.Errorf("list interactions: %w", e.err)
	}
	args := []any{t.limit(f.Limit), statuses, likePattern(f.Search), after, at, id}
	stmt := StmtInteractionsPage
	if f.Owner != "" {
		args, stmt = append(args, f.Owner), StmtInteractionsPageOwner
	}
	rows, err := t.query(stmt, args...)
	if err != nil {
		return nil, fmt.Errorf("list interactions: %w", err)
	}
	is, err := scanAll(rows, scanInteraction)
	if err != nil {
		return nil, fmt.Errorf("list interactions: %w", err)
	}
	return is, nil
}

func (t *Tx) CountInteractions(f adapter.InteractionFilter) (int, error) {
	statuses, err := t.statusList(f.Statuses)
	if err != nil {
		return 0, fmt.Errorf("count interactions: %w", err)
	}
	args := []any{statuses, likePattern(f.Search)}
	stmt := StmtCountMatching
	if f.Owner != "" {
		args, stmt = append(args, f.Owner), StmtCountMatchingOwner
	}
	var n int64
	if err := t.queryRow(stmt, args...).Scan(&n); err != nil {
		return 0, fmt.Errorf("count interactions: %w", err)
	}
	return int(n), nil
}

// statusList is the list parameter of statuses; none means every status.
func (t *Tx) statusList(statuses []contactpad.Status) (any, error) {
	if len(statuses) == 0 {
		statuses = contactpad.Statuses
	}
	names := make([]string, len(statuses))
	for k, s := range statuses {
		names[k] = string(s)
	}
	return t.list(names)
}

// likePattern is the lowercase LIKE pattern (escaped with \) that finds
// search anywhere in a text, or ” for no search.
func likePattern(search string) string {
	if search == "" {
		return ""
	}
	r := strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`)
	return "%" + r.Replace(strings.ToLower(search)) + "%"
}

// Queued reads the work reserved for the agent, then the best unreserved
// work of its services: in one ordered query, or (Dialect.QueuedPerService)
// service by service, merging the services' lists in Go, which costs less
// than sorting the whole queue on every routing pass.
func (t *Tx) Queued(q adapter.QueuedQuery) ([]*contactpad.Interaction, error) {
	media := q.Media
	if media == nil {
		media = contactpad.Medias
	}
	names := make([]string, len(media))
	for k, m := range media {
		names[k] = string(m)
	}
	mediaList, err := t.list(names)
	if err != nil {
		return nil, err
	}
	queued := make([]*contactpad.Interaction, 0)
	if q.Agent != "" {
		rows, err := t.query(StmtQueuedReserved, q.Agent, t.limit(q.Limit), mediaList, boolInt(q.Skip))
		if err != nil {
			return nil, fmt.Errorf("list queued for %s: %w", q.Agent, err)
		}
		if queued, err = scanAll(rows, scanInteraction); err != nil {
			return nil, fmt.Errorf("list queued for %s: %w", q.Agent, err)
		}
	}
	rest := q.Limit - len(queued)
	if (q.Limit > 0 && rest <= 0) || len(q.Services) == 0 {
		return queued, nil
	}
	unreserved, err := t.queuedUnreserved(q, mediaList, rest)
	if err != nil {
		return nil, fmt.Errorf("list queued for %s: %w", q.Agent, err)
	}
	return append(queued, unreserved...), nil
}

// queuedUnreserved lists the unreserved queued interactions of Queued, at
// most limit (<= 0: all).
func (t *Tx) queuedUnreserved(q adapter.QueuedQuery, media any, limit int) ([]*contactpad.Interaction, error) {
	if !t.dialect.QueuedPerService {
		list, err := t.list(q.Services)
		if err != nil {
			return nil, err
		}
		rows, err := t.query(StmtQueuedServices, list, t.limit(limit), media, q.Agent, boolInt(q.Skip))
		if err != nil {
			return nil, err
		}
		return scanAll(rows, scanInteraction)
	}
	var unreserved []*contactpad.Interaction
	seen := make(map[string]bool, len(q.Services))
	for _, service := range q.Services {
		if seen[service] {
			continue
		}
		seen[service] = true
		rows, err := t.query(StmtQueuedService, service, t.limit(limit), media, q.Agent, boolInt(q.Skip))
		if err != nil {
			return nil, err
		}
		is, err := scanAll(rows, scanInteraction)
		if err != nil {
			return nil, err
		}
		unreserved = append(unreserved, is...)
	}
	if len(seen) > 1 {
		sort.Slice(unreserved, func(a, b int) bool { return queuedBefore(unreserved[a], unreserved[b]) })
	}
	if limit > 0 && len(unreserved) > limit {
		unreserved = unreserved[:limit]
	}
	return unreserved, nil
}

// queuedBefore is queuedOrder in Go: higher priority first, then earlier
// QueuedAt (none before any), then ID.
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

func (t *Tx) QueueStats() (map[string]adapter.QueueStat, error) {
	rows, err := t.query(StmtQueueStats)
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
		lastActivity, created, updated, version, crmSync   any
		connectedAt                                        any
		omni                                               any
	)
	if err := sc.Scan(&i.ID, &i.CRMID, &i.CRMObject, &media, &i.Service, &i.Subject, &priority, &status, &held, &i.Owner,
		&dueBy, &dueBySet, &autoOpened, &i.ResumedFrom, &i.ReopenReason, &tags, &i.Category,
		&i.TransferNote, &i.TargetAgent, &i.SkipAgent, &wrapUpEnds, &wrapUpExtended,
		&offerExpires, &queuedAt, &lastActivity, &created, &updated, &version, &crmSync, &i.TransferredFrom,
		&i.Customer, &connectedAt, &omni); err != nil {
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
	i.ConnectedAt = d.timePtr("connected_at", connectedAt)
	i.LastActivityAt = d.time("last_activity_at", lastActivity)
	i.CreatedAt = d.time("created_at", created)
	i.UpdatedAt = d.time("updated_at", updated)
	i.Version = d.int("version", version)
	d.sync("crm_sync", crmSync, &i.Sync)
	d.json("omni", omni, &i.Omni)
	if d.err != nil {
		return nil, fmt.Errorf("interaction %s: %w", i.ID, d.err)
	}
	return &i, nil
}

// isZeroSync reports whether s holds nothing, which is stored as NULL.
func isZeroSync(s contactpad.RecordSync) bool {
	return len(s.Known) == 0 && len(s.Want) == 0 && len(s.Dirty) == 0 && !s.Unmatched && len(s.Sent) == 0 && s.AcceptedAt == nil &&
		s.Service == "" && s.Modified == nil && s.ReadSent == nil
}
