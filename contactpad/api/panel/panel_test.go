package panel_test

import (
	"compress/gzip"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/ctibridge/ctibridge/contactpad/api/panel"
)

func serve(t *testing.T, o panel.Options) *httptest.Server {
	t.Helper()
	h, err := panel.Handler(o)
	require.NoError(t, err)
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv
}

func get(t *testing.T, url string, header map[string]string) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest("GET", url, nil)
	require.NoError(t, err)
	// Without this the client asks for gzip itself and hides the header.
	req.Header.Set("Accept-Encoding", "identity")
	for k, v := range header {
		req.Header.Set(k, v)
	}
	res, err := http.DefaultTransport.RoundTrip(req)
	require.NoError(t, err)
	defer res.Body.Close()
	var r io.Reader = res.Body
	if res.Header.Get("Content-Encoding") == "gzip" {
		gz, err := gzip.NewReader(res.Body)
		require.NoError(t, err)
		r = gz
	}
	body, err := io.ReadAll(r)
	require.NoError(t, err)
	return res, string(body)
}

func TestPage(t *testing.T) {
	srv := serve(t, panel.Options{
		OpenCTIURL: "https://acme.my.salesforce.com/support/api/62.0/lightning/opencti_min.js",
		RecordURL:  "https://acme.lightning.force.com/lightning/r/{object}/{id}/view",
	})
	res, body := get(t, srv.URL+"/", nil)
	require.Equal(t, 200, res.StatusCode)
	require.Equal(t, "text/html; charset=utf-8", res.Header.Get("Content-Type"))
	require.Equal(t, "no-cache", res.Header.Get("Cache-Control"), "the page is revalidated on every load")
	require.NotEmpty(t, res.Header.Get("ETag"))
	require.Contains(t, body, `data-opencti-script="https://acme.my.salesforce.com/support/api/62.0/lightning/opencti_min.js"`)
	require.Contains(t, body, `data-record-link="https://acme.lightning.force.com/lightning/r/{object}/{id}/view"`)

	t.Run("no inline scripts or styles (the CSP allows neither)", func(t *testing.T) {
		require.NotRegexp(t, `<script(?:\s[^>]*)?>[^<]+</script>`, body)
		require.NotContains(t, body, "<style")
		require.NotRegexp(t, `\sstyle=`, body)
		require.NotRegexp(t, `\son[a-z]+=`, body, "no inline event handlers")
	})

	t.Run("assets are named with their version and cached for good", func(t *testing.T) {
		refs := regexp.MustCompile(`(?:src|href)="((?:panel\.js|panel\.css|icon\.svg)\?v=[0-9a-f]+)"`).FindAllStringSubmatch(body, -1)
		require.NotRegexp(t, `(?:src|href)="(?:panel\.js|panel\.css|icon\.svg)"`, body, "an asset without its version")
		assets := map[string]bool{}
		for _, ref := range refs {
			assets[strings.SplitN(ref[1], "?", 2)[0]] = true
			res, asset := get(t, srv.URL+"/"+ref[1], nil)
			require.Equal(t, 200, res.StatusCode, ref[1])
			require.Equal(t, "public, max-age=31536000, immutable", res.Header.Get("Cache-Control"), ref[1])
			require.NotEmpty(t, asset)
		}
		require.Len(t, assets, 3, "the icon, the stylesheet and the script: %v", assets)
		res, _ := get(t, srv.URL+"/panel.js?v=old", nil)
		require.Equal(t, "no-cache", res.Header.Get("Cache-Control"), "another version is only revalidated")
	})

	t.Run("an Open CTI URL that is not https is refused", func(t *testing.T) {
		_, err := panel.Handler(panel.Options{OpenCTIURL: "http://acme.my.salesforce.com/x.js"})
		require.ErrorContains(t, err, "opencti_min.js")
		_, err = panel.Handler(panel.Options{RecordURL: "/lightning/r/{object}/{id}/view"})
		require.ErrorContains(t, err, "record URL")
	})
}

func TestAssets(t *testing.T) {
	srv := serve(t, panel.Options{})
	tests := []struct {
		path        string
		status      int
		contentType string
	}{
		{"/", 200, "text/html; charset=utf-8"},
		{"/index.html", 200, "text/html; charset=utf-8"},
		{"/panel.js", 200, "text/javascript; charset=utf-8"},
		{"/panel.css", 200, "text/css; charset=utf-8"},
		{"/icon.svg", 200, "image/svg+xml"},
		{"/favicon.ico", 404, ""},
		{"/static/panel.js", 404, ""},
		{"/../go.mod", 404, ""},
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			res, _ := get(t, srv.URL+tt.path, nil)
			require.Equal(t, tt.status, res.StatusCode)
			if tt.contentType != "" {
				require.Equal(t, tt.contentType, res.Header.Get("Content-Type"))
			}
		})
	}

	t.Run("ETag revalidation", func(t *testing.T) {
		res, _ := get(t, srv.URL+"/panel.js", nil)
		etag := res.Header.Get("ETag")
		res, body := get(t, srv.URL+"/panel.js", map[string]string{"If-None-Match": etag})
		require.Equal(t, http.StatusNotModified, res.StatusCode)
		require.Empty(t, body)
		res, _ = get(t, srv.URL+"/panel.js", map[string]string{"If-None-Match": `W/` + etag + `, "other"`})
		require.Equal(t, http.StatusNotModified, res.StatusCode)
		res, _ = get(t, srv.URL+"/panel.js", map[string]string{"If-None-Match": `"other"`})
		require.Equal(t, http.StatusOK, res.StatusCode)
	})

	t.Run("gzip when asked", func(t *testing.T) {
		res, plain := get(t, srv.URL+"/panel.js", nil)
		require.Empty(t, res.Header.Get("Content-Encoding"))
		res, unzipped := get(t, srv.URL+"/panel.js", map[string]string{"Accept-Encoding": "br, gzip"})
		require.Equal(t, "gzip", res.Header.Get("Content-Encoding"))
		require.Contains(t, res.Header.Values("Vary"), "Accept-Encoding")
		require.Equal(t, plain, unzipped)
		res, _ = get(t, srv.URL+"/panel.js", map[string]string{"Accept-Encoding": "gzip;q=0"})
		require.Empty(t, res.Header.Get("Content-Encoding"))
	})

	t.Run("only GET and HEAD", func(t *testing.T) {
		res, err := http.Post(srv.URL+"/", "text/plain", strings.NewReader("x"))
		require.NoError(t, err)
		res.Body.Close()
		require.Equal(t, http.StatusMethodNotAllowed, res.StatusCode)
	})

	t.Run("without Open CTI the page says so", func(t *testing.T) {
		_, body := get(t, srv.URL+"/", nil)
		require.Contains(t, body, `data-opencti-script=""`)
	})
}

func TestRecordURLFromOpenCTI(t *testing.T) {
	tests := []struct{ in, want string }{
		{"https://acme.my.salesforce.com/support/api/62.0/lightning/opencti_min.js", "https://acme.my.salesforce.com/lightning/r/{object}/{id}/view"},
		{"https://acme--c.vf.force.com/support/api/62.0/lightning/opencti_min.js", "https://acme.my.salesforce.com/lightning/r/{object}/{id}/view"},
		{"", ""},
		{"http://acme.my.salesforce.com/x.js", ""},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			require.Equal(t, tt.want, panel.RecordURLFromOpenCTI(tt.in))
		})
	}
}
