package sqlite

import (
	"context"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"reflect"

	"github.com/ctibridge/ctibridge/adapter/store/internal/sqlstore"
)

// conn is the sqlstore.Conn of every Update and every View: one
// connection's statements, prepared on the driver's connection and run
// through the driver's own interfaces rather than database/sql. A
// connection runs one transaction at a time, so database/sql's pool, its
// locks and its per-query bookkeeping (a dependency map entry per Rows, a
// NamedValue slice and a conversion of every argument and column) buy
// nothing here. On the writer they cost about a tenth of the engine's CPU
// time at 200 agents; on the readers, a database/sql Tx for each View,
// whose BEGIN and ROLLBACK the driver parsed anew each time, cost about a
// quarter of what the Views cost the bridge at saturation
// (docs/benchmarks.md).
//
// Its statements are used only inside sql.Conn.Raw on the connection they
// were prepared on (Store.Update, Store.View), so database/sql still knows
// the connection busy while they run.
type conn struct {
	stmts [numStmts]driver.Stmt
	// prep prepares a statement not prepared yet: a reader prepares each
	// on first use, as database/sql did. Nil on the writer, which
	// prepares every statement at Open.
	prep driver.ConnPrepareContext
	// args and dest are reused from statement to statement: the Tx runs
	// one at a time, and no statement while it holds Rows open.
	args []driver.NamedValue
	dest []driver.Value
	// wrote is set by every write statement run (tried, even if it
	// failed): Store.update reads and clears it around each fn.
	wrote bool
}

var _ sqlstore.Conn = (*conn)(nil)

// preparer returns the driver connection dc as what prepares statements.
func preparer(dc any) (driver.ConnPrepareContext, error) {
	prep, ok := dc.(driver.ConnPrepareContext)
	if !ok {
		return nil, fmt.Errorf("sqlite driver connection %T cannot prepare with a context", dc)
	}
	return prep, nil
}

// prepare prepares every statement on the driver connection dc.
func (c *conn) prepare(dc any) error {
	prep, err := preparer(dc)
	if err != nil {
		return err
	}
	for id, query := range statements {
		if query == "" {
			continue // a shared statement SQLite does not use
		}
		st, err := prep.PrepareContext(context.Background(), query)
		if err != nil {
			return fmt.Errorf("prepare %q: %w", query, err)
		}
		c.stmts[id] = st
	}
	return nil
}

// stmt returns statement id, prepared on first use on a reader.
func (c *conn) stmt(id sqlstore.Stmt) (driver.Stmt, error) {
	if st := c.stmts[id]; st != nil || c.prep == nil {
		return st, nil
	}
	st, err := c.prep.PrepareContext(context.Background(), statements[id])
	if err != nil {
		return nil, fmt.Errorf("prepare %q: %w", statements[id], err)
	}
	c.stmts[id] = st
	return st, nil
}

// close closes the prepared statements; like prepare, inside sql.Conn.Raw.
func (c *conn) close() error {
	var errs []error
	for id, st := range c.stmts {
		if st != nil {
			errs = append(errs, st.Close())
			c.stmts[id] = nil
		}
	}
	return errors.Join(errs...)
}

// bind turns args into the driver's arguments as database/sql would: a
// value the driver takes as it is (int64, string, nil...) stays, anything
// else goes through driver.DefaultParameterConverter (an int, a Valuer).
func (c *conn) bind(args []any) ([]driver.NamedValue, error) {
	c.args = c.args[:0]
	for k, a := range args {
		v, err := driver.DefaultParameterConverter.ConvertValue(a)
		if err != nil {
			return nil, fmt.Errorf("argument %d (%T): %w", k+1, a, err)
		}
		c.args = append(c.args, driver.NamedValue{Ordinal: k + 1, Value: v})
	}
	return c.args, nil
}

// exec runs a statement that returns no rows. The context is Background,
// which the driver runs without a goroutine to watch it: fns are short,
// and the Update's context still bounds the transaction as a whole.
func (c *conn) exec(id sqlstore.Stmt, args []any) (driver.Result, error) {
	st, nv, err := c.bound(id, args)
	if err != nil {
		return nil, err
	}
	return st.(driver.StmtExecContext).ExecContext(context.Background(), nv)
}

// bound returns statement id (see stmt) and args bound for it (see bind).
func (c *conn) bound(id sqlstore.Stmt, args []any) (driver.Stmt, []driver.NamedValue, error) {
	st, err := c.stmt(id)
	if err != nil {
		return nil, nil, err
	}
	nv, err := c.bind(args)
	return st, nv, err
}

func (c *conn) Exec(id sqlstore.Stmt, args ...any) (int64, error) {
	c.wrote = c.wrote || isWrite(id)
	res, err := c.exec(id, args)
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}

// Insert reads the key of the row from the connection (last_insert_rowid):
// cheaper than RETURNING, which makes a query of the INSERT.
func (c *conn) Insert(id sqlstore.Stmt, args ...any) (int64, error) {
	c.wrote = true
	res, err := c.exec(id, args)
	if err != nil {
		return 0, err
	}
	return res.LastInsertId()
}

func (c *conn) Query(id sqlstore.Stmt, args ...any) (sqlstore.Rows, error) {
	c.wrote = c.wrote || isWrite(id) // UPDATE ... RETURNING
	st, nv, err := c.bound(id, args)
	if err != nil {
		return nil, err
	}
	rows, err := st.(driver.StmtQueryContext).QueryContext(context.Background(), nv)
	if err != nil {
		return nil, err
	}
	n := len(rows.Columns())
	if cap(c.dest) < n {
		c.dest = make([]driver.Value, n)
	}
	return &driverRows{rows: rows, dest: c.dest[:n]}, nil
}

// savepoint runs one of the statements of transactions and savepoints.
func (c *conn) savepoint(id sqlstore.Stmt) error {
	_, err := c.exec(id, nil)
	return err
}

// driverRows is the sqlstore.Rows of a driver's rows, as *sql.Rows has them.
type driverRows struct {
	rows   driver.Rows
	dest   []driver.Value // the current row
	err    error          // the error that ended Next, io.EOF at the end
	closed bool
}

func (r *driverRows) Next() bool {
	if r.closed || r.err != nil {
		return false
	}
	if r.err = r.rows.Next(r.dest); r.err != nil {
		// Like *sql.Rows, the rows close when they run out.
		_ = r.Close()
		return false
	}
	return true
}

func (r *driverRows) Err() error {
	if errors.Is(r.err, io.EOF) {
		return nil
	}
	return r.err
}

func (r *driverRows) Close() error {
	if r.closed {
		return nil
	}
	r.closed = true
	return r.rows.Close()
}

// Scan copies the current row into dest. It converts what the driver
// gives (int64, float64, string, []byte or nil) to the destinations the
// stores scan into, as database/sql's Scan would; another destination, or
// NULL where the destination cannot hold it, is an error naming the column.
func (r *driverRows) Scan(dest ...any) error {
	if r.closed || r.err != nil {
		return errors.New("sqlite: Scan called without calling Next")
	}
	if len(dest) != len(r.dest) {
		return fmt.Errorf("sqlite: Scan expected %d destination arguments, not %d", len(r.dest), len(dest))
	}
	for k, v := range r.dest {
		if err := assign(dest[k], v); err != nil {
			return fmt.Errorf("sqlite: Scan column %d: %w", k, err)
		}
	}
	return nil
}

// assign stores the column value v in dest. The driver's []byte is its own
// buffer, valid until the next Next, so it is copied.
func assign(dest any, v driver.Value) error {
	switch d := dest.(type) {
	case *any:
		if b, ok := v.([]byte); ok {
			v = append([]byte(nil), b...)
		}
		*d = v
		return nil
	case *string:
		switch v := v.(type) {
		case string:
			*d = v
			return nil
		case []byte:
			*d = string(v)
			return nil
		}
	case *[]byte:
		switch v := v.(type) {
		case string:
			*d = []byte(v)
			return nil
		case []byte:
			*d = append([]byte(nil), v...)
			return nil
		case nil:
			*d = nil
			return nil
		}
	case *int64:
		if v, ok := v.(int64); ok {
			*d = v
			return nil
		}
	case *int:
		if v, ok := v.(int64); ok {
			*d = int(v)
			return nil
		}
	case *bool:
		if v, ok := v.(int64); ok {
			*d = v != 0
			return nil
		}
	case *float64:
		switch v := v.(type) {
		case float64:
			*d = v
			return nil
		case int64:
			*d = float64(v)
			return nil
		}
	}
	return assignKind(dest, v)
}

// assignKind stores v in a destination of a type of the stores' own whose
// kind is a string or an integer (contactpad.AuditAction, Media...), as
// database/sql's Scan converts to them.
func assignKind(dest any, v driver.Value) error {
	d := reflect.ValueOf(dest)
	if d.Kind() != reflect.Pointer || d.IsNil() {
		return fmt.Errorf("cannot store %T in %T", v, dest)
	}
	e := d.Elem()
	switch e.Kind() {
	case reflect.String:
		switch v := v.(type) {
		case string:
			e.SetString(v)
			return nil
		case []byte:
			e.SetString(string(v))
			return nil
		}
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		if v, ok := v.(int64); ok && !e.OverflowInt(v) {
			e.SetInt(v)
			return nil
		}
	}
	return fmt.Errorf("cannot store %T in %T", v, dest)
}
