package bench

import (
	"context"
	"fmt"
	"net/http"
	"sync"
)

// verify checks the org against what the agents did, with zero tolerance:
// every Case of the run is closed by the bridge, owned by the agent who
// closed it, with the deferral and resume fields of its story; each audit
// entry of its interaction is one Task, written once (a Task written again
// is a redelivery: upserted by its audit id, it is no duplicate but it is
// counted); and nothing is parked. Each mismatch is an error of the result.
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
				audits[it.seq] = len(i.Audit)
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
		}
		if it.resumed {
			want["Ctibridge_Resumed_From__c"] = "completed"
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
	res.Verified = true
	return nil
}
