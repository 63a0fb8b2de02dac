//go:build e2e

package e2e

// DTMF both ways through the real binary (SIGNALING.md `dtmf`): the
// agent's digits become RFC 4733 telephone-events on the SIP leg, or SIP
// INFO (application/dtmf-relay) when the trunk did not negotiate
// telephone-event; the far end's digits reach the agent as `dtmf`
// messages. The far ends are baresip, sipp, and a socket of the test that
// takes the RTP of a sipp-signalled call and checks every packet.

import (
	"context"
	"fmt"
	"net"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pion/rtp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/callbridge/callbridge/e2e/harness"
	"github.com/callbridge/callbridge/media"
	"github.com/callbridge/callbridge/signaling/sigclient"
)

// dtmfWait bounds each wait for digits to arrive somewhere.
const dtmfWait = 10 * time.Second

// farDigits reads `dtmf` messages until want digits of callID arrived,
// then makes sure no further digit follows within quiet.
func farDigits(t *testing.T, c *sigclient.Client, callID string, want int, quiet time.Duration) string {
	t.Helper()
	var got []string
	read := func(ctx context.Context) error {
		m, err := c.Next(ctx, "dtmf")
		if err != nil {
			return err
		}
		var d struct {
			CallID string `json:"call_id"`
			Digit  string `json:"digit"`
		}
		require.NoError(t, m.Decode(&d))
		assert.Equal(t, callID, d.CallID, "dtmf %s", m.Raw)
		got = append(got, d.Digit)
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), dtmfWait)
	defer cancel()
	for len(got) < want {
		require.NoError(t, read(ctx), "digits so far: %v", got)
	}
	qctx, qcancel := context.WithTimeout(context.Background(), quiet)
	defer qcancel()
	for read(qctx) == nil {
	}
	return strings.Join(got, "")
}

// baresipEvent matches baresip 1.0's log line for a received RFC 4733
// event, one at its start (end=0) and one at its end (end=1).
var baresipEvent = regexp.MustCompile(`received event: '(.)' \(end=([01])\)`)

// baresipDigits returns the digits baresip logged as received, each with
// "+" for the start and "-" for the end of its event, e.g. "1+1-5+5-".
func baresipDigits(log string) string {
	var b strings.Builder
	for _, m := range baresipEvent.FindAllStringSubmatch(log, -1) {
		b.WriteString(m[1])
		if m[2] == "0" {
			b.WriteString("+")
		} else {
			b.WriteString("-")
		}
	}
	return b.String()
}

// TestDTMFWithBaresip: one answered call with baresip. The agent's digits
// must be logged by baresip as received telephone-events, each started and
// ended once; the digits baresip sends (ctrl_tcp sndcode) must reach the
// agent as dtmf messages, in order and once each.
func TestDTMFWithBaresip(t *testing.T) {
	harness.BuildBridge(t) // before the peers start their timeouts
	farPort := harness.FreeUDPPort(t)
	far := harness.StartBaresip(t, harness.BaresipConfig{
		SIPPort: farPort,
		// The Request-URI user must match an account.
		Accounts: []string{fmt.Sprintf("<sip:%s@127.0.0.1:%d>;regint=0;answermode=auto;audio_codecs=PCMU,PCMA", dialedE164, farPort)},
	})
	b := startBridge(t, far.SIPAddr)
	c := b.client(t)
	callID, states := call(t, c, dialed, "answered", nil)
	require.Equal(t, "answered", states[len(states)-1].State, "states: %v", stateNames(states))

	t.Run("agent to far end", func(t *testing.T) {
		var want string
		for _, digits := range []string{"159#", "*0AD"} {
			require.NoError(t, c.Send(map[string]any{"type": "dtmf", "call_id": callID, "digits": digits}))
			for _, d := range digits {
				want += string(d) + "+" + string(d) + "-"
			}
			waitUntil(t, dtmfWait, func() bool { return len(baresipDigits(far.Log())) >= len(want) },
				func() string { return fmt.Sprintf("baresip to log %s; it logged %q", want, baresipDigits(far.Log())) })
		}
		time.Sleep(300 * time.Millisecond) // a repeated end packet would log a second event
		assert.Equal(t, want, baresipDigits(far.Log()))
	})

	t.Run("far end to agent", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_, err := far.Command(ctx, "sndcode", "2*8#")
		require.NoError(t, err)
		assert.Equal(t, "2*8#", farDigits(t, c, callID, 4, 500*time.Millisecond))
		assert.Contains(t, far.Log(), "audio: send DTMF digit end: '#'", "baresip ended its last event")
	})

	require.NoError(t, c.Send(map[string]any{"type": "hangup", "call_id": callID}))
	_, states = untilState(t, c, "ended")
	require.Equal(t, "ended", states[len(states)-1].State)
}

// rtpCapture is the media address of a sipp-signalled far end: a UDP
// socket of the test that keeps every RTP packet the bridge sends.
type rtpCapture struct {
	Port int
	conn *net.UDPConn
	mu   sync.Mutex
	pkts []rtp.Packet // in arrival order; guarded by mu
	bad  int          // datagrams that are not RTP; guarded by mu
	from *net.UDPAddr // where the bridge sends from; guarded by mu
}

func newRTPCapture(t *testing.T) *rtpCapture {
	t.Helper()
	port := harness.FreeUDPPortPair(t)
	conn, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: port})
	require.NoError(t, err)
	t.Cleanup(func() { conn.Close() })
	c := &rtpCapture{Port: port, conn: conn}
	go func() {
		buf := make([]byte, 1500)
		for {
			n, from, err := conn.ReadFromUDP(buf)
			if err != nil {
				return
			}
			var p rtp.Packet
			err = p.Unmarshal(append([]byte(nil), buf[:n]...))
			c.mu.Lock()
			c.from = from
			if err != nil {
				c.bad++
			} else {
				c.pkts = append(c.pkts, p)
			}
			c.mu.Unlock()
		}
	}()
	return c
}

// packets returns the packets so far and how many datagrams were not RTP.
func (c *rtpCapture) packets() ([]rtp.Packet, int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.pkts), c.bad
}

// send sends p to the address the bridge sends from (symmetric RTP,
// RFC 4961).
func (c *rtpCapture) send(t *testing.T, p *rtp.Packet) {
	t.Helper()
	c.mu.Lock()
	to := c.from
	c.mu.Unlock()
	require.NotNil(t, to, "no RTP from the bridge yet")
	b, err := p.Marshal()
	require.NoError(t, err)
	_, err = c.conn.WriteToUDP(b, to)
	require.NoError(t, err)
}

// count counts the packets of payload type pt, and of those with the
// RFC 4733 E bit set.
func (c *rtpCapture) count(pt uint8) (all, ends int) {
	pkts, _ := c.packets()
	for _, p := range pkts {
		if p.PayloadType == pt {
			all++
			if len(p.Payload) >= 2 && p.Payload[1]&0x80 != 0 {
				ends++
			}
		}
	}
	return all, ends
}

// teEvent is one RFC 4733 event: the telephone-event packets sharing an
// RTP timestamp (§2.5.1.2), in arrival order.
type teEvent struct {
	TS   uint32
	Pkts []rtp.Packet
	TE   []media.TelephoneEvent
}

// final is the event's last reported duration in timestamp units.
func (e teEvent) final() uint32 { return uint32(e.TE[len(e.TE)-1].Duration) }

const (
	pcmuPT = 0
	tePT   = 101 // what uas_rtp_to_port.xml answers for telephone-event
)

// TestDTMFEventPackets checks the RFC 4733 packets themselves: sipp
// answers the bridge's INVITE with PCMU and telephone-event/8000 at 101 and
// points the media at a socket of the test, which sees every packet the
// bridge sends the trunk and sends the far end's events back.
func TestDTMFEventPackets(t *testing.T) {
	harness.BuildBridge(t)
	capture := newRTPCapture(t)
	uas, port := sippTrunk(t, "uas_rtp_to_port.xml", "-set", "rtp_ip", "127.0.0.1", "-set", "rtp_port", strconv.Itoa(capture.Port))
	b := startBridge(t, fmt.Sprintf("127.0.0.1:%d", port))
	c := b.client(t)
	callID, states := call(t, c, dialed, "answered", nil)
	require.Equal(t, "answered", states[len(states)-1].State, "states: %v", stateNames(states))
	waitUntil(t, dtmfWait, func() bool { n, _ := capture.count(pcmuPT); return n >= 10 },
		func() string { return "audio from the bridge at the SDP's address" })

	// Digits as sent, with the duration each was asked for.
	type sent struct {
		digits string
		ms     int // duration_ms; 0 = the default (100)
	}
	batches := []sent{{digits: "159#"}, {digits: "*D", ms: 200}, {digits: "00", ms: 40}}
	var (
		wantCodes []uint8
		wantDur   []uint32 // in 8 kHz timestamp units
	)
	for _, s := range batches {
		msg := map[string]any{"type": "dtmf", "call_id": callID, "digits": s.digits}
		ms := 100
		if s.ms != 0 {
			msg["duration_ms"], ms = s.ms, s.ms
		}
		require.NoError(t, c.Send(msg))
		for _, d := range s.digits {
			code, err := media.DTMFEvent(d)
			require.NoError(t, err)
			wantCodes = append(wantCodes, code)
			wantDur = append(wantDur, uint32(ms*8))
		}
		waitUntil(t, dtmfWait, func() bool { _, ends := capture.count(tePT); return ends >= 3*len(wantCodes) },
			func() string { return fmt.Sprintf("three end packets for each of %d events", len(wantCodes)) })
	}
	audioBefore, _ := capture.count(pcmuPT)
	waitUntil(t, dtmfWait, func() bool { n, _ := capture.count(pcmuPT); return n >= audioBefore+10 },
		func() string { return "audio again after the digits" })

	// The far end's digits, sent the ways trunks send them (RFC 4733
	// §2.5.2): '3' without the marker bit, '6' with its end packet sent five
	// times, '9' as end packets only (its first packets lost), '#' by the
	// book, twice. Each must reach the agent once, in order.
	far := []struct {
		digit   rune
		marker  bool
		updates []uint16 // durations of the packets before the end
		ends    int      // end packets
	}{
		{digit: '3', marker: false, updates: []uint16{160, 320, 480}, ends: 3},
		{digit: '6', marker: true, updates: []uint16{160, 320}, ends: 5},
		{digit: '9', marker: false, updates: nil, ends: 3},
		{digit: '#', marker: true, updates: []uint16{160, 320, 480, 640}, ends: 3},
		{digit: '#', marker: true, updates: []uint16{160}, ends: 3}, // the same digit again
	}
	seq, ts := uint16(9000), uint32(123456)
	for _, d := range far {
		code, err := media.DTMFEvent(d.digit)
		require.NoError(t, err)
		final := uint16(800)
		send := func(marker bool, ev media.TelephoneEvent) {
			seq++
			capture.send(t, &rtp.Packet{
				Header:  rtp.Header{Version: 2, PayloadType: tePT, SequenceNumber: seq, Timestamp: ts, SSRC: 0x5eed1e55, Marker: marker},
				Payload: ev.Marshal(make([]byte, 4)),
			})
			time.Sleep(20 * time.Millisecond)
		}
		for i, dur := range d.updates {
			send(d.marker && i == 0, media.TelephoneEvent{Event: code, Volume: 10, Duration: dur})
		}
		for range d.ends {
			send(d.marker && len(d.updates) == 0, media.TelephoneEvent{Event: code, End: true, Volume: 10, Duration: final})
		}
		ts += uint32(final) + 320
	}
	assert.Equal(t, "369##", farDigits(t, c, callID, len(far), 500*time.Millisecond))

	require.NoError(t, c.Send(map[string]any{"type": "hangup", "call_id": callID}))
	_, states = untilState(t, c, "ended")
	require.Equal(t, "ended", states[len(states)-1].State)
	waitSIP(t, uas, "< BYE")

	pkts, bad := capture.packets()
	require.Zero(t, bad, "datagrams that are not RTP")
	// One stream (RFC 3550 §5.1): events take the audio's SSRC and
	// sequence numbers, every packet one more than the one before (no loss
	// and no reordering on loopback).
	var events []teEvent
	var audio []rtp.Packet
	for i, p := range pkts {
		require.Equal(t, pkts[0].SSRC, p.SSRC, "packet %d", i)
		if i > 0 {
			require.Equal(t, pkts[i-1].SequenceNumber+1, p.SequenceNumber, "sequence number of packet %d (pt %d)", i, p.PayloadType)
		}
		switch p.PayloadType {
		case pcmuPT:
			audio = append(audio, p)
		case tePT:
			te, err := media.ParseTelephoneEvent(p.Payload)
			require.NoError(t, err)
			if n := len(events); n == 0 || events[n-1].TS != p.Timestamp {
				events = append(events, teEvent{TS: p.Timestamp})
			}
			e := &events[len(events)-1]
			e.Pkts = append(e.Pkts, p)
			e.TE = append(e.TE, te)
		default:
			t.Fatalf("packet %d has payload type %d; the call negotiated 0 and 101", i, p.PayloadType)
		}
	}
	require.Len(t, events, len(wantCodes), "one timestamp per digit")
	for i, e := range events {
		t.Run(fmt.Sprintf("event %d %c", i, media.DTMFDigit(wantCodes[i])), func(t *testing.T) {
			var durs []uint16
			for _, te := range e.TE {
				durs = append(durs, te.Duration)
			}
			t.Logf("ts %d: %d packets, durations %v", e.TS, len(e.Pkts), durs)
			require.GreaterOrEqual(t, len(e.Pkts), 4, "a start, an update and three end packets")
			for j, te := range e.TE {
				assert.Equal(t, wantCodes[i], te.Event, "event code (RFC 4733 §3.2) of packet %d", j)
				assert.Equal(t, j == 0, e.Pkts[j].Marker, "marker only on the first packet (§2.5.1.3), packet %d", j)
				assert.Equal(t, j >= len(e.TE)-3, te.End, "E bit on exactly the last three packets (§2.5.1.4), packet %d", j)
				if j > 0 && !te.End {
					assert.Greater(t, te.Duration, e.TE[j-1].Duration, "each update extends the duration (§2.5.1.3)")
				}
				if te.End {
					assert.Equal(t, e.TE[len(e.TE)-1].Duration, te.Duration, "the end packets repeat one duration")
				}
			}
			assert.GreaterOrEqual(t, e.final(), wantDur[i], "the event lasts as long as asked")
			assert.Less(t, e.final(), wantDur[i]+160, "and at most one 20 ms frame longer")
			if i > 0 {
				prev := events[i-1]
				assert.GreaterOrEqual(t, e.TS-prev.TS, prev.final(), "the event starts after the previous one ended")
			}
			// No audio packet carries a timestamp inside the event (§2.5.1.2):
			// the events replace the audio of their time.
			var after *rtp.Packet
			for k := range audio {
				a := &audio[k]
				in := a.Timestamp-e.TS < e.final() // unsigned: false before the event
				assert.False(t, in, "audio timestamp %d inside the event [%d, %d)", a.Timestamp, e.TS, e.TS+e.final())
				if after == nil && a.SequenceNumber-e.Pkts[len(e.Pkts)-1].SequenceNumber < 1<<15 {
					after = a
				}
			}
			if i == len(events)-1 {
				require.NotNil(t, after, "audio after the last event")
			}
			if after != nil {
				assert.GreaterOrEqual(t, after.Timestamp-e.TS, e.final(), "audio resumes after the event's time")
				assert.True(t, after.Marker, "audio after an event starts a talkspurt (RFC 3551 §4.1)")
			}
		})
	}
}

// TestDTMFOverSIPInfo: the trunk's answer has no telephone-event, so the
// agent's digits must go as SIP INFO with application/dtmf-relay (one per
// digit, "Signal=" and "Duration="), and the INFO the trunk sends must
// reach the agent as a dtmf message.
func TestDTMFOverSIPInfo(t *testing.T) {
	harness.BuildBridge(t)
	const digits = "1*9#"
	uas, port := sippTrunk(t, "uas_dtmf_info.xml", "-set", "digits", strconv.Itoa(len(digits)), "-rtp_echo")
	b := startBridge(t, fmt.Sprintf("127.0.0.1:%d", port))
	c := b.client(t)
	callID, states := call(t, c, dialed, "answered", nil)
	require.Equal(t, "answered", states[len(states)-1].State, "states: %v", stateNames(states))

	require.NoError(t, c.Send(map[string]any{"type": "dtmf", "call_id": callID, "digits": digits, "duration_ms": 120}))
	// sipp sends its INFO after it has answered all of the bridge's.
	assert.Equal(t, "7", farDigits(t, c, callID, 1, 300*time.Millisecond))

	require.NoError(t, c.Send(map[string]any{"type": "hangup", "call_id": callID}))
	_, states = untilState(t, c, "ended")
	require.Equal(t, "ended", states[len(states)-1].State)
	waitSIP(t, uas, "< BYE")

	msgs := uas.Messages()
	var infos []harness.SIPMessage
	for _, m := range msgs {
		if !m.Sent && m.Method() == "INFO" {
			infos = append(infos, m)
		}
	}
	require.Len(t, infos, len(digits), "one INFO per digit: %v", harness.StartLines(msgs))
	for i, m := range infos {
		assert.Equal(t, "application/dtmf-relay", m.Header("Content-Type"))
		fields := dtmfRelayBody(m.Raw)
		assert.Equal(t, string(digits[i]), fields["Signal"], "INFO %d: %q", i, m.Raw)
		assert.Equal(t, "120", fields["Duration"], "INFO %d", i)
	}
	var ok200 bool
	for _, m := range msgs {
		ok200 = ok200 || (!m.Sent && m.Status() == 200 && strings.HasSuffix(m.Header("CSeq"), "INFO"))
	}
	assert.True(t, ok200, "the bridge answered sipp's INFO with 200: %v", harness.StartLines(msgs))
}

// dtmfRelayBody parses the key=value lines of an application/dtmf-relay
// body from a whole SIP message.
func dtmfRelayBody(raw string) map[string]string {
	raw = strings.ReplaceAll(raw, "\r\n", "\n")
	_, body, _ := strings.Cut(raw, "\n\n")
	out := map[string]string{}
	for _, line := range strings.Split(body, "\n") {
		if k, v, ok := strings.Cut(line, "="); ok {
			out[strings.TrimSpace(k)] = strings.TrimSpace(v)
		}
	}
	return out
}
