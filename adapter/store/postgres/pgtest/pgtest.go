// Package pgtest gives tests a PostgreSQL store of their own: a fresh
// schema in the server that CTIBRIDGE_TEST_PG_DSN names, dropped when the
// test ends, so that several tests and test packages can share one server.
//
// Without CTIBRIDGE_TEST_PG_DSN a test skips, loudly; with CI set as well it
// fails instead, so that CI never passes by skipping.
package pgtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// EnvDSN names the variable that holds the test server's connection string.
const EnvDSN = "CTIBRIDGE_TEST_PG_DSN"

// ServerDSN returns the test server's connection string, or skips t (fails
// it under CI) when there is none.
func ServerDSN(t testing.TB) string {
	t.Helper()
	dsn := os.Getenv(EnvDSN)
	if dsn != "" {
		return dsn
	}
	msg := EnvDSN + " is not set: the PostgreSQL store tests need a server " +
		`(e.g. CTIBRIDGE_TEST_PG_DSN="host=127.0.0.1 port=5432 user=postgres dbname=postgres sslmode=disable")`
	if os.Getenv("CI") != "" {
		t.Fatal(msg + "; CI is set, so this is a failure, not a skip")
	}
	t.Skip("SKIPPING: " + msg)
	return ""
}

// DSN creates a new, empty schema in the test server and returns a
// connection string whose search_path is that schema. The schema is
// dropped when t ends.
func DSN(t testing.TB) string {
	t.Helper()
	server := ServerDSN(t)
	schema := "ctibridge_test_" + randomHex(8)
	exec(t, server, `CREATE SCHEMA `+pgx.Identifier{schema}.Sanitize())
	t.Cleanup(func() {
		exec(t, server, `DROP SCHEMA IF EXISTS `+pgx.Identifier{schema}.Sanitize()+` CASCADE`)
	})
	return WithParam(server, "search_path", schema)
}

// WithParam returns dsn with the connection parameter key set to value
// (search_path, application_name, ...), for a URL or a key=value
// connection string. value must not need quoting.
func WithParam(dsn, key, value string) string {
	if strings.Contains(dsn, "://") {
		u, err := url.Parse(dsn)
		if err == nil {
			q := u.Query()
			q.Set(key, value)
			u.RawQuery = q.Encode()
			return u.String()
		}
	}
	return dsn + " " + key + "=" + value
}

func exec(t testing.TB, dsn, sql string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatalf("connect to the test server: %v", err)
	}
	defer conn.Close(context.Background())
	if _, err := conn.Exec(ctx, sql); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
