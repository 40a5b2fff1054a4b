package adapter

import (
	"context"
	"errors"
	"fmt"

	"github.com/ctibridge/ctibridge/contactpad"
)

// RecordReader is a Sink that can read the records it is about to update
// (the Salesforce sink reads them through its mappings' sources). Before
// each call the writer reads the records whose fields the call would
// write, and takes in what people changed there since the bridge last
// read them, through the same Ingest a poll sends. Only then does it
// decide what to write: a field the CRM changed is the CRM's, unless the
// mapping says the bridge wins it (the conflict is audited and counted
// either way), and a record closed there ends its work.
//
// Without the read, a change made in the CRM between an agent's action
// and its write is overwritten: the writer waits up to BatchMaxAge to
// fill a call, and the poll comes every PollInterval. A supervisor who
// closes a Case a moment after its agent deferred it would see the write
// of On Hold open it again. With the read, what is left is the time
// between the read's answer and the write: a round trip. (Salesforce's
// sObject Collections take no condition on a record's values.)
type RecordReader interface {
	// ReadRecords returns the work items of the records of object that
	// ids names, as they are now, as a Source's Changes returns them: a
	// record that no longer matches its mapping's filter is Unmatched,
	// one the mapping cannot map has Problem set, and one the CRM does not
	// find (deleted) is left out, for its write to tell. It returns
	// nothing for an object it does not read. A CRM that did not answer
	// is an *UnavailableError.
	ReadRecords(ctx context.Context, object string, ids []string) ([]contactpad.WorkItem, error)
}

// readBeforeWrite reads the records whose fields rows would write, with
// the call's context, and ingests what they show (see RecordReader); it
// returns the records it read. A record whose fields to write are all ones
// the bridge wins (its mapping's conflict rule) is not read: nothing of the
// CRM's is at stake. The records of an object whose read fails are failed,
// with the error: none of their rows is written. An ingest that fails for
// the store is err.
func (e *Engine) readBeforeWrite(ctx, call context.Context, reader RecordReader, rows []OutboxRow) (
	read map[[2]string]bool, failed map[[2]string]error, err error) {
	mirrors := e.cfg.Load().s.Mirrors
	var syncs map[string]*contactpad.RecordSync
	if err := e.store.View(ctx, func(tx Tx) error {
		var err error
		syncs, err = readSyncs(tx, rows)
		return err
	}); err != nil {
		return nil, nil, err
	}
	var objects []string
	ids := map[string][]string{} // by object: the records with fields to write
	read = map[[2]string]bool{}
	for _, r := range rows {
		key := [2]string{r.CRMObject, r.CRMID}
		if read[key] || !crmWinsAny(syncs[r.InteractionID].Writes(), mirrors, r.CRMObject) {
			continue
		}
		read[key] = true
		if ids[r.CRMObject] == nil {
			objects = append(objects, r.CRMObject)
		}
		ids[r.CRMObject] = append(ids[r.CRMObject], r.CRMID)
	}
	var cmds []Command
	for _, object := range objects {
		now := e.now().UTC() // the read is sent after this
		items, err := reader.ReadRecords(call, object, ids[object])
		if err != nil {
			err = fmt.Errorf("read %d %s records before writing them: %w", len(ids[object]), object, err)
			if failed == nil {
				failed = map[[2]string]error{}
			}
			for _, id := range ids[object] {
				failed[[2]string{object, id}] = err
			}
			continue
		}
		for _, item := range items {
			if item.Problem == "" { // the poll reports it
				cmds = append(cmds, Ingest{Item: item, ReadAt: now})
			}
		}
	}
	for k, out := range e.applyBackground(ctx, cmds) {
		var invalid *InvalidError
		if out.Err != nil && !errors.As(out.Err, &invalid) { // an invalid record: the poll reports it
			item := cmds[k].(Ingest).Item
			return nil, nil, fmt.Errorf("take in %s %s, read before writing it: %w", item.CRMObject, item.CRMID, out.Err)
		}
	}
	return read, failed, nil
}

// holdUnread leaves out of the call the rows of each record that has a
// field the CRM wins to write but was not read before it (an agent acted
// while the read was out), with the record's later rows: they go in the
// next call, read first.
func holdUnread(rows []OutboxRow, changes []*contactpad.RecordChange, syncs map[string]*contactpad.RecordSync,
	read map[[2]string]bool, mirrors map[string]Mirror) (keep []OutboxRow, keepChanges []*contactpad.RecordChange, held []OutboxRow) {
	holding := map[[2]string]bool{}
	for k, r := range rows {
		key := [2]string{r.CRMObject, r.CRMID}
		if holding[key] || !read[key] && crmWinsAny(syncs[r.InteractionID].Writes(), mirrors, r.CRMObject) {
			holding[key] = true
			held = append(held, r)
			continue
		}
		keep, keepChanges = append(keep, r), append(keepChanges, changes[k])
	}
	return keep, keepChanges, held
}

// crmWinsAny reports whether the CRM wins a conflict on any of the fields
// of object to write, by its mirror's policy.
func crmWinsAny(fields map[string]any, mirrors map[string]Mirror, object string) bool {
	policy := mirrorOf(mirrors, object).Policy()
	for f := range fields {
		if !policy.BridgeWins(f) {
			return true
		}
	}
	return false
}
