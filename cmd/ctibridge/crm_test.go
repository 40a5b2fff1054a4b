package main

import (
	"context"
	"errors"
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

// TestCRMLinkObserve: once connected, a call the CRM does not answer makes
// the link degraded; while it stays down, the reason is the last
// failure's, and since is when it went down.
func TestCRMLinkObserve(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		log := logrus.New()
		log.SetOutput(io.Discard)
		l := newCRMLink(func(context.Context) error { return nil }, log, prometheus.NewRegistry())
		require.NoError(t, l.attempt(context.Background()))
		l.established = true

		down := time.Now().UTC()
		l.observe(errors.New("read: connection reset by peer"))
		time.Sleep(20 * time.Second)
		l.observe(errors.New("503 SERVER_UNAVAILABLE"))
		s := l.status()
		require.Equal(t, linkDegraded, s.State)
		require.Equal(t, "the CRM did not answer: 503 SERVER_UNAVAILABLE", s.Reason, "the last failure's")
		require.Equal(t, down, s.Since, "down since the first")

		l.observe(nil)
		require.Equal(t, linkConnected, l.status().State)
		require.Empty(t, l.status().Reason)
	})
}
