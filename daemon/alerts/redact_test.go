package alerts

import (
	"context"
	"net"
	"net/http"
	"strings"
	"testing"

	"github.com/sluicehq/sluice/config"
)

// failingDNS answers every request as an unresolvable host does, without
// touching the network.
type failingDNS struct{}

func (failingDNS) RoundTrip(r *http.Request) (*http.Response, error) {
	return nil, &net.OpError{Op: "dial", Net: "tcp", Err: &net.DNSError{Err: "no such host", Name: r.URL.Hostname(), IsNotFound: true}}
}

// TestAlertURLNeverShownInErrors: the alert's URL and token are secrets;
// Go's error quotes the URL and the DNS error its host.
func TestAlertURLNeverShownInErrors(t *testing.T) {
	const canary = "CANARY_S3CR3T_x9"
	urls := []string{
		"https://hooks.slack.com/services/T0/B0/" + canary,
		"http://" + canary + ".invalid/notify",
		"https://user:" + canary + "@canary-host.invalid/?token=" + canary,
	}
	for i, u := range urls {
		t.Run(string(rune('a'+i)), func(t *testing.T) {
			t.Parallel() // each waits out post's retries
			m := New(nil, Options{Client: &http.Client{Transport: failingDNS{}}})
			a := config.Alert{Name: "team", URL: config.Secret(u), BearerToken: config.Secret("tok_" + canary)}
			err := m.post(context.Background(), a, Notice{Alert: "team"})
			if err == nil {
				t.Fatal("no error")
			}
			for _, h := range []string{canary, "canary-host", "hooks.slack.com"} {
				if strings.Contains(err.Error(), h) {
					t.Errorf("%q shown: %v", h, err)
				}
			}
			if !strings.Contains(err.Error(), config.EnvMarker) {
				t.Errorf("the error does not say what it hides: %v", err)
			}
		})
	}
}
