package mapping

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/ctibridge/ctibridge/config"
)

func TestParseErrors(t *testing.T) {
	tests := []struct {
		name  string
		lines []string
		want  string
	}{
		{
			name:  "unknown key",
			lines: []string{"mappings:", "  - object: Case", "    media: live", "    service: support", "    medai: live"},
			want:  "mappings.yaml:5: mappings[0].medai: unknown key",
		},
		{
			name: "unknown keys deeper down",
			lines: []string{"mappings:", "  - object: Case", "    media:", "      - {when: 'true', media: live, prio: 1}",
				"    service: support", "    fields:", "      subjet: Subject", "    writeback:", "      ownr: OwnerId"},
			want: "mappings.yaml:4: mappings[0].media[0].prio: unknown key\n" +
				"mappings.yaml:7: mappings[0].fields.subjet: unknown key\n" +
				"mappings.yaml:9: mappings[0].writeback.ownr: unknown key",
		},
		{
			name: "omni external routing without its queue and channel, or with a bad name",
			lines: []string{"mappings:", "  - object: Case", "    media: live", "    service: s", "    omni:",
				"      external_routing: true", "      service_channel: 'Cases channel'", "      qeue: Support"},
			want: "mappings.yaml:6: mappings[0].omni.queue: required with external_routing: true\n" +
				"mappings.yaml:7: mappings[0].omni.service_channel: \"Cases channel\" is neither a record id nor a DeveloperName\n" +
				"mappings.yaml:8: mappings[0].omni.qeue: unknown key",
		},
		{
			name:  "missing object, media and service",
			lines: []string{"mappings:", "  - filter: IsClosed = false"},
			want: "mappings.yaml:2: mappings[0].object: required\n" +
				"mappings.yaml:2: mappings[0].media: required\n" +
				"mappings.yaml:2: mappings[0].service: required",
		},
		{
			name:  "bad condition",
			lines: []string{"mappings:", "  - object: Case", "    media:", "      - when: Origin == = \"Phone\"", "        media: live", "    service: s"},
			want:  `mappings.yaml:4: mappings[0].media[0].when: invalid expression: unexpected token Operator("=") (column 11)`,
		},
		{
			name: "bad condition on the second line of a block",
			lines: []string{"mappings:", "  - object: Case", "    media: live", "    service: s",
				"    reopen_on_customer_reply: |", "      Status == \"New\" &&", "      New_Email__c ==", ""},
			want: `mappings.yaml:7: mappings[0].reopen_on_customer_reply: invalid expression: unexpected token EOF (column 16)`,
		},
		{
			name:  "empty condition",
			lines: []string{"mappings:", "  - object: Case", "    media: [{when: ' ', media: live}]", "    service: s"},
			want:  "mappings.yaml:3: mappings[0].media[0].when: empty expression",
		},
		{
			name: "bad record template",
			lines: []string{"mappings:", "  - object: Case", "    media: live", "    service: s", "    fields:",
				"      subject: {template: '{{.Subject'}"},
			want: "mappings.yaml:6: mappings[0].fields.subject.template: invalid template: unclosed action",
		},
		{
			name: "bad template on the third line of a block",
			lines: []string{"mappings:", "  - object: Case", "    media: live", "    service: s", "    audit:",
				"      object: Task", "      external_id: Ext__c", "      fields:", "        Description: |",
				"          {{.Message}}", "          at {{.At}}", "          by {{.Actor | nosuch}}"},
			want: `mappings.yaml:12: mappings[0].audit.fields.Description: invalid template: function "nosuch" not defined`,
		},
		{
			name: "template naming unknown data",
			lines: []string{"mappings:", "  - object: Case", "    media: live", "    service: s", "    writeback:",
				"      fields:", "        Ctibridge_Status__c: '{{.Writeback.Stauts}}'"},
			want: "mappings.yaml:7: mappings[0].writeback.fields.Ctibridge_Status__c: invalid template: " +
				"<.Writeback.Stauts>: can't evaluate field Stauts (column 13)",
		},
		{
			name: "template reading data that may be missing",
			lines: []string{"mappings:", "  - object: Case", "    media: live", "    service: s", "    audit:",
				"      object: Task", "      external_id: Ext__c", "      fields:", "        Description: '{{.Data.due_by}}'"},
			want: `mappings.yaml:9: mappings[0].audit.fields.Description: invalid template: <.Data.due_by>: ` +
				`map has no entry for key "due_by" (a key that may be missing: use {{index .Data "key"}}) (column 8)`,
		},
		{
			name: "template that fails when a value is missing",
			lines: []string{"mappings:", "  - object: Case", "    media: live", "    service: s", "    writeback:",
				"      fields:", "        Due__c: '{{.Writeback.DueBy.Unix}}'"},
			want: "mappings.yaml:7: mappings[0].writeback.fields.Due__c: invalid template: " +
				"<.Writeback.DueBy.Unix>: error calling Unix: value method time.Time.Unix called using nil *Time pointer (column 13)",
		},
		{
			name: "define and range over a number",
			lines: []string{"mappings:", "  - object: Case", "    media: live", "    service: s", "    writeback:",
				"      fields:", `        A__c: '{{define "x"}}{{end}}'`, "        B__c: '{{range 1000000000}}{{end}}'"},
			want: "mappings.yaml:7: mappings[0].writeback.fields.A__c: invalid template: define and block are not allowed in a field template\n" +
				"mappings.yaml:8: mappings[0].writeback.fields.B__c: invalid template: range over a number is not allowed",
		},
		{
			name: "unknown media type and status",
			lines: []string{"mappings:", "  - object: Case", "    media: [{when: 'true', media: voice}]", "    service: s",
				"    writeback:", "      status:", "        field: Status", "        values: {connected: Working, pending: On Hold}"},
			want: `mappings.yaml:3: mappings[0].media[0].media: unknown media type "voice" (want live, semi-live or non-live)` + "\n" +
				`mappings.yaml:8: mappings[0].writeback.status.values.pending: unknown status "pending" ` +
				`(want queued, offered, connected, wrap_up, completed, abandoned or deferred)`,
		},
		{
			name: "unreachable rule and missing rule value",
			lines: []string{"mappings:", "  - object: Case", "    media: live", "    service:", "      - service: support",
				"      - when: Type == \"Billing\"", "        service: billing", "      - when: 'true'"},
			want: "mappings.yaml:6: mappings[0].service[1]: unreachable: the rule at line 5 has no when and matches every record\n" +
				"mappings.yaml:8: mappings[0].service[2].service: required\n" +
				"mappings.yaml:8: mappings[0].service[2]: unreachable: the rule at line 5 has no when and matches every record",
		},
		{
			name:  "no rules",
			lines: []string{"mappings:", "  - object: Case", "    media: []", "    service: {id: s}"},
			want: "mappings.yaml:3: mappings[0].media: want at least one rule\n" +
				"mappings.yaml:4: mappings[0].service: want a service or a list of rules, got a mapping",
		},
		{
			name: "field map entries",
			lines: []string{"mappings:", "  - object: Case", "    media: live", "    service: s", "    fields:",
				"      subject: {field: Subject, template: '{{.Subject}}'}",
				"      category: {values: {a: b}}",
				"      priority: {field: Priority, values: {High: high}, default: 1.5, required: yes}",
				"      tags: {field: 'Tags__c;', split: ''}"},
			want: "mappings.yaml:6: mappings[0].fields.subject: set field or template, not both\n" +
				"mappings.yaml:7: mappings[0].fields.category: set field, template or default\n" +
				"mappings.yaml:8: mappings[0].fields.priority.values.High: want a whole number, got a string\n" +
				"mappings.yaml:8: mappings[0].fields.priority.default: want a whole number, got a number\n" +
				"mappings.yaml:8: mappings[0].fields.priority.required: want true or false, got a string\n" +
				`mappings.yaml:9: mappings[0].fields.tags.field: "Tags__c;" is not a field name` + "\n" +
				"mappings.yaml:9: mappings[0].fields.tags.split: empty separator",
		},
		{
			name:  "a constant where a field name belongs",
			lines: []string{"mappings:", "  - object: Case", "    media: live", "    service: s", "    fields: {priority: 3}"},
			want:  "mappings.yaml:5: mappings[0].fields.priority: want a field name, got a number (for a constant, write {default: 3})",
		},
		{
			name: "fields in conditions and templates that are no field names",
			lines: []string{"mappings:", "  - object: Case", "    media: [{when: '_x == 1', media: live}]", "    service: s",
				"    fields:", "      subject: {template: '{{._y}}'}"},
			want: `mappings.yaml:3: mappings[0].media[0].when: "_x" is not a field name` + "\n" +
				`mappings.yaml:6: mappings[0].fields.subject.template: "_y" is not a field name`,
		},
		{
			name: "object names",
			lines: []string{"mappings:", "  - object: Case", "    media: live", "    service: s",
				"  - object: case", "    media: live", "    service: s", "  - object: 'Case Comment'", "    media: live", "    service: s"},
			want: "mappings.yaml:5: mappings[1].object: duplicate object case (first at line 2)\n" +
				`mappings.yaml:8: mappings[2].object: "Case Comment" is not an object name`,
		},
		{
			name: "filter",
			lines: []string{"mappings:", "  - object: Case", "    filter: WHERE IsClosed = false", "    media: live", "    service: s",
				"  - object: Task", "    filter: ' '", "    media: live", "    service: s"},
			want: "mappings.yaml:3: mappings[0].filter: write the condition without WHERE\n" +
				"mappings.yaml:7: mappings[1].filter: empty filter (leave the key out to select every record)",
		},
		{
			name: "a field written twice",
			lines: []string{"mappings:", "  - object: Case", "    media: live", "    service: s", "    writeback:",
				"      status: Ctibridge_Status__c", "      owner: OwnerId", "      fields:", "        ctibridge_status__c: x",
				"        Due__c: [a]", "        'Bad Name': x"},
			want: "mappings.yaml:9: mappings[0].writeback.fields.ctibridge_status__c: ctibridge_status__c is written already " +
				"by mappings[0].writeback.status (line 6)\n" +
				"mappings.yaml:10: mappings[0].writeback.fields.Due__c: want a template, a boolean, a number or null, got a list\n" +
				`mappings.yaml:11: mappings[0].writeback.fields["Bad Name"]: "Bad Name" is not a field name`,
		},
		{
			name: "sync policy",
			lines: []string{"mappings:", "  - object: Case", "    media: live", "    service: s",
				"    sync:", "      first_sight: keep", "      closed: delete", "      owner_changed: follow",
				"      conflicts: {default: us, Status: bridge, Foo__c: crm}", "      merge: true",
				"    writeback:", "      status: Status", "      pause_sla: IsStopped"},
			want: `mappings.yaml:6: mappings[0].sync.first_sight: "keep": want adopt or reset` + "\n" +
				`mappings.yaml:7: mappings[0].sync.closed: "delete": want complete or abandon` + "\n" +
				`mappings.yaml:8: mappings[0].sync.owner_changed: "follow": want reassign or ignore` + "\n" +
				`mappings.yaml:9: mappings[0].sync.conflicts.default: "us": want crm or bridge` + "\n" +
				"mappings.yaml:9: mappings[0].sync.conflicts.Foo__c: Foo__c is not a field the writeback writes\n" +
				"mappings.yaml:10: mappings[0].sync.merge: unknown key",
		},
		{
			name: "status needs a field",
			lines: []string{"mappings:", "  - object: Case", "    media: live", "    service: s", "    writeback:",
				"      status: {values: {deferred: On Hold}}"},
			want: "mappings.yaml:6: mappings[0].writeback.status.field: required",
		},
		{
			name: "audit",
			lines: []string{"mappings:", "  - object: Case", "    media: live", "    service: s", "    audit:",
				"      when: Actoin == \"deferred\"", "      fields:", "        Ext__c: '{{.ID}}'", "  - object: Task",
				"    media: live", "    service: s", "    audit:", "      object: Task", "      external_id: Ext__c",
				"      fields: {ext__c: x}"},
			want: "mappings.yaml:5: mappings[0].audit.object: required\n" +
				"mappings.yaml:5: mappings[0].audit.external_id: required\n" +
				"mappings.yaml:6: mappings[0].audit.when: invalid expression: unknown name Actoin (column 1)\n" +
				"mappings.yaml:15: mappings[1].audit.fields.ext__c: ext__c is written already by mappings[1].audit.external_id (line 14)",
		},
		{
			name:  "duplicate key",
			lines: []string{"mappings:", "  - object: Case", "    media: live", "    service: s", "    media: live"},
			want:  "mappings.yaml:5: mappings[0].media: duplicate key (first at line 3)",
		},
		{
			name:  "wrong shapes",
			lines: []string{"mappings:", "  - object: [Case]", "    media: live", "    service: s", "  - just a string"},
			want: "mappings.yaml:2: mappings[0].object: want a string, got a list\n" +
				"mappings.yaml:5: mappings[1]: want a mapping, got a string",
		},
		{
			name:  "mappings is not a list",
			lines: []string{"mappings: {object: Case}"},
			want:  "mappings.yaml:1: mappings: want a list, got a mapping",
		},
		{
			name:  "no mappings key",
			lines: []string{"mapings: []"},
			want:  "mappings.yaml:1: mappings: required",
		},
		{
			name:  "not YAML",
			lines: []string{"mappings:", "  - object: Case", "   media: live"},
			want:  "mappings.yaml:2: invalid YAML: did not find expected '-' indicator",
		},
		{
			name: "several errors at once, by line",
			lines: []string{
				"mappings:",
				"  - object: Case",
				"    media:",
				"      - when: Origin === \"Phone\"",
				"        media: live",
				"      - media: fax",
				"    service: support",
				"    fields:",
				"      priority: {field: Priority, values: {High: 3}, default: high}",
				"    writeback:",
				"      status: {field: Status, values: {open: New}}",
				"    audit:",
				"      object: Task",
				"      external_id: Ctibridge_Audit_Id__c",
				"      fields:",
				"        Subject: '{{.Acton}}'",
				"  - media: live",
				"    service: support",
			},
			want: "mappings.yaml:4: mappings[0].media[0].when: invalid expression: unexpected token Operator(\"=\") (column 10)\n" +
				"mappings.yaml:6: mappings[0].media[1].media: unknown media type \"fax\" (want live, semi-live or non-live)\n" +
				"mappings.yaml:9: mappings[0].fields.priority.default: want a whole number, got a string\n" +
				"mappings.yaml:11: mappings[0].writeback.status.values.open: unknown status \"open\" " +
				"(want queued, offered, connected, wrap_up, completed, abandoned or deferred)\n" +
				"mappings.yaml:16: mappings[0].audit.fields.Subject: invalid template: <.Acton>: can't evaluate field Acton (column 3)\n" +
				"mappings.yaml:17: mappings[1].object: required",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			require.Equal(t, tt.want, parseErr(t, tt.lines...))
		})
	}
}

func TestParseAnchorsAndMerges(t *testing.T) {
	ms, err := parseDocument("mappings.yaml", doc(
		"x-writeback: &writeback",
		"  owner: OwnerId",
		"  due_by: Ctibridge_Due_By__c",
		"mappings:",
		"  - object: Case",
		"    media: &media [{when: 'Origin == \"Phone\"', media: live}, {media: non-live}]",
		"    service: support",
		"    writeback: *writeback",
		"  - object: LiveChatTranscript",
		"    media: *media",
		"    service: support",
		"    writeback:",
		"      <<: *writeback",
		"      due_by: Chat_Due__c",
	))
	require.NoError(t, err)
	require.Len(t, ms, 2)
	require.Equal(t, "OwnerId", ms[1].writeback.owner)
	require.Equal(t, "Chat_Due__c", ms[1].writeback.dueBy)
	require.Equal(t, "Ctibridge_Due_By__c", ms[0].writeback.dueBy)
	item, err := ms[1].Item(Record{"Id": "570A", "Origin": "Phone"})
	require.NoError(t, err)
	require.Equal(t, "live", string(item.Media))
}

// TestAliasLines checks the rule of docs/mapping.md for the line of a
// problem in a value reached through an alias or a merge key: the line of
// the alias, where the value is used, the same in a standalone mappings
// file and in a config file, whose mappings go through package config
// first.
func TestAliasLines(t *testing.T) {
	data := doc(
		"services: [{id: support}]", // 1
		"mappings:",                 // 2
		"  - object: Case",          // 3
		"    media: &media",         // 4
		"      - {when: 'Origin == \"Phone\"', media: live}", // 5
		"      - {media: non-live}",                          // 6
		"    service: support",                               // 7
		"    writeback: &writeback",                          // 8
		"      owner: OwnerId",                               // 9
		"      due_by: Due By",                               // 10
		"  - object: LiveChatTranscript",                     // 11
		"    media: *media",                                  // 12
		"    service: support",                               // 13
		"    writeback:",                                     // 14
		"      <<: *writeback",                               // 15
		"      status: Status",                               // 16
		"  - &task",                                          // 17
		"    object: Task",                                   // 18
		"    media: fax",                                     // 19
		"    service: support",                               // 20
		"  - *task",                                          // 21
	)
	want := `ctibridge.yaml:10: mappings[0].writeback.due_by: "Due By" is not a field name` + "\n" +
		`ctibridge.yaml:15: mappings[1].writeback.due_by: "Due By" is not a field name` + "\n" +
		`ctibridge.yaml:19: mappings[2].media: unknown media type "fax" (want live, semi-live or non-live)` + "\n" +
		`ctibridge.yaml:21: mappings[3].media: unknown media type "fax" (want live, semi-live or non-live)` + "\n" +
		"ctibridge.yaml:21: mappings[3].object: duplicate object Task (first at line 18)"

	_, err := parseDocument("ctibridge.yaml", data)
	require.EqualError(t, err, want, "standalone")

	cfg, err := config.Parse("ctibridge.yaml", data)
	require.NoError(t, err)
	_, err = Parse(cfg.File, cfg.Mappings)
	require.EqualError(t, err, want, "through package config")

	// The lines a mapping keeps for later checks follow the rule too: the
	// chat mapping's media rules read Origin, which chats lack, at line 8.
	ms, err := parseDocument("mappings.yaml", doc(
		"mappings:",
		"  - object: Case",
		"    media: &media",
		"      - {when: 'Origin == \"Phone\"', media: live}",
		"      - {media: non-live}",
		"    service: support",
		"  - object: LiveChatTranscript",
		"    media: *media",
		"    service: support",
	))
	require.NoError(t, err)
	require.NoError(t, ms[0].CheckFields(describedOrg()))
	require.EqualError(t, ms[1].CheckFields(describedOrg()),
		"mappings.yaml:8: mappings[1].media[0].when: unknown field Origin on LiveChatTranscript")
}

func TestParseFile(t *testing.T) {
	dir := t.TempDir()
	empty := filepath.Join(dir, "empty.yaml")
	require.NoError(t, os.WriteFile(empty, []byte("mappings:\n"), 0o600))
	ms, err := ParseFile(empty)
	require.NoError(t, err)
	require.Empty(t, ms)

	_, err = ParseFile(filepath.Join(dir, "nope.yaml"))
	require.ErrorIs(t, err, os.ErrNotExist)
	require.ErrorContains(t, err, "load mappings: open ")

	// A whole config file is a mappings file too.
	ms, err = ParseFile(configPath)
	require.NoError(t, err)
	require.Len(t, ms, 2)

	two := filepath.Join(dir, "two.yaml")
	require.NoError(t, os.WriteFile(two, []byte("mappings: []\n---\nmappings: []\n"), 0o600))
	_, err = ParseFile(two)
	require.EqualError(t, err, two+":2: want one YAML document, found another")
}

func TestParseOmni(t *testing.T) {
	tests := []struct {
		name  string
		lines []string
		want  *OmniRouting
	}{
		{name: "off by default", lines: nil},
		{name: "off", lines: []string{"    omni: {external_routing: false, queue: Support_Omni}"}},
		{name: "on", lines: []string{"    omni:", "      external_routing: true", "      queue: Support_Omni",
			"      service_channel: 0N9Sd0000000001KAA"},
			want: &OmniRouting{Queue: "Support_Omni", ServiceChannel: "0N9Sd0000000001KAA"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			text := strings.Join(append([]string{"mappings:", "  - object: Case", "    media: live", "    service: s"},
				tt.lines...), "\n")
			path := filepath.Join(t.TempDir(), "m.yaml")
			require.NoError(t, os.WriteFile(path, []byte(text), 0o600))
			ms, err := ParseFile(path)
			require.NoError(t, err)
			if tt.want != nil {
				tt.want.At = path + ":6: mappings[0].omni"
			}
			require.Equal(t, tt.want, ms[0].Omni)
		})
	}
}
