// Package panel serves the agent panel: a ContactPad-style web page (plain
// HTML, CSS and JavaScript embedded in the binary, no build step) that
// agents use in their CRM console, as the Open CTI softphone of a
// Salesforce call center, or in any browser tab.
//
// The page talks to the HTTP API of package api on the same origin: it
// reads the agent's interactions, takes the actions the server lists as
// enabled, and follows the event stream. It holds no rules of its own: the
// capability matrix, the reasons a button is disabled and every countdown's
// end come from the API.
package panel

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"fmt"
	"html/template"
	"mime"
	"net/http"
	"net/url"
	"path"
	"strings"
)

//go:embed static
var static embed.FS

// Options configure the panel.
type Options struct {
	// OpenCTIURL is the org's Open CTI library for Lightning Experience,
	// https://DOMAIN/support/api/VERSION/lightning/opencti_min.js. When it
	// is set and the page runs inside Salesforce, the panel loads it and
	// pops CRM records with sforce.opencti.screenPop; elsewhere it opens
	// RecordURL.
	OpenCTIURL string
	// RecordURL is where a CRM record is opened outside Salesforce, with
	// {object} and {id} replaced by the record's object name and ID, e.g.
	// https://ORG.lightning.force.com/lightning/r/{object}/{id}/view.
	// Empty: the panel shows the record's ID without a link.
	RecordURL string
	// SignIn shows "Sign in with Salesforce" as the sign-in screen's main
	// action (api.Options.SignIn is set); the API token field stays, behind
	// "Use an API token".
	SignIn bool
}

// RecordURLFromOpenCTI is the Lightning record address of the org whose
// Open CTI library URL is given ("" when there is none): the library's
// host, or for a Visualforce host (MYDOMAIN--PACKAGE.vf.force.com) the
// org's My Domain, MYDOMAIN.my.salesforce.com, which sends it on to the
// record page.
func RecordURLFromOpenCTI(openCTIURL string) string {
	u, err := url.Parse(openCTIURL)
	if err != nil || u.Scheme != "https" || u.Host == "" {
		return ""
	}
	host := u.Host
	if strings.HasSuffix(host, ".vf.force.com") {
		myDomain, _, _ := strings.Cut(host, "--")
		host = strings.TrimSuffix(myDomain, ".vf.force.com") + ".my.salesforce.com"
	}
	return "https://" + host + "/lightning/r/{object}/{id}/view"
}

// asset is one file of the panel, ready to serve.
type asset struct {
	body, gzipped []byte
	contentType   string
	etag          string
	// versioned assets are referenced from the page with ?v=<hash>, so a
	// request with that version may be cached for good.
	versioned bool
}

// handler serves the page and its assets.
type handler struct {
	assets  map[string]*asset
	version string
}

// Handler returns the panel's handler, to be served at "/". The page is
// at "/" (and "/index.html"); everything else it serves is an asset the
// page names. Other paths are 404.
func Handler(o Options) (http.Handler, error) {
	if o.OpenCTIURL != "" {
		if u, err := url.Parse(o.OpenCTIURL); err != nil || u.Scheme != "https" || u.Host == "" {
			return nil, fmt.Errorf("panel: Open CTI URL %q: want https://DOMAIN/support/api/VERSION/lightning/opencti_min.js", o.OpenCTIURL)
		}
	}
	if o.RecordURL != "" {
		if u, err := url.Parse(strings.NewReplacer("{object}", "x", "{id}", "x").Replace(o.RecordURL)); err != nil ||
			(u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
			return nil, fmt.Errorf("panel: record URL %q: want an http(s) URL with {object} and {id}", o.RecordURL)
		}
	}
	h := &handler{assets: map[string]*asset{}}
	sum := sha256.New()
	for _, name := range []string{"panel.js", "signin.js", "signin-popup.js", "panel.css", "icon.svg"} {
		body, err := static.ReadFile("static/" + name)
		if err != nil {
			return nil, err
		}
		sum.Write(body)
		h.assets["/"+name] = newAsset(body, contentType(name), true)
	}
	h.version = hex.EncodeToString(sum.Sum(nil))[:12]

	page, err := template.ParseFS(static, "static/index.html")
	if err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	if err := page.Execute(&buf, map[string]string{
		"Version": h.version, "OpenCTIURL": o.OpenCTIURL, "RecordURL": o.RecordURL, "SignIn": signInAttr(o.SignIn),
	}); err != nil {
		return nil, err
	}
	index := newAsset(buf.Bytes(), "text/html; charset=utf-8", false)
	h.assets["/"], h.assets["/index.html"] = index, index
	return h, nil
}

// signInAttr is the page's data-signin: "salesforce" when Sign in with
// Salesforce is on.
func signInAttr(on bool) string {
	if on {
		return "salesforce"
	}
	return ""
}

func contentType(name string) string {
	switch path.Ext(name) {
	case ".js":
		return "text/javascript; charset=utf-8"
	case ".css":
		return "text/css; charset=utf-8"
	case ".svg":
		return "image/svg+xml"
	}
	return mime.TypeByExtension(path.Ext(name))
}

func newAsset(body []byte, contentType string, versioned bool) *asset {
	sum := sha256.Sum256(body)
	a := &asset{body: body, contentType: contentType, etag: `"` + hex.EncodeToString(sum[:8]) + `"`, versioned: versioned}
	var gz bytes.Buffer
	w, _ := gzip.NewWriterLevel(&gz, gzip.BestCompression)
	_, _ = w.Write(body)
	_ = w.Close()
	if gz.Len() < len(body) {
		a.gzipped = gz.Bytes()
	}
	return a
}

func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	a, ok := h.assets[r.URL.Path]
	if !ok {
		http.Error(w, "404 page not found", http.StatusNotFound)
		return
	}
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "405 method not allowed", http.StatusMethodNotAllowed)
		return
	}
	hdr := w.Header()
	hdr.Set("Content-Type", a.contentType)
	hdr.Set("ETag", a.etag)
	hdr.Add("Vary", "Accept-Encoding")
	if a.versioned && r.URL.Query().Get("v") == h.version {
		hdr.Set("Cache-Control", "public, max-age=31536000, immutable")
	} else {
		// The page itself (and an asset asked for without the current
		// version) is revalidated on every load, so a new daemon's panel
		// is picked up at once; an unchanged one costs a 304.
		hdr.Set("Cache-Control", "no-cache")
	}
	if matchETag(r.Header.Get("If-None-Match"), a.etag) {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	body := a.body
	if a.gzipped != nil && acceptsGzip(r.Header.Get("Accept-Encoding")) {
		hdr.Set("Content-Encoding", "gzip")
		body = a.gzipped
	}
	hdr.Set("Content-Length", fmt.Sprint(len(body)))
	w.WriteHeader(http.StatusOK)
	if r.Method != http.MethodHead {
		_, _ = w.Write(body)
	}
}

// matchETag reports whether an If-None-Match header names etag (weak or
// strong) or is "*".
func matchETag(header, etag string) bool {
	for _, v := range strings.Split(header, ",") {
		v = strings.TrimPrefix(strings.TrimSpace(v), "W/")
		if v == etag || v == "*" {
			return true
		}
	}
	return false
}

// acceptsGzip reports whether an Accept-Encoding header allows gzip.
func acceptsGzip(header string) bool {
	for _, v := range strings.Split(header, ",") {
		name, params, _ := strings.Cut(strings.TrimSpace(v), ";")
		if strings.EqualFold(strings.TrimSpace(name), "gzip") {
			return strings.ReplaceAll(strings.TrimSpace(params), " ", "") != "q=0"
		}
	}
	return false
}
