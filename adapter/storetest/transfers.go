package storetest

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/ctibridge/ctibridge/adapter"
	"github.com/ctibridge/ctibridge/contactpad"
)

// A transfer's note is its interaction's (stored once, there).
func testTransferRoundTrip(t *testing.T, s adapter.Store) {
	i1 := fullInteraction("i1")
	i1.TransferNote = "customer wants a refund"
	putInteractions(t, s, i1)
	full := &contactpad.Transfer{
		ID:            "t-full",
		InteractionID: "i1",
		Mode:          contactpad.Warm,
		Target:        contactpad.Target{Service: "support"},
		Note:          "customer wants a refund",
		Status:        contactpad.TransferFailed,
		FailedReason:  contactpad.FailedDeclined,
		DeclineReason: "not my area",
		Initiator:     "alice",
		Assignee:      "bob",
		AnswerIn:      contactpad.AnswerInOmni,
		ExpiresAt:     ptr(at(time.Minute)),
		CreatedAt:     t0,
		UpdatedAt:     at(time.Second),
	}
	zoned := *full
	zoned.ID = "t-zoned"
	zoned.ExpiresAt = ptrInZone(full.ExpiresAt, cet)
	zoned.CreatedAt = inZone(full.CreatedAt, cet)
	zoned.UpdatedAt = inZone(full.UpdatedAt, cet)
	wantZoned := *full
	wantZoned.ID = "t-zoned"

	tests := []struct {
		name string
		put  *contactpad.Transfer
		want *contactpad.Transfer
	}{
		{name: "every field set", put: full, want: full},
		{name: "agent target", put: &contactpad.Transfer{ID: "t-agent", Target: contactpad.Target{Agent: "carol"}},
			want: &contactpad.Transfer{ID: "t-agent", Target: contactpad.Target{Agent: "carol"}}},
		{name: "number target", put: &contactpad.Transfer{ID: "t-number", Target: contactpad.Target{Number: "+3312345678"}},
			want: &contactpad.Transfer{ID: "t-number", Target: contactpad.Target{Number: "+3312345678"}}},
		{name: "times come back in UTC", put: &zoned, want: &wantZoned},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			putTransfers(t, s, tt.put)
			view(t, s, func(tx adapter.Tx) error {
				got, err := tx.Transfer(tt.put.ID)
				require.NoError(t, err)
				require.Equal(t, tt.want, got)
				return nil
			})
		})
	}

	t.Run("put replaces", func(t *testing.T) {
		changed := *full
		changed.Status = contactpad.TransferCompleted
		changed.Assignee = "carol"
		changed.ExpiresAt = nil
		putTransfers(t, s, &changed)
		view(t, s, func(tx adapter.Tx) error {
			got, err := tx.Transfer(full.ID)
			require.NoError(t, err)
			require.Equal(t, &changed, got)
			return nil
		})
	})
}

func testOpenTransfers(t *testing.T, s adapter.Store) {
	transfer := func(id, interaction string, status contactpad.TransferStatus, assignee string, created time.Time) *contactpad.Transfer {
		return &contactpad.Transfer{
			ID: id, InteractionID: interaction, Mode: contactpad.Warm, Status: status,
			Initiator: "alice", Assignee: assignee, CreatedAt: created, UpdatedAt: created,
		}
	}
	putTransfers(t, s,
		transfer("t7", "i3", contactpad.TransferInitiated, "bob", at(time.Minute)),
		transfer("t1", "i1", contactpad.TransferInitiated, "bob", at(time.Minute)),
		transfer("t2", "i1", contactpad.TransferAccepted, "carol", at(0)),
		transfer("t3", "i1", contactpad.TransferCompleted, "bob", at(-time.Hour)),
		transfer("t4", "i2", contactpad.TransferInitiated, "", at(2*time.Minute)),
		transfer("t5", "i2", contactpad.TransferFailed, "", at(-time.Hour)),
		transfer("t6", "i2", contactpad.TransferCanceled, "bob", at(-time.Hour)),
	)

	tests := []struct {
		name   string
		filter adapter.TransferFilter
		want   []string
	}{
		{name: "every open transfer, oldest first, then by ID", filter: adapter.TransferFilter{},
			want: []string{"t2", "t1", "t7", "t4"}},
		{name: "of an interaction", filter: adapter.TransferFilter{InteractionID: "i1"},
			want: []string{"t2", "t1"}},
		{name: "delivered to an agent", filter: adapter.TransferFilter{Assignee: "bob"},
			want: []string{"t1", "t7"}},
		{name: "undelivered", filter: adapter.TransferFilter{Undelivered: true},
			want: []string{"t4"}},
		{name: "interaction and undelivered", filter: adapter.TransferFilter{InteractionID: "i2", Undelivered: true},
			want: []string{"t4"}},
		{name: "interaction and assignee", filter: adapter.TransferFilter{InteractionID: "i3", Assignee: "bob"},
			want: []string{"t7"}},
		{name: "no match", filter: adapter.TransferFilter{Assignee: "zoe"},
			want: []string{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			view(t, s, func(tx adapter.Tx) error {
				got, err := tx.OpenTransfers(tt.filter)
				require.NoError(t, err)
				gotIDs := []string{}
				for _, tr := range got {
					gotIDs = append(gotIDs, tr.ID)
				}
				require.Equal(t, tt.want, gotIDs)
				return nil
			})
		})
	}

	t.Run("a transfer that ends is no longer open", func(t *testing.T) {
		done := transfer("t4", "i2", contactpad.TransferCompleted, "bob", at(2*time.Minute))
		putTransfers(t, s, done)
		view(t, s, func(tx adapter.Tx) error {
			got, err := tx.OpenTransfers(adapter.TransferFilter{InteractionID: "i2"})
			require.NoError(t, err)
			require.Empty(t, got)
			return nil
		})
	})

	t.Run("returns whole transfers", func(t *testing.T) {
		view(t, s, func(tx adapter.Tx) error {
			got, err := tx.OpenTransfers(adapter.TransferFilter{InteractionID: "i3"})
			require.NoError(t, err)
			require.Equal(t, []*contactpad.Transfer{
				transfer("t7", "i3", contactpad.TransferInitiated, "bob", at(time.Minute)),
			}, got)
			return nil
		})
	})
}

func testConsultRoundTrip(t *testing.T, s adapter.Store) {
	full := &contactpad.Consult{
		ID:            "c-full",
		InteractionID: "i1",
		Initiator:     "alice",
		Target:        contactpad.Target{Number: "+3312345678"},
		Status:        contactpad.ConsultEnded,
		EndedReason:   "timeout",
		ExpiresAt:     ptr(at(30 * time.Second)),
		CreatedAt:     t0,
		UpdatedAt:     at(time.Minute),
	}
	zoned := *full
	zoned.ID = "c-zoned"
	zoned.ExpiresAt = ptrInZone(full.ExpiresAt, cet)
	zoned.CreatedAt = inZone(full.CreatedAt, cet)
	zoned.UpdatedAt = inZone(full.UpdatedAt, cet)
	wantZoned := *full
	wantZoned.ID = "c-zoned"

	tests := []struct {
		name string
		put  *contactpad.Consult
		want *contactpad.Consult
	}{
		{name: "every field set", put: full, want: full},
		{name: "zero fields", put: &contactpad.Consult{ID: "c-bare"}, want: &contactpad.Consult{ID: "c-bare"}},
		{name: "times come back in UTC", put: &zoned, want: &wantZoned},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			update(t, s, func(tx adapter.Tx) error { return tx.PutConsult(tt.put) })
			view(t, s, func(tx adapter.Tx) error {
				got, err := tx.Consult(tt.put.ID)
				require.NoError(t, err)
				require.Equal(t, tt.want, got)
				return nil
			})
		})
	}
}

// alicesConsult is a consult of alice's with bob about interaction.
func alicesConsult(id, interaction string, status contactpad.ConsultStatus) *contactpad.Consult {
	return &contactpad.Consult{ID: id, InteractionID: interaction, Initiator: "alice",
		Target: contactpad.Target{Agent: "bob"}, Status: status, CreatedAt: t0, UpdatedAt: t0}
}

func testOpenConsults(t *testing.T, s adapter.Store) {
	consult := alicesConsult
	putConsults(t, s,
		consult("c1", "i1", contactpad.ConsultRinging),
		consult("c2", "i1", contactpad.ConsultConnected),
		consult("c3", "i1", contactpad.ConsultEnded),
		consult("c4", "i2", contactpad.ConsultRinging),
	)

	tests := []struct {
		name        string
		interaction string
		want        []*contactpad.Consult
	}{
		{name: "ringing and connected, not ended", interaction: "i1", want: []*contactpad.Consult{
			consult("c1", "i1", contactpad.ConsultRinging),
			consult("c2", "i1", contactpad.ConsultConnected),
		}},
		{name: "another interaction", interaction: "i2", want: []*contactpad.Consult{
			consult("c4", "i2", contactpad.ConsultRinging),
		}},
		{name: "none", interaction: "i3", want: []*contactpad.Consult{}},
		{name: "every interaction's", interaction: "", want: []*contactpad.Consult{
			consult("c1", "i1", contactpad.ConsultRinging),
			consult("c2", "i1", contactpad.ConsultConnected),
			consult("c4", "i2", contactpad.ConsultRinging),
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			view(t, s, func(tx adapter.Tx) error {
				got, err := tx.OpenConsults(tt.interaction)
				require.NoError(t, err)
				// The contract does not order consults.
				require.ElementsMatch(t, tt.want, got)
				return nil
			})
		})
	}
}

// InProgress says what OpenTransfers and OpenConsults would list, without
// the rows.
func testInProgress(t *testing.T, s adapter.Store) {
	transfer := func(id, interaction string, status contactpad.TransferStatus) *contactpad.Transfer {
		return &contactpad.Transfer{ID: id, InteractionID: interaction, Mode: contactpad.Cold, Status: status,
			Initiator: "alice", Assignee: "bob", CreatedAt: t0, UpdatedAt: t0}
	}
	consult := alicesConsult
	putTransfers(t, s,
		transfer("t1", "transferring", contactpad.TransferInitiated),
		transfer("t2", "transferring", contactpad.TransferCompleted),
		transfer("t3", "accepted", contactpad.TransferAccepted),
		transfer("t4", "both", contactpad.TransferInitiated),
		transfer("t5", "over", contactpad.TransferCompleted),
		transfer("t6", "over", contactpad.TransferFailed),
		transfer("t7", "over", contactpad.TransferCanceled),
	)
	putConsults(t, s,
		consult("c1", "consulting", contactpad.ConsultRinging),
		consult("c2", "connected", contactpad.ConsultConnected),
		consult("c3", "both", contactpad.ConsultRinging),
		consult("c4", "over", contactpad.ConsultEnded),
	)

	tests := []struct {
		interaction string
		want        adapter.InProgress
	}{
		{"transferring", adapter.InProgress{Transfer: true}},
		{"accepted", adapter.InProgress{Transfer: true}},
		{"consulting", adapter.InProgress{Consult: true}},
		{"connected", adapter.InProgress{Consult: true}},
		{"both", adapter.InProgress{Transfer: true, Consult: true}},
		{"over", adapter.InProgress{}},
		{"unknown", adapter.InProgress{}},
	}
	for _, tt := range tests {
		t.Run(tt.interaction, func(t *testing.T) {
			view(t, s, func(tx adapter.Tx) error {
				got, err := tx.InProgress(tt.interaction)
				require.NoError(t, err)
				require.Equal(t, tt.want, got)
				transfers, err := tx.OpenTransfers(adapter.TransferFilter{InteractionID: tt.interaction})
				require.NoError(t, err)
				consults, err := tx.OpenConsults(tt.interaction)
				require.NoError(t, err)
				require.Equal(t, adapter.InProgress{Transfer: len(transfers) > 0, Consult: len(consults) > 0}, got,
					"what the lists say")
				return nil
			})
		})
	}

	t.Run("inside an Update, after its own writes", func(t *testing.T) {
		update(t, s, func(tx adapter.Tx) error {
			require.NoError(t, tx.PutTransfer(transfer("t8", "later", contactpad.TransferInitiated)))
			got, err := tx.InProgress("later")
			require.NoError(t, err)
			require.Equal(t, adapter.InProgress{Transfer: true}, got)
			return nil
		})
	})
}
