package webhook

import (
	"bytes"
	"context"
	"net/http"
	"sync"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/stretchr/testify/require"

	"github.com/ctibridge/ctibridge/contactpad/api"
)

// webhookContract is the "event" webhook of the API's OpenAPI document:
// the POST every webhook receives.
var webhookContract = sync.OnceValues(func() (*routers.Route, error) {
	loader := openapi3.NewLoader()
	doc, err := loader.LoadFromData(api.OpenAPI())
	if err != nil {
		return nil, err
	}
	if err := doc.Validate(loader.Context); err != nil {
		return nil, err
	}
	item := doc.Webhooks["event"]
	if item == nil || item.Post == nil {
		return nil, nil
	}
	return &routers.Route{Spec: doc, Path: "event", PathItem: item, Method: http.MethodPost, Operation: item.Post}, nil
})

// requireContract checks a delivery against the document's webhook: its
// headers and its body, an Event.
func requireContract(t *testing.T, dl delivery) {
	t.Helper()
	route, err := webhookContract()
	require.NoError(t, err)
	require.NotNil(t, route, "openapi.json has no POST webhook \"event\"")
	req, err := http.NewRequest(dl.method, "https://receiver.example"+dl.path, bytes.NewReader(dl.body))
	require.NoError(t, err)
	req.Header = dl.header.Clone()
	in := &openapi3filter.RequestValidationInput{Request: req, Route: route, Options: &openapi3filter.Options{MultiError: true}}
	require.NoError(t, openapi3filter.ValidateRequest(context.Background(), in), "delivery %s", dl.body)
}
