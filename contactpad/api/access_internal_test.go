package api

import (
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/stretchr/testify/require"
)

func TestSubjectField(t *testing.T) {
	for _, tc := range []struct{ route, want string }{
		{"/api/v1/interactions/{id}", "interaction"},
		{"/api/v1/interactions/{id}/wrapup/extend", "interaction"},
		{"/api/v1/consults/{id}/release", "consult"},
		{"/api/v1/transfers/{id}/accept", "transfer"},
		{"/api/v1/admin/sync/parked/{id}/retry", "outbox_row"},
		{"/api/v1/interactions", ""},
		{"/api/v1/me", ""},
	} {
		t.Run(tc.route, func(t *testing.T) {
			require.Equal(t, tc.want, subjectField(tc.route))
		})
	}
}

func TestLoggedID(t *testing.T) {
	require.Equal(t, "a1b2", loggedID("a1b2"))
	long := strings.Repeat("é", 40) // 80 bytes
	got := loggedID(long)
	require.True(t, utf8.ValidString(got), got)
	require.Equal(t, strings.Repeat("é", 32)+"...", got)
}
