package sim

import (
	"encoding/json"
	"testing"
)

// FuzzParseSOQL feeds arbitrary text through the whole query path: parse,
// bind against the schema, run against a few records and render them, and
// format any error. None of it may panic. Seeds are in testdata/fuzz.
func FuzzParseSOQL(f *testing.F) {
	for _, seed := range []string{
		"SELECT Id FROM Case",
		"SELECT Id, Contact.Name FROM Case WHERE Status IN ('New','Working') ORDER BY CreatedDate DESC NULLS LAST LIMIT 5 OFFSET 1",
		"SELECT COUNT() FROM Case WHERE CreatedDate = LAST_N_DAYS:7",
		`SELECT Id FROM Case WHERE Subject LIKE '%\%\_x' AND (NOT (IsClosed = true OR Priority != null))`,
		"SELECT Id FROM Task WHERE ActivityDate >= 2026-11-22 AND What.Subject = 'x'",
		"SELECT Id FROM Case WHERE SystemModstamp > 2026-11-22T10:00:00.000+0000",
	} {
		f.Add(seed)
	}
	fx := newSOQLFixture(f)
	schema := fx.org.schema
	f.Fuzz(func(t *testing.T, src string) {
		q, qerr := parseSOQL(src)
		if qerr != nil {
			_ = qerr.message(src)
			return
		}
		b, qerr := bind(q, schema, fx.org.now())
		if qerr != nil {
			_ = qerr.message(src)
			return
		}
		fx.org.mu.Lock()
		defer fx.org.mu.Unlock()
		for _, r := range b.run(fx.org.tableFor(b.obj).rowsInOrder(), true, fx.org.liveRecord) {
			if _, err := json.Marshal(b.render(r, "62.0", fx.org.liveRecord)); err != nil {
				t.Fatalf("render %q: %v", src, err)
			}
		}
	})
}
