package smscode

// Tests that kill mutants gremlins found alive (make mutate; TESTING.md).

import (
	"testing"
	"time"
)

// A gateway whose config sets no client and no timeout still gives up
// after 10 seconds: a hung gateway must not hold a sign-in forever.
func TestGatewayDefaultTimeout(t *testing.T) {
	g, err := NewGateway(GatewayConfig{URL: "https://sms.example.com/send"})
	if err != nil {
		t.Fatal(err)
	}
	if g.client.Timeout != 10*time.Second {
		t.Fatalf("client timeout %s, want 10s", g.client.Timeout)
	}
	g, err = NewGateway(GatewayConfig{URL: "https://sms.example.com/send", Timeout: 3 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if g.client.Timeout != 3*time.Second {
		t.Fatalf("client timeout %s, want 3s", g.client.Timeout)
	}
}
