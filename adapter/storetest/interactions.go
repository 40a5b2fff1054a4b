package storetest

import (
	"encoding/json"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/ctibridge/ctibridge/adapter"
	"github.com/ctibridge/ctibridge/contactpad"
)

func testInteractionRoundTrip(t *testing.T, s adapter.Store) {
	zoned := fullInteraction("zoned")
	zoned.DueBy = ptrInZone(zoned.DueBy, cet)
	zoned.WrapUpEndsAt = ptrInZone(zoned.WrapUpEndsAt, cet)
	zoned.OfferExpiresAt = ptrInZone(zoned.OfferExpiresAt, cet)
	zoned.QueuedAt = ptrInZone(zoned.QueuedAt, cet)
	zoned.LastActivityAt = inZone(zoned.LastActivityAt, cet)
	zoned.CreatedAt = inZone(zoned.CreatedAt, cet)
	zoned.UpdatedAt = inZone(zoned.UpdatedAt, cet)

	tests := []struct {
		name string
		put  *contactpad.Interaction
		want *contactpad.Interaction
	}{
		{
			name: "every field set",
			put:  fullInteraction("full"),
			want: fullInteraction("full"),
		},
		{
			name: "zero fields stay zero and nil tags come back empty",
			put:  &contactpad.Interaction{ID: "bare"},
			want: &contactpad.Interaction{ID: "bare", Tags: []string{}},
		},
		{
			name: "empty tags",
			put:  &contactpad.Interaction{ID: "empty-tags", Tags: []string{}},
			want: &contactpad.Interaction{ID: "empty-tags", Tags: []string{}},
		},
		{
			name: "times come back in UTC",
			put:  zoned,
			want: fullInteraction("zoned"),
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var inUpdate *contactpad.Interaction
			update(t, s, func(tx adapter.Tx) error {
				if err := tx.PutInteraction(tt.put); err != nil {
					return err
				}
				var err error
				inUpdate, err = tx.Interaction(tt.put.ID)
				return err
			})
			require.Equal(t, tt.want, inUpdate, "read in the same Update")

			got := getInteraction(t, s, tt.put.ID)
			require.Equal(t, tt.want, got, "read in a View")
			view(t, s, func(tx adapter.Tx) error {
				omni, err := tx.Omni(tt.put.ID)
				require.NoError(t, err)
				require.Equal(t, tt.want.Omni, omni, "the Omni-Channel routing alone")
				return nil
			})

			b, err := json.Marshal(got)
			require.NoError(t, err)
			var fields map[string]json.RawMessage
			require.NoError(t, json.Unmarshal(b, &fields))
			require.NotEqual(t, "null", string(fields["tags"]), "tags must encode as a list")
		})
	}
}

func testInteractionCopies(t *testing.T, s adapter.Store) {
	putInteractions(t, s, fullInteraction("i1"))

	got := getInteraction(t, s, "i1")
	got.Tags[0] = "changed"
	got.Status = contactpad.Completed
	*got.DueBy = at(time.Hour)

	require.Equal(t, fullInteraction("i1"), getInteraction(t, s, "i1"))
}

func testNotFound(t *testing.T, s adapter.Store) {
	putInteractions(t, s, &contactpad.Interaction{ID: "no-crm"})

	tests := []struct {
		name string
		get  func(tx adapter.Tx) error
		id   string
	}{
		{
			name: "interaction",
			get:  func(tx adapter.Tx) error { _, err := tx.Interaction("missing-i"); return err },
			id:   "missing-i",
		},
		{
			name: "interaction's Omni-Channel routing",
			get:  func(tx adapter.Tx) error { _, err := tx.Omni("missing-i"); return err },
			id:   "missing-i",
		},
		{
			name: "interaction by CRM record",
			get:  func(tx adapter.Tx) error { _, err := tx.InteractionByCRM("Case", "missing-crm"); return err },
			id:   "missing-crm",
		},
		{
			name: "interaction by empty CRM id",
			get:  func(tx adapter.Tx) error { _, err := tx.InteractionByCRM("", ""); return err },
		},
		{
			name: "agent",
			get:  func(tx adapter.Tx) error { _, err := tx.Agent("missing-a"); return err },
			id:   "missing-a",
		},
		{
			name: "transfer",
			get:  func(tx adapter.Tx) error { _, err := tx.Transfer("missing-t"); return err },
			id:   "missing-t",
		},
		{
			name: "consult",
			get:  func(tx adapter.Tx) error { _, err := tx.Consult("missing-c"); return err },
			id:   "missing-c",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			check := func(err error) {
				require.ErrorIs(t, err, adapter.ErrNotFound)
				require.Contains(t, err.Error(), tt.id)
			}
			check(s.View(t.Context(), tt.get))
			errs, err := s.Update(t.Context(), []func(adapter.Tx) error{tt.get})
			require.NoError(t, err)
			check(errs[0])
		})
	}
}

// testPutInteractionUpdates: a second Put of the same ID updates the row;
// CRMID, CRMObject, Media and CreatedAt are fixed at insert and keep their
// stored values whatever the update says.
func testPutInteractionUpdates(t *testing.T, s adapter.Store) {
	first := fullInteraction("i1")
	putInteractions(t, s, first)

	second := &contactpad.Interaction{
		ID:        "i1",
		CRMID:     "other-record",
		CRMObject: "LiveChatTranscript",
		Media:     contactpad.Live,
		Status:    contactpad.Completed,
		Owner:     "bob",
		Tags:      []string{"closed"},
		CreatedAt: at(time.Minute),
		UpdatedAt: at(time.Hour),
		Version:   8,
	}
	putInteractions(t, s, second)

	want := *second
	want.CRMID, want.CRMObject, want.Media, want.CreatedAt = first.CRMID, first.CRMObject, first.Media, first.CreatedAt
	require.Equal(t, &want, getInteraction(t, s, "i1"))
	view(t, s, func(tx adapter.Tx) error {
		got, err := tx.InteractionByCRM(first.CRMObject, first.CRMID)
		require.NoError(t, err, "the CRM record still maps to i1")
		require.Equal(t, "i1", got.ID)
		_, err = tx.InteractionByCRM("LiveChatTranscript", "other-record")
		require.ErrorIs(t, err, adapter.ErrNotFound)
		all, err := tx.Interactions(adapter.InteractionFilter{})
		require.NoError(t, err)
		require.Equal(t, []string{"i1"}, ids(all))
		return nil
	})
}

// testInteractionSyncs: the CRM writer's narrow read and write of an
// interaction's sync state: read for several interactions at once (one
// the store does not hold left out), written without touching the rest
// of the row (not its Version or UpdatedAt), and back to empty.
func testInteractionSyncs(t *testing.T, s adapter.Store) {
	full, bare := fullInteraction("i1"), &contactpad.Interaction{ID: "i2", Version: 1}
	putInteractions(t, s, full, bare)
	view(t, s, func(tx adapter.Tx) error {
		syncs, err := tx.InteractionSyncs([]string{"i1", "i2", "missing"})
		require.NoError(t, err)
		require.Equal(t, map[string]*contactpad.RecordSync{"i1": &full.Sync, "i2": {}}, syncs)
		none, err := tx.InteractionSyncs(nil)
		require.NoError(t, err)
		require.Empty(t, none)
		return nil
	})

	sent := full.Sync.Clone()
	sent.Sending(sent.Writes())
	require.NotEqual(t, full.Sync, sent)
	bareSync := contactpad.RecordSync{Want: map[string]any{"Status": "Working"}, Dirty: []string{"Status"}}
	update(t, s, func(tx adapter.Tx) error {
		if err := tx.PutInteractionSync("i1", &sent); err != nil {
			return err
		}
		if err := tx.PutInteractionSync("i2", &bareSync); err != nil {
			return err
		}
		return tx.PutInteractionSync("missing", &bareSync)
	})
	want := *full
	want.Sync = sent
	require.Equal(t, &want, getInteraction(t, s, "i1"), "the sync state changed, nothing else")
	wantBare := *bare
	wantBare.Sync, wantBare.Tags = bareSync, []string{}
	require.Equal(t, &wantBare, getInteraction(t, s, "i2"))
	view(t, s, func(tx adapter.Tx) error {
		_, err := tx.Interaction("missing")
		require.ErrorIs(t, err, adapter.ErrNotFound, "no interaction made")
		return nil
	})

	update(t, s, func(tx adapter.Tx) error { return tx.PutInteractionSync("i2", &contactpad.RecordSync{}) })
	wantBare.Sync = contactpad.RecordSync{}
	require.Equal(t, &wantBare, getInteraction(t, s, "i2"), "emptied")
}

func testInteractionByCRM(t *testing.T, s adapter.Store) {
	caseRecord := &contactpad.Interaction{ID: "i-case", CRMObject: "Case", CRMID: "500A", Tags: []string{}}
	chatRecord := &contactpad.Interaction{ID: "i-chat", CRMObject: "LiveChatTranscript", CRMID: "500A", Tags: []string{}}
	// Interactions without a CRM record do not collide with each other.
	local1 := &contactpad.Interaction{ID: "i-local1", CRMObject: "Case", Tags: []string{}}
	local2 := &contactpad.Interaction{ID: "i-local2", CRMObject: "Case", Tags: []string{}}
	putInteractions(t, s, caseRecord, chatRecord, local1, local2)

	lookups := []struct {
		name          string
		object, crmID string
		want          string
		wantNotFound  bool
	}{
		{name: "case", object: "Case", crmID: "500A", want: "i-case"},
		{name: "same id in another object", object: "LiveChatTranscript", crmID: "500A", want: "i-chat"},
		{name: "unknown object", object: "Lead", crmID: "500A", wantNotFound: true},
		{name: "unknown record", object: "Case", crmID: "500B", wantNotFound: true},
		{name: "empty CRM id is never looked up", object: "Case", crmID: "", wantNotFound: true},
	}
	for _, tt := range lookups {
		t.Run(tt.name, func(t *testing.T) {
			view(t, s, func(tx adapter.Tx) error {
				got, err := tx.InteractionByCRM(tt.object, tt.crmID)
				if tt.wantNotFound {
					require.ErrorIs(t, err, adapter.ErrNotFound)
					return nil
				}
				require.NoError(t, err)
				require.Equal(t, tt.want, got.ID)
				return nil
			})
		})
	}

	t.Run("a second interaction for the same record fails", func(t *testing.T) {
		dup := &contactpad.Interaction{ID: "i-dup", CRMObject: "Case", CRMID: "500A"}
		ok := &contactpad.Interaction{ID: "i-ok", CRMObject: "Case", CRMID: "500C"}
		errs, err := s.Update(t.Context(), []func(adapter.Tx) error{
			func(tx adapter.Tx) error { return tx.PutInteraction(dup) },
			func(tx adapter.Tx) error { return tx.PutInteraction(ok) },
		})
		require.NoError(t, err)
		require.Error(t, errs[0])
		require.NoError(t, errs[1])

		view(t, s, func(tx adapter.Tx) error {
			_, err := tx.Interaction("i-dup")
			require.ErrorIs(t, err, adapter.ErrNotFound)
			got, err := tx.InteractionByCRM("Case", "500A")
			require.NoError(t, err)
			require.Equal(t, "i-case", got.ID)
			return nil
		})
	})
}

func testInteractions(t *testing.T, s adapter.Store) {
	mk := func(id, owner string, status contactpad.Status, created time.Time) *contactpad.Interaction {
		return &contactpad.Interaction{ID: id, Owner: owner, Status: status, Tags: []string{}, CreatedAt: created}
	}
	// Put out of order, so insertion order cannot pass for age.
	putInteractions(t, s,
		mk("c", "alice", contactpad.Completed, at(3*time.Minute)),
		mk("a", "alice", contactpad.Connected, at(time.Minute)),
		mk("e", "bob", contactpad.Deferred, at(4*time.Minute)),
		mk("b2", "alice", contactpad.Deferred, at(2*time.Minute)),
		mk("b1", "bob", contactpad.Queued, at(2*time.Minute)),
		mk("d", "", contactpad.Queued, at(0)),
	)

	tests := []struct {
		name   string
		filter adapter.InteractionFilter
		want   []string
	}{
		{name: "everything, oldest first, then by ID", filter: adapter.InteractionFilter{},
			want: []string{"d", "a", "b1", "b2", "c", "e"}},
		{name: "owner", filter: adapter.InteractionFilter{Owner: "alice"},
			want: []string{"a", "b2", "c"}},
		{name: "statuses", filter: adapter.InteractionFilter{Statuses: []contactpad.Status{contactpad.Deferred, contactpad.Queued}},
			want: []string{"d", "b1", "b2", "e"}},
		{name: "empty statuses match everything", filter: adapter.InteractionFilter{Statuses: []contactpad.Status{}},
			want: []string{"d", "a", "b1", "b2", "c", "e"}},
		{name: "owner and statuses", filter: adapter.InteractionFilter{Owner: "alice", Statuses: contactpad.FolderHistory.Statuses()},
			want: []string{"c"}},
		{name: "limit", filter: adapter.InteractionFilter{Limit: 2},
			want: []string{"d", "a"}},
		{name: "owner with limit", filter: adapter.InteractionFilter{Owner: "bob", Limit: 1},
			want: []string{"b1"}},
		{name: "no match", filter: adapter.InteractionFilter{Owner: "zoe"},
			want: []string{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			view(t, s, func(tx adapter.Tx) error {
				got, err := tx.Interactions(tt.filter)
				require.NoError(t, err)
				require.Equal(t, tt.want, ids(got))
				return nil
			})
		})
	}
}

// testInteractionsNewest: with Newest, the most recently updated come
// first, whatever their age, and the limit keeps the newest.
func testInteractionsNewest(t *testing.T, s adapter.Store) {
	mk := func(id, owner string, status contactpad.Status, created, updated time.Time) *contactpad.Interaction {
		return &contactpad.Interaction{ID: id, Owner: owner, Status: status, Tags: []string{}, CreatedAt: created, UpdatedAt: updated}
	}
	// Created in ID order, updated in another; put in a third.
	putInteractions(t, s,
		mk("c", "alice", contactpad.Completed, at(3*time.Minute), at(time.Hour)),
		mk("a", "alice", contactpad.Completed, at(time.Minute), at(3*time.Hour)),
		mk("e", "bob", contactpad.Abandoned, at(5*time.Minute), at(5*time.Hour)),
		mk("b", "alice", contactpad.Connected, at(2*time.Minute), at(4*time.Hour)),
		mk("d2", "alice", contactpad.Abandoned, at(4*time.Minute), at(2*time.Hour)),
		mk("d1", "alice", contactpad.Completed, at(4*time.Minute), at(2*time.Hour)),
		mk("z", "alice", contactpad.Completed, at(0), time.Time{}),
	)

	history := contactpad.FolderHistory.Statuses()
	tests := []struct {
		name   string
		filter adapter.InteractionFilter
		want   []string
	}{
		{name: "everything, newest first, then by ID descending, never updated last",
			filter: adapter.InteractionFilter{Newest: true},
			want:   []string{"e", "b", "a", "d2", "d1", "c", "z"}},
		{name: "owner", filter: adapter.InteractionFilter{Owner: "alice", Newest: true},
			want: []string{"b", "a", "d2", "d1", "c", "z"}},
		{name: "statuses", filter: adapter.InteractionFilter{Statuses: history, Newest: true},
			want: []string{"e", "a", "d2", "d1", "c", "z"}},
		{name: "owner and statuses: the History folder", filter: adapter.InteractionFilter{Owner: "alice", Statuses: history, Newest: true},
			want: []string{"a", "d2", "d1", "c", "z"}},
		{name: "the limit keeps the newest", filter: adapter.InteractionFilter{Owner: "alice", Statuses: history, Limit: 2, Newest: true},
			want: []string{"a", "d2"}},
		{name: "limit across owners", filter: adapter.InteractionFilter{Limit: 3, Newest: true},
			want: []string{"e", "b", "a"}},
		{name: "oldest first is by creation", filter: adapter.InteractionFilter{Owner: "alice", Statuses: history, Limit: 2},
			want: []string{"z", "a"}},
		{name: "no match", filter: adapter.InteractionFilter{Owner: "zoe", Newest: true},
			want: []string{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			view(t, s, func(tx adapter.Tx) error {
				got, err := tx.Interactions(tt.filter)
				require.NoError(t, err)
				require.Equal(t, tt.want, ids(got))
				return nil
			})
		})
	}
}

// testInteractionsPages: a search keeps what matches by subject, CRM id or
// category in any case, taking % and _ literally; Before pages through
// the newest first without gaps or repeats (interactions updated at the
// same time go by ID); CountInteractions counts the whole list of owner,
// statuses and search, whatever the cursor and limit.
func testInteractionsPages(t *testing.T, s adapter.Store) {
	mk := func(id, owner string, status contactpad.Status, subject, crmID, category string, updated time.Time) *contactpad.Interaction {
		return &contactpad.Interaction{ID: id, Owner: owner, Status: status, Subject: subject, CRMID: crmID, CRMObject: "Case",
			Category: category, Tags: []string{}, CreatedAt: at(0), UpdatedAt: updated}
	}
	putInteractions(t, s,
		mk("h1", "alice", contactpad.Completed, "Refund for order 1138", "500A1", "Billing", at(time.Hour)),
		mk("h2", "alice", contactpad.Abandoned, "Router keeps rebooting", "500B2", "Network", at(2*time.Hour)),
		mk("h3", "alice", contactpad.Completed, "Password reset loop", "500C3", "Accounts", at(3*time.Hour)),
		mk("h4b", "alice", contactpad.Completed, "100% refund_ok", "500D4", "billing", at(4*time.Hour)),
		mk("h4a", "alice", contactpad.Completed, "Parcel lost", "500E5", "Delivery", at(4*time.Hour)),
		mk("o1", "alice", contactpad.Connected, "Refund too", "500F6", "Billing", at(5*time.Hour)),
		mk("x1", "bob", contactpad.Completed, "Refund for bob", "500G7", "Billing", at(6*time.Hour)),
	)
	history := contactpad.FolderHistory.Statuses()
	mine := adapter.InteractionFilter{Owner: "alice", Statuses: history, Newest: true}
	with := func(f adapter.InteractionFilter, change func(*adapter.InteractionFilter)) adapter.InteractionFilter {
		change(&f)
		return f
	}
	tests := []struct {
		name   string
		filter adapter.InteractionFilter
		want   []string
		count  int
	}{
		{name: "by subject, any case", filter: with(mine, func(f *adapter.InteractionFilter) { f.Search = "REFUND" }),
			want: []string{"h4b", "h1"}, count: 2},
		{name: "by CRM id", filter: with(mine, func(f *adapter.InteractionFilter) { f.Search = "500c" }),
			want: []string{"h3"}, count: 1},
		{name: "by category", filter: with(mine, func(f *adapter.InteractionFilter) { f.Search = "billing" }),
			want: []string{"h4b", "h1"}, count: 2},
		{name: "% is literal", filter: with(mine, func(f *adapter.InteractionFilter) { f.Search = "0%" }),
			want: []string{"h4b"}, count: 1},
		{name: "_ is literal", filter: with(mine, func(f *adapter.InteractionFilter) { f.Search = "d_o" }),
			want: []string{"h4b"}, count: 1},
		{name: "no match", filter: with(mine, func(f *adapter.InteractionFilter) { f.Search = "nothing" }),
			want: []string{}, count: 0},
		{name: "first page", filter: with(mine, func(f *adapter.InteractionFilter) { f.Limit = 2 }),
			want: []string{"h4b", "h4a"}, count: 5},
		{name: "after a cursor between two updated at the same time", filter: with(mine, func(f *adapter.InteractionFilter) {
			f.Limit, f.Before = 2, &adapter.InteractionCursor{UpdatedAt: at(4 * time.Hour), ID: "h4b"}
		}), want: []string{"h4a", "h3"}, count: 5},
		{name: "last page", filter: with(mine, func(f *adapter.InteractionFilter) {
			f.Limit, f.Before = 2, &adapter.InteractionCursor{UpdatedAt: at(3 * time.Hour), ID: "h3"}
		}), want: []string{"h2", "h1"}, count: 5},
		{name: "past the end", filter: with(mine, func(f *adapter.InteractionFilter) {
			f.Before = &adapter.InteractionCursor{UpdatedAt: at(time.Hour), ID: "h1"}
		}), want: []string{}, count: 5},
		{name: "search and cursor", filter: with(mine, func(f *adapter.InteractionFilter) {
			f.Search, f.Before = "refund", &adapter.InteractionCursor{UpdatedAt: at(4 * time.Hour), ID: "h4b"}
		}), want: []string{"h1"}, count: 2},
		{name: "every owner", filter: adapter.InteractionFilter{Statuses: history, Newest: true, Search: "refund"},
			want: []string{"x1", "h4b", "h1"}, count: 3},
		{name: "every status", filter: adapter.InteractionFilter{Owner: "alice", Newest: true, Search: "refund", Limit: 1},
			want: []string{"o1"}, count: 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			view(t, s, func(tx adapter.Tx) error {
				got, err := tx.Interactions(tt.filter)
				require.NoError(t, err)
				require.Equal(t, tt.want, ids(got))
				n, err := tx.CountInteractions(tt.filter)
				require.NoError(t, err)
				require.Equal(t, tt.count, n)
				return nil
			})
		})
	}
	t.Run("a search lists newest first only", func(t *testing.T) {
		view(t, s, func(tx adapter.Tx) error {
			_, err := tx.Interactions(adapter.InteractionFilter{Search: "refund"})
			require.ErrorContains(t, err, "newest first only")
			return nil
		})
	})
}

func testQueued(t *testing.T, s adapter.Store) {
	reserved := func(i *contactpad.Interaction, agent string) *contactpad.Interaction {
		i.TargetAgent = agent
		return i
	}
	putInteractions(t, s,
		queued("q1", "sales", 0, at(time.Minute)),
		queued("q2", "sales", 5, at(3*time.Minute)),
		queued("q3", "sales", 0, at(0)),
		queued("q4", "support", 0, at(0)),
		queued("q5", "sales", 0, at(time.Minute)),
		queued("q6", "billing", 9, at(0)),
		// Reserved for alice: first for her whatever their service and
		// priority, never offered to anyone else.
		reserved(queued("r1", "support", 0, at(10*time.Minute)), "alice"),
		reserved(queued("r2", "sales", 9, at(5*time.Minute)), "alice"),
		reserved(queued("rb", "sales", 10, at(0)), "bob"),
		// Not queued.
		owned("c1", "alice", contactpad.NonLive, contactpad.Connected),
		owned("o1", "", contactpad.NonLive, contactpad.Offered),
	)

	tests := []struct {
		name     string
		agent    string
		services []string
		limit    int
		want     []string
	}{
		{name: "reserved first, then by priority, queued time and ID", agent: "alice", services: []string{"sales"}, limit: 10,
			want: []string{"r2", "r1", "q2", "q3", "q1", "q5"}},
		{name: "several services interleave", agent: "alice", services: []string{"sales", "support"}, limit: 10,
			want: []string{"r2", "r1", "q2", "q3", "q4", "q1", "q5"}},
		{name: "another agent's reservation", agent: "bob", services: []string{"support"}, limit: 10,
			want: []string{"rb", "q4"}},
		{name: "no services: only reserved work", agent: "alice", limit: 10,
			want: []string{"r2", "r1"}},
		{name: "nothing for this agent", agent: "carol", services: []string{"marketing"}, limit: 10,
			want: []string{}},
		{name: "limit", agent: "carol", services: []string{"sales"}, limit: 2,
			want: []string{"q2", "q3"}},
		{name: "limit inside the reserved work", agent: "alice", services: []string{"sales"}, limit: 1,
			want: []string{"r2"}},
		{name: "no agent sees only unreserved work", agent: "", services: []string{"sales"}, limit: 10,
			want: []string{"q2", "q3", "q1", "q5"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			view(t, s, func(tx adapter.Tx) error {
				got, err := tx.Queued(adapter.QueuedQuery{Agent: tt.agent, Services: tt.services, Limit: tt.limit})
				require.NoError(t, err)
				require.Equal(t, tt.want, ids(got))
				return nil
			})
		})
	}

	t.Run("returns whole interactions", func(t *testing.T) {
		view(t, s, func(tx adapter.Tx) error {
			got, err := tx.Queued(adapter.QueuedQuery{Agent: "alice", Services: []string{"support"}, Limit: 10})
			require.NoError(t, err)
			require.Equal(t, []*contactpad.Interaction{
				reserved(queued("r2", "sales", 9, at(5*time.Minute)), "alice"),
				reserved(queued("r1", "support", 0, at(10*time.Minute)), "alice"),
				queued("q4", "support", 0, at(0)),
			}, got)
			return nil
		})
	})
}

// testQueuedFor: Queued reads only what routing may offer the agent: work
// of the media it has room for, not transferred away by it, and with Skip
// not declined or missed by it; however much other work waits ahead.
func testQueuedFor(t *testing.T, s adapter.Store) {
	with := func(i *contactpad.Interaction, f func(i *contactpad.Interaction)) *contactpad.Interaction {
		f(i)
		return i
	}
	var ahead []*contactpad.Interaction
	for n := range 40 {
		ahead = append(ahead, with(queued(fmt.Sprintf("call%02d", n), "sales", 9, at(time.Duration(n)*time.Second)),
			func(i *contactpad.Interaction) { i.Media = contactpad.Live }))
	}
	putInteractions(t, s, ahead...)
	putInteractions(t, s,
		queued("e1", "sales", 0, at(time.Minute)),
		with(queued("e2", "sales", 0, at(2*time.Minute)), func(i *contactpad.Interaction) { i.TransferredFrom = "alice" }),
		with(queued("e3", "sales", 0, at(3*time.Minute)), func(i *contactpad.Interaction) { i.SkipAgent = "alice" }),
		with(queued("e4", "sales", 0, at(4*time.Minute)), func(i *contactpad.Interaction) { i.TransferredFrom = "bob" }),
		with(queued("c1", "sales", 0, at(5*time.Minute)), func(i *contactpad.Interaction) { i.Media = contactpad.SemiLive }),
		with(queued("r1", "support", 0, at(0)), func(i *contactpad.Interaction) { i.TargetAgent = "alice"; i.SkipAgent = "alice" }),
		with(queued("r2", "support", 0, at(0)), func(i *contactpad.Interaction) { i.TargetAgent = "alice"; i.Media = contactpad.Live }),
	)
	nonLive := []contactpad.Media{contactpad.NonLive}
	tests := []struct {
		name string
		q    adapter.QueuedQuery
		want []string
	}{
		{name: "past work of other media", q: adapter.QueuedQuery{Agent: "alice", Services: []string{"sales"}, Media: nonLive, Limit: 3},
			want: []string{"r1", "e1", "e3"}},
		{name: "skip work the agent declined or missed", q: adapter.QueuedQuery{Agent: "alice", Services: []string{"sales"}, Media: nonLive, Skip: true, Limit: 10},
			want: []string{"e1", "e4"}},
		{name: "another agent", q: adapter.QueuedQuery{Agent: "bob", Services: []string{"sales"}, Media: nonLive, Skip: true, Limit: 10},
			want: []string{"e1", "e2", "e3"}},
		{name: "two media", q: adapter.QueuedQuery{Agent: "bob", Services: []string{"sales"},
			Media: []contactpad.Media{contactpad.NonLive, contactpad.SemiLive}, Limit: 10},
			want: []string{"e1", "e2", "e3", "c1"}},
		{name: "reserved work of the media too", q: adapter.QueuedQuery{Agent: "alice", Media: []contactpad.Media{contactpad.Live}, Limit: 10},
			want: []string{"r2"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			view(t, s, func(tx adapter.Tx) error {
				got, err := tx.Queued(tt.q)
				require.NoError(t, err)
				require.Equal(t, tt.want, ids(got))
				return nil
			})
		})
	}
}

func testQueueStats(t *testing.T, s adapter.Store) {
	t.Run("empty store", func(t *testing.T) {
		view(t, s, func(tx adapter.Tx) error {
			stats, err := tx.QueueStats()
			require.NoError(t, err)
			require.Empty(t, stats)
			return nil
		})
	})

	reservedForBob := queued("s3", "sales", 0, at(-time.Hour))
	reservedForBob.TargetAgent = "bob"
	putInteractions(t, s,
		queued("s1", "sales", 0, at(time.Minute)),
		queued("s2", "sales", 5, at(2*time.Minute)),
		reservedForBob,
		queued("p1", "support", 0, at(3*time.Minute)),
		owned("c1", "alice", contactpad.NonLive, contactpad.Connected),
		owned("d1", "alice", contactpad.NonLive, contactpad.Deferred),
	)

	t.Run("per service", func(t *testing.T) {
		view(t, s, func(tx adapter.Tx) error {
			stats, err := tx.QueueStats()
			require.NoError(t, err)
			require.Equal(t, map[string]adapter.QueueStat{
				"sales":   {Size: 3, OldestQueued: at(-time.Hour)},
				"support": {Size: 1, OldestQueued: at(3 * time.Minute)},
			}, stats)
			return nil
		})
	})
}

// errBoom is what failing fns return.
var errBoom = errors.New("boom")
