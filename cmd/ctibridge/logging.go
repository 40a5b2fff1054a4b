package main

import (
	"errors"
	"fmt"
	"io"
	"log"
	"slices"
	"strings"

	"github.com/sirupsen/logrus"

	"github.com/ctibridge/ctibridge/config"
)

// The log formats of run.
const (
	logJSON = "json"
	logText = "text"
)

// newLogger is the one logger of a command: format json or text on w, at
// level (debug, info, warn or error).
func newLogger(w io.Writer, format, level string) (*logrus.Logger, error) {
	l := logrus.New()
	l.SetOutput(w)
	switch format {
	case logJSON:
		l.SetFormatter(&logrus.JSONFormatter{})
	case logText:
		l.SetFormatter(&logrus.TextFormatter{DisableColors: true, FullTimestamp: true})
	default:
		return nil, fmt.Errorf("--log-format %q: want json or text", format)
	}
	lvl, err := logrus.ParseLevel(level)
	if err != nil || !slices.Contains([]logrus.Level{logrus.DebugLevel, logrus.InfoLevel, logrus.WarnLevel, logrus.ErrorLevel}, lvl) {
		return nil, fmt.Errorf("--log-level %q: want debug, info, warn or error", level)
	}
	l.SetLevel(lvl)
	return l, nil
}

// logWriter turns what a *log.Logger writes, one line per Write, into
// entries of a logrus logger at a fixed level: libraries that print
// through the standard log package, and net/http's ErrorLog, end up in the
// same stream, format and filtering as everything else.
type logWriter struct {
	log   logrus.FieldLogger
	level logrus.Level
}

func (w logWriter) Write(p []byte) (int, error) {
	w.log.WithFields(nil).Log(w.level, strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// routeStdLog sends the standard log package's lines to l at level, and
// returns what puts the previous output back. simpleforce prints failed
// calls with their response bodies there, which is why run keeps those
// lines at debug: off an operator's info log. The library leaves the
// global logger alone; this decision is the binary's.
func routeStdLog(l logrus.FieldLogger, level logrus.Level) (restore func()) {
	out, flags, prefix := log.Writer(), log.Flags(), log.Prefix()
	log.SetOutput(logWriter{log: l.WithField("logger", "stdlog"), level: level})
	log.SetFlags(0) // logrus stamps the time
	log.SetPrefix("")
	return func() {
		log.SetOutput(out)
		log.SetFlags(flags)
		log.SetPrefix(prefix)
	}
}

// httpErrorLog is the ErrorLog of the API's http.Server: what net/http
// reports on its own (a connection it could not accept, a handler that
// misuses the ResponseWriter, a query with semicolons) as warnings in the
// daemon's log. Handler panics never get there: the API recovers them
// and logs them with their stack at error level.
func httpErrorLog(l logrus.FieldLogger) *log.Logger {
	return log.New(logWriter{log: l.WithField("logger", "net/http"), level: logrus.WarnLevel}, "", 0)
}

// logProblems logs err at error level under msg, one line per problem
// when it lists several (a config or mapping file's problems, each at its
// file:line, which the line also carries as fields), so that each is a
// record of its own in a log pipeline.
func logProblems(l logrus.FieldLogger, msg string, err error) {
	for _, e := range problems(err) {
		entry := l.WithError(e)
		var at *config.Error
		if errors.As(e, &at) {
			entry = entry.WithFields(logrus.Fields{"file": at.File, "line": at.Line, "key": at.Path})
		}
		entry.Error(msg)
	}
}

// problems is each problem err joins (errors.Join, config.Errors),
// through the errors that wrap them, when each is at its place in a file
// (a *config.Error); or err alone. A list of other errors is one problem
// told whole: PostgreSQL's failed connect joins one error per address
// tried, and apart they would lose what failed ("open store: failed to
// connect to ...").
func problems(err error) []error {
	for e := err; e != nil; e = errors.Unwrap(e) {
		if list, ok := e.(interface{ Unwrap() []error }); ok {
			var out []error
			for _, p := range list.Unwrap() {
				out = append(out, problems(p)...)
			}
			for _, p := range out {
				if _, ok := errors.AsType[*config.Error](p); !ok {
					return []error{err}
				}
			}
			return out
		}
	}
	return []error{err}
}
