package salesforce

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
)

// OmniSource names Omni-Channel in logs and refusals
// (adapter.PresenceMap.Source, adapter.Settings.PresenceSource).
const OmniSource = "Omni-Channel"

// presenceQueriesPerCall is how many queries of usersPerQuery users one
// presence read puts in a composite call: one API call per 2,500 agents.
const presenceQueriesPerCall = maxQueriesPerCall

// OmniPresence reads the agents' Omni-Channel presence status
// (adapter.PresenceSource): their current UserServicePresence rows, with
// the DeveloperName of each row's ServicePresenceStatus.
type OmniPresence struct{ c *Client }

// NewOmniPresence returns the presence source of the org c signs in to.
func NewOmniPresence(c *Client) *OmniPresence { return &OmniPresence{c: c} }

// Statuses implements adapter.PresenceSource: one composite call of up to
// five queries, each for up to 500 users, so one API call a poll for up
// to 2,500 agents. Users are matched by their 18-character ids, and
// returned as the caller spelled them.
func (o *OmniPresence) Statuses(ctx context.Context, users []string) (map[string]string, error) {
	asked := map[string]string{} // by 18-character id
	var queries []string
	for start := 0; start < len(users); start += usersPerQuery {
		chunk := users[start:min(start+usersPerQuery, len(users))]
		quoted := make([]string, len(chunk))
		for k, id := range chunk {
			asked[ID18(id)] = id
			quoted[k] = "'" + strings.ReplaceAll(id, "'", `\'`) + "'"
		}
		queries = append(queries, "SELECT UserId, ServicePresenceStatus.DeveloperName FROM UserServicePresence "+
			"WHERE IsCurrentState = true AND UserId IN ("+strings.Join(quoted, ", ")+")")
	}
	out := map[string]string{}
	for start := 0; start < len(queries); start += presenceQueriesPerCall {
		pages, err := o.c.Queries(ctx, queries[start:min(start+presenceQueriesPerCall, len(queries))])
		if err != nil {
			return nil, fmt.Errorf("read UserServicePresence: %w", err)
		}
		for _, page := range pages {
			for _, r := range page {
				user, _ := r["UserId"].(string)
				status, _ := r["ServicePresenceStatus"].(map[string]any)
				name, _ := status["DeveloperName"].(string)
				if id, ok := asked[ID18(user)]; ok && name != "" {
					out[id] = name
				}
			}
		}
	}
	return out, nil
}

// StatusRef is a presence status the config names, and where
// ("ctibridge.yaml:12: crm.salesforce.omni.presence.map.Away").
type StatusRef struct{ Name, At string }

// CheckPresenceStatuses reads the org's ServicePresenceStatus records and
// reports each of statuses (the keys of crm.salesforce.omni.presence.map)
// that the org does not have, naming those it has, as a *MismatchError.
// It reads UserServicePresence too, so an integration user who may not
// read it is told at start rather than at every poll.
func CheckPresenceStatuses(ctx context.Context, c *Client, statuses []StatusRef) error {
	pages, err := c.Queries(ctx, []string{
		"SELECT DeveloperName FROM ServicePresenceStatus ORDER BY DeveloperName LIMIT 2000",
		"SELECT Id FROM UserServicePresence LIMIT 1",
	})
	if err != nil {
		return fmt.Errorf("read the org's Omni-Channel presence statuses: %w", err)
	}
	var have []string
	for _, r := range pages[0] {
		if name, _ := r["DeveloperName"].(string); name != "" {
			have = append(have, name)
		}
	}
	var errs []error
	for _, s := range statuses {
		if !slices.Contains(have, s.Name) {
			errs = append(errs, fmt.Errorf("%s: %q is not a presence status (DeveloperName) of the org (it has %s)",
				s.At, s.Name, strings.Join(have, ", ")))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return &MismatchError{Err: err}
	}
	return nil
}
