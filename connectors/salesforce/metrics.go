package salesforce

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"

	"github.com/prometheus/client_golang/prometheus"
)

// Metrics are the connector's Prometheus metrics:
//
//	ctibridge_crm_calls_total{endpoint}   counter: HTTP requests to the org, every attempt of a retried call included
//	ctibridge_crm_errors_total{code}      counter: errors by Salesforce errorCode
//	ctibridge_crm_api_usage               gauge: API requests used in the org's 24-hour window (Sforce-Limit-Info)
//	ctibridge_crm_api_limit               gauge: the org's API request limit for the window (Sforce-Limit-Info)
//
// endpoint is token, query, composite, collections, sobject, describe,
// limits or other. code is the errorCode of an error answer (or the OAuth
// error of a sign-in), HTTP_<status> for an answer without one, timeout or
// network for a request that got no answer; the per-record errors of a
// composite call (UNABLE_TO_LOCK_ROW, ENTITY_IS_DELETED...) count too, one
// per record. A nil *Metrics records nothing.
type Metrics struct {
	calls  [numEndpoints]prometheus.Counter
	errors *prometheus.CounterVec
	usage  prometheus.Gauge
	limit  prometheus.Gauge
}

// NewMetrics makes the connector's metrics and registers them on reg
// (unless reg is nil); it panics if reg already holds them, as
// MustRegister does. Set it as Config.Metrics.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	calls := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "ctibridge_crm_calls_total",
		Help: "HTTP requests to the CRM by endpoint; each attempt of a retried call counts.",
	}, []string{"endpoint"})
	m := &Metrics{
		errors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ctibridge_crm_errors_total",
			Help: "CRM errors by Salesforce errorCode (HTTP_<status> when the answer has none; timeout, network " +
				"when there was no answer), per failed request and per failed record of a composite call.",
		}, []string{"code"}),
		usage: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "ctibridge_crm_api_usage",
			Help: "API requests used in the org's 24-hour window, from the last Sforce-Limit-Info header seen.",
		}),
		limit: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "ctibridge_crm_api_limit",
			Help: "The org's API request limit for its 24-hour window, from the last Sforce-Limit-Info header seen.",
		}),
	}
	for k, name := range endpointNames {
		m.calls[k] = calls.WithLabelValues(name)
	}
	if reg != nil {
		reg.MustRegister(calls, m.errors, m.usage, m.limit)
	}
	return m
}

// The endpoint label values.
const (
	endpointToken = iota
	endpointQuery
	endpointComposite
	endpointCollections
	endpointSObject
	endpointDescribe
	endpointLimits
	endpointOther
	numEndpoints
)

var endpointNames = [numEndpoints]string{
	endpointToken:       "token",
	endpointQuery:       "query",
	endpointComposite:   "composite",
	endpointCollections: "collections",
	endpointSObject:     "sobject",
	endpointDescribe:    "describe",
	endpointLimits:      "limits",
	endpointOther:       "other",
}

// endpoint names the REST resource of a request path, a small fixed set so
// that record ids never become label values.
func endpoint(method, path string) int {
	if strings.HasPrefix(path, "/services/oauth2/") {
		return endpointToken
	}
	rest, ok := strings.CutPrefix(path, "/services/data/")
	if !ok {
		return endpointOther
	}
	segs := strings.Split(strings.Trim(rest, "/"), "/")
	if len(segs) < 2 { // the versions list, or a version's resources
		return endpointOther
	}
	segs = segs[1:]
	switch segs[0] {
	case "query", "queryAll":
		return endpointQuery
	case "composite":
		if len(segs) > 1 && segs[1] == "sobjects" {
			return endpointCollections
		}
		return endpointComposite
	case "sobjects":
		if len(segs) == 1 || (len(segs) == 2 && method == http.MethodGet) || segs[len(segs)-1] == "describe" {
			return endpointDescribe
		}
		return endpointSObject
	case "limits":
		return endpointLimits
	}
	return endpointOther
}

// crmError counts one error of code.
func (m *Metrics) crmError(code string) {
	if m == nil {
		return
	}
	m.errors.WithLabelValues(code).Inc()
}

// errorCode is the code label of an error Salesforce returned.
func errorCode(err error) string {
	var api *APIError
	switch {
	case !errors.As(err, &api):
		return "other"
	case api.Code != "":
		return api.Code
	}
	return "HTTP_" + strconv.Itoa(api.Status)
}

// metered counts every request that goes through it, its error answers by
// code, and reads the org's API usage from the answers. It sits under the
// retry layer, so each attempt counts.
type metered struct {
	next http.RoundTripper
	m    *Metrics
}

func (t metered) RoundTrip(req *http.Request) (*http.Response, error) {
	t.m.calls[endpoint(req.Method, req.URL.Path)].Inc()
	resp, err := t.next.RoundTrip(req)
	if err != nil {
		if code := transportErrorCode(err); code != "" {
			t.m.crmError(code)
		}
		return resp, err
	}
	if info := resp.Header.Get("Sforce-Limit-Info"); info != "" {
		if used, limit, ok := parseLimitInfo(info); ok {
			t.m.usage.Set(used)
			t.m.limit.Set(limit)
		}
	}
	if resp.StatusCode >= 400 {
		code, err := answerErrorCode(resp)
		if err != nil {
			return nil, err
		}
		t.m.crmError(code)
	}
	return resp, nil
}

// transportErrorCode classifies a request that got no answer: "" when the
// caller gave up (not the org's doing).
func transportErrorCode(err error) string {
	var netErr net.Error
	switch {
	case errors.Is(err, context.Canceled):
		return ""
	case errors.Is(err, context.DeadlineExceeded), errors.As(err, &netErr) && netErr.Timeout():
		return "timeout"
	}
	return "network"
}

// answerErrorCode reads the error code of an error answer and puts its
// body back for the caller: Salesforce's [{"errorCode"}], OAuth's
// {"error"}, else HTTP_<status>.
func answerErrorCode(resp *http.Response) (string, error) {
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	resp.Body.Close()
	if err != nil {
		return "", err
	}
	resp.Body = io.NopCloser(bytes.NewReader(body))
	var apiErrs []struct {
		ErrorCode string `json:"errorCode"`
	}
	if json.Unmarshal(body, &apiErrs) == nil && len(apiErrs) > 0 && apiErrs[0].ErrorCode != "" {
		return apiErrs[0].ErrorCode, nil
	}
	var oauthErr struct {
		Error string `json:"error"`
	}
	if json.Unmarshal(body, &oauthErr) == nil && oauthErr.Error != "" {
		return oauthErr.Error, nil
	}
	return "HTTP_" + strconv.Itoa(resp.StatusCode), nil
}

// parseLimitInfo reads "api-usage=N/M" from a Sforce-Limit-Info header,
// which may list other usages too ("api-usage=18/5000,
// per-app-api-usage=17/250(appName=x)").
func parseLimitInfo(info string) (used, limit float64, ok bool) {
	for part := range strings.SplitSeq(info, ",") {
		v, found := strings.CutPrefix(strings.TrimSpace(part), "api-usage=")
		if !found {
			continue
		}
		n, m, found := strings.Cut(v, "/")
		if !found {
			return 0, 0, false
		}
		u, err1 := strconv.ParseFloat(n, 64)
		l, err2 := strconv.ParseFloat(m, 64)
		return u, l, err1 == nil && err2 == nil
	}
	return 0, 0, false
}
