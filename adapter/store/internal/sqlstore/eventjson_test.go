package sqlstore

import (
	"bytes"
	"encoding/json"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/ctibridge/ctibridge/adapter"
	"github.com/ctibridge/ctibridge/contactpad"
)

// TestEventJSON holds eventJSON to json.Marshal's bytes, over interactions
// with every field set and not, strings that need escaping, and times in
// other zones, with a monotonic reading, or that encoding/json refuses.
func TestEventJSON(t *testing.T) {
	strs := []string{"", "plain", "Case 00001026", `quote " and \ backslash`, "<b>&amp;</b>",
		"né à Zürich", "line\nbreak\ttab\x01", "\u2028\u2029", "bad \xff utf-8", "emoji 📞"}
	kolkata := time.FixedZone("IST", 5*3600+1800)
	times := []time.Time{
		time.Date(2026, 12, 6, 21, 0, 0, 0, time.UTC),
		time.Date(2026, 12, 6, 21, 0, 0, 123456789, time.UTC),
		time.Date(2026, 1, 2, 3, 4, 5, 600, kolkata),
		time.Now(), // with a monotonic reading, in the local zone
		{},
	}
	refused := []time.Time{time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(2026, 1, 1, 0, 0, 0, 0, time.FixedZone("far", 25*3600))}
	rng := rand.New(rand.NewPCG(17, 1))
	str := func() string { return strs[rng.IntN(len(strs))] }
	tm := func() time.Time { return times[rng.IntN(len(times))] }
	tp := func() *time.Time {
		if rng.IntN(3) == 0 {
			return nil
		}
		t := tm()
		return &t
	}
	for n := range 2000 {
		i := &contactpad.Interaction{
			ID: str(), CRMID: str(), CRMObject: str(), Media: contactpad.Media(str()), Service: str(), Subject: str(),
			Priority: rng.IntN(200) - 100, Status: contactpad.Status(str()), Held: rng.IntN(2) == 0, Owner: str(),
			DueBy: tp(), DueBySetManually: rng.IntN(2) == 0, AutoOpenedDueToDueDate: rng.IntN(2) == 0,
			ResumedFrom: str(), ReopenReason: str(), Category: str(), Customer: str(), ConnectedAt: tp(),
			TransferNote: str(), TargetAgent: str(), SkipAgent: str(), TransferredFrom: str(),
			WrapUpEndsAt: tp(), WrapUpExtended: rng.IntN(3), OfferExpiresAt: tp(), QueuedAt: tp(),
			LastActivityAt: tm(), CreatedAt: tm(), UpdatedAt: tm(), Version: rng.Int64(),
			Sync: contactpad.RecordSync{Dirty: []string{"Status"}}, Omni: &contactpad.OmniRouting{},
		}
		switch rng.IntN(3) {
		case 0:
			i.Tags = nil
		case 1:
			i.Tags = []string{}
		default:
			i.Tags = []string{str(), str()}
		}
		e := &adapter.Event{Seq: int64(n), Type: adapter.EventType(str()), At: tm(), Interaction: i}
		switch rng.IntN(8) {
		case 0:
			e.Flags = map[string]bool{"reopened": true}
		case 1:
			e.Flags = map[string]bool{}
		case 2:
			e.Transfer = &contactpad.Transfer{ID: "tr_1"}
		case 3:
			e.Interaction = nil
			e.Agent = &adapter.AgentPresence{ID: "alice", Presence: contactpad.Available}
		case 4:
			e.At = refused[rng.IntN(len(refused))]
		case 5:
			i.QueuedAt = &refused[rng.IntN(len(refused))]
		}
		want, wantErr := json.Marshal(e)
		got, err := appendEventJSON([]byte("kept"), e)
		if wantErr != nil {
			require.Error(t, err, "event %d", n)
			continue
		}
		require.NoError(t, err, "event %d", n)
		require.Equal(t, "kept"+string(want), string(got), "event %d", n)

		// Read back, it is what json.Unmarshal reads; and an event of one
		// interaction without escapes, parseEventJSON reads alone.
		var back, parsed adapter.Event
		require.NoError(t, json.Unmarshal(want, &back), "event %d", n)
		require.NoError(t, parseEventJSON(want, &parsed), "event %d", n)
		require.Equal(t, back, parsed, "event %d: %s", n, want)
		if e.Interaction != nil && e.Transfer == nil && e.Agent == nil && len(e.Flags) == 0 && !bytes.ContainsRune(want, '\\') {
			p := jsonParser{b: want}
			require.True(t, p.event(new(adapter.Event)), "event %d left to json.Unmarshal: %s", n, want)
		}
	}
}

// FuzzParseEventJSON holds parseEventJSON to json.Unmarshal: the same
// event from the same bytes, and an error exactly when it has one.
func FuzzParseEventJSON(f *testing.F) {
	now := time.Date(2026, 12, 6, 21, 0, 0, 123456789, time.UTC)
	due := now.Add(48 * time.Hour)
	full, err := appendEventJSON(nil, &adapter.Event{Seq: 7, Type: adapter.EventInteractionUpdated, At: now, Interaction: &contactpad.Interaction{
		ID: "int_1", CRMID: "500000000000001AAA", CRMObject: "Case", Media: contactpad.NonLive, Service: "svc", Subject: "Printer",
		Priority: -3, Status: contactpad.Deferred, Held: true, Owner: "alice", DueBy: &due, Tags: []string{"a", "b"},
		WrapUpExtended: 2, LastActivityAt: now, CreatedAt: now, UpdatedAt: now, Version: 3}})
	if err != nil {
		f.Fatal(err)
	}
	f.Add(full)
	for _, seed := range []string{
		`{}`, `null`, `{"id":1,"type":"interaction.updated","at":"2026-12-06T21:00:00Z"}`,
		`{"id":1,"interaction":null}`, `{"id":1,"interaction":{}}`, `{"id":1,"interaction":{"tags":[]}}`,
		`{"id":1,"interaction":{"tags":null,"due_by":null,"priority":0}}`, `{"id":-0}`, `{"id":1.0}`, `{"id":1e2}`,
		`{"id":01}`, `{"id":9223372036854775808}`, `{"interaction":{"priority":9223372036854775807}}`,
		`{"interaction":{"version":"1"}}`, `{"at":null}`, `{"at":"never"}`, `{"interaction":{"created_at":null}}`,
		`{"id":1,"id":2}`, `{"interaction":{"id":"a","id":"b"}}`, `{"ID":1}`, `{"flags":{"reopened":true}}`,
		`{"interaction":{"subject":"a\"b"}}`, `{"interaction":{"subject":"\u003cb\u003e"}}`, `{"interaction":{"held":null}}`,
		`{"interaction":{"skip_agent":"x"}}`, `{"transfer":{"id":"tr_1"}}`, `{"id":1}x`, `{"id":1,}`, `[]`, ``,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var want, got adapter.Event
		wantErr := json.Unmarshal(b, &want)
		err := parseEventJSON(b, &got)
		if wantErr != nil {
			require.Error(t, err, "%q", b)
			return
		}
		require.NoError(t, err, "%q", b)
		require.Equal(t, want, got, "%q", b)
	})
}

// BenchmarkEventJSON compares appendEventJSON with json.Marshal on the
// event of an interaction as the engine emits it.
func BenchmarkEventJSON(b *testing.B) {
	now := time.Date(2026, 12, 6, 21, 0, 0, 123456789, time.UTC)
	due := now.Add(48 * time.Hour)
	e := &adapter.Event{Seq: 0, Type: adapter.EventInteractionUpdated, At: now, Interaction: &contactpad.Interaction{
		ID: "int_0123456789abcdefghjkmnpq", CRMID: "500000000000001AAA", CRMObject: "Case", Media: contactpad.NonLive,
		Service: "svc-agent0001", Subject: "Printer on fire", Status: contactpad.Deferred, Owner: "agent0001",
		DueBy: &due, Tags: []string{}, LastActivityAt: now, CreatedAt: now, UpdatedAt: now, Version: 3}}
	b.Run("encoding/json", func(b *testing.B) {
		for b.Loop() {
			if _, err := json.Marshal(e); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("appendEventJSON", func(b *testing.B) {
		var buf []byte
		for b.Loop() {
			var err error
			if buf, err = appendEventJSON(buf[:0], e); err != nil {
				b.Fatal(err)
			}
		}
	})
	encoded, err := appendEventJSON(nil, e)
	if err != nil {
		b.Fatal(err)
	}
	b.Run("decode/encoding/json", func(b *testing.B) {
		for b.Loop() {
			var e adapter.Event
			if err := json.Unmarshal(encoded, &e); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("decode/parseEventJSON", func(b *testing.B) {
		for b.Loop() {
			var e adapter.Event
			if err := parseEventJSON(encoded, &e); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// TestSyncJSON holds appendSyncJSON to json.Marshal's bytes over random
// sync states: values of every JSON kind, keys that need escaping, empty
// and nil parts, and an accepted time encoding/json refuses.
func TestSyncJSON(t *testing.T) {
	keys := []string{"Status", "OwnerId", "Due_By__c", "<b>", "né", "quo\"te"}
	values := []any{nil, true, false, "", "open", "2026-12-06T21:00:00.000+0000", "<&>", 0.0, 1.5, 1e21, 1e-7, -3.0, 12345678.0}
	at := time.Date(2026, 12, 6, 21, 0, 0, 5, time.FixedZone("CET", 3600))
	far := time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC)
	rng := rand.New(rand.NewPCG(17, 2))
	fields := func() map[string]any {
		switch rng.IntN(4) {
		case 0:
			return nil
		case 1:
			return map[string]any{}
		}
		m := map[string]any{}
		for range rng.IntN(len(keys)) + 1 {
			m[keys[rng.IntN(len(keys))]] = values[rng.IntN(len(values))]
		}
		return m
	}
	for n := range 2000 {
		s := contactpad.RecordSync{Known: fields(), Want: fields(), Unmatched: rng.IntN(2) == 0}
		switch rng.IntN(3) {
		case 0:
			s.Dirty = []string{}
		case 1:
			s.Dirty = []string{keys[rng.IntN(len(keys))], keys[rng.IntN(len(keys))]}
		}
		if rng.IntN(2) == 0 {
			s.Sent = map[string][]any{}
			for f, v := range fields() {
				s.Sent[f] = []any{v, values[rng.IntN(len(values))]}
			}
			if rng.IntN(4) == 0 {
				s.Sent["Status"] = nil
			}
		}
		switch rng.IntN(4) {
		case 0:
			s.AcceptedAt = &at
		case 1:
			s.AcceptedAt = &far
		}
		if rng.IntN(2) == 0 {
			s.Service = []string{"support", "billing", `tier "2"`}[rng.IntN(3)]
		}
		switch rng.IntN(4) {
		case 0:
			s.Modified, s.ReadSent = &at, &at
		case 1:
			s.Modified, s.ReadSent = &far, &at
		case 2:
			s.Modified = &at
		}
		want, wantErr := json.Marshal(s)
		got, err := appendSyncJSON([]byte("kept"), &s)
		if wantErr != nil {
			require.Error(t, err, "sync %d", n)
			continue
		}
		require.NoError(t, err, "sync %d", n)
		require.Equal(t, "kept"+string(want), string(got), "sync %d", n)

		// Read back, it is what json.Unmarshal reads; and without escapes,
		// parseSyncJSON reads it alone.
		var back, parsed contactpad.RecordSync
		require.NoError(t, json.Unmarshal(want, &back), "sync %d", n)
		require.NoError(t, parseSyncJSON(want, &parsed), "sync %d", n)
		require.Equal(t, back, parsed, "sync %d: %s", n, want)
		if !bytes.ContainsRune(want, '\\') {
			p := jsonParser{b: want}
			require.True(t, p.sync(new(contactpad.RecordSync)), "sync %d left to json.Unmarshal: %s", n, want)
		}
	}
}

// FuzzParseSyncJSON holds parseSyncJSON to json.Unmarshal: the same
// RecordSync from the same bytes, and an error exactly when it has one.
func FuzzParseSyncJSON(f *testing.F) {
	for _, seed := range []string{
		`{}`, `null`, ` { } `, `{"known":{"Status":"New","Amount":1.5e3,"Open":true,"Gone":null},"want":{}}`,
		`{"dirty":["OwnerId","Status"],"unmatched":true,"sent":{"Status":["Deferred",null,-0.5],"OwnerId":null}}`,
		`{"accepted_at":"2026-12-06T21:00:00.000000005+01:00"}`, `{"accepted_at":null,"dirty":[],"sent":{"f":[]}}`,
		`{"unmatched":true,"service":"billing"}`, `{"service":"billing","modified":"2026-12-07T23:50:49.123Z"}`, `{"modified":null}`, `{"modified":"2026-12-07T23:50:49Z","read_sent":"2026-12-07T23:50:50.5Z"}`, `{"service":null}`, `{"service":1}`, `{"service":"a","service":"b"}`,
		`{"known":{"a":"x\"y","b":"\u00e9"}}`, `{"Known":{"a":1}}`, `{"known":{"a":1},"known":{"b":2}}`,
		`{"known":{"a":1,"a":2}}`, `{"known":{"a":{"b":1}}}`, `{"known":{"a":[1]}}`, `{"unmatched":null}`,
		`{"known":{"a":01}}`, `{"known":{"a":1.}}`, `{"known":{"a":1e400}}`, `{"known":{"a":-}}`,
		`{"known":{"a":"\xff"}}`, "{\"known\":{\"a\":\"\xff\"}}", "{\"known\":{\"a\":\"\x01\"}}",
		`{"accepted_at":"yesterday"}`, `{"accepted_at":5}`, `{"dirty":[1]}`, `{"other":1}`, `{"known":{}}x`,
		`{"unmatched":truex}`, `{"known":{"a":1},}`, `{,}`, `[]`, `"s"`, ``,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var want, got contactpad.RecordSync
		wantErr := json.Unmarshal(b, &want)
		err := parseSyncJSON(b, &got)
		if wantErr != nil {
			require.Error(t, err, "%q", b)
			return
		}
		require.NoError(t, err, "%q", b)
		require.Equal(t, want, got, "%q", b)
	})
}

// BenchmarkSyncJSON compares appendSyncJSON with json.Marshal on the sync
// state of a Case the bridge has written to.
func BenchmarkSyncJSON(b *testing.B) {
	at := time.Date(2026, 12, 6, 21, 0, 0, 0, time.UTC)
	fields := map[string]any{"Status": "Deferred", "OwnerId": "005000000000001AAA", "Due_By__c": "2026-12-08T17:00:00.000Z",
		"Due_By_Set_Manually__c": false, "Service__c": "svc-agent0001"}
	s := contactpad.RecordSync{Known: fields, Want: fields, Dirty: []string{"OwnerId", "Status"}, AcceptedAt: &at}
	b.Run("encoding/json", func(b *testing.B) {
		for b.Loop() {
			if _, err := json.Marshal(s); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("appendSyncJSON", func(b *testing.B) {
		var buf []byte
		for b.Loop() {
			var err error
			if buf, err = appendSyncJSON(buf[:0], &s); err != nil {
				b.Fatal(err)
			}
		}
	})
	encoded, err := appendSyncJSON(nil, &s)
	if err != nil {
		b.Fatal(err)
	}
	b.Run("decode/encoding/json", func(b *testing.B) {
		for b.Loop() {
			var s contactpad.RecordSync
			if err := json.Unmarshal(encoded, &s); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("decode/parseSyncJSON", func(b *testing.B) {
		for b.Loop() {
			var s contactpad.RecordSync
			if err := parseSyncJSON(encoded, &s); err != nil {
				b.Fatal(err)
			}
		}
	})
}
