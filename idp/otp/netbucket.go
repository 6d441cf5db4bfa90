package otp

import "net/netip"

// ipBuckets returns the client address and its network (/24 for IPv4, /64
// for IPv6) as rate-limit bucket names. The network bucket exists because
// one attacker usually controls many neighbouring addresses, most of all
// with IPv6, where a single customer gets a whole /64.
//
// Addresses that do not parse (a misconfigured proxy header, say) all share
// one bucket: being conservative there costs little, while giving each
// garbage string its own budget would let an attacker mint unlimited ones.
func ipBuckets(ip string) (addr, network string) {
	a, err := netip.ParseAddr(ip)
	if err != nil {
		ap, err2 := netip.ParseAddrPort(ip)
		if err2 != nil {
			return "invalid", "invalid"
		}
		a = ap.Addr()
	}
	// ::ffff:1.2.3.4 is 1.2.3.4; a zone does not make another host.
	a = a.Unmap().WithZone("")
	bits := 64
	if a.Is4() {
		bits = 24
	}
	p, err := a.Prefix(bits)
	if err != nil {
		return "invalid", "invalid"
	}
	return a.String(), p.String()
}
