package bridge

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
	"sync"
	"time"

	"github.com/emiago/sipgo/sip"

	"github.com/callbridge/callbridge/config"
)

// TrunkState is what the OPTIONS probe knows of the trunk.
type TrunkState struct {
	Up        bool      `json:"up"`
	Probing   bool      `json:"probing"`
	LastProbe time.Time `json:"last_probe,omitempty"`
	LastOK    time.Time `json:"last_ok,omitempty"`
	LastCode  int       `json:"last_code,omitempty"`
	LastError string    `json:"last_error,omitempty"`
	Failures  int       `json:"consecutive_failures"`
}

// trunkFailuresDown is how many probes without any response mark the trunk down.
const trunkFailuresDown = 2

type trunkProbe struct {
	mu    sync.Mutex
	state TrunkState // guarded by mu
}

// Trunk returns the trunk's probe state.
func (b *Bridge) Trunk() TrunkState {
	b.probe.mu.Lock()
	defer b.probe.mu.Unlock()
	return b.probe.state
}

func (b *Bridge) trunkUp() bool {
	b.probe.mu.Lock()
	defer b.probe.mu.Unlock()
	return !b.probe.state.Probing || b.probe.state.Up
}

// ProbeTrunk sends OPTIONS to the trunk every sip.options_interval until
// ctx ends (RFC 3261 §11). Any response, even 404 or 405, shows the trunk
// is reachable; no response twice in a row marks it down, and calls are
// then refused at once with trunk_unavailable.
func (b *Bridge) ProbeTrunk(ctx context.Context) {
	every := b.cfg.SIP.OptionsInterval
	if every <= 0 {
		return
	}
	b.probe.mu.Lock()
	b.probe.state.Probing = true
	b.probe.state.Up = true // innocent until proven down
	b.probe.mu.Unlock()
	b.metrics.trunkUp.Set(1)
	b.waitServing(ctx)
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		b.probeOnce(ctx, every)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

func (b *Bridge) probeOnce(ctx context.Context, every time.Duration) {
	req := sip.NewRequest(sip.OPTIONS, sip.Uri{Scheme: "sip", Host: b.trunk.Host, Port: b.trunk.Port, UriParams: b.trunk.UriParams})
	req.AppendHeader(&sip.FromHeader{Address: sip.Uri{Scheme: "sip", User: "callbridge", Host: b.domain}, Params: sip.NewParams()})
	req.From().Params.Add("tag", sip.GenerateTagN(16))
	req.AppendHeader(&sip.ToHeader{Address: sip.Uri{Scheme: "sip", Host: b.trunk.Host, Port: b.trunk.Port}, Params: sip.NewParams()})
	req.SetTransport(b.transport)
	timeout := min(every, 5*time.Second)
	pctx, cancel := context.WithTimeout(ctx, timeout)
	res, err := b.client.Do(pctx, req)
	cancel()
	if ctx.Err() != nil {
		return
	}
	if err == nil {
		b.learnTrunkSource(res)
	}
	b.probe.mu.Lock()
	defer b.probe.mu.Unlock()
	s := &b.probe.state
	s.LastProbe = time.Now()
	wasUp := s.Up
	if err != nil {
		s.Failures++
		s.LastError = err.Error()
		s.LastCode = 0
		if s.Failures >= trunkFailuresDown {
			s.Up = false
		}
	} else {
		s.Failures = 0
		s.LastError = ""
		s.LastCode = res.StatusCode
		s.LastOK = s.LastProbe
		s.Up = true
	}
	if s.Up != wasUp {
		if s.Up {
			b.log.Info("trunk is up", "code", s.LastCode)
			b.metrics.trunkUp.Set(1)
		} else {
			b.log.Warn("trunk is down: no answer to OPTIONS", "failures", s.Failures, "error", s.LastError)
			b.metrics.trunkUp.Set(0)
		}
	}
}

// tlsConfig builds the SIP leg's TLS configuration from sip.tls.
func tlsConfig(c config.SIPTLS, trunkHost string) (*tls.Config, error) {
	conf := &tls.Config{MinVersion: tls.VersionTLS12, ServerName: trunkHost}
	if c.ServerName != "" {
		conf.ServerName = c.ServerName
	}
	if c.CAFile != "" {
		pem, err := os.ReadFile(c.CAFile)
		if err != nil {
			return nil, fmt.Errorf("sip.tls.ca_file: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("sip.tls.ca_file %s: %w", c.CAFile, errNoPEM)
		}
		conf.RootCAs = pool
	}
	if c.CertFile != "" || c.KeyFile != "" {
		cert, err := tls.LoadX509KeyPair(c.CertFile, c.KeyFile)
		if err != nil {
			return nil, fmt.Errorf("sip.tls.cert_file/key_file: %w", err)
		}
		conf.Certificates = []tls.Certificate{cert}
	}
	return conf, nil
}

var errNoPEM = errors.New("no PEM certificate found")
