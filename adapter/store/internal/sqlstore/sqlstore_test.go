package sqlstore

import (
	"testing"
	"testing/fstest"
	"time"

	"github.com/stretchr/testify/require"
)

func TestRebind(t *testing.T) {
	tests := []struct {
		name        string
		placeholder byte
		query       string
		want        string
	}{
		{name: "PostgreSQL keeps $n", placeholder: '$', query: `a = $1 AND b = $12`, want: `a = $1 AND b = $12`},
		{name: "SQLite in order: bare ?", placeholder: '?', query: `VALUES ($1, $2, $3)`, want: `VALUES (?, ?, ?)`},
		{name: "SQLite reused: ?n", placeholder: '?', query: `a = $1 OR b = $1`, want: `a = ?1 OR b = ?1`},
		{name: "SQLite out of order: ?n", placeholder: '?', query: `a = $2 AND b = $1`, want: `a = ?2 AND b = ?1`},
		{name: "SQLite a gap: ?n", placeholder: '?', query: `a = $1 AND b = $12`, want: `a = ?1 AND b = ?12`},
		{name: "a $ not before a digit stays", placeholder: '?', query: `'$x' || $1`, want: `'$x' || ?`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			require.Equal(t, tt.want, Rebind(&Dialect{Placeholder: tt.placeholder}, tt.query))
		})
	}
}

// TestStatementsRebound: no statement of a '?' dialect keeps a $n.
func TestStatementsRebound(t *testing.T) {
	d := &Dialect{
		Placeholder:      '?',
		InList:           func(expr, param string) string { return expr + " IN (" + param + ")" },
		ListTable:        func(param string) string { return "json_each(" + param + ")" },
		JSONInt:          func(json, key string) string { return "json_extract(" + json + ", " + key + ")" },
		QueuedPerService: true,
	}
	for id, q := range Statements(d) {
		require.NotRegexp(t, `\$[0-9]`, q, "statement %d", id)
	}
}

func TestDecoder(t *testing.T) {
	at := time.Date(2025, time.March, 1, 9, 30, 0, 5, time.UTC)
	tests := []struct {
		name    string
		decode  func(d *decoder) any
		want    any
		wantErr string
	}{
		{name: "int64", decode: func(d *decoder) any { return d.int("n", int64(7)) }, want: int64(7)},
		{name: "PostgreSQL INTEGER", decode: func(d *decoder) any { return d.int("n", int32(7)) }, want: int64(7)},
		{name: "NULL int", decode: func(d *decoder) any { return d.int("n", nil) }, want: int64(0)},
		{name: "bool", decode: func(d *decoder) any { return d.bool("b", int32(1)) }, want: true},
		{name: "time", decode: func(d *decoder) any { return d.time("at", at.UnixNano()) }, want: at},
		{name: "NULL time pointer", decode: func(d *decoder) any { return d.timePtr("at", nil) }, want: (*time.Time)(nil)},
		{
			name: "text is not an int", decode: func(d *decoder) any { return d.int("n", "7") }, want: int64(0),
			wantErr: "decode n: unexpected column value string",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var d decoder
			require.Equal(t, tt.want, tt.decode(&d))
			if tt.wantErr == "" {
				require.NoError(t, d.err)
			} else {
				require.EqualError(t, d.err, tt.wantErr)
			}
		})
	}
}

func TestLoadMigrations(t *testing.T) {
	tests := []struct {
		name    string
		files   fstest.MapFS
		want    []Migration
		wantErr string
	}{
		{
			name: "in version order",
			files: fstest.MapFS{
				"migrations/0010_later.sql": {Data: []byte("B")},
				"migrations/0002_first.sql": {Data: []byte("A")},
			},
			want: []Migration{{Version: 2, Name: "0002_first", SQL: "A"}, {Version: 10, Name: "0010_later", SQL: "B"}},
		},
		{
			name:    "no version",
			files:   fstest.MapFS{"migrations/init.sql": {}},
			wantErr: "migration migrations/init.sql: name must start with a positive version number",
		},
		{
			name:    "a version twice",
			files:   fstest.MapFS{"migrations/0001_a.sql": {}, "migrations/0001_b.sql": {}},
			wantErr: "migrations 0001_a and 0001_b share version 1",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := LoadMigrations(tt.files)
			if tt.wantErr != "" {
				require.EqualError(t, err, tt.wantErr)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tt.want, got)
		})
	}
}
