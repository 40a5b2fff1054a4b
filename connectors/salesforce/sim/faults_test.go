package sim

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/require"
)

func TestFaultServerErrors(t *testing.T) {
	e := newEnv(t, Options{})
	e.org.Faults().FailNext(2, http.StatusServiceUnavailable)
	for i := 0; i < 2; i++ {
		resp, body := e.call(http.MethodGet, "/limits", nil)
		require.Equal(t, http.StatusServiceUnavailable, resp.StatusCode)
		require.JSONEq(t, `[{"message":"Server temporarily unavailable, please try again later","errorCode":"SERVER_UNAVAILABLE"}]`, string(body))
	}
	resp, _ := e.call(http.MethodGet, "/limits", nil)
	require.Equal(t, http.StatusOK, resp.StatusCode)

	e.org.Faults().FailNext(1, http.StatusInternalServerError)
	e.expectError(http.MethodGet, "/limits", nil, http.StatusInternalServerError, "UNKNOWN_EXCEPTION")

	e.org.Faults().FailNext(1, http.StatusBadGateway)
	resp, body := e.call(http.MethodGet, "/limits", nil)
	require.Equal(t, http.StatusBadGateway, resp.StatusCode)
	require.True(t, strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html"))
	require.Contains(t, string(body), "502 Bad Gateway")

	// The token endpoint is not faulted, and faulted calls are not counted.
	e.org.Faults().FailNext(1, http.StatusServiceUnavailable)
	e.login()
	resp, _ = e.call(http.MethodGet, "/limits", nil)
	require.Equal(t, http.StatusServiceUnavailable, resp.StatusCode)
	require.Equal(t, 1, e.org.Total())
}

func TestFaultLimitExceeded(t *testing.T) {
	e := newEnv(t, Options{})
	e.org.Faults().ExceedLimit(1)
	resp, body := e.call(http.MethodGet, "/limits", nil)
	require.Equal(t, http.StatusForbidden, resp.StatusCode)
	require.JSONEq(t, `[{"message":"TotalRequests Limit exceeded.","errorCode":"REQUEST_LIMIT_EXCEEDED"}]`, string(body))
	require.Equal(t, "api-usage=0/100000", resp.Header.Get("Sforce-Limit-Info"))
	resp, _ = e.call(http.MethodGet, "/limits", nil)
	require.Equal(t, http.StatusOK, resp.StatusCode)
}

func TestFaultRecordsAndRules(t *testing.T) {
	e := newEnv(t, Options{})
	require.NoError(t, e.org.Seed(DefaultSeed()))
	f := e.org.Faults()
	id := "500Sd0000000001IAA"
	patch := map[string]any{"Ctibridge_Status__c": "open"}

	f.LockRows(2, id[:15])
	for i := 0; i < 2; i++ {
		locked := e.expectError(http.MethodPatch, "/sobjects/Case/"+id, patch, http.StatusBadRequest, "UNABLE_TO_LOCK_ROW")
		require.Equal(t, "unable to obtain exclusive access to this record or 1 records: "+id, locked.Message)
		require.Equal(t, []string{}, locked.Fields)
	}
	e.callJSON(http.MethodPatch, "/sobjects/Case/"+id, patch, http.StatusNoContent, nil)

	f.MarkDeleted(id)
	e.expectError(http.MethodGet, "/sobjects/Case/"+id, nil, http.StatusNotFound, "ENTITY_IS_DELETED")
	e.expectError(http.MethodPatch, "/sobjects/Case/"+id, patch, http.StatusNotFound, "ENTITY_IS_DELETED")

	f.Require("case", "description")
	missing := e.expectError(http.MethodPost, "/sobjects/Case", map[string]any{"Subject": "x"}, http.StatusBadRequest, "REQUIRED_FIELD_MISSING")
	require.Equal(t, []string{"Description"}, missing.Fields)

	f.AddValidationRule("Case", "Subject", "Subject must not shout", func(r map[string]any) bool {
		s, _ := r["Subject"].(string)
		return s != "" && s == strings.ToUpper(s)
	})
	rule := e.expectError(http.MethodPost, "/sobjects/Case", map[string]any{"Subject": "HELP", "Description": "d"},
		http.StatusBadRequest, "FIELD_CUSTOM_VALIDATION_EXCEPTION")
	require.Equal(t, "Subject must not shout", rule.Message)
	require.Equal(t, []string{"Subject"}, rule.Fields)

	f.LockRows(0, "500Sd0000000002IAA")
	f.Reset()
	e.callJSON(http.MethodPatch, "/sobjects/Case/"+id, patch, http.StatusNoContent, nil)
	e.callJSON(http.MethodPatch, "/sobjects/Case/500Sd0000000002IAA", patch, http.StatusNoContent, nil)
	e.create("Case", map[string]any{"Subject": "HELP"})
}

func TestFaultLatency(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		org := New(Options{})
		rec := httptest.NewRecorder()
		form := url.Values{"grant_type": {"client_credentials"}, "client_id": {"ctibridge-local"}, "client_secret": {"local-secret"}}
		req := httptest.NewRequest(http.MethodPost, "/services/oauth2/token", strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		org.ServeHTTP(rec, req)
		var tok struct {
			AccessToken string `json:"access_token"`
		}
		require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &tok))

		org.Faults().SetLatency(750 * time.Millisecond)
		start := time.Now()
		rec = httptest.NewRecorder()
		req = httptest.NewRequest(http.MethodGet, "/services/data/v62.0/limits", nil)
		req.Header.Set("Authorization", "Bearer "+tok.AccessToken)
		org.ServeHTTP(rec, req)
		require.Equal(t, http.StatusOK, rec.Code)
		require.Equal(t, 750*time.Millisecond, time.Since(start))

		// A client that gives up ends the wait, and gets no answer.
		ctx, cancel := context.WithCancel(context.Background())
		time.AfterFunc(100*time.Millisecond, cancel)
		start = time.Now()
		rec = httptest.NewRecorder()
		org.ServeHTTP(rec, req.WithContext(ctx))
		require.Equal(t, 100*time.Millisecond, time.Since(start))
		require.Empty(t, rec.Body.String())
		require.Equal(t, 1, org.Total())
	})
}

// TestConcurrentUse runs clients, faults and the generator against one org
// at once; run it with -race.
func TestConcurrentUse(t *testing.T) {
	e := newEnv(t, Options{Now: time.Now, PageSize: 50})
	require.NoError(t, e.org.Seed(DefaultSeed()))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var generating sync.WaitGroup
	generating.Add(1)
	go func() {
		defer generating.Done()
		_ = e.org.Generate(ctx, 500, nil)
	}()
	// Workers report failures on a channel: require may only stop the test's own goroutine.
	failures := make(chan string, 100)
	do := func(method, path string, body any, want int) []byte {
		data, _ := json.Marshal(body)
		req, _ := http.NewRequest(method, e.srv.URL+"/services/data/v62.0"+path, strings.NewReader(string(data)))
		req.Header.Set("Authorization", "Bearer "+e.token)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			failures <- err.Error()
			return nil
		}
		defer resp.Body.Close()
		out, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != want {
			failures <- fmt.Sprintf("%s %s: %d %s", method, path, resp.StatusCode, out)
		}
		return out
	}
	var wg sync.WaitGroup
	for w := 0; w < 8; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 20; i++ {
				var created saveResultJSON
				_ = json.Unmarshal(do(http.MethodPost, "/sobjects/Case", map[string]any{"Subject": fmt.Sprintf("worker %d case %d", w, i)},
					http.StatusCreated), &created)
				do(http.MethodPatch, "/composite/sobjects", map[string]any{"records": []any{
					caseRecord(map[string]any{"Id": created.ID, "Status": "Working"}),
				}}, http.StatusOK)
				do(http.MethodGet, "/query?q="+url.QueryEscape("SELECT Id, Contact.Name FROM Case"), nil, http.StatusOK)
				e.org.Faults().LockRows(1, created.ID)
				_ = e.org.Records("Case")
				_ = e.org.Calls()
			}
		}()
	}
	wg.Wait()
	cancel()
	generating.Wait()
	close(failures)
	for f := range failures {
		t.Error(f)
	}
	require.GreaterOrEqual(t, len(e.org.Records("Case")), 18+160)
}
