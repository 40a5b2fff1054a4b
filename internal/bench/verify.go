package bench

import (
	"context"
	"fmt"
	"net/http"
	"sync"
)

// verify checks the org against what the agents did, with zero tolerance:
// every Case of the run is closed by the bridge, owned by the agent who
// closed it, with the deferral fields of its story and no due date or
// resumed-from left; each audit entry of its interaction that the bridge
// made (not the adoption of the record) is one Task, written once (a Task
// written again is a redelivery: upserted by its audit id, it is no
// duplicate but it is counted); no field of a Case was ever written with
// the value it already had; and nothing is parked. Each mismatch is an
// error of the result.
func verify(ctx context.Context, client *http.Client, r *runner, org *localOrg, userIDs []string, res *Result) error {
	mismatch := func(format string, args ...any) {
		r.fail(nil, "verify", fmt.Errorf(format, args...))
	}
	var st syncState
	if err := adminGet(ctx, client, r.url+"/api/v1/admin/sync", &st); err != nil {
		return err
	}
	if n := st["parked"].Count; n > 0 {
		mismatch("%d writebacks parked, e.g. %+v", n, st["parked"].Rows[0])
	}

	caseWrites, taskWrites := org.Writes("Case"), org.Writes("Task")
	tasksOf := map[string]int{}
	auditIDs := map[string]bool{}
	for _, t := range org.Records("Task") {
		what, _ := t["WhatId"].(string)
		tasksOf[what]++
		id, _ := t["Ctibridge_Audit_Id__c"].(string)
		if auditIDs[id] {
			mismatch("audit entry %s is in the org twice", id)
		}
		auditIDs[id] = true
	}
	for _, n := range taskWrites {
		res.Writebacks += n
		res.AuditTasks++
		if n > 1 {
			res.Redelivered += n - 1
		}
	}

	seen := make([]bool, len(r.items))
	var cases []map[string]any
	for _, c := range org.Records("Case") {
		subject, _ := c["Subject"].(string)
		if seq := subjectSeq(subject); seq >= 0 && seq < len(r.items) {
			seen[seq] = true
			cases = append(cases, c)
		}
	}
	for seq, ok := range seen {
		if !ok {
			mismatch("Case %d is not in the org", seq)
		}
	}
	for _, n := range caseWrites {
		res.Writebacks += n
	}

	// Each interaction's audit entries, from the bridge, to count its Tasks.
	audits := make([]int, len(r.items))
	todo := make(chan *item)
	var wg sync.WaitGroup
	var mu sync.Mutex
	var readErr error
	for range 16 {
		wg.Go(func() {
			for it := range todo {
				var i interactionJSON
				err := adminGet(ctx, client, r.url+"/api/v1/interactions/"+it.interaction, &i)
				mu.Lock()
				if err != nil && readErr == nil {
					readErr = fmt.Errorf("read interaction %s: %w", it.interaction, err)
				}
				for _, e := range i.Audit {
					// The adoption and what the CRM did itself are not
					// written to it: it knows them.
					if e.Action != "adopted" && e.Actor != "crm" {
						audits[it.seq]++
					}
				}
				mu.Unlock()
			}
		})
	}
	for _, it := range r.items {
		if it.interaction != "" {
			todo <- it
		}
	}
	close(todo)
	wg.Wait()
	if readErr != nil {
		return readErr
	}

	for _, c := range cases {
		seq := subjectSeq(c["Subject"].(string))
		it := r.items[seq]
		id, _ := c["Id"].(string)
		if it.failed || !it.done {
			continue // already counted as an error
		}
		want := map[string]any{
			"Status":                           "Closed",
			"Ctibridge_Status__c":              "completed",
			"OwnerId":                          userIDs[it.closedBy],
			"Ctibridge_Due_By_Set_Manually__c": it.deferred,
			"Ctibridge_Due_By__c":              nil,
			"Ctibridge_Resumed_From__c":        nil,
		}
		for field, v := range want {
			if c[field] != v {
				mismatch("Case %d (%s): %s is %v, want %v", seq, id, field, c[field], v)
			}
		}
		if tasksOf[id] != audits[seq] {
			mismatch("Case %d (%s): %d audit Tasks in the org, %d audit entries in the bridge", seq, id, tasksOf[id], audits[seq])
		}
		if caseWrites[id] == 0 {
			mismatch("Case %d (%s): never written back", seq, id)
		}
		res.AuditEntries += audits[seq]
	}
	// No field written that did not change: the bridge writes only what
	// it changed and the CRM does not hold.
	res.FieldWrites = map[string]int{}
	for field, n := range org.FieldWrites("Case") {
		res.FieldWrites[field] = n.Changed
		res.UnchangedFieldWrites += n.Unchanged
	}
	for k, w := range org.UnchangedWrites("Case") {
		if k == 3 {
			mismatch("... %d writes in all of a value a Case held already", res.UnchangedFieldWrites)
			break
		}
		mismatch("Case %s: %s written with the value it held already (%v)", w.ID, w.Field, w.Value)
	}
	res.Verified = true
	return nil
}
