package sqlstore

import (
	"database/sql"
	"errors"
	"fmt"

	"github.com/ctibridge/ctibridge/adapter"
	"github.com/ctibridge/ctibridge/contactpad"
)

func (t *Tx) Transfer(id string) (*contactpad.Transfer, error) {
	tr, err := scanTransfer(t.queryRow(StmtTransfer, id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, notFound("transfer", id)
	}
	if err != nil {
		return nil, fmt.Errorf("get transfer %s: %w", id, err)
	}
	return tr, nil
}

func (t *Tx) PutTransfer(tr *contactpad.Transfer) error {
	var e encoder
	args := [...]any{
		tr.ID, tr.InteractionID, string(tr.Mode), tr.Target.Agent, tr.Target.Service, tr.Target.Number,
		string(tr.Status), tr.FailedReason, tr.DeclineReason, tr.Initiator, tr.Assignee,
		e.timePtr("expires_at", tr.ExpiresAt), e.time("created_at", tr.CreatedAt), e.time("updated_at", tr.UpdatedAt), tr.AnswerIn,
	}
	if e.err != nil {
		return fmt.Errorf("put transfer %s: %w", tr.ID, e.err)
	}
	return t.write(StmtPutTransfer, args[:]...)
}

func (t *Tx) OpenTransfers(f adapter.TransferFilter) ([]*contactpad.Transfer, error) {
	var (
		rows Rows
		err  error
	)
	// A filter of one field reads that field's index.
	switch {
	case f.InteractionID != "" && f == adapter.TransferFilter{InteractionID: f.InteractionID}:
		rows, err = t.query(StmtOpenTransfersOfInteraction, f.InteractionID)
	case f.Assignee != "" && f == adapter.TransferFilter{Assignee: f.Assignee}:
		rows, err = t.query(StmtOpenTransfersOfAssignee, f.Assignee)
	case f == adapter.TransferFilter{Undelivered: true}:
		rows, err = t.query(StmtOpenTransfersUndelivered)
	default:
		rows, err = t.query(StmtOpenTransfers, f.InteractionID, f.Assignee, boolInt(f.Undelivered))
	}
	if err != nil {
		return nil, fmt.Errorf("list open transfers: %w", err)
	}
	trs, err := scanAll(rows, scanTransfer)
	if err != nil {
		return nil, fmt.Errorf("list open transfers: %w", err)
	}
	return trs, nil
}

// scanTransfer reads the columns of transferQuery: transferColumns, then
// the interaction's note.
func scanTransfer(sc scanner) (*contactpad.Transfer, error) {
	var (
		tr                                contactpad.Transfer
		mode, status                      string
		expiresAt, created, updated, note any
	)
	if err := sc.Scan(&tr.ID, &tr.InteractionID, &mode, &tr.Target.Agent, &tr.Target.Service, &tr.Target.Number,
		&status, &tr.FailedReason, &tr.DeclineReason, &tr.Initiator, &tr.Assignee,
		&expiresAt, &created, &updated, &tr.AnswerIn, &note); err != nil {
		return nil, err
	}
	var d decoder
	tr.Note = string(d.text("note", note))
	tr.Mode = contactpad.TransferMode(mode)
	tr.Status = contactpad.TransferStatus(status)
	tr.ExpiresAt = d.timePtr("expires_at", expiresAt)
	tr.CreatedAt = d.time("created_at", created)
	tr.UpdatedAt = d.time("updated_at", updated)
	if d.err != nil {
		return nil, fmt.Errorf("transfer %s: %w", tr.ID, d.err)
	}
	return &tr, nil
}

func (t *Tx) Consult(id string) (*contactpad.Consult, error) {
	c, err := scanConsult(t.queryRow(StmtConsult, id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, notFound("consult", id)
	}
	if err != nil {
		return nil, fmt.Errorf("get consult %s: %w", id, err)
	}
	return c, nil
}

func (t *Tx) PutConsult(c *contactpad.Consult) error {
	var e encoder
	args := [...]any{
		c.ID, c.InteractionID, c.Initiator, c.Target.Agent, c.Target.Service, c.Target.Number,
		string(c.Status), c.EndedReason,
		e.timePtr("expires_at", c.ExpiresAt), e.time("created_at", c.CreatedAt), e.time("updated_at", c.UpdatedAt),
	}
	if e.err != nil {
		return fmt.Errorf("put consult %s: %w", c.ID, e.err)
	}
	return t.write(StmtPutConsult, args[:]...)
}

func (t *Tx) InProgress(interactionID string) (adapter.InProgress, error) {
	var p adapter.InProgress
	if err := t.queryRow(StmtInProgress, interactionID).Scan(&p.Transfer, &p.Consult); err != nil {
		return adapter.InProgress{}, fmt.Errorf("what %s has under way: %w", interactionID, err)
	}
	return p, nil
}

func (t *Tx) OpenConsults(interactionID string) ([]*contactpad.Consult, error) {
	of, stmt, args := "of "+interactionID, StmtOpenConsults, []any{interactionID}
	if interactionID == "" {
		of, stmt, args = "of every interaction", StmtEveryOpenConsult, nil
	}
	rows, err := t.query(stmt, args...)
	if err != nil {
		return nil, fmt.Errorf("list open consults %s: %w", of, err)
	}
	cs, err := scanAll(rows, scanConsult)
	if err != nil {
		return nil, fmt.Errorf("list open consults %s: %w", of, err)
	}
	return cs, nil
}

// scanConsult reads the columns of consultColumns.
func scanConsult(sc scanner) (*contactpad.Consult, error) {
	var (
		c                           contactpad.Consult
		status                      string
		expiresAt, created, updated any
	)
	if err := sc.Scan(&c.ID, &c.InteractionID, &c.Initiator, &c.Target.Agent, &c.Target.Service, &c.Target.Number,
		&status, &c.EndedReason, &expiresAt, &created, &updated); err != nil {
		return nil, err
	}
	var d decoder
	c.Status = contactpad.ConsultStatus(status)
	c.ExpiresAt = d.timePtr("expires_at", expiresAt)
	c.CreatedAt = d.time("created_at", created)
	c.UpdatedAt = d.time("updated_at", updated)
	if d.err != nil {
		return nil, fmt.Errorf("consult %s: %w", c.ID, d.err)
	}
	return &c, nil
}
