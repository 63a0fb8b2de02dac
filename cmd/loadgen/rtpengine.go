package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/pion/webrtc/v4"
)

// rtpengine is the comparison peer: Debian's rtpengine daemon in userspace,
// driven over its ng control protocol to do what the bridge does with the
// same streams: ICE, DTLS-SRTP and Opus on the browser side, plain RTP with
// PCMU on the far side, transcoding both ways.
type rtpengine struct {
	cmd  *exec.Cmd
	dir  string
	ng   string // host:port of the ng listener
	done chan struct{}
}

func startRTPEngine(ctx context.Context, bin, ports string) (*rtpengine, error) {
	ngPort, err := freePort("udp")
	if err != nil {
		return nil, err
	}
	lo, hi, ok := strings.Cut(ports, "-")
	if !ok {
		return nil, fmt.Errorf("--rtp-ports %q: want low-high", ports)
	}
	dir, err := os.MkdirTemp("", "loadgen-rtpengine-")
	if err != nil {
		return nil, err
	}
	logf, err := os.Create(filepath.Join(dir, "rtpengine.log"))
	if err != nil {
		return nil, err
	}
	r := &rtpengine{dir: dir, ng: fmt.Sprintf("127.0.0.1:%d", ngPort), done: make(chan struct{})}
	logLevel := "4"
	if os.Getenv("LOADGEN_KEEP") != "" {
		logLevel = "7"
	}
	r.cmd = exec.Command(bin, "--config-file=none", "--interface=127.0.0.1", "--listen-ng="+r.ng,
		"--port-min="+lo, "--port-max="+hi, "--table=-1", "--foreground", "--log-stderr", "--log-level="+logLevel,
		"--num-threads=2", "--timeout=600", "--silent-timeout=600", "--final-timeout=0", "--delete-delay=0")
	r.cmd.Stdout, r.cmd.Stderr = logf, logf
	r.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL} // never outlives the generator
	if err := r.cmd.Start(); err != nil {
		logf.Close()
		return nil, err
	}
	go func() {
		_ = r.cmd.Wait()
		logf.Close()
		close(r.done)
	}()
	for { // ready when it answers ping
		pctx, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
		res, err := r.request(pctx, map[string]any{"command": "ping"})
		cancel()
		if err == nil && res["result"] == "pong" {
			return r, nil
		}
		select {
		case <-r.done:
			log, _ := os.ReadFile(filepath.Join(dir, "rtpengine.log"))
			return nil, fmt.Errorf("rtpengine exited:\n%s", log)
		case <-ctx.Done():
			r.stop()
			return nil, ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}

func (r *rtpengine) pid() int { return r.cmd.Process.Pid }

func (r *rtpengine) stop() {
	_ = r.cmd.Process.Signal(os.Interrupt)
	select {
	case <-r.done:
	case <-time.After(10 * time.Second):
		_ = r.cmd.Process.Kill()
		<-r.done
	}
	if os.Getenv("LOADGEN_KEEP") == "" {
		_ = os.RemoveAll(r.dir)
	}
}

// request sends one ng command (cookie, space, bencoded dictionary) and
// returns the reply's dictionary; a "result" of "error" is an error.
func (r *rtpengine) request(ctx context.Context, msg map[string]any) (map[string]any, error) {
	conn, err := net.Dial("udp", r.ng)
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	cookie := make([]byte, 6)
	_, _ = rand.Read(cookie)
	var buf bytes.Buffer
	buf.WriteString(hex.EncodeToString(cookie) + " ")
	if err := bencode(&buf, msg); err != nil {
		return nil, err
	}
	reply := make([]byte, 65535)
	for attempt := 0; ; attempt++ {
		if _, err := conn.Write(buf.Bytes()); err != nil {
			return nil, err
		}
		deadline := time.Now().Add(time.Second << min(attempt, 3))
		if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
			deadline = d
		}
		_ = conn.SetReadDeadline(deadline)
		n, err := conn.Read(reply)
		if err != nil {
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			continue // lost on the way: send again (the cookie makes it idempotent)
		}
		c, body, ok := bytes.Cut(reply[:n], []byte(" "))
		if !ok || string(c) != hex.EncodeToString(cookie) {
			continue
		}
		v, err := bdecode(body)
		if err != nil {
			return nil, err
		}
		d, ok := v.(map[string]any)
		if !ok {
			return nil, fmt.Errorf("ng: reply is not a dictionary")
		}
		if d["result"] == "error" {
			return nil, fmt.Errorf("ng %s: %v", msg["command"], d["error-reason"])
		}
		return d, nil
	}
}

// placeRTPEngine sets up call c through rtpengine: the browser's offer
// goes in as an ng offer (rewritten to plain RTP, PCMU only, for the far
// end), the far end's PCMU answer as an ng answer (rewritten to ICE,
// DTLS-SRTP and Opus for the browser).
func (c *loadCall) placeRTPEngine(ctx context.Context, cs *clients, eng *rtpengine, far *farEnd) error {
	b := &browser{call: c, msgs: make(chan wsMessage), connected: make(chan struct{})}
	c.browser = b
	pc, err := cs.opusOnly.NewPeerConnection(pcConfig)
	if err != nil {
		return err
	}
	b.pc.Store(pc)
	if err := b.addTrack(pc); err != nil {
		return err
	}
	offer, err := pc.CreateOffer(nil)
	if err != nil {
		return err
	}
	gathered := webrtc.GatheringCompletePromise(pc)
	if err := pc.SetLocalDescription(offer); err != nil {
		return err
	}
	if err := waitCtx(ctx, gathered); err != nil {
		return err
	}
	r, err := newFarRTP(c, netip.AddrPort{})
	if err != nil {
		return err
	}
	c.mu.Lock()
	c.rtp = r
	c.mu.Unlock()
	far.wg.Add(1)
	go func() {
		defer far.wg.Done()
		r.readLoop()
	}()
	callID := fmt.Sprintf("load-%d-%d", os.Getpid(), c.idx)
	c.callAt = time.Now().UnixNano()
	res, err := eng.request(ctx, map[string]any{
		"command": "offer", "call-id": callID, "from-tag": "browser",
		"sdp": loopbackSDP(pc.LocalDescription().SDP), "ICE": "remove", "DTLS": "off",
		"transport-protocol": "RTP/AVP", "rtcp-mux": []string{"accept", "demux"},
		"codec": map[string]any{"mask": []string{"opus"}, "transcode": []string{"PCMU"}},
	})
	if err != nil {
		return err
	}
	sdpOut, _ := res["sdp"].(string)
	remote, err := remoteRTP([]byte(sdpOut))
	if err != nil {
		return err
	}
	r.remote = remote
	c.inviteAt.Store(time.Now().UnixNano())
	res, err = eng.request(ctx, map[string]any{
		"command": "answer", "call-id": callID, "from-tag": "browser", "to-tag": "far",
		"sdp": string(r.sdp()), "ICE": "force", "transport-protocol": "UDP/TLS/RTP/SAVPF",
	})
	if err != nil {
		return err
	}
	sdpIn, _ := res["sdp"].(string)
	c.ngCallID = callID
	if os.Getenv("LOADGEN_DEBUG") != "" {
		fmt.Fprintf(os.Stderr, "offer in:\n%s\noffer out:\n%s\nanswer out:\n%s\n", loopbackSDP(pc.LocalDescription().SDP), sdpOut, sdpIn)
	}
	if err := pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeAnswer, SDP: sdpIn}); err != nil {
		return fmt.Errorf("rtpengine's answer: %w", err)
	}
	c.farAnswered()
	c.answeredAt = time.Now().UnixNano()
	if err := waitCtx(ctx, b.connected); err != nil {
		return fmt.Errorf("ICE/DTLS with rtpengine: %w", err)
	}
	c.streamUp.Store(true)
	return nil
}

// hangUpRTPEngine stops the streams, lets them drain and deletes the call.
func (c *loadCall) hangUpRTPEngine(ctx context.Context, eng *rtpengine, drain time.Duration) error {
	c.streamUp.Store(false)
	c.streamDown.Store(false)
	sleep(ctx, drain)
	c.hangupAt = time.Now().UnixNano()
	_, err := eng.request(ctx, map[string]any{"command": "delete", "call-id": c.ngCallID, "from-tag": "browser"})
	c.endedAt = time.Now().UnixNano()
	return err
}

// loopbackSDP names the browser's ICE address in c= and m= instead of
// pion's 0.0.0.0 and port 9, which rtpengine takes for a call on hold.
func loopbackSDP(s string) string {
	port := "9"
	for _, line := range strings.Split(s, "\r\n") {
		// a=candidate:foundation component udp priority 127.0.0.1 port typ host
		if f := strings.Fields(line); strings.HasPrefix(line, "a=candidate:") && len(f) >= 6 && f[4] == "127.0.0.1" {
			port = f[5]
			break
		}
	}
	s = strings.ReplaceAll(s, "c=IN IP4 0.0.0.0", "c=IN IP4 127.0.0.1")
	return strings.Replace(s, "m=audio 9 ", "m=audio "+port+" ", 1)
}
