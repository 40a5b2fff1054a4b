package sim

import (
	"fmt"
	"net/http"
	"strings"
)

// Key prefixes of the Omni-Channel presence objects, as Salesforce assigns them.
const (
	prefixPresenceStatus = "0N5"
	prefixUserPresence   = "0Hn"
)

// PresenceStatuses are the ServicePresenceStatus records every local org
// has, by DeveloperName and MasterLabel: what an admin sets up in
// Omni-Channel > Presence Statuses.
var PresenceStatuses = [][2]string{
	{"Available", "Available"},
	{"Busy_Voice", "Busy - On a Call"},
	{"Busy", "Busy"},
	{"Away", "Away - On Break"},
}

// awayStatuses are the statuses of PresenceStatuses that are no "online"
// status in Omni-Channel (IsAway on the user's presence).
var awayStatuses = map[string]bool{"Away": true}

// omniPresenceObjects are ServicePresenceStatus and UserServicePresence.
// Salesforce's API only reads them (query, retrieve): statuses are set up
// in Setup, and a user's presence rows are written by the Omni-Channel
// widget, which OmniStatus stands in for.
func omniPresenceObjects() []*objectDef {
	return []*objectDef{
		{
			Name: "ServicePresenceStatus", Label: "Presence Status", LabelPlural: "Presence Statuses",
			KeyPrefix: prefixPresenceStatus,
			Fields: concat(
				[]*fieldDef{
					fID(),
					fText("DeveloperName", "Developer Name", 80).readOnly(),
					fText("MasterLabel", "Label", 80).readOnly(),
					fText("Language", "Language", 40).readOnly(),
				},
				systemFields(true),
			),
		},
		{
			Name: "UserServicePresence", Label: "User Presence", LabelPlural: "User Presences",
			KeyPrefix: prefixUserPresence,
			Fields: concat(
				[]*fieldDef{
					fID(),
					fLookup("UserId", "User ID", "User", "User").readOnly(),
					fLookup("OwnerId", "Owner ID", "Owner", "User").readOnly(),
					fLookup("ServicePresenceStatusId", "Presence Status ID", "ServicePresenceStatus",
						"ServicePresenceStatus").readOnly(),
					fBool("IsCurrentState", "Is Current State").readOnly(),
					fBool("IsAway", "Is Away").readOnly(),
					fDateTime("StatusStartDate", "Status Start Date").readOnly(),
					fDateTime("StatusEndDate", "Status End Date").readOnly(),
					withType(fText("ConfiguredCapacity", "Configured Capacity", 0).readOnly(), typeDouble),
				},
				systemFields(true),
			),
		},
	}
}

func withType(f *fieldDef, t fieldType) *fieldDef {
	f.Type, f.Length = t, 0
	return f
}

// seedPresenceStatuses creates PresenceStatuses; w is a seeding writer.
func (o *Org) seedPresenceStatuses(w *writer) {
	obj := o.schema.object("ServicePresenceStatus")
	for k, s := range PresenceStatuses {
		id := makeID(prefixPresenceStatus, "Sd", uint64(k+1))
		if _, err := o.create(w, obj, map[string]any{"DeveloperName": s[0], "MasterLabel": s[1], "Language": "en_US"}, id); err != nil {
			panic("sim: creating presence status " + s[0] + ": " + err.msg)
		}
	}
}

// omniConfiguredCapacity is the ConfiguredCapacity of the presence rows
// OmniStatus creates: the capacity of the user's presence configuration.
const omniConfiguredCapacity = 5

// OmniStatus does what a user does in the Omni-Channel widget: with status
// a ServicePresenceStatus DeveloperName, it ends the user's current
// UserServicePresence (IsCurrentState false, StatusEndDate now) and starts
// a new one in that status; with status "", it signs the user out of
// Omni-Channel (the current row ends, and none follows). user is a User's
// id or Username. Like Edit, it is no API call.
func (o *Org) OmniStatus(user, status string) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	u := o.userByIDOrName(user)
	if u == nil {
		return fmt.Errorf("omni status: no active User has the id or username %q", user)
	}
	var statusID string
	if status != "" {
		for _, r := range o.tableFor(o.schema.object("ServicePresenceStatus")).rows {
			if !r.deleted && strings.EqualFold(fmt.Sprint(r.vals["DeveloperName"]), status) {
				statusID = r.id
			}
		}
		if statusID == "" {
			return fmt.Errorf("omni status: no ServicePresenceStatus has the DeveloperName %q (want one of %s)",
				status, strings.Join(presenceStatusNames(), ", "))
		}
	}
	obj := o.schema.object("UserServicePresence")
	w := &writer{tx: &tx{}, user: u.id, seeding: true}
	now := o.now().UTC()
	for _, r := range o.tableFor(obj).rows {
		if !r.deleted && r.vals["UserId"] == u.id && r.vals["IsCurrentState"] == true {
			if err := o.update(w, obj, r.id, map[string]any{"IsCurrentState": false, "StatusEndDate": now}); err != nil {
				w.tx.rollback(0)
				return fmt.Errorf("omni status: end %s: %s: %s", r.id, err.code, err.msg)
			}
		}
	}
	if statusID == "" {
		return nil
	}
	_, err := o.create(w, obj, map[string]any{
		"UserId": u.id, "OwnerId": u.id, "ServicePresenceStatusId": statusID, "IsCurrentState": true,
		"IsAway": awayStatuses[status], "StatusStartDate": now, "ConfiguredCapacity": float64(omniConfiguredCapacity),
	}, o.newID(prefixUserPresence))
	if err != nil {
		w.tx.rollback(0)
		return fmt.Errorf("omni status: %s: %s", err.code, err.msg)
	}
	return nil
}

// userByIDOrName returns the active User with the id or Username s.
func (o *Org) userByIDOrName(s string) *row {
	if id, ok := normalizeID(s); ok {
		if r := o.liveRecord(id); r != nil && r.obj.Name == "User" && r.vals["IsActive"] == true {
			return r
		}
	}
	for _, r := range o.tableFor(o.schema.object("User")).rows {
		if !r.deleted && r.vals["IsActive"] == true && strings.EqualFold(fmt.Sprint(r.vals["Username"]), s) {
			return r
		}
	}
	return nil
}

func presenceStatusNames() []string {
	var names []string
	for _, s := range PresenceStatuses {
		names = append(names, s[0])
	}
	return names
}

// OmniControlPath is the sim's stand-in for the Omni-Channel widget:
// POST {"user": "bob@local.test", "status": "Busy_Voice"} sets the user's
// presence status, {"user": ..., "status": ""} signs them out of
// Omni-Channel. It is no API call and needs no token: the local org's
// credentials are public anyway.
const OmniControlPath = "/sim/omni/presence"

// serveOmniControl serves OmniControlPath.
func (o *Org) serveOmniControl(w http.ResponseWriter, r *http.Request) {
	var body struct {
		User   string `json:"user"`
		Status string `json:"status"`
	}
	if !decodeControl(w, r, &body, `{"user": "...", "status": "..."}`) {
		return
	}
	if err := o.OmniStatus(body.User, body.Status); err != nil {
		http.Error(w, err.Error(), http.StatusUnprocessableEntity)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}
