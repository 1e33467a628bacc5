package observe

import "sync/atomic"

// ring is a bounded multi-producer, single-consumer queue of access-log entries
// (Vyukov's bounded queue: each slot carries a sequence number that says whose turn it
// is). A push is one CAS plus the copy; it never blocks and never wakes anyone, which a
// channel send does when the receiver is parked (a futex wake on the request path, and
// the channel lock serialises producers with the consumer).
type ring struct {
	mask  uint64
	slots []ringSlot
	_     [56]byte // keep tail off the slots header's cache line
	tail  atomic.Uint64
	_     [56]byte // and off head's: producers write tail, the consumer head
	head  atomic.Uint64
}

type ringSlot struct {
	seq atomic.Uint64
	e   logEntry
}

// newRing returns a ring holding at least size entries (rounded up to a power of two).
func newRing(size int) *ring {
	n := uint64(1)
	for n < uint64(size) {
		n <<= 1
	}
	r := &ring{mask: n - 1, slots: make([]ringSlot, n)}
	for i := range r.slots {
		r.slots[i].seq.Store(uint64(i))
	}
	return r
}

// push copies e into the ring; false means full. Safe for concurrent producers.
func (r *ring) push(e *logEntry) bool {
	s, pos, ok := r.claim()
	if !ok {
		return false
	}
	s.e = *e
	r.publish(s, pos)
	return true
}

// claim reserves the next slot for a producer, which fills s.e and then calls
// publish; false means full. Between claim and publish the consumer waits for this
// slot (and those after it), so the producer must not block in between.
func (r *ring) claim() (s *ringSlot, pos uint64, ok bool) {
	pos = r.tail.Load()
	for {
		s = &r.slots[pos&r.mask]
		seq := s.seq.Load()
		switch d := int64(seq - pos); {
		case d == 0:
			if r.tail.CompareAndSwap(pos, pos+1) {
				return s, pos, true
			}
			pos = r.tail.Load()
		case d < 0:
			return nil, 0, false // the consumer has not freed this slot: full
		default:
			pos = r.tail.Load() // another producer took pos
		}
	}
}

// publish hands a claimed, filled slot to the consumer.
func (r *ring) publish(s *ringSlot, pos uint64) { s.seq.Store(pos + 1) }

// pop moves the oldest entry into e; false means empty (or its producer is still
// copying). Only the one consumer may call it.
func (r *ring) pop(e *logEntry) bool {
	pos := r.head.Load()
	s := &r.slots[pos&r.mask]
	if int64(s.seq.Load()-(pos+1)) < 0 {
		return false
	}
	// The consumer is done with its previous entry: its byte buffer goes back into the
	// slot for the next producer, so buffers circulate instead of being allocated.
	spare := e.buf[:0]
	*e = s.e
	s.e = logEntry{buf: spare}    // drop string references for the GC
	s.seq.Store(pos + r.mask + 1) // free the slot for the producer one lap later
	r.head.Store(pos + 1)
	return true
}

// len is the approximate number of queued entries.
func (r *ring) len() int {
	n := int64(r.tail.Load() - r.head.Load())
	if n < 0 {
		return 0
	}
	return int(n)
}

// cap is the number of slots.
func (r *ring) cap() int { return len(r.slots) }
