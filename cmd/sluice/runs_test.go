package main

import (
	"slices"
	"testing"

	"github.com/sluicehq/sluice/sync/state"
)

// Every delivered figure of `runs show` comes from one source: the change
// log when it holds all the run's outcomes, else the run log.
func TestDeliveredBy(t *testing.T) {
	ops := []state.OpCount{{Op: "upsert", Status: state.Accepted, N: 120}, {Op: "upsert", Status: state.Rejected, N: 8}, {Op: "delete", Status: state.Accepted, N: 2}}
	cases := []struct {
		name                     string
		run                      state.Run
		outcomes                 []state.OpCount
		sent, accepted, rejected int64
		byOp                     bool
	}{
		{"finished run, change log kept", state.Run{Sent: 130, Accepted: 122, Rejected: 8}, ops, 130, 122, 8, true},
		{"abandoned run logged with zeros", state.Run{Status: state.RunAbandoned}, ops, 130, 122, 8, true},
		{"running run", state.Run{Status: state.RunRunning}, ops, 130, 122, 8, true},
		{"change log pruned", state.Run{Sent: 130, Accepted: 122, Rejected: 8}, nil, 130, 122, 8, false},
		{"change log pruned in part", state.Run{Sent: 500, Accepted: 490, Rejected: 10}, ops, 500, 490, 10, false},
		{"nothing sent", state.Run{}, nil, 0, 0, 0, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			d := deliveredBy(tc.run, tc.outcomes)
			if d.sent != tc.sent || d.accepted != tc.accepted || d.rejected != tc.rejected || (d.byOp != nil) != tc.byOp {
				t.Fatalf("got %+v", d)
			}
			if d.byOp != nil && !slices.Equal(d.byOp, tc.outcomes) {
				t.Errorf("by operation: %+v", d.byOp)
			}
		})
	}
}
