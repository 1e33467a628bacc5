// Package ipfilter admits or refuses clients by address: a route policy (403) and a
// per-connection check for listeners.
//
// Deny wins over allow; a non-empty allow list admits only what it lists; an empty one
// admits everything not denied. The address checked is policy.Request.Client, the
// client after trusted-proxy resolution (internal/clientip), so a filter behind a
// trusted load balancer sees real clients and an untrusted client cannot spoof one.
//
// Lists are scanned linearly: filters hold a handful of prefixes, where a scan over
// contiguous netip.Prefix values beats a trie. A Filter is immutable and safe for
// concurrent use; Apply does not allocate. It runs at policy.OrderIPFilter.
package ipfilter
