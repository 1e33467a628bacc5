package observe

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"
	"unsafe"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/gantrygw/gantry/internal/config"
)

// AccessLog writes one line per request without ever making a request wait for I/O.
//
// Log copies the record into a bounded lock-free ring (ring.go) and returns; when the
// ring is full the record is dropped and counted (gantry_access_log_dropped_total). One
// writer goroutine polls the ring, formats records into a reused buffer and writes
// through a bufio.Writer that is flushed after a poll that found nothing new and at
// least every FlushInterval, so at low rates lines appear within about two poll
// intervals and at high rates writes are batched into the 64 KiB buffer.
//
// Formatting is hand-written (JSON or logfmt-style text) rather than slog: slog's
// JSONHandler formats on the caller's goroutine, boxes every attribute in an slog.Value
// and allocates per record (see BenchmarkEncodeSlogJSON against BenchmarkEncodeJSON);
// here the caller only copies a fixed-size struct and the writer allocates nothing per
// line.
type AccessLog struct {
	q       *ring
	wake    chan struct{} // cap 1: producers nudge a parked writer
	parked  atomic.Bool   // the writer sleeps until woken (long idle)
	format  string
	dropped prometheus.Counter
	drops   atomic.Uint64
	logger  *slog.Logger
	flushIv time.Duration

	// Owned by the writer goroutine.
	out  io.Writer
	file *os.File
	path string
	bw   *bufio.Writer
	buf  []byte
	werr time.Time // when a write error was last logged

	reopen    chan chan error
	stop      chan struct{}
	done      chan struct{}
	closeOnce sync.Once
	closed    atomic.Bool
}

// AccessLogOptions tune an AccessLog beyond its config.
type AccessLogOptions struct {
	// Writer replaces the configured output (tests, embedding); Reopen is then a no-op.
	Writer io.Writer
	// Dropped counts records dropped on a full queue (may be nil).
	Dropped prometheus.Counter
	// Logger receives write errors, at most one per 10s (nil: discarded).
	Logger *slog.Logger
	// FlushInterval bounds how long a line may sit in the buffer; default 100ms.
	FlushInterval time.Duration
}

// DefaultFlushInterval bounds how long a written line may wait in the buffer.
const DefaultFlushInterval = 100 * time.Millisecond

// NewAccessLog opens cfg.Output (stdout, stderr or a file, appended to) unless
// opts.Writer is set, and starts the writer goroutine; Close stops it.
func NewAccessLog(cfg *config.AccessLog, opts AccessLogOptions) (*AccessLog, error) {
	l, err := newAccessLog(cfg, opts)
	if err != nil {
		return nil, err
	}
	go l.run()
	return l, nil
}

// newAccessLog is NewAccessLog without starting the writer (tests drive poll).
func newAccessLog(cfg *config.AccessLog, opts AccessLogOptions) (*AccessLog, error) {
	if !cfg.On() {
		return nil, ErrAccessLogOff
	}
	size := cfg.Buffer
	if size <= 0 {
		size = config.DefaultAccessLogBuffer
	}
	format := cfg.Format
	if format == "" {
		format = config.AccessLogJSON
	}
	l := &AccessLog{
		q:       newRing(size),
		wake:    make(chan struct{}, 1),
		format:  format,
		dropped: opts.Dropped,
		logger:  opts.Logger,
		flushIv: opts.FlushInterval,
		buf:     make([]byte, 0, 1024),
		reopen:  make(chan chan error),
		stop:    make(chan struct{}),
		done:    make(chan struct{}),
	}
	if l.flushIv <= 0 {
		l.flushIv = DefaultFlushInterval
	}
	if l.logger == nil {
		l.logger = slog.New(slog.DiscardHandler)
	}
	switch {
	case opts.Writer != nil:
		l.out = opts.Writer
	case cfg.Output == "" || cfg.Output == config.AccessLogStdout:
		l.out = os.Stdout
	case cfg.Output == config.AccessLogStderr:
		l.out = os.Stderr
	default:
		f, err := openLogFile(cfg.Output)
		if err != nil {
			return nil, err
		}
		l.out, l.file, l.path = f, f, cfg.Output
	}
	l.bw = bufio.NewWriterSize(l.out, 64<<10)
	return l, nil
}

func openLogFile(path string) (*os.File, error) {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		return nil, fmt.Errorf("access log: open: %w", err)
	}
	return f, nil
}

// logEntry is the fixed-size copy of a Record that travels to the writer. Strings are
// shared, not copied: Go strings are immutable.
type logEntry struct {
	buf       []byte // owns the bytes the string fields below view
	start     time.Time
	requestID string
	traceID   TraceID
	clientIP  netip.Addr
	consumer  string
	method    string
	host      string
	path      string
	route     string
	upstream  string
	target    string
	reason    string
	status    int
	retries   int
	bytesIn   int64
	bytesOut  int64
	duration  time.Duration
	upstreamD time.Duration
}

// Log queues rec for writing and returns at once; it never blocks, does not allocate
// and normally makes no system call. On a full queue (or after Close) the record is
// dropped and counted. Safe for concurrent use.
func (l *AccessLog) Log(rec *Record) {
	if l.closed.Load() {
		l.drop()
		return
	}
	if s, pos, ok := l.q.claim(); ok {
		fillEntry(&s.e, rec) // straight into the slot: no intermediate copy
		l.q.publish(s, pos)
		// Wake the writer only when it parked after a long idle, or when the queue is
		// half full and polling may be too slow; otherwise it finds the entry on its
		// next poll, and the request pays no wake-up.
		if (l.parked.Load() && l.parked.CompareAndSwap(true, false)) || l.q.len() > l.q.cap()/2 {
			select {
			case l.wake <- struct{}{}:
			default:
			}
		}
		return
	}
	l.drop()
}

func (l *AccessLog) drop() {
	l.drops.Add(1)
	if l.dropped != nil {
		l.dropped.Inc()
	}
}

// fillEntry copies what the log needs from rec.
func fillEntry(e *logEntry, rec *Record) {
	// A Record's strings may view a connection's reused read buffer (the HTTP/1.1
	// engine's zero-copy request view), valid only until End returns; the entry is
	// written later, so it copies their bytes into its own buffer, which the slot
	// keeps from one use to the next (no allocation once grown).
	buf := e.buf[:0]
	buf = append(buf, rec.RequestID...)
	buf = append(buf, rec.Consumer...)
	buf = append(buf, rec.Method...)
	buf = append(buf, rec.Host...)
	buf = append(buf, rec.Path...)
	o1 := len(rec.RequestID)
	o2 := o1 + len(rec.Consumer)
	o3 := o2 + len(rec.Method)
	o4 := o3 + len(rec.Host)
	*e = logEntry{
		buf:       buf,
		start:     rec.Start,
		requestID: bufView(buf, 0, o1),
		traceID:   rec.Trace.TraceID,
		clientIP:  rec.ClientIP,
		consumer:  bufView(buf, o1, o2-o1),
		method:    bufView(buf, o2, o3-o2),
		host:      bufView(buf, o3, o4-o3),
		path:      bufView(buf, o4, len(rec.Path)),
		route:     rec.routeName(),
		upstream:  rec.upstreamName(),
		target:    rec.Target,
		reason:    rec.Reason,
		status:    rec.Status,
		retries:   rec.Retries,
		bytesIn:   rec.BytesIn,
		bytesOut:  rec.BytesOut,
		duration:  rec.Duration,
		upstreamD: rec.UpstreamDuration,
	}
}

// bufView is the string of buf[off:off+n] without a copy; buf must not change after.
func bufView(buf []byte, off, n int) string {
	if n == 0 {
		return ""
	}
	return unsafe.String(&buf[off], n)
}

// Dropped returns how many records were dropped so far.
func (l *AccessLog) Dropped() uint64 { return l.drops.Load() }

// Reopen closes and reopens the output file, for log rotation (call it on SIGHUP after
// the file was moved away). Lines queued before are written to the old file. It is a
// no-op for stdout, stderr and a given Writer.
func (l *AccessLog) Reopen() error {
	reply := make(chan error, 1)
	select {
	case l.reopen <- reply:
		return <-reply
	case <-l.done:
		return ErrClosed
	}
}

// Close writes every queued record, flushes and closes the output file, waiting at most
// until ctx is done. Records logged after Close are dropped. Calling it again returns nil.
func (l *AccessLog) Close(ctx context.Context) error {
	l.closeOnce.Do(func() {
		l.closed.Store(true)
		close(l.stop)
	})
	select {
	case <-l.done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("access log: close: %w", ctx.Err())
	}
}

// pollInterval is how often a busy writer looks for new entries; after parkAfter idle
// polls (0.5s) it parks until a producer wakes it, so an idle gateway has no timer
// wake-ups. A producer also wakes it when the ring is half full, so a longer interval
// does not drop entries.
const (
	pollInterval = 5 * time.Millisecond
	parkAfter    = 100
)

// run is the writer goroutine. It polls the ring rather than being woken per entry (see
// Log), writes what it finds into the buffer, and flushes after a poll that found
// nothing new: a line waits at most about two poll intervals when traffic is light,
// and under steady traffic the buffer fills into 64 KiB writes; a tick flushes at least
// every FlushInterval.
//
// Why not flush whenever the ring runs empty (as before): under steady traffic it runs
// empty at nearly every poll, so the writer made one write(2) of a few lines every 2 ms.
// At 10,000 requests per second that cost the full feature route about 5 µs per request
// (bench/features.sh, docs/performance.md), more than the auth and metrics together.
func (l *AccessLog) run() {
	defer close(l.done)
	poll := time.NewTimer(pollInterval)
	defer poll.Stop()
	tick := time.NewTicker(l.flushIv)
	defer tick.Stop()
	idle := 0
	for {
		if l.poll() {
			idle = 0
		} else {
			idle++
		}
		if idle >= parkAfter {
			l.parked.Store(true)
			if l.q.len() > 0 && l.parked.CompareAndSwap(true, false) {
				continue // an entry raced with parking
			}
			// Everything was flushed above; nothing needs a timer until a producer wakes us.
			select {
			case <-l.wake:
			case reply := <-l.reopen:
				l.parked.Store(false)
				reply <- l.doReopen()
			case <-l.stop:
				l.shutdown()
				return
			}
			l.parked.Store(false)
			idle = 0
			continue
		}
		poll.Reset(pollInterval)
		select {
		case <-poll.C:
		case <-l.wake:
		case <-tick.C:
			l.flush()
		case reply := <-l.reopen:
			reply <- l.doReopen()
		case <-l.stop:
			l.shutdown()
			return
		}
	}
}

// poll is one look at the ring: it writes what it finds into the buffer and reports
// whether there was anything; a poll that found nothing flushes the buffer.
func (l *AccessLog) poll() bool {
	if l.drain(4096) > 0 {
		return true
	}
	l.flush()
	return false
}

// shutdown writes everything queued (Log no longer queues once closed is set, so the
// ring only shrinks, apart from pushes that raced with Close), flushes and closes.
func (l *AccessLog) shutdown() {
	l.drain(-1)
	l.flush()
	if l.file != nil {
		if err := l.file.Close(); err != nil {
			l.logError(err)
		}
	}
}

// drain writes up to max queued records (all when max < 0) without waiting and
// returns how many it wrote.
func (l *AccessLog) drain(max int) int {
	var e logEntry
	n := 0
	for ; max < 0 || n < max; n++ {
		if !l.q.pop(&e) {
			break
		}
		l.write(&e)
	}
	return n
}

func (l *AccessLog) write(e *logEntry) {
	if l.format == config.AccessLogText {
		l.buf = appendText(l.buf[:0], e)
	} else {
		l.buf = appendJSON(l.buf[:0], e)
	}
	if _, err := l.bw.Write(l.buf); err != nil {
		l.logError(err)
	}
	if cap(l.buf) > 64<<10 {
		l.buf = make([]byte, 0, 1024) // one huge line must not pin memory
	}
}

func (l *AccessLog) flush() {
	if l.bw.Buffered() == 0 {
		return
	}
	if err := l.bw.Flush(); err != nil {
		l.logError(err)
		// A failed bufio.Writer keeps its error; start afresh so a transient failure
		// (disk full) does not silence the log for good.
		l.bw.Reset(l.out)
	}
}

func (l *AccessLog) doReopen() error {
	l.drain(-1)
	l.flush()
	if l.file == nil {
		return nil
	}
	f, err := openLogFile(l.path)
	if err != nil {
		return err // keep writing to the old file
	}
	old := l.file
	l.out, l.file = f, f
	l.bw.Reset(f)
	if err := old.Close(); err != nil {
		return fmt.Errorf("access log: close old file: %w", err)
	}
	return nil
}

func (l *AccessLog) logError(err error) {
	if now := time.Now(); now.Sub(l.werr) >= 10*time.Second {
		l.werr = now
		l.logger.Error("access log write failed", "err", err)
	}
}

// appendTime appends t as RFC 3339 in UTC with fixed microseconds
// ("2006-01-02T15:04:05.000000Z"), so lines sort as text. Hand-written because
// time.AppendFormat parses its layout on every call and was a third of the writer's
// time per line.
func appendTime(b []byte, t time.Time) []byte {
	t = t.UTC()
	year, month, day := t.Date()
	hour, minute, sec := t.Clock()
	b = appendDigits(b, year, 4)
	b = append(b, '-')
	b = appendDigits(b, int(month), 2)
	b = append(b, '-')
	b = appendDigits(b, day, 2)
	b = append(b, 'T')
	b = appendDigits(b, hour, 2)
	b = append(b, ':')
	b = appendDigits(b, minute, 2)
	b = append(b, ':')
	b = appendDigits(b, sec, 2)
	b = append(b, '.')
	b = appendDigits(b, t.Nanosecond()/1000, 6)
	return append(b, 'Z')
}

// appendDigits appends v (0 <= v < 10^width, else clamped to its last width digits)
// zero-padded to width digits.
func appendDigits(b []byte, v, width int) []byte {
	if v < 0 {
		v = 0
	}
	var d [8]byte
	for i := width - 1; i >= 0; i-- {
		d[i] = byte('0' + v%10)
		v /= 10
	}
	return append(b, d[:width]...)
}

// appendJSON appends e as one JSON object and a newline; every field is always present.
func appendJSON(b []byte, e *logEntry) []byte {
	b = append(b, `{"time":"`...)
	b = appendTime(b, e.start)
	b = append(b, `","request_id":`...)
	b = appendJSONString(b, e.requestID)
	b = append(b, `,"trace_id":"`...)
	if e.traceID.IsValid() {
		b = e.traceID.AppendHex(b)
	}
	b = append(b, `","client_ip":"`...)
	if e.clientIP.IsValid() {
		b = e.clientIP.AppendTo(b)
	}
	b = append(b, `","consumer":`...)
	b = appendJSONString(b, e.consumer)
	b = append(b, `,"method":`...)
	b = appendJSONString(b, e.method)
	b = append(b, `,"host":`...)
	b = appendJSONString(b, e.host)
	b = append(b, `,"path":`...)
	b = appendJSONString(b, e.path)
	b = append(b, `,"route":`...)
	b = appendJSONString(b, e.route)
	b = append(b, `,"upstream":`...)
	b = appendJSONString(b, e.upstream)
	b = append(b, `,"target":`...)
	b = appendJSONString(b, e.target)
	b = append(b, `,"status":`...)
	b = strconv.AppendInt(b, int64(e.status), 10)
	b = append(b, `,"bytes_in":`...)
	b = strconv.AppendInt(b, e.bytesIn, 10)
	b = append(b, `,"bytes_out":`...)
	b = strconv.AppendInt(b, e.bytesOut, 10)
	b = append(b, `,"duration_ms":`...)
	b = appendMillis(b, e.duration)
	b = append(b, `,"upstream_ms":`...)
	b = appendMillis(b, e.upstreamD)
	b = append(b, `,"retries":`...)
	b = strconv.AppendInt(b, int64(e.retries), 10)
	b = append(b, `,"reason":`...)
	b = appendJSONString(b, e.reason)
	return append(b, "}\n"...)
}

// appendText appends e as one logfmt-style line: key=value pairs, values quoted when
// they are empty or hold spaces, quotes, '=' or non-printable bytes.
func appendText(b []byte, e *logEntry) []byte {
	b = append(b, "time="...)
	b = appendTime(b, e.start)
	b = appendTextField(b, " request_id=", e.requestID)
	b = append(b, " trace_id="...)
	if e.traceID.IsValid() {
		b = e.traceID.AppendHex(b)
	} else {
		b = append(b, `""`...)
	}
	b = append(b, " client_ip="...)
	if e.clientIP.IsValid() {
		b = e.clientIP.AppendTo(b)
	} else {
		b = append(b, `""`...)
	}
	b = appendTextField(b, " consumer=", e.consumer)
	b = appendTextField(b, " method=", e.method)
	b = appendTextField(b, " host=", e.host)
	b = appendTextField(b, " path=", e.path)
	b = appendTextField(b, " route=", e.route)
	b = appendTextField(b, " upstream=", e.upstream)
	b = appendTextField(b, " target=", e.target)
	b = append(b, " status="...)
	b = strconv.AppendInt(b, int64(e.status), 10)
	b = append(b, " bytes_in="...)
	b = strconv.AppendInt(b, e.bytesIn, 10)
	b = append(b, " bytes_out="...)
	b = strconv.AppendInt(b, e.bytesOut, 10)
	b = append(b, " duration_ms="...)
	b = appendMillis(b, e.duration)
	b = append(b, " upstream_ms="...)
	b = appendMillis(b, e.upstreamD)
	b = append(b, " retries="...)
	b = strconv.AppendInt(b, int64(e.retries), 10)
	b = appendTextField(b, " reason=", e.reason)
	return append(b, '\n')
}

func appendTextField(b []byte, key, v string) []byte {
	b = append(b, key...)
	if v == "" || needsQuote(v) {
		return appendJSONString(b, v)
	}
	return append(b, v...)
}

func needsQuote(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c <= ' ' || c == '"' || c == '=' || c == '\\' || c >= 0x7f {
			return true
		}
	}
	return false
}

// appendMillis appends d in milliseconds with three decimals (microsecond precision).
func appendMillis(b []byte, d time.Duration) []byte {
	return strconv.AppendFloat(b, float64(d)/float64(time.Millisecond), 'f', 3, 64)
}

// appendJSONString appends s as a JSON string; invalid UTF-8 becomes U+FFFD so that a
// raw client path can never break the line.
func appendJSONString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c >= 0x20 && c != '"' && c != '\\' && c < utf8.RuneSelf {
			i++
			continue
		}
		if c < utf8.RuneSelf {
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i++
			start = i
			continue
		}
		// U+2028 and U+2029 are valid JSON but break JavaScript consumers of the log.
		if r == '\u2028' || r == '\u2029' {
			b = append(b, s[start:i]...)
			b = append(b, `\u202`...)
			b = append(b, hexDigits[r&0xf])
			i += size
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}
