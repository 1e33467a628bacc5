package h2

import (
	"io"
	"net"
	"net/http"
	"os/exec"
	"regexp"
	"strconv"
	"testing"
)

// TestH2Spec runs the h2spec conformance suite (github.com/summerwind/h2spec) against
// the server when the h2spec binary is on PATH; without it the test is skipped.
// `go install github.com/summerwind/h2spec/cmd/h2spec@v2.2.1+incompatible` installs it.
func TestH2Spec(t *testing.T) {
	bin, err := exec.LookPath("h2spec")
	if err != nil {
		t.Skip("h2spec not on PATH")
	}
	addr, _ := serveTest(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		io.WriteString(w, "hello from h2spec's target\n")
	}), Options{})
	host, port, _ := net.SplitHostPort(addr)
	out, _ := exec.Command(bin, "-h", host, "-p", port, "-o", "3").CombinedOutput()
	m := regexp.MustCompile(`(\d+) tests, (\d+) passed, (\d+) skipped, (\d+) failed`).FindSubmatch(out)
	if m == nil {
		t.Fatalf("h2spec output without a summary:\n%s", out)
	}
	failed, _ := strconv.Atoi(string(m[4]))
	t.Logf("h2spec: %s", m[0])
	if failed > 0 {
		t.Errorf("h2spec failed = %d, want 0:\n%s", failed, out)
	}
}
