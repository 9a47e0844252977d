package spec

import (
	"testing"

	"github.com/sluicehq/sluice/config"
	"github.com/sluicehq/sluice/connectors/destination"
)

// What each mode sends, and as which operation.
func TestSendsAndOps(t *testing.T) {
	tests := []struct {
		mode    string
		segment bool
		sends   map[Class]bool
		add     destination.Op
		remove  destination.Op
	}{
		{"upsert", false, map[Class]bool{Add: true, Update: true, Consent: true, Gone: false}, destination.OpUpsert, destination.OpDelete},
		{"update", false, map[Class]bool{Add: true, Update: true, Consent: true, Gone: false}, destination.OpUpsert, destination.OpDelete},
		{"insert", false, map[Class]bool{Add: true, Update: false, Consent: true, Gone: false}, destination.OpUpsert, destination.OpDelete},
		{"mirror", false, map[Class]bool{Add: true, Update: true, Consent: true, Gone: true}, destination.OpUpsert, destination.OpDelete},
		{"upsert", true, map[Class]bool{Add: true, Update: true, Consent: true, Gone: true}, destination.OpAdd, destination.OpRemove},
		{"insert", true, map[Class]bool{Add: true, Update: false, Consent: true, Gone: false}, destination.OpAdd, destination.OpRemove},
		{"mirror", true, map[Class]bool{Add: true, Update: true, Consent: true, Gone: true}, destination.OpAdd, destination.OpRemove},
	}
	for _, tt := range tests {
		s := &Spec{Sync: config.Sync{Mode: tt.mode}, Segment: tt.segment}
		for c, want := range tt.sends {
			if got := s.Sends(c); got != want {
				t.Errorf("mode %s (segment %v): Sends(%s) = %v", tt.mode, tt.segment, c, got)
			}
		}
		for _, c := range []Class{Unchanged, NoConsent, Duplicate, NullKey} {
			if s.Sends(c) {
				t.Errorf("mode %s sends %s", tt.mode, c)
			}
		}
		if s.Op(Add) != tt.add || s.Op(Update) != tt.add || s.Op(Gone) != tt.remove || s.Op(Consent) != tt.remove {
			t.Errorf("mode %s (segment %v): ops %s %s %s %s", tt.mode, tt.segment, s.Op(Add), s.Op(Update), s.Op(Gone), s.Op(Consent))
		}
	}
}

func TestFingerprintFollowsTheMapping(t *testing.T) {
	a := &Spec{KeyField: "email", Mapping: config.FieldMappings{{Field: "email", From: "email"}}}
	b := &Spec{KeyField: "email", Mapping: config.FieldMappings{{Field: "email", From: "email", Transform: []string{"email"}}}}
	if a.Fingerprint() == b.Fingerprint() || a.Fingerprint() != a.Fingerprint() {
		t.Error("a transform must change the fingerprint, and it must be stable")
	}
}
