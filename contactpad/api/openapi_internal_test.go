package api

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestOpenAPIProblemCodes: the problem responses of openapi.json give each
// status the codes the server answers it with (statusOf), no fewer and no
// more.
func TestOpenAPIProblemCodes(t *testing.T) {
	var doc struct {
		Components struct {
			Responses map[string]struct {
				Content map[string]struct {
					Schema struct {
						Properties struct {
							Status struct{ Const int }
							Code   struct{ Enum []string }
						}
					}
				}
			}
		}
	}
	require.NoError(t, json.Unmarshal(openAPI, &doc))
	documented := map[string]int{}
	for name, r := range doc.Components.Responses {
		problem, ok := r.Content["application/problem+json"]
		if !ok {
			continue
		}
		p := problem.Schema.Properties
		require.NotZero(t, p.Status.Const, "components.responses.%s: status", name)
		require.NotEmpty(t, p.Code.Enum, "components.responses.%s: codes", name)
		for _, code := range p.Code.Enum {
			// A code may be in two responses (too_long is one of every
			// operation's 422s), always with the one status.
			if status, dup := documented[code]; dup {
				require.Equal(t, status, p.Status.Const, "code %s has two statuses", code)
			}
			documented[code] = p.Status.Const
		}
	}
	require.Equal(t, statusOf, documented)
}
