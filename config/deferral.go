package config

import (
	"slices"
	"time"

	"github.com/expr-lang/expr"
	"github.com/expr-lang/expr/vm"

	"github.com/ctibridge/ctibridge/contactpad"
)

// DeferralRule gives a default deferral duration to the interactions its
// expression matches.
type DeferralRule struct {
	// When is an expr-lang expression (https://expr-lang.org) that must
	// yield a boolean. It sees the interaction as
	//
	//	tags []string, category string, media string, service string,
	//	subject string, priority int
	//
	// Besides the language's own operators, "contains" also tests list
	// membership, so `tags contains "waiting-customer"` reads as
	// `"waiting-customer" in tags`; on strings it stays a substring test.
	When string `yaml:"when"`
	// After is how long after the deferral the interaction is due.
	After Duration `yaml:"after"`

	// program is When, compiled by Parse.
	program *vm.Program
}

// ruleEnv is what a DeferralRule expression sees of an interaction.
type ruleEnv struct {
	Tags     []string `expr:"tags"`
	Category string   `expr:"category"`
	Media    string   `expr:"media"`
	Service  string   `expr:"service"`
	Subject  string   `expr:"subject"`
	Priority int      `expr:"priority"`
}

// listContains backs the "contains" operator on a list of strings. It is
// also callable as listContains(tags, "x").
func listContains(params ...any) (any, error) {
	list, _ := params[0].([]string)
	s, _ := params[1].(string)
	return slices.Contains(list, s), nil
}

// compileRule compiles a When expression against ruleEnv.
func compileRule(when string) (*vm.Program, error) {
	return expr.Compile(when,
		expr.Env(ruleEnv{}),
		expr.AsBool(),
		// The function must be declared before the operator that uses it.
		expr.Function("listContains", listContains, new(func([]string, string) bool)),
		expr.Operator("contains", "listContains"),
	)
}

// Matches reports whether the rule applies to the interaction. An
// expression that fails at run time (an index out of range, say) does not
// match.
func (r DeferralRule) Matches(i *contactpad.Interaction) bool {
	if i == nil {
		return false
	}
	program := r.program
	if program == nil {
		// A rule built in code rather than parsed.
		var err error
		if program, err = compileRule(r.When); err != nil {
			return false
		}
	}
	tags := i.Tags
	if tags == nil {
		tags = []string{}
	}
	out, err := expr.Run(program, ruleEnv{
		Tags:     tags,
		Category: i.Category,
		Media:    string(i.Media),
		Service:  i.Service,
		Subject:  i.Subject,
		Priority: i.Priority,
	})
	if err != nil {
		return false
	}
	matched, _ := out.(bool)
	return matched
}

// DueAfter returns the After of the first rule that matches the
// interaction, and false when none does.
func (d Deferral) DueAfter(i *contactpad.Interaction) (time.Duration, bool) {
	for _, r := range d.Rules {
		if r.Matches(i) {
			return time.Duration(r.After), true
		}
	}
	return 0, false
}
