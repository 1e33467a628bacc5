package testbackend

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
)

func TestEcho(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		start     func(testing.TB, HTTPOptions) *HTTP
		wantProto string
	}{
		{name: "http1", start: StartHTTP, wantProto: "HTTP/1.1"},
		{name: "tls", start: StartTLS, wantProto: "HTTP/2.0"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			be := tc.start(t, HTTPOptions{Name: "b1"})
			tr := &http.Transport{TLSClientConfig: be.ClientTLS(), ForceAttemptHTTP2: true}
			defer tr.CloseIdleConnections()
			body := "hello body"
			req, _ := http.NewRequest(http.MethodPost, be.URL+"/a%2Fb?x=1&status=201", strings.NewReader(body))
			req.Header.Set("X-Test", "v")
			res, err := (&http.Client{Transport: tr}).Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer res.Body.Close()
			var e Echo
			if err := json.NewDecoder(res.Body).Decode(&e); err != nil {
				t.Fatal(err)
			}
			sum := sha256.Sum256([]byte(body))
			if res.StatusCode != 201 || e.Backend != "b1" || e.Method != "POST" || e.RawPath != "/a%2Fb" ||
				e.RawQuery != "x=1&status=201" || e.Headers.Get("X-Test") != "v" || e.Proto != tc.wantProto ||
				e.BodyLength != int64(len(body)) || e.BodySHA256 != hex.EncodeToString(sum[:]) {
				t.Errorf("echo = %d %+v, want 201 from b1 over %s with the request's facts", res.StatusCode, e, tc.wantProto)
			}
			if be.Requests() != 1 {
				t.Errorf("Requests() = %d, want 1", be.Requests())
			}
		})
	}
}

func TestCloseAndRestartSamePort(t *testing.T) {
	t.Parallel()
	be := StartHTTP(t, HTTPOptions{})
	addr := be.Addr
	be.Close()
	if _, err := http.Get(be.URL + "/"); err == nil {
		t.Fatal("GET after Close succeeded, want a connection error")
	}
	be.Restart()
	if be.Addr != addr {
		t.Fatalf("Addr after Restart = %s, want %s", be.Addr, addr)
	}
	res, err := http.Get(be.URL + "/")
	if err != nil {
		t.Fatalf("GET after Restart: %v", err)
	}
	res.Body.Close()
	if res.StatusCode != 200 {
		t.Errorf("status after Restart = %d, want 200", res.StatusCode)
	}
}

func TestPatternReaderDeterministic(t *testing.T) {
	t.Parallel()
	a, _ := io.ReadAll(PatternReader(100_000))
	var b bytes.Buffer
	r := PatternReader(100_000)
	buf := make([]byte, 777) // different chunking must give the same bytes
	if _, err := io.CopyBuffer(&b, struct{ io.Reader }{r}, buf); err != nil {
		t.Fatal(err)
	}
	if len(a) != 100_000 || !bytes.Equal(a, b.Bytes()) {
		t.Fatalf("PatternReader gave %d bytes, chunked read differs: %v", len(a), !bytes.Equal(a, b.Bytes()))
	}
	if bytes.Equal(a[:1000], a[1000:2000]) {
		t.Error("PatternReader repeats a 1000-byte block")
	}
}
