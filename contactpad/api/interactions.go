package api

import (
	"encoding/base64"
	"fmt"
	"net/http"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/ctibridge/ctibridge/adapter"
	"github.com/ctibridge/ctibridge/contactpad"
)

// interactionView is an interaction as the API shows it: its fields, the
// actions allowed now, every action of its media type with the reason it
// is disabled, and on a single GET its audit trail and open transfers and
// consults.
type interactionView struct {
	*contactpad.Interaction
	Capabilities []contactpad.Action `json:"capabilities"`
	Actions      []actionState       `json:"actions"`
	// ExtensionsLeft is how many more times its wrap-up may be extended
	// (timeouts.wrap_up_max_extensions less those used): in wrap-up only,
	// for the panel's "Extend (1 left)".
	ExtensionsLeft *int                    `json:"wrap_up_extensions_left,omitempty"`
	Audit          []contactpad.AuditEntry `json:"audit,omitempty"`
	Transfers      []*contactpad.Transfer  `json:"transfers,omitempty"`
	Consults       []*contactpad.Consult   `json:"consults,omitempty"`
	// AnswerIn is "omni_channel" while the offer is an AgentWork, which the
	// agent answers in Salesforce's Omni-Channel widget, not in the panel.
	AnswerIn string `json:"answer_in,omitempty"`
}

// me is the caller: for an agent its presence, capacity and load, and
// where its presence comes from when not from ctibridge.
func (s *Server) me(w http.ResponseWriter, r *http.Request, id *Identity) error {
	out := map[string]any{"id": id.Name, "name": id.Name, "role": id.Role}
	if sess := sessionOf(r); sess != nil {
		// Signed in with Salesforce: the panel needs the token for its
		// state changes (it cannot read the HttpOnly cookie).
		out["csrf_token"], out["session"] = sess.csrf, true
	}
	if id.Role == RoleAgent {
		err := s.store.View(r.Context(), func(tx adapter.Tx) error {
			a, err := tx.Agent(id.Name)
			if err != nil {
				return err
			}
			load, err := tx.Load(id.Name)
			if err != nil {
				return err
			}
			out["name"], out["presence"], out["services"], out["capacity"], out["load"] =
				a.Name, a.Presence, a.Services, a.Capacity, fillCapacity(load)
			// Omni-Channel is the only source a presence follows.
			if s.engine.Settings().PresenceSource != "" {
				out["presence_source"] = adapter.PresenceFromOmni
			}
			return nil
		})
		if err != nil {
			return err
		}
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// fillCapacity lists every media type, 0 where the capacity has none.
func fillCapacity(c contactpad.Capacity) contactpad.Capacity {
	out := contactpad.Capacity{}
	for _, m := range contactpad.Medias {
		out[m] = c[m]
	}
	return out
}

func (s *Server) setPresence(w http.ResponseWriter, r *http.Request, id *Identity) error {
	var body struct {
		Presence string `json:"presence"`
	}
	if err := decode(r, &body); err != nil {
		return err
	}
	if err := checkNames("presence", body.Presence); err != nil {
		return err
	}
	p, err := contactpad.ParsePresence(body.Presence)
	if err != nil {
		return invalid("field \"presence\": %v", err)
	}
	res, err := s.engine.Apply(r.Context(), adapter.SetPresence{Agent: id.Name, Presence: p})
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, res.Agent)
	return nil
}

// maxList is the most interactions one list returns.
const maxList = 5000

// maxSearch is the longest search (q) of a list, in bytes.
const maxSearch = 200

// listInteractions lists an agent's own interactions (admins and
// integrations: all), by folder and status, oldest first, or with
// order=newest the most recently changed first (the panel's History).
// Newest first, it pages with cursor (the next_cursor of the page before),
// searches with q, and says how many the whole list holds (total).
func (s *Server) listInteractions(w http.ResponseWriter, r *http.Request, id *Identity) error {
	q := r.URL.Query()
	for key := range q {
		if !slices.Contains([]string{"folder", "status", "limit", "order", "q", "cursor"}, key) {
			return invalid("unknown query parameter %q (want folder, status, limit, order, q, cursor)", key)
		}
	}
	newest := false
	switch order := q.Get("order"); order {
	case "", "oldest":
	case "newest":
		newest = true
	default:
		return invalid("order %q: want oldest or newest", order)
	}
	f := adapter.InteractionFilter{Owner: id.agent(), Limit: 500, Newest: newest}
	if err := pageFilter(&f, q.Get("q"), q.Get("cursor")); err != nil {
		return err
	}
	if folder := q.Get("folder"); folder != "" {
		f.Statuses = contactpad.Folder(folder).Statuses()
		if f.Statuses == nil {
			return invalid("folder %q: want ongoing, deferred or history", folder)
		}
	}
	if list := q.Get("status"); list != "" {
		var want []contactpad.Status
		for _, name := range strings.Split(list, ",") {
			st := contactpad.Status(strings.TrimSpace(name))
			if st == "pending" {
				st = contactpad.Deferred
			}
			if !slices.Contains(contactpad.Statuses, st) {
				return invalid("status %q: want one of %s", name, joinStatuses())
			}
			if f.Statuses == nil || slices.Contains(f.Statuses, st) {
				want = append(want, st)
			}
		}
		if len(want) == 0 {
			out := map[string]any{"interactions": []interactionView{}}
			if newest {
				out["total"], out["next_cursor"] = 0, nil
			}
			writeJSON(w, http.StatusOK, out)
			return nil
		}
		f.Statuses = want
	}
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > maxList {
			return invalid("limit %q: want 1 to %d", v, maxList)
		}
		f.Limit = n
	}
	var (
		out   []interactionView
		total int
	)
	if err := s.store.View(r.Context(), func(tx adapter.Tx) error {
		list, err := tx.Interactions(f)
		if err != nil {
			return err
		}
		out = make([]interactionView, 0, len(list))
		room := s.roomOf(tx, id.agent())
		for _, i := range list {
			v, err := s.viewIn(tx, i, id.agent(), room)
			if err != nil {
				return err
			}
			out = append(out, v)
		}
		if newest {
			total, err = tx.CountInteractions(f)
		}
		return err
	}); err != nil {
		return err
	}
	body := map[string]any{"interactions": out}
	if newest {
		var next *string
		if len(out) == f.Limit {
			c := encodeCursor(out[len(out)-1].Interaction)
			next = &c
		}
		body["total"], body["next_cursor"] = total, next
	}
	writeJSON(w, http.StatusOK, body)
	return nil
}

// pageFilter sets the search and the cursor of a list, newest first only.
func pageFilter(f *adapter.InteractionFilter, search, cursor string) error {
	if (search != "" || cursor != "") && !f.Newest {
		name := "q"
		if search == "" {
			name = "cursor"
		}
		return invalid("query parameter %q: only with order=newest", name)
	}
	if len(search) > maxSearch {
		return &apiError{codeTooLong, fmt.Sprintf("query parameter \"q\": %d bytes, at most %d", len(search), maxSearch)}
	}
	f.Search = strings.TrimSpace(search)
	if cursor != "" {
		c, err := decodeCursor(cursor)
		if err != nil {
			return err
		}
		f.Before = c
	}
	return nil
}

// encodeCursor is the opaque cursor of the page after i: its updated_at
// (Unix nanoseconds) and ID, base64url.
func encodeCursor(i *contactpad.Interaction) string {
	return base64.RawURLEncoding.EncodeToString([]byte(strconv.FormatInt(i.UpdatedAt.UnixNano(), 10) + ":" + i.ID))
}

func decodeCursor(v string) (*adapter.InteractionCursor, error) {
	bad := invalid("query parameter \"cursor\": %q is not a cursor (pass the next_cursor of the page before)", v)
	raw, err := base64.RawURLEncoding.DecodeString(v)
	if err != nil {
		return nil, bad
	}
	ns, id, ok := strings.Cut(string(raw), ":")
	n, err := strconv.ParseInt(ns, 10, 64)
	if !ok || err != nil || id == "" || n <= 0 {
		return nil, bad
	}
	return &adapter.InteractionCursor{UpdatedAt: time.Unix(0, n).UTC(), ID: id}, nil
}

func joinStatuses() string {
	names := make([]string, len(contactpad.Statuses))
	for k, st := range contactpad.Statuses {
		names[k] = string(st)
	}
	return strings.Join(names, ", ")
}

// getInteraction shows one interaction with its capabilities, audit trail,
// and open transfers and consults. An agent sees its own, and the ones a
// transfer request or consult addresses to it.
func (s *Server) getInteraction(w http.ResponseWriter, r *http.Request, id *Identity) error {
	var v interactionView
	err := s.store.View(r.Context(), func(tx adapter.Tx) error {
		i, err := tx.Interaction(r.PathValue("id"))
		if err != nil {
			return err
		}
		transfers, err := tx.OpenTransfers(adapter.TransferFilter{InteractionID: i.ID})
		if err != nil {
			return err
		}
		consults, err := tx.OpenConsults(i.ID)
		if err != nil {
			return err
		}
		if agent := id.agent(); agent != "" && !involved(agent, i, transfers, consults) {
			return forbidden("interaction %s belongs to another agent", i.ID)
		}
		v = s.view(i, id.agent(), adapter.InProgress{Transfer: len(transfers) > 0, Consult: len(consults) > 0}, s.roomOf(tx, id.agent()))
		v.Transfers, v.Consults = transfers, consults
		v.Audit, err = tx.Audit(i.ID)
		return err
	})
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, v)
	return nil
}

// involved reports whether agent may see the interaction.
func involved(agent string, i *contactpad.Interaction, transfers []*contactpad.Transfer, consults []*contactpad.Consult) bool {
	if i.Owner == agent || i.TargetAgent == agent {
		return true
	}
	for _, t := range transfers {
		if t.Assignee == agent || t.Target.Agent == agent {
			return true
		}
	}
	for _, c := range consults {
		if c.Target.Agent == agent {
			return true
		}
	}
	return false
}

// patchInteraction is the Enneo-style update: status pending with a due_by
// defers, status open reopens (a Resume of a deferred interaction).
func (s *Server) patchInteraction(w http.ResponseWriter, r *http.Request, id *Identity) error {
	var body struct {
		Status string  `json:"status"`
		DueBy  *string `json:"due_by"`
	}
	if err := decode(r, &body); err != nil {
		return err
	}
	if err := checkNames("status", body.Status); err != nil {
		return err
	}
	due, err := parseTime("due_by", body.DueBy)
	if err != nil {
		return err
	}
	var cmd adapter.Command
	switch body.Status {
	case "pending", string(contactpad.Deferred):
		cmd = adapter.Defer{ID: r.PathValue("id"), Agent: id.agent(), DueBy: due}
	case "open":
		if due != nil {
			return invalid("field \"due_by\": only with status pending")
		}
		cmd = adapter.Reopen{ID: r.PathValue("id"), Agent: id.agent()}
	case "":
		return invalid("field \"status\": required (pending or open)")
	default:
		return invalid("field \"status\": %q cannot be set (want pending or open)", body.Status)
	}
	return s.apply(w, r, id, cmd, http.StatusOK)
}

// command serves an action on the interaction, transfer or consult named
// in the path.
func (s *Server) command(build func(r *http.Request, id, agent string) (adapter.Command, error)) func(http.ResponseWriter, *http.Request, *Identity) error {
	return func(w http.ResponseWriter, r *http.Request, id *Identity) error {
		cmd, err := build(r, r.PathValue("id"), id.agent())
		if err != nil {
			return err
		}
		return s.apply(w, r, id, cmd, http.StatusOK)
	}
}

// apply runs cmd and writes what it changed: the transfer or consult it
// made or acted on, else the interaction.
func (s *Server) apply(w http.ResponseWriter, r *http.Request, id *Identity, cmd adapter.Command, status int) error {
	res, err := s.engine.Apply(r.Context(), cmd)
	if err != nil {
		return err
	}
	switch {
	case res.Transfer != nil:
		writeJSON(w, status, res.Transfer)
	case res.Consult != nil:
		writeJSON(w, status, res.Consult)
	case res.Interaction != nil:
		var v interactionView
		if err := s.store.View(r.Context(), func(tx adapter.Tx) error {
			v, err = s.viewIn(tx, res.Interaction, id.agent(), s.roomOf(tx, id.agent()))
			return err
		}); err != nil {
			return err
		}
		writeJSON(w, status, v)
	default:
		w.WriteHeader(http.StatusNoContent)
	}
	return nil
}

// targetBody is the target of a transfer or consult: exactly one field.
type targetBody struct {
	Agent   string `json:"agent"`
	Service string `json:"service"`
	Number  string `json:"number"`
}

func (t *targetBody) target(allowed ...string) (contactpad.Target, error) {
	if err := checkNames("target.agent", t.Agent, "target.service", t.Service, "target.number", t.Number); err != nil {
		return contactpad.Target{}, err
	}
	set := map[string]string{"agent": t.Agent, "service": t.Service, "number": t.Number}
	var named []string
	for _, k := range []string{"agent", "service", "number"} {
		if set[k] != "" {
			named = append(named, k)
		}
	}
	if len(named) != 1 {
		return contactpad.Target{}, invalid("field \"target\": want exactly one of %s", strings.Join(allowed, ", "))
	}
	if !slices.Contains(allowed, named[0]) {
		return contactpad.Target{}, invalid("field \"target\": %s is not a target here (want one of %s)", named[0], strings.Join(allowed, ", "))
	}
	return contactpad.Target{Agent: t.Agent, Service: t.Service, Number: t.Number}, nil
}

func (s *Server) startTransfer(w http.ResponseWriter, r *http.Request, id *Identity) error {
	var body struct {
		Target *targetBody `json:"target"`
		Mode   string      `json:"mode"`
		Note   string      `json:"note"`
		// IncludeSender lets a cold transfer to a service go back to its
		// sender when nobody else can take it.
		IncludeSender bool `json:"include_sender"`
	}
	if err := decode(r, &body); err != nil {
		return err
	}
	if err := checkNames("mode", body.Mode); err != nil {
		return err
	}
	if err := s.checkNote("note", body.Note); err != nil {
		return err
	}
	if body.Target == nil {
		return invalid("field \"target\": required ({\"agent\":ID} or {\"service\":ID})")
	}
	target, err := body.Target.target("agent", "service")
	if err != nil {
		return err
	}
	mode := contactpad.TransferMode(body.Mode)
	switch mode {
	case "":
		mode = contactpad.Warm
	case contactpad.Warm, contactpad.Cold:
	default:
		return invalid("field \"mode\": %q (want warm or cold)", body.Mode)
	}
	return s.apply(w, r, id, adapter.StartTransfer{ID: r.PathValue("id"), Agent: id.agent(), Target: target, Mode: mode,
		Note: body.Note, IncludeSender: body.IncludeSender},
		http.StatusCreated)
}

func (s *Server) startConsult(w http.ResponseWriter, r *http.Request, id *Identity) error {
	var body struct {
		Target *targetBody `json:"target"`
	}
	if err := decode(r, &body); err != nil {
		return err
	}
	if body.Target == nil {
		return invalid("field \"target\": required ({\"agent\":ID} or {\"number\":E164})")
	}
	target, err := body.Target.target("agent", "number")
	if err != nil {
		return err
	}
	if target.Number != "" && !e164(target.Number) {
		return invalid("field \"target.number\": %q is not an E.164 number (+ and 8 to 15 digits)", target.Number)
	}
	return s.apply(w, r, id, adapter.StartConsult{ID: r.PathValue("id"), Agent: id.agent(), Target: target}, http.StatusCreated)
}

func e164(n string) bool {
	digits, ok := strings.CutPrefix(n, "+")
	if !ok || len(digits) < 8 || len(digits) > 15 || digits[0] == '0' {
		return false
	}
	for _, c := range digits {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

func (s *Server) consultCommand(build func(id, agent string) adapter.Command) func(http.ResponseWriter, *http.Request, *Identity) error {
	return func(w http.ResponseWriter, r *http.Request, id *Identity) error {
		if err := decodeNone(r); err != nil {
			return err
		}
		return s.apply(w, r, id, build(r.PathValue("id"), id.agent()), http.StatusOK)
	}
}

// listTransfers lists open transfers: an agent's incoming requests and the
// ones it started; everything for admins and integrations.
func (s *Server) listTransfers(w http.ResponseWriter, r *http.Request, id *Identity) error {
	var out []*contactpad.Transfer
	err := s.store.View(r.Context(), func(tx adapter.Tx) error {
		all, err := tx.OpenTransfers(adapter.TransferFilter{})
		for _, t := range all {
			if a := id.agent(); a == "" || t.Initiator == a || t.Assignee == a {
				out = append(out, t)
			}
		}
		return err
	})
	if err != nil {
		return err
	}
	if out == nil {
		out = []*contactpad.Transfer{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"transfers": out})
	return nil
}

func (s *Server) getTransfer(w http.ResponseWriter, r *http.Request, id *Identity) error {
	var t *contactpad.Transfer
	err := s.store.View(r.Context(), func(tx adapter.Tx) error {
		var err error
		t, err = tx.Transfer(r.PathValue("id"))
		return err
	})
	if err != nil {
		return err
	}
	if a := id.agent(); a != "" && t.Initiator != a && t.Assignee != a && t.Target.Agent != a {
		return forbidden("transfer %s is not addressed to or started by %s", t.ID, a)
	}
	writeJSON(w, http.StatusOK, t)
	return nil
}

// listConsults lists the consults that have not ended and involve the
// agent (all of them for admins and integrations).
func (s *Server) listConsults(w http.ResponseWriter, r *http.Request, id *Identity) error {
	out := []*contactpad.Consult{}
	err := s.store.View(r.Context(), func(tx adapter.Tx) error {
		// A consult leg lives on when its interaction leaves the Ongoing
		// folder (released, deferred): every open one is listed.
		all, err := tx.OpenConsults("")
		for _, c := range all {
			if a := id.agent(); a == "" || c.Initiator == a || c.Target.Agent == a {
				out = append(out, c)
			}
		}
		return err
	})
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"consults": out})
	return nil
}

func (s *Server) getConsult(w http.ResponseWriter, r *http.Request, id *Identity) error {
	var c *contactpad.Consult
	err := s.store.View(r.Context(), func(tx adapter.Tx) error {
		var err error
		c, err = tx.Consult(r.PathValue("id"))
		return err
	})
	if err != nil {
		return err
	}
	if a := id.agent(); a != "" && c.Initiator != a && c.Target.Agent != a {
		return forbidden("consult %s does not involve %s", c.ID, a)
	}
	writeJSON(w, http.StatusOK, c)
	return nil
}

// directoryEntry is an agent or a service in the transfer dialog.
type directoryEntry struct {
	Kind     string              `json:"kind"`
	ID       string              `json:"id"`
	Name     string              `json:"name"`
	Presence contactpad.Presence `json:"presence,omitempty"`
	Services []string            `json:"services,omitempty"`
	// QueueSize and WaitSeconds describe a service's queue.
	QueueSize   *int     `json:"queue_size,omitempty"`
	WaitSeconds *float64 `json:"wait_seconds,omitempty"`
}

// directory lists agents and services alphabetically by name, those that
// q matches (a part of, in any case): a service by its ID or name, an
// agent by its ID or name or by the ID or name of a service it serves. The
// calling agent is not listed: it transfers to, and consults, others.
func (s *Server) directory(w http.ResponseWriter, r *http.Request, id *Identity) error {
	q := strings.ToLower(strings.TrimSpace(r.URL.Query().Get("q")))
	matches := func(texts ...string) bool {
		if q == "" {
			return true
		}
		for _, t := range texts {
			if strings.Contains(strings.ToLower(t), q) {
				return true
			}
		}
		return false
	}
	settings := s.engine.Settings()
	serviceNames := make(map[string]string, len(settings.Services))
	for _, svc := range settings.Services {
		serviceNames[svc.ID] = svc.Name
	}
	configured := make(map[string]bool, len(settings.Agents))
	for _, a := range settings.Agents {
		configured[a.ID] = true
	}
	// servesMatch reports whether q matches a service of the agent.
	servesMatch := func(a *contactpad.Agent) bool {
		for _, svc := range a.Services {
			if matches(svc, serviceNames[svc]) {
				return true
			}
		}
		return false
	}
	now := s.o.Now()
	var agentList, serviceList []directoryEntry
	err := s.store.View(r.Context(), func(tx adapter.Tx) error {
		all, err := tx.Agents()
		if err != nil {
			return err
		}
		for _, a := range all {
			if a.ID == id.agent() || !configured[a.ID] { // not the caller, nor an agent a reload removed
				continue
			}
			if matches(a.ID, a.Name) || servesMatch(a) {
				agentList = append(agentList, directoryEntry{Kind: "agent", ID: a.ID, Name: a.Name, Presence: a.Presence, Services: a.Services})
			}
		}
		stats, err := tx.QueueStats()
		if err != nil {
			return err
		}
		for _, svc := range settings.Services {
			if !matches(svc.ID, svc.Name) {
				continue
			}
			st := stats[svc.ID]
			size, wait := st.Size, 0.0
			if size > 0 && !st.OldestQueued.IsZero() {
				wait = max(0, now.Sub(st.OldestQueued).Seconds())
			}
			serviceList = append(serviceList, directoryEntry{Kind: "service", ID: svc.ID, Name: svc.Name, QueueSize: &size, WaitSeconds: &wait})
		}
		return nil
	})
	if err != nil {
		return err
	}
	byName := func(list []directoryEntry) []directoryEntry {
		sort.SliceStable(list, func(i, j int) bool {
			a, b := strings.ToLower(list[i].Name), strings.ToLower(list[j].Name)
			return a < b || (a == b && list[i].ID < list[j].ID)
		})
		if list == nil {
			list = []directoryEntry{}
		}
		return list
	}
	writeJSON(w, http.StatusOK, map[string]any{"agents": byName(agentList), "services": byName(serviceList)})
	return nil
}
