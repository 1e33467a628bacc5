package h2

import (
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"
)

// Options configure a Server. Zero values take the defaults listed per field.
type Options struct {
	// Handler serves every stream; required.
	Handler http.Handler
	// ConnContext, when set, derives the base context of a connection's requests (as
	// http.Server.ConnContext does).
	ConnContext func(ctx context.Context, c net.Conn) context.Context
	// MaxConcurrentStreams is advertised in SETTINGS and enforced (REFUSED_STREAM
	// beyond it); default 250.
	MaxConcurrentStreams uint32
	// MaxHeaderListSize caps the decoded size of a request's header block (RFC 9113
	// section 6.5.2); a larger one is answered 431. Default 64 KiB.
	MaxHeaderListSize uint32
	// MaxReadFrameSize is the largest frame payload accepted (SETTINGS_MAX_FRAME_SIZE);
	// default 16 KiB, the protocol minimum.
	MaxReadFrameSize uint32
	// StreamWindow is the receive window of each stream (SETTINGS_INITIAL_WINDOW_SIZE)
	// and so the most request-body bytes buffered per stream; default 256 KiB.
	StreamWindow int32
	// ConnWindow is the connection receive window, the most request-body bytes buffered
	// per connection; default 1 MiB.
	ConnWindow int32
	// ReadHeaderTimeout bounds the wait for the client's preface and first SETTINGS;
	// default 10s.
	ReadHeaderTimeout time.Duration
	// IdleTimeout closes (with GOAWAY) a connection without streams for this long;
	// checked lazily, so the close comes between IdleTimeout and twice it. Default 75s.
	IdleTimeout time.Duration
	// WriteTimeout bounds a single write to the client; a peer that stops reading is
	// cut after it. Default 60s.
	WriteTimeout time.Duration
	// Logger receives connection-level diagnostics at debug level; default discards.
	Logger *slog.Logger
	// UnindexedFields names response header fields (canonical form, as in
	// http.Header) whose value differs in every response, such as a request ID. They
	// are sent as literals without indexing (RFC 7541 section 6.2.2): indexed, each
	// would take a new entry in the connection's HPACK table, and so the client's,
	// pushing out one that the next response could have reused.
	UnindexedFields []string
}

// Defaults for Options' zero values.
const (
	DefaultMaxConcurrentStreams = 250
	DefaultMaxHeaderListSize    = 64 << 10
	DefaultMaxReadFrameSize     = 16 << 10
	DefaultStreamWindow         = 256 << 10
	DefaultConnWindow           = 1 << 20
	DefaultReadHeaderTimeout    = 10 * time.Second
	DefaultIdleTimeout          = 75 * time.Second
	DefaultWriteTimeout         = 60 * time.Second
)

func (o *Options) setDefaults() {
	if o.MaxConcurrentStreams == 0 {
		o.MaxConcurrentStreams = DefaultMaxConcurrentStreams
	}
	if o.MaxHeaderListSize == 0 {
		o.MaxHeaderListSize = DefaultMaxHeaderListSize
	}
	if o.MaxReadFrameSize < 16<<10 || o.MaxReadFrameSize > 1<<24-1 {
		o.MaxReadFrameSize = DefaultMaxReadFrameSize
	}
	if o.StreamWindow <= 0 {
		o.StreamWindow = DefaultStreamWindow
	}
	if o.ConnWindow < 65535 {
		o.ConnWindow = DefaultConnWindow
	}
	if o.ReadHeaderTimeout <= 0 {
		o.ReadHeaderTimeout = DefaultReadHeaderTimeout
	}
	if o.IdleTimeout <= 0 {
		o.IdleTimeout = DefaultIdleTimeout
	}
	if o.WriteTimeout <= 0 {
		o.WriteTimeout = DefaultWriteTimeout
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
}

// Server serves HTTP/2 connections handed to ServeConn. It is safe for concurrent use.
type Server struct {
	o        Options
	shutting atomic.Bool
	workers  workers
	dates    dateCache

	mu    sync.Mutex
	conns map[*conn]struct{}
}

// NewServer returns a Server for o.
func NewServer(o Options) *Server {
	o.setDefaults()
	s := &Server{o: o, conns: map[*conn]struct{}{}}
	s.workers.init(maxIdleWorkers)
	return s
}

// ServeConn serves c, which must start with the client connection preface (RFC 9113
// section 3.4), until the connection ends; it closes c. It blocks, so callers run it on
// the connection's own goroutine.
func (s *Server) ServeConn(c net.Conn) {
	cn := newConn(s, c)
	s.mu.Lock()
	if s.shutting.Load() {
		s.mu.Unlock()
		cn.refuse()
		return
	}
	s.conns[cn] = struct{}{}
	s.mu.Unlock()
	cn.serve()
	s.mu.Lock()
	delete(s.conns, cn)
	s.mu.Unlock()
}

// Shutdown sends GOAWAY on every connection, lets the streams in flight finish and
// closes each connection when it has none left; connections handed over later are
// refused. When ctx ends first, the remaining connections are closed and ctx's error
// returned.
func (s *Server) Shutdown(ctx context.Context) error {
	s.shutting.Store(true)
	defer s.workers.stop()
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for {
		s.mu.Lock()
		for cn := range s.conns {
			cn.goAwayGraceful()
		}
		n := len(s.conns)
		s.mu.Unlock()
		if n == 0 {
			return nil
		}
		select {
		case <-ctx.Done():
			s.mu.Lock()
			for cn := range s.conns {
				cn.closeNow()
			}
			s.mu.Unlock()
			return ctx.Err()
		case <-tick.C:
		}
	}
}

// maxIdleWorkers bounds the handler goroutines kept parked for reuse across all
// connections; beyond it a finished handler goroutine exits.
const maxIdleWorkers = 128

// workers reuses handler goroutines: a stream goes to a parked worker when one waits,
// else to a new goroutine. A reused goroutine keeps the stack it grew serving earlier
// streams, so deep handlers (routing, policies, the proxy) stop paying for stack
// growth on every stream.
type workers struct {
	ch   chan *stream
	quit chan struct{}
	idle atomic.Int32
	max  int32
	once sync.Once
}

func (w *workers) init(max int32) {
	w.ch = make(chan *stream)
	w.quit = make(chan struct{})
	w.max = max
}

func (w *workers) run(st *stream) {
	select {
	case w.ch <- st:
	default:
		go w.loop(st)
	}
}

func (w *workers) loop(st *stream) {
	for {
		st.serve()
		if w.idle.Add(1) > w.max {
			w.idle.Add(-1)
			return
		}
		select {
		case st = <-w.ch:
			w.idle.Add(-1)
		case <-w.quit:
			w.idle.Add(-1)
			return
		}
	}
}

func (w *workers) stop() { w.once.Do(func() { close(w.quit) }) }

// dateCache formats the Date field once per second.
type dateCache struct {
	sec atomic.Int64
	val atomic.Pointer[string]
}

func (d *dateCache) get() string {
	now := time.Now()
	if s := now.Unix(); s == d.sec.Load() {
		if v := d.val.Load(); v != nil {
			return *v
		}
	}
	v := now.UTC().Format(http.TimeFormat)
	d.val.Store(&v)
	d.sec.Store(now.Unix())
	return v
}
