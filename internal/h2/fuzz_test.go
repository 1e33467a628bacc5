package h2

import (
	"bytes"
	"context"
	"io"
	"net"
	"net/http"
	"testing"
	"time"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"
)

// FuzzServeConn feeds arbitrary bytes after the connection preface and a SETTINGS
// frame into a served connection: the server must neither panic nor hang, and the
// connection must end once the client closes.
func FuzzServeConn(f *testing.F) {
	var seed bytes.Buffer
	fr := http2.NewFramer(&seed, nil)
	var hb bytes.Buffer
	enc := hpack.NewEncoder(&hb)
	for _, kv := range [][2]string{{":method", "POST"}, {":scheme", "http"}, {":authority", "x"}, {":path", "/p"}, {"content-length", "3"}} {
		enc.WriteField(hpack.HeaderField{Name: kv[0], Value: kv[1]})
	}
	fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, BlockFragment: hb.Bytes(), EndHeaders: true})
	fr.WriteData(1, true, []byte("abc"))
	f.Add(seed.Bytes())
	seed.Reset()
	fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 3, BlockFragment: hb.Bytes(), EndHeaders: false})
	fr.WriteContinuation(3, true, nil)
	fr.WriteRSTStream(3, http2.ErrCodeCancel)
	fr.WriteWindowUpdate(0, 1<<30)
	fr.WritePing(false, [8]byte{1})
	fr.WriteSettings(http2.Setting{ID: http2.SettingInitialWindowSize, Val: 0})
	f.Add(seed.Bytes())
	f.Add([]byte{0, 0, 0, 4, 0, 0, 0, 0, 0})

	s := NewServer(Options{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		w.Header().Set("Trailer", "X-T")
		w.Write(b)
		w.(http.Flusher).Flush()
		w.Header().Set("X-T", "v")
	}), ReadHeaderTimeout: time.Second})
	f.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		s.Shutdown(ctx)
	})
	var settings bytes.Buffer
	http2.NewFramer(&settings, nil).WriteSettings()
	f.Fuzz(func(t *testing.T, data []byte) {
		cc, sc := net.Pipe()
		done := make(chan struct{})
		go func() { defer close(done); s.ServeConn(sc) }()
		go io.Copy(io.Discard, cc) // the server's writes never block
		cc.SetWriteDeadline(time.Now().Add(2 * time.Second))
		cc.Write([]byte(http2.ClientPreface))
		cc.Write(settings.Bytes())
		cc.Write(data)
		cc.Close()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			t.Fatalf("ServeConn did not return 5s after the client closed")
		}
	})
}
