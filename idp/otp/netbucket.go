package otp

import "net/netip"

// buckets are the rate-limit bucket names of one client address.
type buckets struct {
	addr string
	// network is the /24 (IPv4) or /64 (IPv6): one attacker usually
	// controls many neighbouring addresses, most of all with IPv6, where a
	// single customer gets a whole /64.
	network string
	// site is the IPv6 /48, the block a provider commonly hands one site;
	// someone holding one has 65,536 /64s to rotate through. Empty for
	// IPv4, where the /24 already is the site.
	site string
}

// ipBuckets returns the bucket names of a client address.
//
// Addresses that do not parse (a misconfigured proxy header, say) all share
// one bucket: being conservative there costs little, while giving each
// garbage string its own budget would let an attacker mint unlimited ones.
func ipBuckets(ip string) buckets {
	invalid := buckets{addr: "invalid", network: "invalid"}
	a, err := netip.ParseAddr(ip)
	if err != nil {
		ap, err2 := netip.ParseAddrPort(ip)
		if err2 != nil {
			return invalid
		}
		a = ap.Addr()
	}
	// ::ffff:1.2.3.4 is 1.2.3.4; a zone does not make another host.
	a = a.Unmap().WithZone("")
	if a.Is4() {
		p, err := a.Prefix(24)
		if err != nil {
			return invalid
		}
		return buckets{addr: a.String(), network: p.String()}
	}
	p64, err := a.Prefix(64)
	if err != nil {
		return invalid
	}
	p48, err := a.Prefix(48)
	if err != nil {
		return invalid
	}
	return buckets{addr: a.String(), network: p64.String(), site: p48.String()}
}

// Source names the client that a per-client budget outside this package
// is kept for (the graphical challenge's images): the address for IPv4,
// the /64 for IPv6, where one customer holds the whole block.
func Source(ip string) string {
	b := ipBuckets(ip)
	if b.site != "" {
		return b.network
	}
	return b.addr
}
