package mapping

import (
	"encoding/json"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ctibridge/ctibridge/contactpad"
)

// FuzzParse checks that no file makes parsing panic, that a rejected file
// yields only well-formed errors, and that an accepted mapping maps records
// and changes without panicking. Seeds live in testdata/fuzz/FuzzParse; run
// with go test -fuzz=FuzzParse ./mapping/.
func FuzzParse(f *testing.F) {
	f.Add([]byte("mappings:\n  - {object: Case, media: live, service: support}\n"))
	now := time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)
	due := now.Add(time.Hour)
	records := []Record{
		{"Id": "500A", "Origin": "Email", "Subject": "s", "Priority": "High", "Contact": map[string]any{"Name": "Ada"}},
		{"Id": "500B", "Origin": nil, "Contact": nil, "Score__c": json.Number("1.5"), "IsEscalated": true},
		{},
	}
	changes := []contactpad.RecordChange{
		{},
		{Writeback: &contactpad.Writeback{Status: contactpad.Deferred, OwnerCRMUserID: "005A", DueBy: &due}},
		{Audit: &contactpad.AuditEntry{ID: "a1", Action: "resumed", Data: map[string]string{"resumed_from": "completed"}}},
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		// The fuzzer does not report an input that hangs; crashing the
		// worker makes it save the input. No input should come near this.
		watchdog := time.AfterFunc(10*time.Second, func() { panic("slow input " + strconv.Quote(string(data))) })
		defer watchdog.Stop()
		ms, err := parseDocument("fuzz.yaml", data)
		if err != nil {
			if ms != nil {
				t.Fatal("mappings returned with an error")
			}
			list, ok := err.(Errors)
			if !ok || len(list) == 0 {
				t.Fatalf("error is %T, want a non-empty Errors", err)
			}
			for _, e := range list {
				if e.File != "fuzz.yaml" || e.Msg == "" || !strings.HasPrefix(e.Error(), "fuzz.yaml") {
					t.Fatalf("malformed error %#v", e)
				}
			}
			return
		}
		for _, m := range ms {
			if m.Object == "" || len(m.media) == 0 || len(m.services) == 0 {
				t.Fatalf("accepted an incomplete mapping %+v", m)
			}
			if q := m.Query(now); !strings.HasPrefix(q, "SELECT Id, SystemModstamp, LastModifiedById, LastModifiedBy.Name") {
				t.Fatalf("query %q", q)
			}
			_ = m.Services()
			_ = m.CheckFields(describedOrg())
			for _, r := range records {
				_, _ = m.Item(r)
				_, _ = m.Preview(r, now, nil, nil)
				_ = m.Observe(r)
				_ = m.Unmatched(r)
			}
			for _, c := range changes {
				if c.Writeback != nil {
					fields, _ := m.Fields("500A", *c.Writeback)
					_ = m.Read(fields)
				}
				_, _ = m.Audit(c, "500A")
			}
		}
	})
}
