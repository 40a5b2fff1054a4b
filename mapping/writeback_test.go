package mapping

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/ctibridge/ctibridge/contactpad"
)

func TestFields(t *testing.T) {
	caseMapping := sample(t, casePath)
	chatMapping := sample(t, chatPath)
	custom := parse(t,
		"mappings:",
		"- object: Case",
		"  media: non-live",
		"  service: support",
		"  writeback:",
		"    status: {field: Status, values: {deferred: On Hold}}",
		"    service: Ctibridge_Service__c",
		"    pause_sla: IsStopped",
		"    fields:",
		"      Synced__c: true",
		"      Attempts__c: 3",
		"      Ratio__c: 0.5",
		"      Cleared__c: null",
		"      Note__c: '{{if .Writeback.DueBy}}due {{.Writeback.DueBy.Format \"2006-01-02\"}}{{end}}'",
		"      Last_Action__c: '{{.Action}}{{index .Data \"rule\"}}'",
		"      Record__c: '{{.Object}}/{{.CRMID}}'",
	)
	noWriteback := parse(t, "mappings:", "- {object: Case, media: live, service: s}")
	cet := time.FixedZone("CET", 3600)
	due := time.Date(2026, 11, 23, 10, 0, 0, 0, cet)
	tests := []struct {
		name string
		m    *Mapping
		wb   contactpad.Writeback
		want map[string]any
	}{
		{
			name: "no writeback section",
			m:    noWriteback,
			wb:   contactpad.Writeback{Status: contactpad.Connected},
		},
		{
			name: "connected: status by value map, owner, no due date, flags",
			m:    caseMapping,
			wb: contactpad.Writeback{Status: contactpad.Connected, Owner: "alice",
				OwnerCRMUserID: "005A", Service: "support"},
			want: map[string]any{"Status": "Working", "OwnerId": "005A", "Ctibridge_Due_By__c": nil,
				"Ctibridge_Due_By_Set_Manually__c": false, "Ctibridge_Auto_Opened__c": false,
				"Ctibridge_Resumed_From__c": nil, "Ctibridge_Status__c": "connected", "IsStopped": false},
		},
		{
			name: "deferred: due date in UTC with milliseconds, set manually",
			m:    caseMapping,
			wb: contactpad.Writeback{Status: contactpad.Deferred, Owner: "alice",
				OwnerCRMUserID: "005A", DueBy: &due, DueBySetManually: true},
			want: map[string]any{"Status": "On Hold", "OwnerId": "005A", "Ctibridge_Due_By__c": "2026-11-23T09:00:00.000Z",
				"Ctibridge_Due_By_Set_Manually__c": true, "Ctibridge_Auto_Opened__c": false,
				"Ctibridge_Resumed_From__c": nil, "Ctibridge_Status__c": "deferred", "IsStopped": true},
		},
		{
			name: "queued: no owner, so none is wanted",
			m:    caseMapping,
			wb:   contactpad.Writeback{Status: contactpad.Queued, AutoOpenedDueToDueDate: true},
			want: map[string]any{"Status": "New", "Ctibridge_Due_By__c": nil,
				"Ctibridge_Due_By_Set_Manually__c": false, "Ctibridge_Auto_Opened__c": true,
				"Ctibridge_Resumed_From__c": nil, "Ctibridge_Status__c": "queued", "IsStopped": false},
		},
		{
			name: "abandoned: a status the value map leaves out is not wanted",
			m:    caseMapping,
			wb: contactpad.Writeback{Status: contactpad.Abandoned, Owner: "bob",
				OwnerCRMUserID: "005B", ResumedFrom: contactpad.ResumedFromCompleted},
			want: map[string]any{"OwnerId": "005B", "Ctibridge_Due_By__c": nil,
				"Ctibridge_Due_By_Set_Manually__c": false, "Ctibridge_Auto_Opened__c": false,
				"Ctibridge_Resumed_From__c": "completed", "Ctibridge_Status__c": "abandoned", "IsStopped": false},
		},
		{
			name: "chat: the status as is",
			m:    chatMapping,
			wb: contactpad.Writeback{Status: contactpad.WrapUp, Owner: "bob",
				OwnerCRMUserID: "005B", ResumedFrom: contactpad.ResumedFromDeferred},
			want: map[string]any{"Ctibridge_Status__c": "wrap_up", "OwnerId": "005B", "Ctibridge_Due_By__c": nil,
				"Ctibridge_Due_By_Set_Manually__c": false, "Ctibridge_Auto_Opened__c": false,
				"Ctibridge_Resumed_From__c": "deferred"},
		},
		{
			name: "constants, templates over the writeback, service, the SLA paused while deferred",
			m:    custom,
			wb:   contactpad.Writeback{Status: contactpad.Deferred, DueBy: &due, Service: "billing"},
			want: map[string]any{"Status": "On Hold", "Ctibridge_Service__c": "billing", "IsStopped": true, "Synced__c": true,
				"Attempts__c": 3.0, "Ratio__c": 0.5, "Cleared__c": nil, "Note__c": "due 2026-11-23",
				"Last_Action__c": nil, "Record__c": "Case/500A"},
		},
		{
			name: "a template that prints nothing is nil; the SLA runs while not deferred",
			m:    custom,
			wb:   contactpad.Writeback{Status: contactpad.Connected},
			want: map[string]any{"Ctibridge_Service__c": nil, "IsStopped": false, "Synced__c": true, "Attempts__c": 3.0,
				"Ratio__c": 0.5, "Cleared__c": nil, "Note__c": nil, "Last_Action__c": nil, "Record__c": "Case/500A"},
		},
		{
			name: "a status the map leaves out: nothing wanted",
			m: parse(t, "mappings:", "- object: Case", "  media: live", "  service: s", "  writeback:",
				"    status: {field: Status, values: {deferred: On Hold}}"),
			wb:   contactpad.Writeback{Status: contactpad.Connected},
			want: map[string]any{},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tt.m.Fields("500A", tt.wb)
			require.NoError(t, err)
			require.Equal(t, tt.want, got)
		})
	}
}

func TestRead(t *testing.T) {
	caseMapping := sample(t, casePath)
	chatMapping := sample(t, chatPath)
	due := time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC)
	tests := []struct {
		name   string
		m      *Mapping
		fields map[string]any
		want   contactpad.RecordView
	}{
		{"New stands for queued, the first status mapped to it", caseMapping,
			map[string]any{"Status": "New", "OwnerId": "005A"}, contactpad.RecordView{Status: contactpad.Queued, OwnerCRMUserID: "005A"}},
		{"Working stands for connected", caseMapping, map[string]any{"Status": "Working"},
			contactpad.RecordView{Status: contactpad.Connected}},
		{"On Hold with a due date", caseMapping, map[string]any{"Status": "On Hold", "Ctibridge_Due_By__c": "2026-11-23T09:00:00.000Z"},
			contactpad.RecordView{Status: contactpad.Deferred, DueBy: &due}},
		{"On Hold with a due date a rule set", caseMapping, map[string]any{"Status": "On Hold",
			"Ctibridge_Due_By__c": "2026-11-23T09:00:00.000Z", "Ctibridge_Due_By_Set_Manually__c": false},
			contactpad.RecordView{Status: contactpad.Deferred, DueBy: &due, DueBySetManually: new(false)}},
		{"the flag unset in the CRM says nothing", caseMapping, map[string]any{"Ctibridge_Due_By_Set_Manually__c": nil},
			contactpad.RecordView{}},
		{"a value no status maps to", caseMapping, map[string]any{"Status": "Escalated"}, contactpad.RecordView{}},
		{"the status as is", chatMapping, map[string]any{"Ctibridge_Status__c": "deferred"},
			contactpad.RecordView{Status: contactpad.Deferred}},
		{"nothing read", caseMapping, nil, contactpad.RecordView{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			require.Equal(t, tt.want, tt.m.Read(tt.fields))
		})
	}
}

func TestObserve(t *testing.T) {
	m := sample(t, casePath)
	got := m.Observe(Record{"Id": "500A", "status": "On Hold", "OwnerId": "005A",
		"Ctibridge_Due_By__c": "2026-11-23T10:00:00.000+0100", "Ctibridge_Due_By_Set_Manually__c": true})
	require.Equal(t, map[string]any{"Status": "On Hold", "OwnerId": "005A",
		"Ctibridge_Due_By__c": "2026-11-23T09:00:00.000Z", "Ctibridge_Due_By_Set_Manually__c": true,
		"Ctibridge_Auto_Opened__c": nil, "Ctibridge_Resumed_From__c": nil, "Ctibridge_Status__c": nil, "IsStopped": nil}, got,
		"every written field, by the name the mapping writes, date-times as the writeback writes them")
	wb := contactpad.Writeback{Status: contactpad.Deferred, OwnerCRMUserID: "005A", DueBySetManually: true}
	due := time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC)
	wb.DueBy = &due
	want, err := m.Fields("500A", wb)
	require.NoError(t, err)
	for _, f := range []string{"Status", "OwnerId", "Ctibridge_Due_By__c", "Ctibridge_Due_By_Set_Manually__c"} {
		require.True(t, contactpad.SameValue(want[f], got[f]), "%s: written %v, read back %v", f, want[f], got[f])
	}
	require.Nil(t, parse(t, "mappings:", "- {object: Case, media: live, service: s}").Observe(Record{"Id": "500A"}))
}

func TestAudit(t *testing.T) {
	at := time.Date(2026, 11, 22, 10, 30, 0, 0, time.UTC)
	deferred := &contactpad.AuditEntry{ID: "aud-1", InteractionID: "int-1", At: at, Actor: "alice", Action: "deferred",
		Category: "status_action", FromStatus: contactpad.Connected, ToStatus: contactpad.Deferred,
		Message: "Deferred until 2026-11-23T10:00:00Z", Data: map[string]string{"due_by": "2026-11-23T10:00:00Z"}}
	declined := &contactpad.AuditEntry{ID: "aud-2", At: at, Actor: "bob", Action: "declined", Category: "routing",
		FromStatus: contactpad.Offered, ToStatus: contactpad.Queued, Message: "Declined: busy"}
	filtered := parse(t,
		"mappings:",
		"- object: Case",
		"  media: live",
		"  service: s",
		"  audit:",
		"    object: Case_Event__c",
		"    external_id: Event_Id__c",
		"    when: ToStatus == \"deferred\" && Data[\"due_by\"] != \"\" && Writeback.Owner == \"\"",
		"    fields:",
		"      Case__c: '{{.CRMID}}'",
		"      Due__c: '{{index .Data \"due_by\"}}'",
		"      Rule__c: '{{index .Data \"rule\"}}'",
		"      Kind__c: null",
	)
	tests := []struct {
		name    string
		m       *Mapping
		change  contactpad.RecordChange
		want    *AuditRecord
		wantErr string
	}{
		{
			name:   "a Task per audit entry, upserted by the entry's ID",
			m:      sample(t, casePath),
			change: contactpad.RecordChange{Audit: deferred},
			want: &AuditRecord{Object: "Task", ExternalIDField: "Ctibridge_Audit_Id__c", ExternalID: "aud-1",
				Fields: map[string]any{
					"Ctibridge_Audit_Id__c": "aud-1",
					"WhatId":                "500A",
					"Subject":               "ctibridge: deferred",
					"Description":           "Deferred until 2026-11-23T10:00:00Z\nconnected -> deferred by alice at 2026-11-22T10:30:00Z",
					"Status":                "Completed",
					"Priority":              "Normal",
					"Type":                  "Other",
					"ActivityDate":          "2026-11-22",
				}},
		},
		{
			name:   "no audit entry",
			m:      sample(t, casePath),
			change: contactpad.RecordChange{Writeback: &contactpad.Writeback{Status: contactpad.Connected}},
		},
		{
			name:   "no audit section",
			m:      parse(t, "mappings:", "- {object: Case, media: live, service: s}"),
			change: contactpad.RecordChange{Audit: deferred},
		},
		{
			name:   "when leaves routing out",
			m:      sample(t, chatPath),
			change: contactpad.RecordChange{Audit: declined},
		},
		{
			name:   "when lets the rest in",
			m:      sample(t, chatPath),
			change: contactpad.RecordChange{Audit: deferred},
			want: &AuditRecord{Object: "Task", ExternalIDField: "Ctibridge_Audit_Id__c", ExternalID: "aud-1",
				Fields: map[string]any{"Ctibridge_Audit_Id__c": "aud-1", "WhatId": "500A", "Subject": "ctibridge chat: deferred",
					"Description": "Deferred until 2026-11-23T10:00:00Z", "Status": "Completed", "Type": "Other"}},
		},
		{
			name:   "another object; empty templates left out, null kept",
			m:      filtered,
			change: contactpad.RecordChange{Audit: deferred},
			want: &AuditRecord{Object: "Case_Event__c", ExternalIDField: "Event_Id__c", ExternalID: "aud-1",
				Fields: map[string]any{"Event_Id__c": "aud-1", "Case__c": "500A", "Due__c": "2026-11-23T10:00:00Z", "Kind__c": nil}},
		},
		{
			name:   "when on the writeback",
			m:      filtered,
			change: contactpad.RecordChange{Audit: deferred, Writeback: &contactpad.Writeback{Owner: "alice"}},
		},
		{
			name:    "an entry without ID cannot be upserted",
			m:       sample(t, casePath),
			change:  contactpad.RecordChange{Audit: &contactpad.AuditEntry{Action: "created"}},
			wantErr: "audit Case 500A: the audit entry has no ID to upsert by",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tt.m.Audit(tt.change, "500A")
			if tt.wantErr != "" {
				require.EqualError(t, err, tt.wantErr)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tt.want, got)
		})
	}
}

func TestPreview(t *testing.T) {
	now := time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)
	m := sample(t, casePath)
	record := Record{"Id": "500A", "Origin": "Email", "Subject": "Refund", "Priority": "Low", "Status": "New",
		"OwnerId": "00GQUEUE0000001AAA"}
	p, err := m.Preview(record, now, nil, nil)
	require.NoError(t, err)
	require.Equal(t, m.Query(time.Time{}), p.Query)
	require.Equal(t, contactpad.WorkItem{CRMID: "500A", CRMObject: "Case", Media: contactpad.NonLive, Service: "support",
		Subject: "Refund", Priority: 1, Category: "general", CRM: &contactpad.RecordState{Fields: m.Observe(record)}}, p.Item)
	require.Equal(t, "adopted as queued: nothing is written", p.FirstSight)

	var names []string
	updates := map[string]map[string]any{}
	for _, c := range p.Changes {
		names = append(names, c.Name)
		updates[c.Name] = c.Update
		if c.Change.Audit != nil {
			require.Equal(t, c.Change.Audit.ID, c.Audit.Fields["Ctibridge_Audit_Id__c"], c.Name)
		}
	}
	require.Equal(t, []string{"first sight", "offered to an agent", "accepted by the agent", "deferred by the agent for a day",
		"reopened at the due date", "released into wrap-up", "completed after wrap-up", "resumed from History"}, names)
	require.Nil(t, updates["first sight"], "adopted: nothing written")
	require.Equal(t, map[string]any{"Ctibridge_Status__c": "offered"}, updates["offered to an agent"],
		"no owner on offer; Status stays New")
	require.Equal(t, map[string]any{"Status": "Working", "OwnerId": PreviewCRMUserID, "Ctibridge_Status__c": "connected"},
		updates["accepted by the agent"])
	require.Equal(t, map[string]any{"Status": "On Hold", "Ctibridge_Due_By__c": "2026-11-23T10:00:00.000Z",
		"Ctibridge_Due_By_Set_Manually__c": true, "Ctibridge_Status__c": "deferred", "IsStopped": true},
		updates["deferred by the agent for a day"], "only what changed; the SLA paused")
	require.Equal(t, map[string]any{"Status": "Working", "Ctibridge_Due_By__c": nil, "Ctibridge_Auto_Opened__c": true,
		"Ctibridge_Status__c": "connected", "IsStopped": false}, updates["reopened at the due date"], "the due date cleared")
	require.Equal(t, map[string]any{"Ctibridge_Status__c": "wrap_up"}, updates["released into wrap-up"])
	require.Equal(t, map[string]any{"Status": "Closed", "Ctibridge_Status__c": "completed"}, updates["completed after wrap-up"])
	require.Equal(t, map[string]any{"Status": "Working", "Ctibridge_Auto_Opened__c": false,
		"Ctibridge_Resumed_From__c": "completed", "Ctibridge_Status__c": "connected"}, updates["resumed from History"])

	reset := parse(t, "mappings:", "- object: Case", "  media: non-live", "  service: support",
		"  sync: {first_sight: reset}", "  writeback: {status: {field: Status, values: {queued: New, connected: Working}}, owner: OwnerId}")
	p, err = reset.Preview(Record{"Id": "500A", "Status": "Escalated", "OwnerId": "005B"}, now,
		[]contactpad.Agent{{ID: "bob", CRMUserID: "005B"}}, nil)
	require.NoError(t, err)
	require.Equal(t, map[string]any{"Status": "New"}, p.Changes[0].Update, "reset writes its state over the record's")

	p, err = m.Preview(Record{"Id": "500A", "Origin": "Email", "Status": "Working", "OwnerId": "005B"}, now,
		[]contactpad.Agent{{ID: "bob", CRMUserID: "005B"}}, nil)
	require.NoError(t, err)
	require.Equal(t, "adopted as connected, owned by bob: nothing is written", p.FirstSight)

	_, err = m.Preview(Record{"Id": "500A", "Origin": "Fax"}, now, nil, nil)
	require.EqualError(t, err, "Case 500A: no media rule matches (mappings[0].media at ../testdata/mappings/case.yaml:10)")
}

// TestPreviewFollowsTheRecord: the preview's story starts where first
// sight leaves the interaction, and leaves out what the capability matrix
// forbids its media type, as run does, saying why.
func TestPreviewFollowsTheRecord(t *testing.T) {
	now := time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)
	m := sample(t, casePath)
	bob := []contactpad.Agent{{ID: "bob", CRMUserID: "005B"}}
	names := func(p *Preview) []string {
		var out []string
		for _, c := range p.Changes {
			out = append(out, c.Name)
		}
		return out
	}
	for _, tc := range []struct {
		name    string
		record  Record
		story   []string
		skipped []string
		first   string
	}{
		{name: "a live call is never deferred nor resumed", record: Record{"Id": "500A", "Origin": "Phone", "Status": "New"},
			story: []string{"first sight", "offered to an agent", "accepted by the agent", "released into wrap-up", "completed after wrap-up"},
			skipped: []string{"deferred by the agent for a day: live interactions are not deferred",
				"reopened at the due date: never deferred", "resumed from History: live interactions are not resumed"}},
		{name: "a live call on hold is adopted open", record: Record{"Id": "500A", "Origin": "Phone", "Status": "On Hold", "OwnerId": "005B"},
			first: "adopted as connected, owned by bob: nothing is written",
			story: []string{"first sight", "released into wrap-up", "completed after wrap-up"}},
		{name: "a closed Case is only resumed", record: Record{"Id": "500A", "Origin": "Email", "Status": "Closed", "OwnerId": "005B"},
			first: "adopted as completed, owned by bob: nothing is written",
			story: []string{"first sight", "resumed from History"},
			skipped: []string{"offered to an agent: adopted as completed, it is not offered", "accepted by the agent: adopted as completed, it is not offered",
				"deferred by the agent for a day: adopted as completed", "reopened at the due date: never deferred",
				"released into wrap-up: adopted as completed", "completed after wrap-up: adopted as completed"}},
		{name: "a Case on hold reopens", record: Record{"Id": "500A", "Origin": "Email", "Status": "On Hold", "OwnerId": "005B"},
			story: []string{"first sight", "reopened at the due date", "released into wrap-up", "completed after wrap-up", "resumed from History"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, err := m.Preview(tc.record, now, bob, contactpad.DefaultMatrix())
			require.NoError(t, err)
			require.Equal(t, tc.story, names(p))
			if tc.skipped != nil {
				require.Equal(t, tc.skipped, p.Skipped)
			}
			if tc.first != "" {
				require.Equal(t, tc.first, p.FirstSight)
			}
			for _, c := range p.Changes {
				if c.Name == "released into wrap-up" && tc.record["Status"] == "New" {
					require.Equal(t, map[string]any{"Ctibridge_Status__c": "wrap_up"}, c.Update, "no flag of a deferral that did not happen")
				}
			}
			for _, c := range p.Changes[1:] {
				if owner := c.Change.Writeback.Owner; owner != "" {
					require.Equal(t, "bob", owner, "%s: the record's owner works it", c.Name)
				}
			}
		})
	}
}
