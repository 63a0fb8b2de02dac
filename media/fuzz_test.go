package media_test

import (
	"errors"
	"testing"
	"time"

	"github.com/pion/rtp"

	"github.com/callbridge/callbridge/media"
	"github.com/callbridge/callbridge/media/mediatest"
)

// known reports whether err is nil or wraps one of the package's sentinels.
func known(err error) bool {
	if err == nil {
		return true
	}
	for _, s := range []error{
		media.ErrNilPacket, media.ErrEmptyPayload, media.ErrPayloadTooLarge, media.ErrMalformedOpus,
		media.ErrDecoderPanic, media.ErrUnexpectedPayloadType, media.ErrMalformedDTMF,
	} {
		if errors.Is(err, s) {
			return true
		}
	}
	return false
}

// FuzzUplinkOpus feeds arbitrary Opus payloads between valid packets: no
// panic, only the package's errors, and the stream decodes afterwards.
// Seed corpus: testdata/fuzz/FuzzUplinkOpus.
func FuzzUplinkOpus(f *testing.F) {
	good := mediatest.OpusPackets(f, mediatest.FixtureSilkNB)
	for _, fx := range []string{mediatest.FixtureSilkWB, mediatest.FixtureHybridFB, mediatest.FixtureCELT} {
		f.Add(mediatest.OpusPackets(f, fx)[20], uint16(1), uint32(960))
	}
	f.Add([]byte{0xff, 0xff, 0xff}, uint16(1), uint32(960))
	f.Fuzz(func(t *testing.T, payload []byte, seqStep uint16, tsStep uint32) {
		up, err := media.NewUplink(media.UplinkConfig{Codec: media.CodecPCMU}, &mediatest.RTPRecorder{})
		if err != nil {
			t.Fatal(err)
		}
		seq, ts := uint16(100), uint32(1000)
		for i := range 5 {
			if err := up.HandleRTP(&rtp.Header{SequenceNumber: seq, Timestamp: ts, SSRC: 1}, good[i]); err != nil {
				t.Fatal(err)
			}
			seq, ts = seq+1, ts+960
		}
		seq, ts = seq-1+seqStep, ts-960+tsStep
		if err := up.HandleRTP(&rtp.Header{SequenceNumber: seq, Timestamp: ts, SSRC: 1}, payload); !known(err) {
			t.Fatalf("unexpected error %v", err)
		}
		// The stream carries on: a later packet decodes.
		for i := range 5 {
			seq, ts = seq+1, ts+960
			if err := up.HandleRTP(&rtp.Header{SequenceNumber: seq, Timestamp: ts, SSRC: 1}, good[10+i]); err != nil {
				t.Fatalf("stream broken after fuzz input: %v", err)
			}
		}
	})
}

// FuzzDownlinkRTP feeds raw RTP packets (audio, telephone-event, garbage)
// to a downlink: no panic and only the package's errors.
// Seed corpus: testdata/fuzz/FuzzDownlinkRTP.
func FuzzDownlinkRTP(f *testing.F) {
	src := mediatest.NewToneSource(media.CodecPCMA, 1000, 0.5)
	for i, pt := range []uint8{8, 101, 13, 0} {
		p := rtp.Packet{Header: rtp.Header{Version: 2, PayloadType: pt, SequenceNumber: uint16(i), Timestamp: uint32(160 * i), SSRC: 7}, Payload: src.Next()}
		if pt == 101 {
			p.Payload = []byte{5, 0x8a, 3, 0x20}
		}
		b, _ := p.Marshal()
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		audio, err := media.NewDownlink(media.DownlinkConfig{In: media.CodecPCMA, Out: media.CodecPCMU}, &mediatest.RTPRecorder{})
		if err != nil {
			t.Fatal(err)
		}
		var d media.Demux
		d.SetAudio(media.CodecPCMA.PayloadType, audio)
		d.SetDTMF(101, media.NewDTMFReceiver(8000, func(r rune, _ time.Duration) {
			if media.DTMFDigit(0) != '0' || r == 0 {
				t.Errorf("bad digit %q", r)
			}
		}))
		var p rtp.Packet
		if p.Unmarshal(raw) != nil {
			return
		}
		for range 3 { // repeated: duplicates, reorder state
			if err := d.HandleRTP(&p.Header, p.Payload); !known(err) {
				t.Fatalf("unexpected error %v", err)
			}
			p.SequenceNumber += 2
			p.Timestamp += 400
		}
	})
}
