package proxy

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/gantrygw/gantry/internal/balancer"
	"github.com/gantrygw/gantry/internal/testbackend"
)

// TestUpgradeHalfClose proves the client's half-close reaches the target: the backend
// answers only after reading EOF, which it sees only if the proxy half-closes its side.
func TestUpgradeHalfClose(t *testing.T) {
	t.Parallel()
	be := testbackend.StartHTTP(t, testbackend.HTTPOptions{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Upgrade") != "echo-once" {
			http.Error(w, "upgrade required", http.StatusUpgradeRequired)
			return
		}
		conn, brw, err := http.NewResponseController(w).Hijack()
		if err != nil {
			return
		}
		defer conn.Close()
		_, _ = brw.WriteString("HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: echo-once\r\n\r\n")
		_ = brw.Flush()
		got, _ := io.ReadAll(brw) // until the client's half-close arrives
		_, _ = conn.Write(append([]byte("got:"), got...))
	})})
	g := startProxy(t, Options{Picker: &ordered{targets: []*balancer.Target{target(t, be.URL)}}}, nil)

	conn, err := net.DialTimeout("tcp", hostOf(g.URL), 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
	_, _ = io.WriteString(conn, "GET /up HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: echo-once\r\n\r\n")
	br := bufio.NewReader(conn)
	res, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatalf("read 101: %v", err)
	}
	if res.StatusCode != http.StatusSwitchingProtocols || res.Header.Get("Upgrade") != "echo-once" {
		t.Fatalf("response = %d Upgrade %q, want 101 echo-once", res.StatusCode, res.Header.Get("Upgrade"))
	}
	_, _ = io.WriteString(conn, "abc")
	if err := conn.(*net.TCPConn).CloseWrite(); err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(br)
	if err != nil {
		t.Fatalf("read after half-close: %v", err)
	}
	if string(got) != "got:abc" {
		t.Errorf("backend answered %q, want got:abc", got)
	}
	if ex := g.exchange(t); ex.Status != 101 || ex.BytesOut != int64(len("got:abc")) {
		t.Errorf("exchange = %d, %d bytes; want 101, %d bytes", ex.Status, ex.BytesOut, len("got:abc"))
	}
}
