package webhook

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// MaxResponseBytes bounds how much of a receiver's response is read.
const MaxResponseBytes = 64 << 10

// userAgent identifies the bridge to receivers.
const userAgent = "callbridge-webhook/1"

// IsPublicIP reports whether ip is a globally routable unicast address: not
// loopback, private (RFC 1918, RFC 4193), link-local, shared/CGNAT
// (RFC 6598), "this network", unspecified or multicast.
//
// IPv6 forms that carry an IPv4 address are judged by that address:
// IPv4-mapped (::ffff:a.b.c.d), IPv4-compatible (::a.b.c.d, RFC 4291
// §2.5.5.1), NAT64 (64:ff9b::/96, RFC 6052) and 6to4 (2002::/16, RFC 3056);
// the local-use NAT64 prefix (64:ff9b:1::/48, RFC 8215) and Teredo
// (2001::/32, whose client address is obfuscated) are never public.
func IsPublicIP(ip netip.Addr) bool {
	ip = ip.Unmap()
	if v4, ok := embeddedIPv4(ip); ok {
		return IsPublicIP(v4)
	}
	if !ip.IsValid() || ip.IsLoopback() || ip.IsPrivate() || ip.IsLinkLocalUnicast() || ip.IsLinkLocalMulticast() ||
		ip.IsMulticast() || ip.IsUnspecified() || ip.IsInterfaceLocalMulticast() {
		return false
	}
	for _, p := range nonPublic {
		if p.Contains(ip) {
			return false
		}
	}
	return true
}

var (
	nat64       = netip.MustParsePrefix("64:ff9b::/96")
	ipv4Compat  = netip.MustParsePrefix("::/96")
	sixToFour   = netip.MustParsePrefix("2002::/16")
	unspecified = netip.IPv6Unspecified()
)

// embeddedIPv4 is the IPv4 address an IPv6 address of a translation or
// transition form carries.
func embeddedIPv4(ip netip.Addr) (netip.Addr, bool) {
	if !ip.Is6() {
		return netip.Addr{}, false
	}
	b := ip.As16()
	switch {
	case nat64.Contains(ip):
		return netip.AddrFrom4([4]byte(b[12:16])), true
	case ipv4Compat.Contains(ip) && ip != unspecified && ip != netip.IPv6Loopback():
		return netip.AddrFrom4([4]byte(b[12:16])), true
	case sixToFour.Contains(ip):
		return netip.AddrFrom4([4]byte(b[2:6])), true
	}
	return netip.Addr{}, false
}

var nonPublic = []netip.Prefix{
	netip.MustParsePrefix("0.0.0.0/8"),
	netip.MustParsePrefix("100.64.0.0/10"),
	netip.MustParsePrefix("192.0.0.0/24"),
	netip.MustParsePrefix("198.18.0.0/15"),
	netip.MustParsePrefix("240.0.0.0/4"),
	netip.MustParsePrefix("64:ff9b:1::/48"),
	netip.MustParsePrefix("2001::/32"),
}

// newHTTPClient returns the delivery client: one attempt is bounded by
// timeout, redirects are not followed (a 3xx is a failed attempt, as
// Standard Webhooks asks), no proxy from the environment is used, and
// unless allowPrivate every connection is checked after name resolution so
// a hostname cannot smuggle a loopback or private target (SSRF, DNS
// rebinding).
func newHTTPClient(timeout time.Duration, allowPrivate bool) *http.Client {
	d := &net.Dialer{Timeout: timeout}
	if !allowPrivate {
		d.Control = func(network, address string, _ syscall.RawConn) error {
			host, _, err := net.SplitHostPort(address)
			if err != nil {
				return err
			}
			ip, err := netip.ParseAddr(host)
			if err != nil || !IsPublicIP(ip) {
				return fmt.Errorf("%w: %s", ErrPrivateTarget, host)
			}
			return nil
		}
	}
	tr := &http.Transport{
		Proxy:                 nil,
		DialContext:           d.DialContext,
		TLSHandshakeTimeout:   timeout,
		ResponseHeaderTimeout: timeout,
		MaxIdleConnsPerHost:   4,
		IdleConnTimeout:       90 * time.Second,
	}
	return &http.Client{
		Transport: tr,
		Timeout:   timeout,
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		},
	}
}

// request is one signed delivery.
type request struct {
	URL         string
	MsgID       string
	Body        []byte
	ContentType string
	Headers     map[string]string
	Secret      string
}

// result is the outcome of one attempt.
type result struct {
	StatusCode int           // 0 when no response arrived
	RetryAfter time.Duration // from a Retry-After header; 0 if none
	Err        error         // nil on 2xx
	Duration   time.Duration
}

// OK reports a 2xx.
func (r result) OK() bool { return r.Err == nil }

// Gone reports a 410: the receiver asks to be disabled.
func (r result) Gone() bool { return r.StatusCode == http.StatusGone }

// post makes one attempt at now.
func post(ctx context.Context, c *http.Client, rq request, now time.Time) result {
	start := time.Now()
	res := send(ctx, c, rq, now)
	res.Duration = time.Since(start)
	return res
}

func send(ctx context.Context, c *http.Client, rq request, now time.Time) result {
	sig, err := Sign(rq.Secret, rq.MsgID, now, rq.Body)
	if err != nil {
		return result{Err: err}
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, rq.URL, bytes.NewReader(rq.Body))
	if err != nil {
		return result{Err: fmt.Errorf("bad webhook URL: %w", err)}
	}
	for k, v := range rq.Headers {
		req.Header.Set(k, v)
	}
	req.Header.Set("Content-Type", rq.ContentType)
	req.Header.Set("User-Agent", userAgent)
	req.Header.Set(HeaderID, rq.MsgID)
	req.Header.Set(HeaderTimestamp, strconv.FormatInt(now.Unix(), 10))
	req.Header.Set(HeaderSignature, sig)
	resp, err := c.Do(req)
	if err != nil {
		if errors.Is(err, ErrPrivateTarget) {
			return result{Err: ErrPrivateTarget}
		}
		return result{Err: redactURL(err)}
	}
	defer resp.Body.Close()
	head, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, MaxResponseBytes))
	res := result{StatusCode: resp.StatusCode, RetryAfter: parseRetryAfter(resp.Header.Get("Retry-After"), now)}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		msg := strings.TrimSpace(strings.ToValidUTF8(string(head), "?"))
		if len(msg) > 200 {
			msg = msg[:200] + "…"
		}
		if msg != "" {
			res.Err = fmt.Errorf("HTTP %d: %s", resp.StatusCode, msg)
		} else {
			res.Err = fmt.Errorf("HTTP %d", resp.StatusCode)
		}
	}
	return res
}

// redactURL drops the URL from net/http's errors: a webhook URL may carry
// a token in its query.
func redactURL(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}

// parseRetryAfter reads Retry-After as seconds or an HTTP date
// (RFC 9110 §10.2.3).
func parseRetryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	if n, err := strconv.Atoi(v); err == nil {
		if n < 0 {
			return 0
		}
		return time.Duration(n) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil && t.After(now) {
		return t.Sub(now)
	}
	return 0
}
