package devserver

import (
	"net"
	"strconv"
	"testing"
)

// TestFreePortAvoidsTheEphemeralRange: the ports handed to the embedded server's
// internal services come from below the OS's ephemeral range, where outgoing
// connections never take them, and are bindable when returned.
func TestFreePortAvoidsTheEphemeralRange(t *testing.T) {
	lo := ephemeralLow()
	seen := map[int]bool{}
	for range 20 {
		port, err := FreePort()
		if err != nil {
			t.Fatal(err)
		}
		if lo > 21000 && (port < 20000 || port >= lo) {
			t.Errorf("FreePort = %d, want one in [20000, %d)", port, lo)
		}
		l, err := net.Listen("tcp", net.JoinHostPort(host, strconv.Itoa(port)))
		if err != nil {
			t.Errorf("port %d from FreePort cannot be bound: %v", port, err)
			continue
		}
		_ = l.Close()
		seen[port] = true
	}
	if len(seen) < 15 {
		t.Errorf("20 calls gave only %d distinct ports: %v", len(seen), seen)
	}
}
