package sim

import (
	"bytes"
	"crypto/rsa"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Options configure an Org. The zero value is usable: every field has a default.
type Options struct {
	// APIVersion is the newest REST API version the org serves, "62.0" by
	// default. Older versions down to 31.0 are served too; newer ones are 404.
	APIVersion string
	// ClientID and ClientSecret identify the connected app (defaults
	// "ctibridge-local" and "local-secret").
	ClientID, ClientSecret string
	// Username and Password are the integration user's credentials for the
	// password grant (defaults "admin@local.test" and "local-password").
	Username, Password string
	// UserPasswords are the passwords of the login page
	// (/services/oauth2/authorize) by lower-case username; a user it does
	// not list signs in there with Password.
	UserPasswords map[string]string
	// CallbackURLs are the connected app's callback URLs: the only
	// redirect_uri the web server flow accepts. Empty: any http(s) URL on
	// a loopback host, so that bridges on any local port can sign in.
	CallbackURLs []string
	// SecurityToken, if set, must follow Password in the password grant, as
	// Salesforce requires from untrusted networks.
	SecurityToken string
	// JWTKey verifies the signature of JWT bearer assertions, as the
	// certificate uploaded to a connected app does. When nil the JWT
	// bearer grant is refused.
	JWTKey *rsa.PublicKey
	// TokenTTL is how long an access token stays valid (default 2h).
	TokenTTL time.Duration
	// DailyAPILimit is the org's DailyApiRequests maximum (default 100000).
	DailyAPILimit int
	// PageSize is the number of records a query page holds (default 2000);
	// a Sforce-Query-Options: batchSize=N request header overrides it.
	PageSize int
	// Now is the org's clock (default time.Now). Timestamps of writes,
	// token expiry, relative SOQL dates and the daily limit window use it.
	Now func() time.Time
	// Logger, if set, gets one line per request: method, path and status.
	// Query strings, bodies and tokens are never logged.
	Logger *log.Logger
}

// Record is one sObject record as JSON carries it: field names to values,
// with its type in "attributes": {"type": "Case"}.
type Record = map[string]any

// Org is a Salesforce org in memory that speaks the REST API: an
// http.Handler for /services/oauth2/ (token, authorize, userinfo) and
// /services/data/. Create it with New; it is safe for concurrent use.
type Org struct {
	opts       Options
	schema     *schema
	faults     *Faults
	now        func() time.Time
	maxVersion int // major*10 + minor

	mu          sync.Mutex
	orgID       string
	adminID     string
	tables      map[string]*table
	idSeq       uint64
	lastStamp   time.Time
	fieldWrites uint64 // sequence of the field writes UnchangedWrites lists
	sessions    map[string]*session
	codes       map[string]*authCode
	calls       map[string]int
	total       int
	used        int
	windowStart time.Time
	cursors     map[string]*cursor
	cursorSeq   uint64
}

// The kinds of call Calls counts.
const (
	CallToken       = "token"       // POST /services/oauth2/token (not an API call)
	CallVersions    = "versions"    // GET /services/data/ (not an API call)
	CallQuery       = "query"       // query, queryAll and their next pages
	CallSObject     = "sobject"     // one record: create, read, update, upsert, delete
	CallCollections = "collections" // /composite/sobjects
	CallComposite   = "composite"   // /composite, however many subrequests, with a write among them
	// CallCompositeQuery is a /composite call of queries only (a poll).
	CallCompositeQuery = "composite_query"
	CallLimits         = "limits"   // /limits
	CallDescribe       = "describe" // describe, describeGlobal, the resource list
	CallOther          = "other"    // anything else under /services/data/vXX.X/
)

const (
	minVersion      = 310
	maxBodyBytes    = 16 << 20
	maxCursors      = 200
	cursorIdleLimit = 15 * time.Minute
)

// New returns an org with its integration user (Options.Username) and no
// other records; Seed adds some.
func New(opts Options) *Org {
	if opts.APIVersion == "" {
		opts.APIVersion = "62.0"
	}
	opts.APIVersion = strings.TrimPrefix(opts.APIVersion, "v")
	set := func(s *string, def string) {
		if *s == "" {
			*s = def
		}
	}
	set(&opts.ClientID, "ctibridge-local")
	set(&opts.ClientSecret, "local-secret")
	set(&opts.Username, "admin@local.test")
	set(&opts.Password, "local-password")
	if opts.TokenTTL <= 0 {
		opts.TokenTTL = 2 * time.Hour
	}
	if opts.DailyAPILimit <= 0 {
		opts.DailyAPILimit = 100000
	}
	if opts.PageSize <= 0 {
		opts.PageSize = 2000
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	maxVersion, ok := parseVersion(opts.APIVersion)
	if !ok {
		maxVersion, opts.APIVersion = 620, "62.0"
	}
	o := &Org{
		opts:       opts,
		schema:     newSchema(),
		faults:     &Faults{},
		now:        opts.Now,
		maxVersion: maxVersion,
		tables:     map[string]*table{},
		sessions:   map[string]*session{},
		codes:      map[string]*authCode{},
		calls:      map[string]int{},
		cursors:    map[string]*cursor{},
	}
	for _, obj := range o.schema.objects {
		o.tables[obj.Name] = newTable(obj)
	}
	o.windowStart = o.now()
	o.orgID = makeID(prefixOrg, "Lz", 1)
	o.adminID = o.newID(prefixUser)
	w := &writer{tx: &tx{}, user: o.adminID, seeding: true}
	if _, err := o.create(w, o.schema.object("User"), map[string]any{
		"Username": opts.Username, "FirstName": "Integration", "LastName": "User", "Email": opts.Username,
	}, o.adminID); err != nil {
		panic("sim: creating the integration user: " + err.msg)
	}
	o.seedPresenceStatuses(w)
	return o
}

// parseVersion turns "62.0" into 620.
func parseVersion(v string) (int, bool) {
	major, minor, ok := strings.Cut(v, ".")
	if !ok || len(minor) != 1 {
		return 0, false
	}
	m, err1 := strconv.Atoi(major)
	n, err2 := strconv.Atoi(minor)
	if err1 != nil || err2 != nil || m < 0 || n < 0 {
		return 0, false
	}
	return m*10 + n, true
}

// Faults returns the org's fault injection controls.
func (o *Org) Faults() *Faults { return o.faults }

// UserID returns the id of the integration user that owns new records by default.
func (o *Org) UserID() string { return o.adminID }

// Calls returns how many calls the org has served, by kind (the Call*
// constants). Calls refused before reaching a resource (bad token, injected
// faults, daily limit exceeded) are not counted.
func (o *Org) Calls() map[string]int {
	o.mu.Lock()
	defer o.mu.Unlock()
	out := make(map[string]int, len(o.calls))
	for k, v := range o.calls {
		out[k] = v
	}
	return out
}

// Total returns the number of API calls served since New: the calls under
// /services/data/vXX.X/ that count against the daily limit. A composite
// request is one call however many subrequests it carries; token requests
// and the version list are not API calls.
func (o *Org) Total() int {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.total
}

// Records returns a snapshot of the live records of an object in creation
// order, with date-times formatted as the API returns them; nil for an
// unknown object.
func (o *Org) Records(sobject string) []map[string]any {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.expirePushes()
	obj := o.schema.object(sobject)
	if obj == nil {
		return nil
	}
	var out []map[string]any
	for _, r := range o.tableFor(obj).rowsInOrder() {
		if !r.deleted {
			out = append(out, renderVals(r.vals))
		}
	}
	return out
}

// Writes returns, for each live record of an object that API clients have
// written, how many creates and updates it has had through the API: 1 for a
// record created once and never changed, one more for every update (an
// upsert that finds its record is an update). Only API calls count: a record
// from Seed, Create or Generate shows only its API updates, and Edit is not
// counted; writes that a rollback undid do not count. Clients use it to check
// that each write arrived exactly once.
func (o *Org) Writes(sobject string) map[string]int {
	o.mu.Lock()
	defer o.mu.Unlock()
	obj := o.schema.object(sobject)
	if obj == nil {
		return nil
	}
	out := map[string]int{}
	for id, r := range o.tableFor(obj).rows {
		if !r.deleted && r.writes > 0 {
			out[id] = r.writes
		}
	}
	return out
}

// Seed inserts records as they are, bypassing field-level security: a seed
// record may set its Id and system fields such as CreatedDate. Each record
// names its type in "attributes": {"type": ...}. Seed inserts all records or,
// on the first error, none.
func (o *Org) Seed(records []Record) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	w := &writer{tx: &tx{}, user: o.adminID, seeding: true}
	for i, rec := range records {
		typ := recordType(rec)
		obj := o.schema.object(typ)
		if obj == nil {
			w.tx.rollback(0)
			return fmt.Errorf("seed record %d: unknown sObject type %q", i, typ)
		}
		vals, id, aerr := decodeRecord(obj, normalizeNumbers(rec))
		if aerr != nil {
			w.tx.rollback(0)
			return fmt.Errorf("seed record %d (%s): %s: %s", i, typ, aerr.code, aerr.msg)
		}
		if _, derr := o.create(w, obj, vals, id); derr != nil {
			w.tx.rollback(0)
			return fmt.Errorf("seed record %d (%s %s): %s: %s", i, typ, id, derr.code, derr.msg)
		}
	}
	return nil
}

// LoadSeed reads a JSON array of records from a file and seeds them.
func (o *Org) LoadSeed(path string) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("load seed: %w", err)
	}
	records, err := decodeSeed(data)
	if err != nil {
		return fmt.Errorf("load seed %s: %w", path, err)
	}
	return o.Seed(records)
}

//go:embed seed.json
var defaultSeed []byte

// DefaultSeed returns the built-in demo records: the agents' users alice,
// bob and carol, their supervisor sam (005Sd0000000004IAA), dana
// (005Sd0000000005IAA), who has left and is inactive, contacts, Cases of
// the support and billing services and chat transcripts. It is the same
// data as testdata/salesforce/seed.json.
func DefaultSeed() []Record {
	records, err := decodeSeed(defaultSeed)
	if err != nil {
		panic("sim: embedded seed: " + err.Error())
	}
	return records
}

func decodeSeed(data []byte) ([]Record, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var records []Record
	if err := dec.Decode(&records); err != nil {
		return nil, err
	}
	return records, nil
}

func recordType(rec Record) string {
	attrs, _ := rec["attributes"].(map[string]any)
	typ, _ := attrs["type"].(string)
	return typ
}

// normalizeNumbers lets Seed take records built in Go (ints, float64) as
// well as decoded JSON (json.Number).
func normalizeNumbers(rec Record) Record {
	out := make(Record, len(rec))
	for k, v := range rec {
		switch n := v.(type) {
		case int:
			v = json.Number(strconv.Itoa(n))
		case int64:
			v = json.Number(strconv.FormatInt(n, 10))
		case time.Time:
			v = n.UTC().Format(dateTimeLayout)
		}
		out[k] = v
	}
	return out
}

// ServeHTTP serves the OAuth token endpoint and the REST API.
func (o *Org) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	status := http.StatusOK
	rec := &statusRecorder{ResponseWriter: w, status: &status}
	switch path := r.URL.Path; {
	case path == "/services/oauth2/token":
		o.serveToken(rec, r)
	case path == "/services/oauth2/authorize":
		o.serveAuthorize(rec, r)
	case path == "/services/oauth2/userinfo":
		o.serveUserInfo(rec, r)
	case path == "/services/data" || path == "/services/data/":
		o.serveVersions(rec, r)
	case strings.HasPrefix(path, "/services/data/"):
		o.serveAPI(rec, r)
	case path == OmniControlPath:
		o.serveOmniControl(rec, r)
	case path == OmniWorkControlPath:
		o.serveOmniWorkControl(rec, r)
	default:
		writeJSON(rec, http.StatusNotFound, notFound().body())
	}
	if o.opts.Logger != nil {
		o.opts.Logger.Printf("sim: %s %s -> %d", r.Method, r.URL.Path, status)
	}
}

type statusRecorder struct {
	http.ResponseWriter
	status *int
}

func (s *statusRecorder) WriteHeader(code int) {
	*s.status = code
	s.ResponseWriter.WriteHeader(code)
}

func baseURL(r *http.Request) string {
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return scheme + "://" + r.Host
}

// serveVersions lists the API versions, like GET /services/data/ on any
// Salesforce instance. It needs no token and is not an API call.
func (o *Org) serveVersions(w http.ResponseWriter, r *http.Request) {
	o.mu.Lock()
	o.calls[CallVersions]++
	o.mu.Unlock()
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		writeJSON(w, http.StatusMethodNotAllowed, methodNotAllowed(r.Method, "GET", "HEAD").body())
		return
	}
	seasons := []string{"Winter", "Spring", "Summer"}
	var out []object
	for v := minVersion; v <= o.maxVersion; v += 10 {
		k := v/10 - 62
		season := seasons[((k%3)+3)%3]
		year := 25 + floorDiv(k, 3)
		version := fmt.Sprintf("%d.%d", v/10, v%10)
		out = append(out, object{
			{"label", fmt.Sprintf("%s '%02d", season, year)},
			{"url", "/services/data/v" + version},
			{"version", version},
		})
	}
	writeJSON(w, http.StatusOK, out)
}

func floorDiv(a, b int) int {
	q := a / b
	if a%b != 0 && (a < 0) != (b < 0) {
		q--
	}
	return q
}

func methodNotAllowed(method string, allowed ...string) *apiError {
	return newAPIError(http.StatusMethodNotAllowed, "METHOD_NOT_ALLOWED",
		fmt.Sprintf("HTTP Method '%s' not allowed. Allowed are %s", method, strings.Join(allowed, ",")))
}

// apiRequest is one call to a resource under /services/data/vXX.X/, from
// the network or from a composite subrequest.
type apiRequest struct {
	method  string
	version string   // "62.0"
	segs    []string // decoded path segments after the version
	query   url.Values
	body    []byte
	header  http.Header
	user    string
	tx      *tx
}

// writer is what the request's saves write with: its user and transaction,
// as an API call.
func (req *apiRequest) writer() *writer { return &writer{tx: req.tx, user: req.user, api: true} }

// splitPath splits an escaped path into decoded segments, ignoring empty ones
// (so "/composite/sobjects/" is "composite", "sobjects").
func splitPath(escaped string) ([]string, bool) {
	var segs []string
	for _, s := range strings.Split(escaped, "/") {
		if s == "" {
			continue
		}
		d, err := url.PathUnescape(s)
		if err != nil {
			return nil, false
		}
		segs = append(segs, d)
	}
	return segs, true
}

func (o *Org) versionOK(seg string) (string, bool) {
	v, ok := strings.CutPrefix(seg, "v")
	if !ok {
		return "", false
	}
	n, ok := parseVersion(v)
	return v, ok && n >= minVersion && n <= o.maxVersion
}

func (o *Org) serveAPI(w http.ResponseWriter, r *http.Request) {
	if d := o.faults.currentLatency(); d > 0 {
		t := time.NewTimer(d)
		select {
		case <-t.C:
		case <-r.Context().Done():
			t.Stop()
			return
		}
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBodyBytes))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			writeJSON(w, http.StatusRequestEntityTooLarge, newAPIError(http.StatusRequestEntityTooLarge,
				"REQUEST_ENTITY_TOO_LARGE", "Request body is too large").body())
		}
		return
	}
	segs, ok := splitPath(strings.TrimPrefix(r.URL.EscapedPath(), "/services/data/"))

	o.mu.Lock()
	defer o.mu.Unlock()
	o.rollWindow()
	o.expirePushes()
	user, authed := o.authenticate(r)
	if !authed {
		o.setLimitInfo(w)
		writeJSON(w, http.StatusUnauthorized, newAPIError(http.StatusUnauthorized, "INVALID_SESSION_ID",
			"Session expired or invalid").body())
		return
	}
	var version string
	if ok && len(segs) > 0 {
		version, ok = o.versionOK(segs[0])
	}
	if !ok {
		o.setLimitInfo(w)
		writeJSON(w, http.StatusNotFound, notFound().body())
		return
	}
	if status, faulted := o.faults.takeCallFault(); faulted {
		o.setLimitInfo(w)
		if status == http.StatusForbidden {
			writeJSON(w, status, limitExceeded().body())
			return
		}
		contentType, data := serverErrorBody(status)
		w.Header().Set("Content-Type", contentType)
		w.WriteHeader(status)
		_, _ = w.Write(data)
		return
	}
	if o.used >= o.opts.DailyAPILimit {
		o.setLimitInfo(w)
		writeJSON(w, http.StatusForbidden, limitExceeded().body())
		return
	}
	req := &apiRequest{method: r.Method, version: version, segs: segs[1:], query: r.URL.Query(), body: body,
		header: r.Header, user: user, tx: &tx{}}
	o.used++
	o.total++
	o.calls[classify(req.method, req.segs)]++
	resp := o.route(req)
	o.setLimitInfo(w)
	for k, v := range resp.headers {
		w.Header().Set(k, v)
	}
	writeJSON(w, resp.status, resp.body)
}

func limitExceeded() *apiError {
	return newAPIError(http.StatusForbidden, "REQUEST_LIMIT_EXCEEDED", "TotalRequests Limit exceeded.")
}

func (o *Org) setLimitInfo(w http.ResponseWriter) {
	w.Header().Set("Sforce-Limit-Info", fmt.Sprintf("api-usage=%d/%d", o.used, o.opts.DailyAPILimit))
}

// rollWindow starts a new day of API usage once 24 hours have passed.
func (o *Org) rollWindow() {
	if now := o.now(); !now.Before(o.windowStart.Add(24 * time.Hour)) {
		o.windowStart, o.used = now, 0
	}
}

// classify names the kind of call a request to a resource is.
func classify(method string, segs []string) string {
	if len(segs) == 0 {
		return CallDescribe
	}
	switch segs[0] {
	case "limits":
		return CallLimits
	case "query", "queryAll":
		return CallQuery
	case "sobjects":
		switch {
		case len(segs) == 1,
			len(segs) == 2 && method == http.MethodGet,
			len(segs) == 3 && segs[2] == "describe":
			return CallDescribe
		}
		return CallSObject
	case "composite":
		if len(segs) > 1 && segs[1] == "sobjects" {
			return CallCollections
		}
		return CallComposite
	}
	return CallOther
}

// route dispatches a request to its resource. The caller holds o.mu.
func (o *Org) route(req *apiRequest) *response {
	if len(req.segs) == 0 {
		if req.method != http.MethodGet {
			return errorResponse(methodNotAllowed(req.method, "GET", "HEAD"))
		}
		base := "/services/data/v" + req.version + "/"
		return jsonResponse(http.StatusOK, object{
			{"limits", base + "limits"}, {"query", base + "query"}, {"queryAll", base + "queryAll"},
			{"sobjects", base + "sobjects"}, {"composite", base + "composite"},
		})
	}
	switch req.segs[0] {
	case "limits":
		if len(req.segs) != 1 {
			return errorResponse(notFound())
		}
		if req.method != http.MethodGet {
			return errorResponse(methodNotAllowed(req.method, "GET", "HEAD"))
		}
		return o.limits()
	case "query", "queryAll":
		return o.handleQuery(req, req.segs[0] == "queryAll")
	case "sobjects":
		return o.handleSObjects(req)
	case "composite":
		if len(req.segs) > 1 && req.segs[1] == "sobjects" {
			return o.handleCollections(req)
		}
		if len(req.segs) == 1 {
			return o.handleComposite(req)
		}
	}
	return errorResponse(notFound())
}

func (o *Org) limits() *response {
	limit := func(max, remaining int) object { return object{{"Max", max}, {"Remaining", remaining}} }
	return jsonResponse(http.StatusOK, object{
		{"ConcurrentAsyncGetReportInstances", limit(200, 200)},
		{"DailyApiRequests", limit(o.opts.DailyAPILimit, max(o.opts.DailyAPILimit-o.used, 0))},
		{"DailyAsyncApexExecutions", limit(250000, 250000)},
		{"DailyBulkApiBatches", limit(15000, 15000)},
		{"DailyBulkV2QueryJobs", limit(10000, 10000)},
		{"DataStorageMB", limit(1024, 1024-o.storageMB())},
		{"FileStorageMB", limit(1024, 1024)},
		{"SingleEmail", limit(5000, 5000)},
	})
}

// storageMB estimates data storage the way Salesforce bills it: 2 KB a record.
func (o *Org) storageMB() int {
	n := 0
	for _, t := range o.tables {
		n += len(t.rows)
	}
	return n * 2 / 1024
}

// decodeJSON decodes a request body keeping numbers as json.Number.
func decodeJSON(body []byte, v any) *apiError {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	if err := dec.Decode(v); err != nil {
		return jsonParserError(jsonErrorMessage(err))
	}
	return nil
}

func jsonErrorMessage(err error) string {
	var syntax *json.SyntaxError
	if errors.As(err, &syntax) {
		return fmt.Sprintf("Unexpected character at [line:1, column:%d]", syntax.Offset)
	}
	if errors.Is(err, io.EOF) {
		return "No content to map to Object due to end of input"
	}
	var typ *json.UnmarshalTypeError
	if errors.As(err, &typ) {
		return fmt.Sprintf("Cannot deserialize instance of %s from %s value", typ.Type, typ.Value)
	}
	return "Unexpected character in request body"
}
