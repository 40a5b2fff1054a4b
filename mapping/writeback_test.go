package mapping

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/ctibridge/ctibridge/contactpad"
)

func TestUpdate(t *testing.T) {
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
		name   string
		m      *Mapping
		change contactpad.RecordChange
		want   map[string]any
	}{
		{
			name:   "no writeback in the change",
			m:      caseMapping,
			change: contactpad.RecordChange{Audit: &contactpad.AuditEntry{ID: "a1"}},
		},
		{
			name:   "no writeback section",
			m:      noWriteback,
			change: contactpad.RecordChange{Writeback: &contactpad.Writeback{Status: contactpad.Connected}},
		},
		{
			name: "connected: status by value map, owner, cleared due date, flags",
			m:    caseMapping,
			change: contactpad.RecordChange{Writeback: &contactpad.Writeback{Status: contactpad.Connected, Owner: "alice",
				OwnerCRMUserID: "005A", Service: "support"}},
			want: map[string]any{"Status": "Working", "OwnerId": "005A", "Ctibridge_Due_By__c": nil,
				"Ctibridge_Due_By_Set_Manually__c": false, "Ctibridge_Auto_Opened__c": false,
				"Ctibridge_Resumed_From__c": nil, "Ctibridge_Status__c": "connected"},
		},
		{
			name: "deferred: due date in UTC with milliseconds, set manually",
			m:    caseMapping,
			change: contactpad.RecordChange{Writeback: &contactpad.Writeback{Status: contactpad.Deferred, Owner: "alice",
				OwnerCRMUserID: "005A", DueBy: &due, DueBySetManually: true}},
			want: map[string]any{"Status": "On Hold", "OwnerId": "005A", "Ctibridge_Due_By__c": "2026-11-23T09:00:00.000Z",
				"Ctibridge_Due_By_Set_Manually__c": true, "Ctibridge_Auto_Opened__c": false,
				"Ctibridge_Resumed_From__c": nil, "Ctibridge_Status__c": "deferred"},
		},
		{
			name: "reopened at the due date while queued: no owner to write",
			m:    caseMapping,
			change: contactpad.RecordChange{Writeback: &contactpad.Writeback{Status: contactpad.Queued, DueBy: &due,
				AutoOpenedDueToDueDate: true}},
			want: map[string]any{"Status": "New", "Ctibridge_Due_By__c": "2026-11-23T09:00:00.000Z",
				"Ctibridge_Due_By_Set_Manually__c": false, "Ctibridge_Auto_Opened__c": true,
				"Ctibridge_Resumed_From__c": nil, "Ctibridge_Status__c": "queued"},
		},
		{
			name: "abandoned: a status the value map leaves out is not written",
			m:    caseMapping,
			change: contactpad.RecordChange{Writeback: &contactpad.Writeback{Status: contactpad.Abandoned, Owner: "bob",
				OwnerCRMUserID: "005B", ResumedFrom: contactpad.ResumedFromCompleted}},
			want: map[string]any{"OwnerId": "005B", "Ctibridge_Due_By__c": nil,
				"Ctibridge_Due_By_Set_Manually__c": false, "Ctibridge_Auto_Opened__c": false,
				"Ctibridge_Resumed_From__c": "completed", "Ctibridge_Status__c": "abandoned"},
		},
		{
			name: "chat: the status as is",
			m:    chatMapping,
			change: contactpad.RecordChange{Writeback: &contactpad.Writeback{Status: contactpad.WrapUp, Owner: "bob",
				OwnerCRMUserID: "005B", ResumedFrom: contactpad.ResumedFromDeferred}},
			want: map[string]any{"Ctibridge_Status__c": "wrap_up", "OwnerId": "005B", "Ctibridge_Due_By__c": nil,
				"Ctibridge_Due_By_Set_Manually__c": false, "Ctibridge_Auto_Opened__c": false,
				"Ctibridge_Resumed_From__c": "deferred"},
		},
		{
			name: "constants, templates over the writeback and the audit entry, service",
			m:    custom,
			change: contactpad.RecordChange{
				Writeback: &contactpad.Writeback{Status: contactpad.Deferred, DueBy: &due, Service: "billing"},
				Audit:     &contactpad.AuditEntry{ID: "a1", Action: "deferred", Data: map[string]string{"rule": " by rule"}},
			},
			want: map[string]any{"Status": "On Hold", "Ctibridge_Service__c": "billing", "Synced__c": true,
				"Attempts__c": 3, "Ratio__c": 0.5, "Cleared__c": nil, "Note__c": "due 2026-11-23",
				"Last_Action__c": "deferred by rule", "Record__c": "Case/500A"},
		},
		{
			name:   "a template that prints nothing clears its field",
			m:      custom,
			change: contactpad.RecordChange{Writeback: &contactpad.Writeback{Status: contactpad.Connected}},
			want: map[string]any{"Ctibridge_Service__c": nil, "Synced__c": true, "Attempts__c": 3, "Ratio__c": 0.5,
				"Cleared__c": nil, "Note__c": nil, "Last_Action__c": nil, "Record__c": "Case/500A"},
		},
		{
			name: "nothing to write",
			m: parse(t, "mappings:", "- object: Case", "  media: live", "  service: s", "  writeback:",
				"    status: {field: Status, values: {deferred: On Hold}}"),
			change: contactpad.RecordChange{Writeback: &contactpad.Writeback{Status: contactpad.Connected}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tt.m.Update(tt.change, "500A")
			require.NoError(t, err)
			require.Equal(t, tt.want, got)
		})
	}
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
	p, err := m.Preview(Record{"Id": "500A", "Origin": "Email", "Subject": "Refund", "Priority": "Low"}, now)
	require.NoError(t, err)
	require.Equal(t, m.Query(time.Time{}), p.Query)
	require.Equal(t, contactpad.WorkItem{CRMID: "500A", CRMObject: "Case", Media: contactpad.NonLive, Service: "support",
		Subject: "Refund", Priority: 1, Category: "general"}, p.Item)

	var names []string
	for _, c := range p.Changes {
		names = append(names, c.Name)
		require.NotNil(t, c.Update, c.Name)
		require.NotNil(t, c.Audit, c.Name)
		require.Equal(t, c.Change.Audit.ID, c.Audit.Fields["Ctibridge_Audit_Id__c"], c.Name)
	}
	require.Equal(t, []string{"accepted by an agent", "deferred by the agent for a day", "reopened at the due date",
		"completed after wrap-up", "resumed from History"}, names)
	require.Equal(t, map[string]any{"Status": "On Hold", "OwnerId": "005000000000001AAA",
		"Ctibridge_Due_By__c": "2026-11-23T10:00:00.000Z", "Ctibridge_Due_By_Set_Manually__c": true,
		"Ctibridge_Auto_Opened__c": false, "Ctibridge_Resumed_From__c": nil, "Ctibridge_Status__c": "deferred"},
		p.Changes[1].Update)
	require.Equal(t, true, p.Changes[2].Update["Ctibridge_Auto_Opened__c"])
	require.Equal(t, "Closed", p.Changes[3].Update["Status"])
	require.Equal(t, "completed", p.Changes[4].Update["Ctibridge_Resumed_From__c"])

	_, err = m.Preview(Record{"Id": "500A", "Origin": "Fax"}, now)
	require.EqualError(t, err, "Case 500A: no media rule matches (mappings[0].media at ../testdata/mappings/case.yaml:10)")
}
