package web

import (
	"net"
	"net/netip"

	"github.com/labstack/echo/v4"
)

// ClientIP returns how a service finds a request's client address. With
// no trusted proxies it is the peer's address, whatever the headers say.
// Behind load balancers it reads X-Forwarded-For only when the peer is
// one of them, right to left, skipping the trusted hops: the first
// address that is not a trusted proxy is the client's (the left part of
// the header is whatever the client sent, so it is never believed).
func ClientIP(trusted []netip.Prefix) echo.IPExtractor {
	if len(trusted) == 0 {
		return echo.ExtractIPDirect()
	}
	// echo trusts loopback, link-local and private networks unless told
	// not to; only the configured ranges are proxies here.
	opts := []echo.TrustOption{echo.TrustLoopback(false), echo.TrustLinkLocal(false), echo.TrustPrivateNet(false)}
	for _, p := range trusted {
		p = p.Masked()
		opts = append(opts, echo.TrustIPRange(&net.IPNet{IP: p.Addr().AsSlice(), Mask: net.CIDRMask(p.Bits(), p.Addr().BitLen())}))
	}
	return echo.ExtractIPFromXFFHeader(opts...)
}
