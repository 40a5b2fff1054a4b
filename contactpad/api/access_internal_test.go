package api

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/sirupsen/logrus"
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

// TestProblemOfAClientGone: a request its client gave up on fails with the
// context's error; it is no server error (499, not 500), and not logged as
// one.
func TestProblemOfAClientGone(t *testing.T) {
	var logged bytes.Buffer
	log := logrus.New()
	log.SetOutput(&logged)
	s := &Server{log: log}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	r := httptest.NewRequest("GET", "/api/v1/interactions", nil).WithContext(ctx)
	rec := httptest.NewRecorder()
	s.problem(rec, r, fmt.Errorf("begin view: %w", context.Canceled))
	require.Equal(t, statusClientClosed, rec.Code)
	require.Empty(t, logged.String())

	rec = httptest.NewRecorder()
	s.problem(rec, httptest.NewRequest("GET", "/api/v1/interactions", nil), fmt.Errorf("begin view: %w", context.Canceled))
	require.Equal(t, http.StatusInternalServerError, rec.Code, "a cancel the client did not ask for is the server's")
	require.Contains(t, logged.String(), "request failed")
}
