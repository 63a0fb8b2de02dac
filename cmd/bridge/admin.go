package main

import (
	"github.com/callbridge/callbridge/bridge"
	"github.com/callbridge/callbridge/diag"
	"github.com/callbridge/callbridge/signaling"
)

// diagSource feeds the stats page from the bridge's calls and the
// signaling sessions (the browsers' own getStats uploads).
type diagSource struct {
	*bridge.Bridge
	sig *signaling.Server
}

func (d diagSource) Calls() []bridge.CallInfo { return d.CallInfos() }

func (d diagSource) BrowserReport(callID string) *diag.BrowserReport {
	raw, at, ok := d.sig.BrowserStats(callID)
	if !ok {
		return nil
	}
	r, err := diag.ParseBrowserReport(raw, at)
	if err != nil {
		return nil
	}
	return r
}
