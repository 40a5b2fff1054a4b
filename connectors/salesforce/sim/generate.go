package sim

import (
	"context"
	"fmt"
	"math/rand/v2"
	"time"
)

var (
	billingSubjects = []string{
		"Charged twice for invoice INV-%d",
		"Refund request for order %d",
		"Invoice %d shows the wrong amount",
		"Cannot download invoice %d",
		"Direct debit failed for invoice %d",
	}
	supportSubjects = []string{
		"Order %d has not arrived",
		"Cannot log in after password reset (ticket %d)",
		"App freezes when opening order %d",
		"Tracking link for order %d does not work",
		"Damaged item in delivery %d",
	}
	supportTypes = []string{"Technical", "Question", "Problem"}
	chatOpeners  = []string{
		"Visitor: Hello, is anyone there?",
		"Visitor: My order %d is late.",
		"Visitor: I have a question about invoice %d.",
		"Visitor: The checkout page keeps failing for order %d.",
	}
)

// Generate adds realistic new work items to the org until ctx is done, at
// rate records a second on average (Poisson arrivals): about 7 in 10 are
// Cases (Origin Email, Web or Phone; Type "Billing" for the billing service,
// Technical, Question or Problem for support) and the rest waiting chat
// transcripts, each from a random existing contact and owned by the
// integration user. It is for demos: a record the org refuses (for example
// because of a validation rule from Faults) is skipped. Its records are not
// API writes: Writes does not count them. Generate returns nil
// when ctx is done, and an error only for a rate that is not positive. A nil
// rng uses a randomly seeded one.
func (o *Org) Generate(ctx context.Context, rate float64, rng *rand.Rand) error {
	if rate <= 0 {
		return fmt.Errorf("generate: rate must be positive, got %v", rate)
	}
	if rng == nil {
		rng = rand.New(rand.NewPCG(rand.Uint64(), rand.Uint64()))
	}
	for {
		wait := time.Duration(rng.ExpFloat64() / rate * float64(time.Second))
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil
		case <-t.C:
		}
		o.generateOne(rng)
	}
}

func pick[T any](rng *rand.Rand, list []T) T { return list[rng.IntN(len(list))] }

// generateOne creates one Case or chat transcript.
func (o *Org) generateOne(rng *rand.Rand) {
	o.mu.Lock()
	defer o.mu.Unlock()
	var contacts []string
	for _, r := range o.tables["Contact"].rowsInOrder() {
		if !r.deleted {
			contacts = append(contacts, r.id)
		}
	}
	vals := map[string]any{}
	if len(contacts) > 0 {
		vals["ContactId"] = contacts[rng.IntN(len(contacts))]
	}
	number := 60000 + rng.IntN(40000)
	var obj *objectDef
	if rng.Float64() < 0.7 {
		obj = o.schema.object("Case")
		subjects, typ := supportSubjects, pick(rng, supportTypes)
		if rng.Float64() < 0.35 {
			subjects, typ = billingSubjects, "Billing"
		}
		origin := "Email"
		switch x := rng.Float64(); {
		case x < 0.3:
			origin = "Web"
		case x < 0.5:
			origin = "Phone"
		}
		priority := "Medium"
		switch x := rng.Float64(); {
		case x < 0.2:
			priority = "High"
		case x < 0.4:
			priority = "Low"
		}
		vals["Subject"] = fmt.Sprintf(pick(rng, subjects), number)
		vals["Description"] = "Created by the local org's traffic generator."
		vals["Type"], vals["Origin"], vals["Priority"] = typ, origin, priority
	} else {
		obj = o.schema.object("LiveChatTranscript")
		opener := pick(rng, chatOpeners)
		if opener != chatOpeners[0] {
			opener = fmt.Sprintf(opener, number)
		}
		vals["Body"] = opener
		vals["ChatKey"] = fmt.Sprintf("%08x-%04x-4%03x-%04x-%012x", rng.Uint32(), rng.IntN(1<<16), rng.IntN(1<<12),
			0x8000|rng.IntN(1<<14), rng.Uint64()&(1<<48-1))
		vals["RequestTime"] = o.now().UTC().Truncate(time.Millisecond)
	}
	w := &writer{tx: &tx{}, user: o.adminID}
	if _, err := o.create(w, obj, vals, ""); err != nil && o.opts.Logger != nil {
		o.opts.Logger.Printf("sim: generate %s: %s: %s", obj.Name, err.code, err.msg)
	}
}
