package salesforce

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/ctibridge/ctibridge/contactpad"
	"github.com/ctibridge/ctibridge/mapping"
	"github.com/sirupsen/logrus"
)

// PageSize is how many records one poll query reads: one query page.
const PageSize = 2000

// Source reads one mapping's records changed since its watermark
// (adapter.Source). The watermark is the SystemModstamp and Id of the last
// record read, "2026-11-22T10:00:00.000Z|500...", so each page is one query
// of at most PageSize records.
type Source struct {
	c   *Client
	m   *mapping.Mapping
	log logrus.FieldLogger
}

// NewSource returns the source of m's records.
func NewSource(c *Client, m *mapping.Mapping) *Source {
	return &Source{c: c, m: m, log: c.log.WithField("source", "salesforce:"+m.Object)}
}

// Name implements adapter.Source.
func (s *Source) Name() string { return "salesforce:" + s.m.Object }

// Changes implements adapter.Source. A record the mapping cannot turn into
// a work item (no media rule matches, say) is logged and passed over.
func (s *Source) Changes(ctx context.Context, since string) ([]contactpad.WorkItem, string, bool, error) {
	at, afterID, err := parseWatermark(since)
	if err != nil {
		return nil, since, false, err
	}
	res, err := s.c.Query(ctx, s.m.QueryAfter(at, afterID, PageSize))
	if err != nil {
		return nil, since, false, fmt.Errorf("read %s: %w", s.m.Object, err)
	}
	next := since
	items := make([]contactpad.WorkItem, 0, len(res.Records))
	for _, rec := range res.Records {
		r := mapping.Record(rec)
		id, _ := r["Id"].(string)
		stamp, _ := r["SystemModstamp"].(string)
		modified, err := time.Parse("2006-01-02T15:04:05.000-0700", stamp)
		if err != nil || id == "" {
			return nil, since, false, fmt.Errorf("read %s: record %q has no usable Id and SystemModstamp (%q)", s.m.Object, id, stamp)
		}
		next = modified.UTC().Format("2006-01-02T15:04:05.000Z") + "|" + id
		item, err := s.m.Item(r)
		if err != nil {
			s.log.WithError(err).WithField("crm_id", id).Warn("record passed over")
			continue
		}
		items = append(items, item)
	}
	return items, next, len(res.Records) == PageSize, nil
}

func parseWatermark(w string) (time.Time, string, error) {
	if w == "" {
		return time.Time{}, "", nil
	}
	stamp, id, _ := strings.Cut(w, "|")
	at, err := time.Parse("2006-01-02T15:04:05.000Z", stamp)
	if err != nil {
		return time.Time{}, "", fmt.Errorf("bad watermark %q: %w", w, err)
	}
	return at, id, nil
}

// CheckMappings reads the describe of every object the mappings read or
// write and reports each field the org does not have, with the mapping's
// file and line, before anything is polled or written.
func CheckMappings(ctx context.Context, c *Client, ms []*mapping.Mapping) error {
	described := map[string][]string{}
	for _, m := range ms {
		for _, object := range m.Objects() {
			if _, done := described[object]; done {
				continue
			}
			fields, err := c.Describe(ctx, object)
			if err != nil {
				return fmt.Errorf("describe %s: %w", object, err)
			}
			described[object] = fields
		}
	}
	var errs []error
	for _, m := range ms {
		errs = append(errs, m.CheckFields(described))
	}
	return errors.Join(errs...)
}
