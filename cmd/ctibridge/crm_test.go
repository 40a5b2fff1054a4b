package main

import (
	"context"
	"io"
	"testing"
	"testing/synctest"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/sirupsen/logrus"
	"github.com/stretchr/testify/require"
)

// TestCRMLinkAttempt: an attempt the CRM does not answer in time is a
// failed one, with its reason, in the status; one a shutdown cancels says
// nothing.
func TestCRMLinkAttempt(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		log := logrus.New()
		log.SetOutput(io.Discard)
		unanswered := func(ctx context.Context) error { <-ctx.Done(); return ctx.Err() }
		l := newCRMLink(unanswered, log, prometheus.NewRegistry())

		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		require.Error(t, l.attempt(ctx))
		require.Equal(t, linkConnecting, l.status().State, "a shutdown says nothing of the CRM")
		require.Zero(t, l.status().Attempts)

		ctx, cancel = context.WithTimeout(context.Background(), firstLinkAttempt)
		defer cancel()
		require.Error(t, l.attempt(ctx))
		s := l.status()
		require.Equal(t, linkDegraded, s.State, "no answer in time is a failed attempt")
		require.Equal(t, 1, s.Attempts)
		require.Contains(t, s.Reason, "deadline exceeded")
		require.Equal(t, time.Now().UTC(), s.Since)
	})
}
