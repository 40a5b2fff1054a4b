package sim

import (
	"encoding/json"
	"fmt"
	"net/http"
)

// OmniWorkControlPath is the sim's stand-in for an agent answering work
// in the Omni-Channel widget: POST {"work_id": "0Bz...", "answer":
// "accept"} opens the AgentWork (OmniAccept); "decline" (with an optional
// "reason") declines it (OmniDecline); "timeout" lets its push time out
// (OmniPushTimeout). Like OmniControlPath it is no API call and needs no
// token. It answers 204, or 422 naming what was wrong.
const OmniWorkControlPath = "/sim/omni/work"

// serveOmniWorkControl serves OmniWorkControlPath.
func (o *Org) serveOmniWorkControl(w http.ResponseWriter, r *http.Request) {
	var body struct {
		WorkID string `json:"work_id"`
		Answer string `json:"answer"`
		Reason string `json:"reason"`
	}
	if !decodeControl(w, r, &body, `{"work_id": "...", "answer": "accept|decline|timeout"}`) {
		return
	}
	var err error
	switch body.Answer {
	case "accept":
		err = o.OmniAccept(body.WorkID)
	case "decline":
		err = o.OmniDecline(body.WorkID, body.Reason)
	case "timeout":
		err = o.OmniPushTimeout(body.WorkID)
	default:
		err = fmt.Errorf("answer: %q is not accept, decline or timeout", body.Answer)
	}
	if err != nil {
		http.Error(w, err.Error(), http.StatusUnprocessableEntity)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// decodeControl decodes the JSON body of a POST to one of the org's
// controls into body, or answers 405 or 400 (saying what it wants) and
// returns false.
func decodeControl(w http.ResponseWriter, r *http.Request, body any, want string) bool {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		http.Error(w, "POST only", http.StatusMethodNotAllowed)
		return false
	}
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 4096))
	dec.DisallowUnknownFields()
	if err := dec.Decode(body); err != nil {
		http.Error(w, "body: "+err.Error()+" (want "+want+")", http.StatusBadRequest)
		return false
	}
	return true
}
