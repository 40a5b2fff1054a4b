package mapping

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// describedOrg is what describe reports for the objects of the samples,
// with the custom fields docs/mapping.md asks for.
func describedOrg() map[string][]string {
	ctibridge := []string{"Ctibridge_Status__c", "Ctibridge_Due_By__c", "Ctibridge_Due_By_Set_Manually__c",
		"Ctibridge_Auto_Opened__c", "Ctibridge_Resumed_From__c", "Ctibridge_Tags__c"}
	return map[string][]string{
		"Case": append([]string{"Id", "CaseNumber", "Subject", "Description", "Status", "Priority", "Origin", "Type",
			"Reason", "OwnerId", "ContactId", "IsClosed", "IsStopped", "SystemModstamp"}, ctibridge...),
		"LiveChatTranscript": append([]string{"Id", "Name", "Status", "Body", "CaseId", "ContactId", "OwnerId",
			"ChatKey", "SystemModstamp"}, ctibridge...),
		"Task": {"Id", "Subject", "Description", "Status", "Priority", "Type", "WhatId", "WhoId", "OwnerId",
			"ActivityDate", "Ctibridge_Audit_Id__c"},
		"Contact": {"Id", "FirstName", "LastName", "Name", "Email", "Phone"},
	}
}

// without returns described less one field of one object.
func without(described map[string][]string, object, field string) map[string][]string {
	out := map[string][]string{}
	for o, fields := range described {
		for _, f := range fields {
			if o != object || f != field {
				out[o] = append(out[o], f)
			}
		}
	}
	return out
}

func TestCheckFields(t *testing.T) {
	org := describedOrg()
	lower := map[string][]string{}
	for o, fields := range org {
		for _, f := range fields {
			lower[o] = append(lower[o], strings.ToLower(f))
		}
	}
	noTask := map[string][]string{"Case": org["Case"], "Contact": org["Contact"]}
	tests := []struct {
		name      string
		path      string
		described map[string][]string
		want      string
	}{
		{name: "case sample", path: casePath, described: org},
		{name: "chat sample", path: chatPath, described: org},
		{name: "names match case-insensitively", path: casePath, described: lower},
		{
			name:      "a field the mapping reads",
			path:      casePath,
			described: without(org, "Case", "Origin"),
			want: "../testdata/mappings/case.yaml:11: mappings[0].media[0].when: unknown field Origin on Case\n" +
				"../testdata/mappings/case.yaml:13: mappings[0].media[1].when: unknown field Origin on Case\n" +
				"../testdata/mappings/case.yaml:15: mappings[0].media[2].when: unknown field Origin on Case",
		},
		{
			name:      "a field the writeback writes",
			path:      casePath,
			described: without(org, "Case", "Ctibridge_Due_By_Set_Manually__c"),
			want: "../testdata/mappings/case.yaml:60: mappings[0].writeback.due_by_was_set_manually: " +
				"unknown field Ctibridge_Due_By_Set_Manually__c on Case",
		},
		{
			name:      "the audit record's external id",
			path:      chatPath,
			described: without(org, "Task", "Ctibridge_Audit_Id__c"),
			want: "../testdata/mappings/livechattranscript.yaml:38: mappings[0].audit.external_id: " +
				"unknown field Ctibridge_Audit_Id__c on Task",
		},
		{
			name:      "a relationship without its lookup field",
			path:      chatPath,
			described: without(org, "LiveChatTranscript", "ContactId"),
			want: "../testdata/mappings/livechattranscript.yaml:11: mappings[0].fields.subject.template: " +
				"unknown relationship Contact on LiveChatTranscript (it has no field ContactId)",
		},
		{
			name:      "a field of the related object",
			path:      casePath,
			described: without(org, "Contact", "Name"),
			want: "../testdata/mappings/case.yaml:25: mappings[0].fields.subject.template: " +
				"unknown field Name on Contact (in Contact.Name)",
		},
		{
			name:      "objects that are not described",
			path:      casePath,
			described: map[string][]string{"Account": {"Id"}},
			want: "../testdata/mappings/case.yaml:5: mappings[0].object: object Case is not in describe " +
				"(no such object, or the integration user cannot see it)\n" +
				"../testdata/mappings/case.yaml:88: mappings[0].audit.object: object Task is not in describe " +
				"(no such object, or the integration user cannot see it)",
		},
		{
			name:      "the audit object only",
			path:      casePath,
			described: noTask,
			want: "../testdata/mappings/case.yaml:88: mappings[0].audit.object: object Task is not in describe " +
				"(no such object, or the integration user cannot see it)",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := sample(t, tt.path).CheckFields(tt.described)
			if tt.want == "" {
				require.NoError(t, err)
				return
			}
			require.EqualError(t, err, tt.want)
		})
	}
}

func TestCheckFieldsCustomRelationships(t *testing.T) {
	m := parse(t,
		"mappings:",
		"- object: Case",
		"  media: [{when: 'Account__r.Tier__c == \"Gold\" && Owner.Name != nil', media: live}]",
		"  service: s",
		"  fields:",
		"    subject: Account__r.Parent.Name",
	)
	described := map[string][]string{"Case": {"Id", "Account__c", "OwnerId"}}
	require.NoError(t, m.CheckFields(described))
	require.EqualError(t, m.CheckFields(map[string][]string{"Case": {"Id", "OwnerId"}}),
		"mappings.yaml:3: mappings[0].media[0].when: unknown relationship Account__r on Case (it has no field Account__c)\n"+
			"mappings.yaml:6: mappings[0].fields.subject: unknown relationship Account__r on Case (it has no field Account__c)")
}
