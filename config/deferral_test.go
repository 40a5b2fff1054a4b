package config

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/ctibridge/ctibridge/contactpad"
)

func TestDeferralRuleMatches(t *testing.T) {
	waiting := &contactpad.Interaction{Media: contactpad.NonLive, Service: "support", Subject: "Refund please",
		Priority: 3, Tags: []string{"waiting-customer", "vip"}, Category: "billing"}
	plain := &contactpad.Interaction{Media: contactpad.SemiLive, Service: "billing", Priority: 1}

	tests := []struct {
		name string
		when string
		want map[*contactpad.Interaction]bool
	}{
		{name: "contains on the tag list", when: `tags contains "waiting-customer"`, want: map[*contactpad.Interaction]bool{waiting: true, plain: false}},
		{name: "in", when: `"vip" in tags`, want: map[*contactpad.Interaction]bool{waiting: true, plain: false}},
		{name: "not in", when: `"vip" not in tags`, want: map[*contactpad.Interaction]bool{waiting: false, plain: true}},
		{name: "media and priority", when: `media == "non-live" && priority > 2`, want: map[*contactpad.Interaction]bool{waiting: true, plain: false}},
		{name: "contains on a string stays a substring test", when: `subject contains "Refund"`, want: map[*contactpad.Interaction]bool{waiting: true, plain: false}},
		{name: "category and service", when: `category == "billing" || service == "billing"`, want: map[*contactpad.Interaction]bool{waiting: true, plain: true}},
		{name: "the function behind contains", when: `listContains(tags, "vip")`, want: map[*contactpad.Interaction]bool{waiting: true, plain: false}},
		{name: "a run-time error does not match", when: `tags[5] == "x"`, want: map[*contactpad.Interaction]bool{waiting: false, plain: false}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := Parse("ctibridge.yaml", doc("deferral:", "  rules:", "    - when: '"+tt.when+"'", "      after: 1h"))
			require.NoError(t, err)
			rule := cfg.Deferral.Rules[0]
			require.NotNil(t, rule.program)
			for i, want := range tt.want {
				require.Equal(t, want, rule.Matches(i), "tags %v", i.Tags)
			}
			require.False(t, rule.Matches(nil))

			inCode := DeferralRule{When: tt.when, After: Duration(time.Hour)}
			for i, want := range tt.want {
				require.Equal(t, want, inCode.Matches(i), "built in code")
			}
		})
	}
}

func TestDeferralRuleInvalidInCode(t *testing.T) {
	require.False(t, DeferralRule{When: "tags contains"}.Matches(&contactpad.Interaction{}))
}

func TestDeferralDueAfter(t *testing.T) {
	cfg, err := Load(examplePath)
	require.NoError(t, err)

	tests := []struct {
		name  string
		i     *contactpad.Interaction
		after time.Duration
		ok    bool
	}{
		{name: "first rule", i: &contactpad.Interaction{Tags: []string{"waiting-customer"}, Category: "billing", Media: contactpad.NonLive}, after: 120 * time.Hour, ok: true},
		{name: "second rule", i: &contactpad.Interaction{Category: "billing", Media: contactpad.NonLive}, after: 48 * time.Hour, ok: true},
		{name: "no rule", i: &contactpad.Interaction{Category: "billing", Media: contactpad.SemiLive}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			after, ok := cfg.Deferral.DueAfter(tt.i)
			require.Equal(t, tt.ok, ok)
			require.Equal(t, tt.after, after)
		})
	}
}
