package testbackend

import (
	"bufio"
	"crypto/tls"
	"net"
	"testing"
	"time"
)

// TestCAHandshake runs real mutual-TLS handshakes on loopback: the server requires a
// client certificate from ca, the client trusts only ca.Pool().
func TestCAHandshake(t *testing.T) {
	t.Parallel()
	ca := NewCA(t, "test CA")
	other := NewCA(t, "other CA")
	loopback := []net.IP{net.IPv4(127, 0, 0, 1)}
	server := ca.Issue(t, CertOptions{DNSNames: []string{"server.test"}, IPs: loopback})
	client := ca.Issue(t, CertOptions{CommonName: "alice", Client: true})
	hour := time.Hour
	tests := []struct {
		name       string
		serverName string
		server     *Cert
		client     *Cert
		fails      string // "", "client" (rejects the server) or "server" (rejects the client)
	}{
		{name: "both from the CA, by DNS name", serverName: "server.test", server: server, client: client},
		{name: "both from the CA, by IP", server: server, client: client},
		{name: "name not in the certificate", serverName: "other.test", server: server, client: client, fails: "client"},
		{name: "server from another CA", serverName: "server.test", server: other.Issue(t, CertOptions{DNSNames: []string{"server.test"}}), client: client, fails: "client"},
		{name: "server not yet valid", serverName: "server.test", server: ca.Issue(t, CertOptions{DNSNames: []string{"server.test"}, NotBefore: time.Now().Add(hour)}), client: client, fails: "client"},
		{name: "client from another CA", serverName: "server.test", server: server, client: other.Issue(t, CertOptions{CommonName: "alice", Client: true}), fails: "server"},
		{name: "client expired", serverName: "server.test", server: server, client: ca.Issue(t, CertOptions{CommonName: "alice", Client: true, NotAfter: time.Now().Add(-hour)}), fails: "server"},
		{name: "server-auth cert as client", serverName: "server.test", server: server, client: ca.Issue(t, CertOptions{CommonName: "alice"}), fails: "server"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			serverErr := make(chan error, 1)
			ln := tls.NewListener(Listen(t), &tls.Config{
				Certificates: []tls.Certificate{tc.server.TLS},
				ClientAuth:   tls.RequireAndVerifyClientCert,
				ClientCAs:    ca.Pool(),
			})
			addr := ServeConns(t, ln, func(c net.Conn) {
				_ = c.SetDeadline(time.Now().Add(5 * time.Second))
				sc := c.(*tls.Conn)
				err := sc.Handshake()
				serverErr <- err
				if err == nil {
					_, _ = sc.Write([]byte(sc.ConnectionState().VerifiedChains[0][0].Subject.CommonName + "\n"))
				}
			})

			c, clientErr := tls.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}, "tcp", addr, &tls.Config{
				ServerName:   tc.serverName,
				RootCAs:      ca.Pool(),
				Certificates: []tls.Certificate{tc.client.TLS},
			})
			if (clientErr != nil) != (tc.fails == "client") {
				t.Fatalf("client handshake error = %v, want failure %v", clientErr, tc.fails == "client")
			}
			var sErr error
			select {
			case sErr = <-serverErr:
			case <-time.After(5 * time.Second):
				t.Fatal("server handshake did not finish")
			}
			if (sErr != nil) != (tc.fails != "") {
				t.Fatalf("server handshake error = %v, want failure %v", sErr, tc.fails != "")
			}
			if c != nil {
				defer c.Close()
			}
			if tc.fails != "" {
				return
			}
			_ = c.SetDeadline(time.Now().Add(5 * time.Second))
			if cn, err := bufio.NewReader(c).ReadString('\n'); err != nil || cn != "alice\n" {
				t.Fatalf("server saw client %q, %v, want %q", cn, err, "alice\n")
			}
			if got := c.ConnectionState().PeerCertificates[0].SerialNumber; got.Cmp(server.TLS.Leaf.SerialNumber) != 0 {
				t.Fatalf("server serial = %v, want %v", got, server.TLS.Leaf.SerialNumber)
			}
		})
	}
}

// TestWriteFiles: the written pair loads back as the issued certificate, with the
// requested serial and the first DNS name as common name.
func TestWriteFiles(t *testing.T) {
	t.Parallel()
	c := NewCA(t, "test CA").Issue(t, CertOptions{DNSNames: []string{"a.test", "b.test"}, Serial: 42})
	certFile, keyFile := c.WriteFiles(t, t.TempDir(), "a")
	got, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		t.Fatalf("LoadX509KeyPair() error = %v", err)
	}
	if got.Leaf.SerialNumber.Int64() != 42 || got.Leaf.Subject.CommonName != "a.test" {
		t.Fatalf("loaded serial %v CN %q, want 42 %q", got.Leaf.SerialNumber, got.Leaf.Subject.CommonName, "a.test")
	}
}
