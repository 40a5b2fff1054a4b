package config

import (
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

// FuzzParse checks that no file makes Parse panic, that a rejected file
// yields only well-formed errors, and that an accepted one can be printed
// and marshalled. Seeds live in testdata/fuzz/FuzzParse; run with
// go test -fuzz=FuzzParse ./config/.
func FuzzParse(f *testing.F) {
	example, err := os.ReadFile(examplePath)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(example)
	f.Fuzz(func(t *testing.T, data []byte) {
		cfg, err := Parse("fuzz.yaml", data)
		if err != nil {
			if cfg != nil {
				t.Fatal("config returned with an error")
			}
			list, ok := err.(ValidationErrors)
			if !ok || len(list) == 0 {
				t.Fatalf("error is %T, want a non-empty ValidationErrors", err)
			}
			for _, e := range list {
				if e.File != "fuzz.yaml" || e.Msg == "" || !strings.HasPrefix(e.Error(), "fuzz.yaml") {
					t.Fatalf("malformed error %#v", e)
				}
			}
			return
		}
		_ = fmt.Sprintf("%v %+v %#v", cfg, cfg, cfg)
		if _, err := json.Marshal(cfg); err != nil {
			t.Fatalf("json: %v", err)
		}
		if _, err := yaml.Marshal(cfg); err != nil {
			t.Fatalf("yaml: %v", err)
		}
		for _, r := range cfg.Deferral.Rules {
			if r.program == nil {
				t.Fatal("accepted rule not compiled")
			}
		}
	})
}
