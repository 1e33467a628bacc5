package l4

import (
	"bufio"
	"bytes"
	"crypto/tls"
	"io"
	"net"
	"testing"
	"time"

	"github.com/gantrygw/gantry/internal/testbackend"
)

// startTLSBackend serves TLS for name with a certificate from ca and answers every
// connection with "<id> <negotiated server name>\n".
func startTLSBackend(t testing.TB, ca *testbackend.CA, id, name string) string {
	t.Helper()
	cert := ca.Issue(t, testbackend.CertOptions{DNSNames: []string{name}})
	ln, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{Certificates: []tls.Certificate{cert.TLS}})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				tc := c.(*tls.Conn)
				_ = tc.SetDeadline(time.Now().Add(10 * time.Second))
				if tc.Handshake() != nil {
					return
				}
				_, _ = io.WriteString(tc, id+" "+tc.ConnectionState().ServerName+"\n")
			}()
		}
	}()
	t.Cleanup(func() { ln.Close(); <-done })
	return ln.Addr().String()
}

func TestTCPSNIPassthrough(t *testing.T) {
	t.Parallel()
	ca := testbackend.NewCA(t, "backend CA")
	aAddr := startTLSBackend(t, ca, "A", "a.example.com")
	bAddr := startTLSBackend(t, ca, "B", "b.example.com")
	plain := testbackend.StartTCPEcho(t)
	roots := ca.Pool()
	tab := &Table{
		Default: route(plain.Addr()).Default,
		SNI: map[string]*Route{
			"a.example.com": route(aAddr).Default,
			"*.Example.com": route(bAddr).Default,
		},
	}
	_, addr := startTCP(t, TCPOptions{PeekTimeout: 5 * time.Second}, tab)

	tests := []struct {
		name       string
		serverName string
		want       string
	}{
		{name: "exact", serverName: "a.example.com", want: "A a.example.com\n"},
		{name: "exact case-insensitive", serverName: "A.EXAMPLE.COM", want: "A A.EXAMPLE.COM\n"},
		{name: "wildcard", serverName: "b.example.com", want: "B b.example.com\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			// A real TLS client verifying the backend's certificate: the handshake can
			// only succeed end to end with the backend, never with the gateway.
			c, err := tls.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}, "tcp", addr,
				&tls.Config{ServerName: tt.serverName, RootCAs: roots})
			if err != nil {
				t.Fatalf("tls dial %s: %v", tt.serverName, err)
			}
			defer c.Close()
			_ = c.SetDeadline(time.Now().Add(10 * time.Second))
			line, err := bufio.NewReader(c).ReadString('\n')
			if err != nil || line != tt.want {
				t.Fatalf("backend said %q, %v, want %q", line, err, tt.want)
			}
		})
	}
	t.Run("not tls takes default", func(t *testing.T) {
		t.Parallel()
		echoOnce(t, dial(t, addr), "plain text, no hello")
	})
}

// captureHello returns the raw bytes a crypto/tls client sends first.
func captureHello(t testing.TB, serverName string) []byte {
	t.Helper()
	cc, sc := net.Pipe()
	go func() {
		c := tls.Client(cc, &tls.Config{ServerName: serverName, InsecureSkipVerify: serverName == ""})
		_ = c.Handshake()
	}()
	defer sc.Close()
	defer cc.Close()
	var buf bytes.Buffer
	hdr := make([]byte, 5)
	if _, err := io.ReadFull(sc, hdr); err != nil {
		t.Fatal(err)
	}
	body := make([]byte, int(hdr[3])<<8|int(hdr[4]))
	if _, err := io.ReadFull(sc, body); err != nil {
		t.Fatal(err)
	}
	buf.Write(hdr)
	buf.Write(body)
	return buf.Bytes()
}

// fragment splits one handshake record's payload into records of at most n bytes.
func fragment(rec []byte, n int) []byte {
	var out []byte
	payload := rec[5:]
	for len(payload) > 0 {
		k := min(n, len(payload))
		out = append(out, rec[0], rec[1], rec[2], byte(k>>8), byte(k))
		out = append(out, payload[:k]...)
		payload = payload[k:]
	}
	return out
}

func TestPeekServerName(t *testing.T) {
	t.Parallel()
	hello := captureHello(t, "svc.example.com")
	tests := []struct {
		name    string
		in      []byte
		want    string
		wantErr error
	}{
		{name: "crypto/tls hello", in: hello, want: "svc.example.com"},
		{name: "fragmented into 3-byte records", in: fragment(hello, 3), want: "svc.example.com"},
		{name: "fragmented into 100-byte records", in: fragment(hello, 100), want: "svc.example.com"},
		{name: "no sni", in: captureHello(t, ""), want: ""},
		{name: "http", in: []byte("GET / HTTP/1.1\r\n\r\n"), wantErr: errNotTLS},
		{name: "server hello type", in: []byte{0x16, 3, 1, 0, 4, 0x02, 0, 0, 0}, wantErr: errBadHello},
		{name: "second record not handshake", in: []byte{0x16, 3, 1, 0, 2, 0x01, 0, 0x15, 3, 1, 0, 2, 0, 0}, wantErr: errBadHello},
		{name: "hello longer than buffer", in: []byte{0x16, 3, 1, 0, 4, 0x01, 0xff, 0xff, 0xff}, wantErr: errBadHello},
		{name: "zero length record", in: []byte{0x16, 3, 1, 0, 0}, wantErr: errBadHello},
		{name: "oversized record", in: []byte{0x16, 3, 1, 0x40, 0x01}, wantErr: errBadHello},
		{name: "truncated body", in: append(append([]byte{}, hello[:5]...), hello[5:9]...), wantErr: io.ErrUnexpectedEOF},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			br := bufio.NewReaderSize(bytes.NewReader(tt.in), peekBufSize)
			name, err := peekServerName(br)
			if tt.wantErr != nil {
				if err == nil || !(errorsIs(err, tt.wantErr) || (tt.wantErr == io.ErrUnexpectedEOF && errorsIs(err, io.EOF))) {
					t.Fatalf("peekServerName() error = %v, want %v", err, tt.wantErr)
				}
				return
			}
			if err != nil || string(name) != tt.want {
				t.Fatalf("peekServerName() = %q, %v, want %q", name, err, tt.want)
			}
			if br.Buffered() != len(tt.in) {
				t.Fatalf("bytes left buffered = %d, want all %d (peek must not consume)", br.Buffered(), len(tt.in))
			}
		})
	}
}

func TestTableLookup(t *testing.T) {
	t.Parallel()
	def, exact, wild := &Route{Upstream: "def"}, &Route{Upstream: "exact"}, &Route{Upstream: "wild"}
	tab := compile(&Table{Default: def, SNI: map[string]*Route{"api.example.com": exact, "*.example.com": wild}})
	tests := []struct {
		name string
		sni  string
		want *Route
	}{
		{name: "exact beats wildcard", sni: "api.example.com", want: exact},
		{name: "upper case", sni: "API.Example.COM", want: exact},
		{name: "wildcard one label", sni: "www.example.com", want: wild},
		{name: "wildcard not two labels", sni: "a.b.example.com", want: def},
		{name: "wildcard not apex", sni: "example.com", want: def},
		{name: "leading dot", sni: ".example.com", want: def},
		{name: "empty", sni: "", want: def},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := tab.lookup([]byte(tt.sni)); got != tt.want {
				t.Fatalf("lookup(%q) = %s, want %s", tt.sni, got.Upstream, tt.want.Upstream)
			}
		})
	}
}

// TestRoutingAllocs: routing a TLS connection costs no allocations.
func TestRoutingAllocs(t *testing.T) {
	tab := compile(&Table{Default: &Route{}, SNI: map[string]*Route{"*.example.com": {}}})
	hello := captureHello(t, "WWW.example.com")
	rd := bytes.NewReader(hello)
	br := bufio.NewReaderSize(rd, peekBufSize)
	n := testing.AllocsPerRun(100, func() {
		rd.Reset(hello)
		br.Reset(rd)
		name, err := peekServerName(br)
		if err != nil || tab.lookup(name) == tab.def {
			t.Fatalf("peekServerName() = %q, %v", name, err)
		}
	})
	if n != 0 {
		t.Fatalf("peek+lookup allocs = %v, want 0", n)
	}
}

func FuzzPeekServerName(f *testing.F) {
	hello := captureHello(f, "fuzz.example.com")
	f.Add(hello)
	f.Add(fragment(hello, 7))
	f.Add(captureHello(f, ""))
	f.Add([]byte{0x16, 3, 1, 0, 4, 1, 0, 0, 0})
	f.Fuzz(func(t *testing.T, in []byte) {
		br := bufio.NewReaderSize(bytes.NewReader(in), peekBufSize)
		name, err := peekServerName(br)
		if err == nil && len(name) > len(in) {
			t.Fatalf("name longer than input")
		}
		if got := br.Buffered(); got > len(in) {
			t.Fatalf("buffered %d > input %d", got, len(in))
		}
		// Nothing may be consumed: all the input stays readable.
		rest, _ := io.ReadAll(br)
		if !bytes.Equal(rest, in) {
			t.Fatalf("peek consumed input")
		}
	})
}
