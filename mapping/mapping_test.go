package mapping

import (
	"encoding/json"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"gopkg.in/yaml.v3"

	"github.com/ctibridge/ctibridge/contactpad"
	"github.com/ctibridge/ctibridge/internal/yamlpos"
)

const (
	casePath   = "../testdata/mappings/case.yaml"
	chatPath   = "../testdata/mappings/livechattranscript.yaml"
	configPath = "../testdata/config/ctibridge.yaml"
)

// doc joins lines into a YAML file, so that tests can count lines.
func doc(lines ...string) []byte { return []byte(strings.Join(lines, "\n") + "\n") }

// parse parses a mappings file given as lines and returns its one mapping.
func parse(t *testing.T, lines ...string) *Mapping {
	t.Helper()
	ms, err := parseDocument("mappings.yaml", doc(lines...))
	require.NoError(t, err)
	require.Len(t, ms, 1)
	return ms[0]
}

// parseErr parses a mappings file given as lines and returns the error text.
func parseErr(t *testing.T, lines ...string) string {
	t.Helper()
	ms, err := parseDocument("mappings.yaml", doc(lines...))
	require.Error(t, err)
	require.Nil(t, ms)
	return err.Error()
}

// sample returns the one mapping of a sample file.
func sample(t *testing.T, path string) *Mapping {
	t.Helper()
	ms, err := ParseFile(path)
	require.NoError(t, err)
	require.Len(t, ms, 1)
	return ms[0]
}

func TestParseSamples(t *testing.T) {
	c := sample(t, casePath)
	require.Equal(t, "Case", c.Object)
	require.Equal(t, "IsClosed = false AND Origin != null", c.Filter)
	require.Equal(t, []string{"billing", "support"}, c.Services())

	chat := sample(t, chatPath)
	require.Equal(t, "LiveChatTranscript", chat.Object)
	require.Equal(t, []string{"support"}, chat.Services())
}

// TestConfigMappingsMatchSamples keeps the mappings section of the shared
// config identical in effect to the sample files.
func TestConfigMappingsMatchSamples(t *testing.T) {
	data, err := os.ReadFile(configPath)
	require.NoError(t, err)
	var file struct {
		Mappings []yamlpos.Node `yaml:"mappings"`
	}
	require.NoError(t, yaml.Unmarshal(data, &file))
	fromConfig, err := Parse(configPath, file.Mappings)
	require.NoError(t, err)
	require.Len(t, fromConfig, 2)

	now := time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)
	record := Record{"Id": "500Sd0000000001IAA", "Origin": "Email", "Type": "Billing", "Subject": "Charged twice",
		"Priority": "High", "Status": "New", "Ctibridge_Status__c": "deferred", "Ctibridge_Tags__c": "vip",
		"Contact": map[string]any{"Name": "Maya Lindqvist"}}
	for i, path := range []string{casePath, chatPath} {
		want, err := sample(t, path).Preview(record, now, nil, nil)
		require.NoError(t, err)
		got, err := fromConfig[i].Preview(record, now, nil, nil)
		require.NoError(t, err)
		require.Equal(t, want, got, path)
	}
}

func TestParseFromConfigNodes(t *testing.T) {
	data := doc(
		"listen: 127.0.0.1:8080",
		"mappings:",
		"  - object: Case",
		"    media: non-live",
		"    service: support",
		"  - object: LiveChatTranscript",
		"    media: semi-live",
		"    service: [oops]",
	)
	var file struct {
		Mappings []yamlpos.Node `yaml:"mappings"`
	}
	require.NoError(t, yaml.Unmarshal(data, &file))
	_, err := Parse("ctibridge.yaml", file.Mappings)
	require.EqualError(t, err, "ctibridge.yaml:8: mappings[1].service[0]: want a mapping, got a string")

	var list Errors
	require.ErrorAs(t, err, &list)
	var first *Error
	require.ErrorAs(t, err, &first)
	require.Equal(t, &Error{File: "ctibridge.yaml", Line: 8, Path: "mappings[1].service[0]", Msg: "want a mapping, got a string"}, first)

	ms, err := Parse("ctibridge.yaml", nil)
	require.NoError(t, err)
	require.Empty(t, ms)
}

func TestQuery(t *testing.T) {
	since := time.Date(2026, 11, 22, 11, 0, 0, 0, time.FixedZone("CET", 3600))
	// The fields the writeback writes are read too, to see what people
	// change in them.
	const caseWrites = "Ctibridge_Auto_Opened__c, Ctibridge_Due_By__c, Ctibridge_Due_By_Set_Manually__c, " +
		"Ctibridge_Resumed_From__c, Ctibridge_Status__c"
	tests := []struct {
		name  string
		m     *Mapping
		since time.Time
		want  string
	}{
		{
			name:  "case sample, since",
			m:     sample(t, casePath),
			since: since,
			want: "SELECT Id, SystemModstamp, LastModifiedById, LastModifiedBy.Name, Contact.Name, " + caseWrites +
				", Ctibridge_Tags__c, IsStopped, Origin, OwnerId, Priority, Status, Subject, Type FROM Case WHERE (IsClosed = false AND Origin != null) " +
				"AND SystemModstamp > 2026-11-22T10:00:00.000Z ORDER BY SystemModstamp, Id",
		},
		{
			name: "case sample, from the start",
			m:    sample(t, casePath),
			want: "SELECT Id, SystemModstamp, LastModifiedById, LastModifiedBy.Name, Contact.Name, " + caseWrites +
				", Ctibridge_Tags__c, IsStopped, Origin, OwnerId, Priority, Status, Subject, Type FROM Case WHERE (IsClosed = false AND Origin != null) ORDER BY SystemModstamp, Id",
		},
		{
			name:  "chat sample",
			m:     sample(t, chatPath),
			since: since.Add(1500 * time.Millisecond),
			want: "SELECT Id, SystemModstamp, LastModifiedById, LastModifiedBy.Name, Contact.Name, " + caseWrites +
				", Ctibridge_Tags__c, OwnerId FROM LiveChatTranscript " +
				"WHERE (Status IN ('Waiting', 'InProgress')) AND SystemModstamp > 2026-11-22T10:00:01.500Z " +
				"ORDER BY SystemModstamp, Id",
		},
		{
			name:  "no filter",
			m:     parse(t, "mappings:", "- {object: Case, media: live, service: s}"),
			since: since,
			want:  "SELECT Id, SystemModstamp, LastModifiedById, LastModifiedBy.Name FROM Case WHERE SystemModstamp > 2026-11-22T10:00:00.000Z ORDER BY SystemModstamp, Id",
		},
		{
			name: "no filter, from the start",
			m:    parse(t, "mappings:", "- {object: Case, media: live, service: s}"),
			want: "SELECT Id, SystemModstamp, LastModifiedById, LastModifiedBy.Name FROM Case ORDER BY SystemModstamp, Id",
		},
		{
			name: "every field once, relationships by their fields, in name order",
			m: parse(t,
				"mappings:",
				"- object: Case",
				"  media:",
				"    - {when: 'contact != nil && Contact.Account.Name == \"x\" && Contact?.Email != nil', media: live}",
				"    - {when: 'let o = origin; o == \"Web\" || Id == \"1\"', media: non-live}",
				"  service: [{when: 'Origin == \"x\" && $env[\"Type\"] == \"y\"', service: s}]",
				"  fields:",
				"    subject: {template: '{{.Subject}} {{with .Owner}}{{.Name}}{{end}} {{range .Tags}}{{.X}}{{end}}{{(.Contact).Phone}}'}",
				"    category: Type",
			),
			want: "SELECT Id, SystemModstamp, LastModifiedById, LastModifiedBy.Name, Contact.Account.Name, Contact.Email, Contact.Phone, origin, Owner.Name, Subject, Tags, Type " +
				"FROM Case ORDER BY SystemModstamp, Id",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			require.Equal(t, tt.want, tt.m.Query(tt.since))
		})
	}
}

func TestItem(t *testing.T) {
	caseMapping := sample(t, casePath)
	chatMapping := sample(t, chatPath)
	tests := []struct {
		name    string
		m       *Mapping
		record  Record
		want    contactpad.WorkItem
		wantErr string
	}{
		{
			name: "case by email: media, service, field map, relationship field, tags, value maps",
			m:    caseMapping,
			record: Record{"attributes": map[string]any{"type": "Case"}, "Id": "500A", "Origin": "Email",
				"Type": "Billing", "Subject": "Charged twice", "Priority": "High",
				"Contact":           map[string]any{"attributes": map[string]any{"type": "Contact"}, "Name": "Maya"},
				"Ctibridge_Tags__c": " vip; ;refund ", "Status": "Working", "Ctibridge_Status__c": "connected"},
			want: contactpad.WorkItem{CRMID: "500A", CRMObject: "Case", Media: contactpad.NonLive, Service: "billing",
				Subject: "Charged twice (Maya)", Priority: 3, Tags: []string{"vip", "refund"}, Category: "billing"},
		},
		{
			name:   "case by phone: live, default service, defaults for empty and unmapped values",
			m:      caseMapping,
			record: Record{"Id": "500B", "Origin": "Phone", "Type": "Other", "Subject": nil, "Priority": "Urgent", "Contact": nil},
			want: contactpad.WorkItem{CRMID: "500B", CRMObject: "Case", Media: contactpad.Live, Service: "support",
				Subject: "(no subject)", Priority: 2, Category: "general"},
		},
		{
			name:   "case by chat: semi-live; missing fields count as null",
			m:      caseMapping,
			record: Record{"Id": "500C", "Origin": "Chat", "Subject": "Hello"},
			want: contactpad.WorkItem{CRMID: "500C", CRMObject: "Case", Media: contactpad.SemiLive, Service: "support",
				Subject: "Hello", Priority: 2, Category: "general"},
		},
		{
			name:   "customer reply on a deferred case",
			m:      caseMapping,
			record: Record{"Id": "500D", "Origin": "Web", "Subject": "Re: refund", "Status": "New", "Ctibridge_Status__c": "deferred"},
			want: contactpad.WorkItem{CRMID: "500D", CRMObject: "Case", Media: contactpad.NonLive, Service: "support",
				Subject: "Re: refund", Priority: 2, Category: "general", CustomerReply: true},
		},
		{
			name:   "field names match case-insensitively",
			m:      caseMapping,
			record: Record{"id": "500E", "ORIGIN": "Web", "subject": "x", "PRIORITY": "Low", "contact": map[string]any{"name": "Ada"}},
			want: contactpad.WorkItem{CRMID: "500E", CRMObject: "Case", Media: contactpad.NonLive, Service: "support",
				Subject: "x (Ada)", Priority: 1, Category: "general"},
		},
		{
			name:    "no media rule matches",
			m:       caseMapping,
			record:  Record{"Id": "500F", "Origin": "Fax"},
			wantErr: "Case 500F: no media rule matches (mappings[0].media at ../testdata/mappings/case.yaml:10)",
		},
		{
			name:    "record without an Id",
			m:       caseMapping,
			record:  Record{"Origin": "Web"},
			wantErr: "Case record without an Id",
		},
		{
			name:   "chat: constant media and service, template fallback, tag default",
			m:      chatMapping,
			record: Record{"Id": "570A", "Contact": nil},
			want: contactpad.WorkItem{CRMID: "570A", CRMObject: "LiveChatTranscript", Media: contactpad.SemiLive,
				Service: "support", Subject: "Chat with a visitor", Priority: 2, Category: "chat", Tags: []string{"chat"}},
		},
		{
			name:   "chat with a contact and tags",
			m:      chatMapping,
			record: Record{"Id": "570B", "Contact": map[string]any{"Name": "Jonas"}, "Ctibridge_Tags__c": "returning"},
			want: contactpad.WorkItem{CRMID: "570B", CRMObject: "LiveChatTranscript", Media: contactpad.SemiLive,
				Service: "support", Subject: "Chat with Jonas", Priority: 2, Category: "chat", Tags: []string{"returning"}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before, err := json.Marshal(tt.record)
			require.NoError(t, err)
			got, err := tt.m.Item(tt.record)
			after, _ := json.Marshal(tt.record)
			require.JSONEq(t, string(before), string(after), "Item must not modify the record")
			if tt.wantErr != "" {
				require.EqualError(t, err, tt.wantErr)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tt.m.state(tt.record), got.CRM, "what the record shows of the mirrored fields")
			got.CRM = nil
			require.Equal(t, tt.want, got)
		})
	}
}

func TestItemFieldMap(t *testing.T) {
	tests := []struct {
		name    string
		fields  []string
		record  Record
		want    contactpad.WorkItem
		wantErr string
	}{
		{
			name:   "field by name, numbers from JSON",
			fields: []string{"    subject: Subject", "    priority: Score__c"},
			record: Record{"Id": "1", "Subject": "s", "Score__c": 7.0},
			want:   contactpad.WorkItem{Subject: "s", Priority: 7},
		},
		{
			name:   "json.Number as priority and as text",
			fields: []string{"    priority: Score__c", "    category: Cat__c"},
			record: Record{"Id": "1", "Score__c": json.Number("12"), "Cat__c": json.Number("2.50")},
			want:   contactpad.WorkItem{Priority: 12, Category: "2.5"},
		},
		{
			name:   "customer: a phone, else a name, from a template",
			fields: []string{"    customer: {template: '{{or .SuppliedPhone .SuppliedName}}'}"},
			record: Record{"Id": "1", "SuppliedPhone": nil, "SuppliedName": "Ada Byron"},
			want:   contactpad.WorkItem{Customer: "Ada Byron"},
		},
		{
			name:   "customer: neither phone nor name is empty, not <no value>",
			fields: []string{"    customer: {template: '{{or .SuppliedPhone .SuppliedName}}'}"},
			record: Record{"Id": "1", "SuppliedPhone": nil},
			want:   contactpad.WorkItem{Customer: ""},
		},
		{
			name:   "customer from a related record",
			fields: []string{"    customer: Contact.Name"},
			record: Record{"Id": "1", "Contact": map[string]any{"Name": "Maya"}},
			want:   contactpad.WorkItem{Customer: "Maya"},
		},
		{
			name:   "value map on a number",
			fields: []string{"    priority: {field: Score__c, values: {'1': 10, '2.5': 20}}"},
			record: Record{"Id": "1", "Score__c": 2.5},
			want:   contactpad.WorkItem{Priority: 20},
		},
		{
			name:   "unmapped value without default passes through",
			fields: []string{"    category: {field: Type, values: {Billing: billing}}"},
			record: Record{"Id": "1", "Type": "Other"},
			want:   contactpad.WorkItem{Category: "Other"},
		},
		{
			name:   "tags with another separator and a value map per tag",
			fields: []string{"    tags: {field: Labels__c, split: ',', values: {VIP: vip, Drop: ''}}"},
			record: Record{"Id": "1", "Labels__c": "VIP, waiting-customer,Drop"},
			want:   contactpad.WorkItem{Tags: []string{"vip", "waiting-customer"}},
		},
		{
			name:   "tags from a template, default as one string",
			fields: []string{"    tags: {template: '{{.Type}};{{.Reason}}', default: none}"},
			record: Record{"Id": "1"},
			want:   contactpad.WorkItem{Tags: []string{"none"}},
		},
		{
			name:   "a template on a relationship of a relationship",
			fields: []string{"    subject: {template: '{{.Contact.Account.Name}}/{{$.Contact.Email}}'}"},
			record: Record{"Id": "1", "Contact": map[string]any{"Email": "a@b", "Account": map[string]any{"Name": "Acme"}}},
			want:   contactpad.WorkItem{Subject: "Acme/a@b"},
		},
		{
			name:   "constant priority",
			fields: []string{"    priority: {default: 4}"},
			record: Record{"Id": "1"},
			want:   contactpad.WorkItem{Priority: 4},
		},
		{
			name:    "required value missing",
			fields:  []string{"    subject: {field: Subject, required: true}"},
			record:  Record{"Id": "1", "Subject": ""},
			wantErr: "Case 1: Subject is empty and required (mappings[0].fields.subject at mappings.yaml:6)",
		},
		{
			name:    "required tags missing",
			fields:  []string{"    tags:", "      field: Labels__c", "      required: true"},
			record:  Record{"Id": "1", "Labels__c": " ; "},
			wantErr: "Case 1: Labels__c is empty and required (mappings[0].fields.tags at mappings.yaml:6)",
		},
		{
			name:    "priority that is no number",
			fields:  []string{"    priority: {field: Priority, values: {High: 1}}"},
			record:  Record{"Id": "1", "Priority": "Urgent"},
			wantErr: `Case 1: Priority value "Urgent" is not in values and not a whole number (mappings[0].fields.priority at mappings.yaml:6)`,
		},
		{
			name:    "template that fails at run time",
			fields:  []string{"    subject: {template: '{{slice .Subject 0 3}}'}"},
			record:  Record{"Id": "1", "Subject": "ab"},
			wantErr: `Case 1: template failed: <slice .Subject 0 3>: error calling slice: index out of range: 3 (column 3) (mappings[0].fields.subject at mappings.yaml:6)`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := parse(t, append([]string{"mappings:", "- object: Case", "  media: non-live", "  service: support", "  fields:"}, tt.fields...)...)
			got, err := m.Item(tt.record)
			if tt.wantErr != "" {
				require.EqualError(t, err, tt.wantErr)
				return
			}
			require.NoError(t, err)
			tt.want.CRMID, tt.want.CRMObject, tt.want.Media, tt.want.Service = "1", "Case", contactpad.NonLive, "support"
			require.Equal(t, tt.want, got)
		})
	}
}

func TestItemConditions(t *testing.T) {
	m := parse(t,
		"mappings:",
		"- object: Case",
		"  media:",
		"    - when: Priority in [\"High\", \"Urgent\"] && Contact.Name != nil",
		"      media: live",
		"    - when: Score__c > 5",
		"      media: semi-live",
		"    - when: IsEscalated",
		"      media: non-live",
		"    - when: Origin",
		"      media: non-live",
		"  service:",
		"    - when: Subject contains \"refund\"",
		"      service: billing",
		"    - service: support",
		"  reopen_on_customer_reply: Contact?.Name == \"Ada\" && New_Email__c",
	)
	tests := []struct {
		name    string
		record  Record
		media   contactpad.Media
		service string
		reply   bool
		wantErr string
	}{
		{name: "in and a relationship field", record: Record{"Id": "1", "Priority": "Urgent", "Contact": map[string]any{"Name": "Ada"}, "Subject": "refund please", "New_Email__c": true},
			media: contactpad.Live, service: "billing", reply: true},
		{name: "null relationship is nil, not an error", record: Record{"Id": "1", "Priority": "High", "Contact": nil, "Score__c": 6, "Subject": "x"},
			media: contactpad.SemiLive, service: "support"},
		{name: "numbers and booleans", record: Record{"Id": "1", "Score__c": json.Number("5"), "IsEscalated": true, "Subject": "x"},
			media: contactpad.NonLive, service: "support"},
		{name: "a condition that is not a boolean at run time", record: Record{"Id": "1", "Score__c": 1, "IsEscalated": false, "Origin": "Web"},
			wantErr: "Case 1: condition failed: invalid operation: bool(string) (column 1) (mappings[0].media[3].when at mappings.yaml:10)"},
		{name: "a condition that fails at run time", record: Record{"Id": "1", "Score__c": "high"},
			wantErr: "Case 1: condition failed: invalid operation: string > int (column 10) (mappings[0].media[1].when at mappings.yaml:6)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := m.Item(tt.record)
			if tt.wantErr != "" {
				require.EqualError(t, err, tt.wantErr)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tt.media, got.Media)
			require.Equal(t, tt.service, got.Service)
			require.Equal(t, tt.reply, got.CustomerReply)
		})
	}
}

func TestServices(t *testing.T) {
	m := parse(t,
		"mappings:",
		"- object: Case",
		"  media: live",
		"  service:",
		"    - {when: 'Type == \"a\"', service: billing}",
		"    - {when: 'Type == \"b\"', service: support}",
		"    - {when: 'Type == \"c\"', service: billing}",
		"    - service: vip",
	)
	require.Equal(t, []string{"billing", "support", "vip"}, m.Services())
}

func TestFind(t *testing.T) {
	ms, err := ParseFile(configPath)
	require.NoError(t, err)
	record := Record{"attributes": map[string]any{"type": "LiveChatTranscript", "url": "/x"}, "Id": "570A"}
	require.Equal(t, "LiveChatTranscript", ObjectOf(record))
	require.Same(t, ms[1], Find(ms, ObjectOf(record)))
	require.Same(t, ms[0], Find(ms, "case"))
	require.Nil(t, Find(ms, "Task"))
	require.Equal(t, "", ObjectOf(Record{"Id": "1"}))
	require.Equal(t, "", ObjectOf(Record{"attributes": "x"}))
}

// TestConcurrentUse runs one mapping from many goroutines; run with -race.
func TestConcurrentUse(t *testing.T) {
	m := sample(t, casePath)
	due := time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)
	change := contactpad.RecordChange{
		Writeback: &contactpad.Writeback{Status: contactpad.Deferred, OwnerCRMUserID: "005A", DueBy: &due},
		Audit:     &contactpad.AuditEntry{ID: "a1", Action: "deferred", At: due},
	}
	record := Record{"Id": "500A", "Origin": "Web", "Subject": "s", "Contact": map[string]any{"Name": "Ada"}}
	done := make(chan error)
	for range 8 {
		go func() {
			for range 50 {
				if _, err := m.Item(record); err != nil {
					done <- err
					return
				}
				if _, err := m.Fields("500A", *change.Writeback); err != nil {
					done <- err
					return
				}
				if _, err := m.Audit(change, "500A"); err != nil {
					done <- err
					return
				}
			}
			done <- nil
		}()
	}
	for range 8 {
		require.NoError(t, <-done)
	}
}

// TestItemNamesDifferingInCase reads one relationship under two spellings:
// the record must stay as it was, whether the relationship is set or null.
func TestItemNamesDifferingInCase(t *testing.T) {
	m := parse(t,
		"mappings:",
		"- object: Case",
		"  media: [{when: 'contact.Name == \"Ada\" && CONTACT.Email == nil', media: live}, {media: non-live}]",
		"  service: support",
		"  fields: {subject: {template: '{{.Contact.Name}}{{(.contACT).Phone}}'}}",
	)
	tests := []struct {
		name    string
		record  Record
		media   contactpad.Media
		subject string
	}{
		{name: "set", record: Record{"Id": "1", "Contact": map[string]any{"Name": "Ada"}}, media: contactpad.Live, subject: "Ada"},
		{name: "null", record: Record{"Id": "1", "Contact": nil}, media: contactpad.NonLive},
		{name: "missing", record: Record{"Id": "1"}, media: contactpad.NonLive},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before, err := json.Marshal(tt.record)
			require.NoError(t, err)
			for range 20 { // map order varies between runs
				item, err := m.Item(tt.record)
				require.NoError(t, err)
				require.Equal(t, tt.media, item.Media)
				require.Equal(t, tt.subject, item.Subject)
			}
			after, err := json.Marshal(tt.record)
			require.NoError(t, err)
			require.JSONEq(t, string(before), string(after))
		})
	}
}

func TestSyncPolicy(t *testing.T) {
	m := parse(t, "mappings:", "- object: Case", "  media: live", "  service: s",
		"  sync: {first_sight: reset, closed: abandon, owner_changed: ignore, conflicts: {default: bridge, status: crm}}",
		"  writeback: {status: Status, owner: OwnerId, pause_sla: IsStopped}")
	p := m.Policy()
	require.Equal(t, contactpad.PeerPolicy{FirstSight: contactpad.Reset, Closed: contactpad.CloseAbandons,
		OwnerChanged: contactpad.OwnerIgnored, Conflicts: contactpad.BridgeWins,
		Fields: map[string]contactpad.Winner{"Status": contactpad.CRMWins}}, p, "fields keyed as the writeback names them")
	require.False(t, p.BridgeWins("Status"))
	require.True(t, p.BridgeWins("OwnerId"))
	require.Equal(t, contactpad.PeerPolicy{}, parse(t, "mappings:", "- {object: Case, media: live, service: s}").Policy(),
		"the defaults (adopt, complete, reassign, the CRM wins) are the zero policy")
	sampled := sample(t, casePath).Policy()
	require.True(t, sampled.BridgeWins("Ctibridge_Status__c"), "the sample: ctibridge's own fields are the bridge's")
	require.False(t, sampled.BridgeWins("Status"), "the sample: Salesforce's fields are Salesforce's")
	require.Equal(t, contactpad.BridgeWins, parse(t, "mappings:", "- object: Case", "  media: live", "  service: s",
		"  sync: {conflicts: bridge}").Policy().Conflicts)
}
