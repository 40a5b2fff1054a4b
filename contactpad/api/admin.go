package api

import (
	"maps"
	"net/http"
	"strconv"
	"time"

	"github.com/ctibridge/ctibridge/adapter"
)

// syncList is how many rows of each outbox state the sync status lists.
const syncList = 100

// syncStatus shows the CRM sync: how many writeback rows are pending, in
// flight and parked, the first of each, the parked rows with the CRM's
// error codes; and the records that could not be ingested, with why.
func (s *Server) syncStatus(w http.ResponseWriter, r *http.Request, id *Identity) error {
	type state struct {
		Count int                 `json:"count"`
		Rows  []adapter.OutboxRow `json:"rows"`
	}
	type failures struct {
		Count int                     `json:"count"`
		Rows  []adapter.IngestFailure `json:"rows"`
	}
	out := map[string]any{}
	err := s.store.View(r.Context(), func(tx adapter.Tx) error {
		counts, err := tx.Counts()
		if err != nil {
			return err
		}
		for _, st := range []adapter.OutboxState{adapter.OutboxPending, adapter.OutboxInFlight, adapter.OutboxParked} {
			rows, err := tx.Outbox(st, syncList)
			if err != nil {
				return err
			}
			if rows == nil {
				rows = []adapter.OutboxRow{}
			}
			out[string(st)] = &state{Count: counts.Outbox[st], Rows: rows}
		}
		failed, err := tx.IngestFailures("", syncList)
		if err != nil {
			return err
		}
		if failed == nil {
			failed = []adapter.IngestFailure{}
		}
		out["ingest_failures"] = &failures{Count: counts.IngestFailures, Rows: failed}
		return nil
	})
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// status shows how this replica and the CRM sync go: the replica and its
// link to the CRM, the polling of each source (its lease holder, last
// success, lag, last error; the same on every replica), the outbox by
// state and the records that could not be ingested.
func (s *Server) status(w http.ResponseWriter, r *http.Request, id *Identity) error {
	out := map[string]any{}
	if s.o.Status != nil {
		crm, err := s.o.Status(r.Context())
		if err != nil {
			return err
		}
		if m, ok := crm.(map[string]any); ok {
			maps.Copy(out, m)
		} else {
			out["crm"] = crm
		}
	}
	err := s.store.View(r.Context(), func(tx adapter.Tx) error {
		counts, err := tx.Counts()
		if err != nil {
			return err
		}
		outbox := map[adapter.OutboxState]int{}
		for _, st := range []adapter.OutboxState{adapter.OutboxPending, adapter.OutboxInFlight, adapter.OutboxParked} {
			outbox[st] = counts.Outbox[st]
		}
		out["outbox"], out["ingest_failures"] = outbox, counts.IngestFailures
		return nil
	})
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// retryParked makes a parked writeback pending again and wakes the writer.
func (s *Server) retryParked(w http.ResponseWriter, r *http.Request, id *Identity) error {
	rowID, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil || rowID <= 0 {
		return invalid("outbox row id %q: want a positive integer", r.PathValue("id"))
	}
	if err := adapter.UpdateOne(r.Context(), s.store, func(tx adapter.Tx) error {
		return tx.RetryParked(rowID)
	}); err != nil {
		return err
	}
	s.log.WithField("outbox_row", rowID).WithField("admin", id.Name).Info("parked writeback re-driven")
	if s.o.Redrive != nil {
		s.o.Redrive()
	}
	writeJSON(w, http.StatusOK, map[string]any{"id": rowID, "state": adapter.OutboxPending})
	return nil
}

// previewMapping shows what a CRM record would become.
func (s *Server) previewMapping(w http.ResponseWriter, r *http.Request, id *Identity) error {
	if s.o.Preview == nil {
		return notFound("mapping preview is not configured")
	}
	var record map[string]any
	if err := decode(r, &record); err != nil {
		return err
	}
	out, err := s.o.Preview(record)
	if err != nil {
		return invalid("record: %v", err)
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// webhookStatus shows each webhook's delivery state.
func (s *Server) webhookStatus(w http.ResponseWriter, r *http.Request, id *Identity) error {
	var status any = []any{}
	if s.o.Webhooks != nil {
		status = s.o.Webhooks()
	}
	writeJSON(w, http.StatusOK, map[string]any{"webhooks": status})
	return nil
}

// exportHandling writes the handling report of [from, to): one row per
// handling step (JSON: with the AHT per agent and media). format is json
// (the default) or csv; with format=csv, table=aht gives the AHT table.
func (s *Server) exportHandling(w http.ResponseWriter, r *http.Request, id *Identity) error {
	q := r.URL.Query()
	for key := range q {
		if key != "from" && key != "to" && key != "format" && key != "table" {
			return invalid("unknown query parameter %q (want from, to, format, table)", key)
		}
	}
	from, err := queryTime(q.Get("from"), "from")
	if err != nil {
		return err
	}
	to, err := queryTime(q.Get("to"), "to")
	if err != nil {
		return err
	}
	if !from.IsZero() && !to.IsZero() && !to.After(from) {
		return invalid("to %s is not after from %s", q.Get("to"), q.Get("from"))
	}
	format, table := q.Get("format"), q.Get("table")
	switch {
	case format != "" && format != "json" && format != "csv":
		return invalid("format %q: want csv or json", format)
	case table != "" && table != "steps" && table != "aht":
		return invalid("table %q: want steps or aht", table)
	case table != "" && format != "csv":
		return invalid("table: only with format=csv (the JSON has both)")
	}
	report, err := s.engine.Handling(r.Context(), from, to)
	if err != nil {
		return err
	}
	if format != "csv" {
		writeJSON(w, http.StatusOK, report)
		return nil
	}
	w.Header().Set("Content-Type", "text/csv; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store") // as the JSON: agents' work, by name
	name := "handling"
	if table == "aht" {
		name = "handling-aht"
	}
	w.Header().Set("Content-Disposition", `attachment; filename="`+name+`.csv"`)
	if table == "aht" {
		return report.WriteAHTCSV(w)
	}
	return report.WriteCSV(w)
}

// queryTime parses an optional RFC 3339 query parameter.
func queryTime(v, name string) (time.Time, error) {
	if v == "" {
		return time.Time{}, nil
	}
	t, err := time.Parse(time.RFC3339, v)
	if err != nil {
		return time.Time{}, invalid("%s %q: want an RFC 3339 time, e.g. 2026-11-22T00:00:00Z", name, v)
	}
	return t, nil
}
