package api

import (
	"bytes"
	"crypto/sha256"
	_ "embed"
	"encoding/hex"
	"net/http"
	"time"
)

// openAPI is the OpenAPI 3.1 document of /api/v1: the machine-readable
// contract of docs/api.md. The API's tests check every request and
// response they make against it, and every route against the server's.
//
//go:embed openapi.json
var openAPI []byte

// openAPIETag lets clients and proxies keep the document until the next
// build changes it.
var openAPIETag = func() string {
	sum := sha256.Sum256(openAPI)
	return `"` + hex.EncodeToString(sum[:16]) + `"`
}()

// OpenAPI returns the OpenAPI 3.1 document of the API, as served at
// GET /api/v1/openapi.json.
func OpenAPI() []byte { return bytes.Clone(openAPI) }

// openAPIDocument serves the document without a token: it is the public
// contract, describes what any client may call and holds no data, and
// client generators fetch it without credentials.
func (s *Server) openAPIDocument(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("ETag", openAPIETag)
	w.Header().Set("Cache-Control", "no-cache")
	http.ServeContent(w, r, "openapi.json", time.Time{}, bytes.NewReader(openAPI))
}
