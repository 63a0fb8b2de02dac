package harness

import (
	"bufio"
	"encoding/binary"
	"math"
	"os"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/zaf/g711"
)

// wavBytes builds a WAV file around data with a fmt chunk of the given tag.
func wavBytes(tag, channels, rate, bits int, data []byte) []byte {
	fmtChunk := make([]byte, 16)
	binary.LittleEndian.PutUint16(fmtChunk[0:], uint16(tag))
	binary.LittleEndian.PutUint16(fmtChunk[2:], uint16(channels))
	binary.LittleEndian.PutUint32(fmtChunk[4:], uint32(rate))
	binary.LittleEndian.PutUint32(fmtChunk[8:], uint32(rate*channels*bits/8))
	binary.LittleEndian.PutUint16(fmtChunk[12:], uint16(channels*bits/8))
	binary.LittleEndian.PutUint16(fmtChunk[14:], uint16(bits))
	var b []byte
	b = append(b, "RIFF\x00\x00\x00\x00WAVE"...)
	b = append(b, "LIST\x03\x00\x00\x00abc\x00"...) // odd-sized chunk, padded
	b = append(b, "fmt \x10\x00\x00\x00"...)
	b = append(b, fmtChunk...)
	b = append(b, "data"...)
	b = binary.LittleEndian.AppendUint32(b, uint32(len(data)))
	b = append(b, data...)
	binary.LittleEndian.PutUint32(b[4:], uint32(len(b)-8))
	return b
}

// sine returns n samples of amplitude amp at hz.
func sine(n, rate int, hz, amp float64) []float64 {
	s := make([]float64, n)
	for i := range s {
		s[i] = amp * math.Sin(2*math.Pi*hz*float64(i)/float64(rate))
	}
	return s
}

func TestDecodeWAV(t *testing.T) {
	const rate = 8000
	src := sine(rate, rate, 1000, 0.5)
	pcm16 := make([]byte, 0, 2*len(src))
	stereo := make([]byte, 0, 4*len(src))
	ulaw := make([]byte, 0, len(src))
	alaw := make([]byte, 0, len(src))
	f32 := make([]byte, 0, 4*len(src))
	for _, x := range src {
		v := int16(x * 32767)
		pcm16 = binary.LittleEndian.AppendUint16(pcm16, uint16(v))
		stereo = binary.LittleEndian.AppendUint16(stereo, uint16(v))
		stereo = binary.LittleEndian.AppendUint16(stereo, 0) // silent right channel
		ulaw = append(ulaw, g711.EncodeUlawFrame(v))
		alaw = append(alaw, g711.EncodeAlawFrame(v))
		f32 = binary.LittleEndian.AppendUint32(f32, math.Float32bits(float32(x)))
	}
	for _, tc := range []struct {
		name     string
		wav      []byte
		channels int
	}{
		{"pcm16 mono", wavBytes(wavPCM, 1, rate, 16, pcm16), 1},
		{"pcm16 stereo reads the first channel", wavBytes(wavPCM, 2, rate, 16, stereo), 2},
		{"mu-law", wavBytes(wavMuLaw, 1, rate, 8, ulaw), 1},
		{"a-law", wavBytes(wavALaw, 1, rate, 8, alaw), 1},
		{"float32", wavBytes(wavFloat, 1, rate, 32, f32), 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a, err := DecodeWAV(tc.wav)
			require.NoError(t, err)
			assert.Equal(t, rate, a.Rate)
			assert.Equal(t, tc.channels, a.Channels)
			require.Len(t, a.Samples, rate)
			assert.InDelta(t, 1.0, a.Duration(), 1e-9)
			assert.InDelta(t, 0.5, ToneAmplitude(a.Samples, a.Rate, 1000), 0.02)
			assert.Less(t, ToneAmplitude(a.Samples, a.Rate, 600), 0.02)
		})
	}
}

func TestDecodeWAVRejectsBadInput(t *testing.T) {
	good := wavBytes(wavPCM, 1, 8000, 16, make([]byte, 320))
	for _, tc := range []struct {
		name string
		wav  []byte
		want error
	}{
		{"empty", nil, ErrNotWAV},
		{"not RIFF", []byte("RIFX\x00\x00\x00\x00WAVEfmt "), ErrNotWAV},
		{"no data chunk", good[:12+12+8+16], ErrWAVTruncated},
		{"fmt chunk cut", good[:12+12+8+10], ErrWAVTruncated},
		{"unsupported encoding", wavBytes(0x55, 1, 8000, 16, make([]byte, 32)), ErrWAVFormat},
		{"zero channels", wavBytes(wavPCM, 0, 8000, 16, make([]byte, 32)), ErrWAVFormat},
		{"data before fmt", []byte("RIFF\x10\x00\x00\x00WAVEdata\x02\x00\x00\x00\x00\x00"), ErrWAVFormat},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := DecodeWAV(tc.wav)
			require.ErrorIs(t, err, tc.want)
		})
	}
}

func TestDecodeWAVReadsDataOfAnUnfinishedRecording(t *testing.T) {
	// A recorder killed before fixing up its header claims more data than
	// the file holds: the samples present are still read.
	wav := wavBytes(wavPCM, 1, 8000, 16, make([]byte, 320))
	binary.LittleEndian.PutUint32(wav[len(wav)-320-4:], 1<<30)
	a, err := DecodeWAV(wav)
	require.NoError(t, err)
	assert.Len(t, a.Samples, 160)
}

func TestToneAmplitude(t *testing.T) {
	const rate = 48000
	mix := sine(rate, rate, 440, 0.3)
	for i, x := range sine(rate, rate, 1000, 0.1) {
		mix[i] += x
	}
	for _, tc := range []struct {
		hz   float64
		want float64
	}{
		{440, 0.3},
		{1000, 0.1},
		{600, 0},
	} {
		t.Run("", func(t *testing.T) {
			assert.InDelta(t, tc.want, ToneAmplitude(mix, rate, tc.hz), 0.01, "%g Hz", tc.hz)
		})
	}
	hz, amp := DominantTone(mix, rate, 600, 1000, 440)
	assert.Equal(t, 440.0, hz)
	assert.InDelta(t, 0.3, amp, 0.01)
	assert.Zero(t, ToneAmplitude(nil, rate, 440))
	assert.InDelta(t, 0.5/math.Sqrt2, RMS(sine(rate, rate, 440, 0.5)), 1e-3)
}

func TestAudioWindowClamps(t *testing.T) {
	a := Audio{Rate: 10, Samples: make([]float64, 20)}
	assert.Len(t, a.Window(0.5, 1.5), 10)
	assert.Len(t, a.Window(1.5, 99), 5)
	assert.Empty(t, a.Window(3, 1))
	assert.Len(t, a.Window(-1, 1), 10)
}

func TestParseSippMessages(t *testing.T) {
	b, err := os.ReadFile("testdata/sipp_uac_messages.log")
	require.NoError(t, err)
	msgs := ParseSippMessages(string(b))
	assert.Equal(t, []string{
		"> INVITE sip:echo@127.0.0.1:35060 SIP/2.0",
		"< SIP/2.0 180 Ringing",
		"< SIP/2.0 200 OK",
		"> ACK sip:127.0.0.1:35060;transport=UDP SIP/2.0",
		"> BYE sip:127.0.0.1:35060;transport=UDP SIP/2.0",
		"< SIP/2.0 200 OK",
	}, StartLines(msgs))
	assert.Equal(t, "INVITE", msgs[0].Method())
	assert.Zero(t, msgs[0].Status())
	assert.Equal(t, 180, msgs[1].Status())
	assert.Empty(t, msgs[1].Method())
	assert.Equal(t, "1 INVITE", msgs[1].Header("cseq"))
	assert.Equal(t, "application/sdp", msgs[0].Header("Content-Type"))
	assert.Empty(t, msgs[0].Header("v"), "SDP lines are not headers")
}

func TestReadNetstring(t *testing.T) {
	for _, tc := range []struct {
		in      string
		want    string
		wantErr bool
	}{
		{in: `5:hello,`, want: "hello"},
		{in: `0:,`, want: ""},
		{in: `5:hello;`, wantErr: true},
		{in: `x:hello,`, wantErr: true},
		{in: `-1:,`, wantErr: true},
		{in: `99999999:`, wantErr: true},
		{in: `10:short,`, wantErr: true},
	} {
		t.Run(tc.in, func(t *testing.T) {
			got, err := readNetstring(bufio.NewReader(strings.NewReader(tc.in)))
			if tc.wantErr {
				require.Error(t, err)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tc.want, string(got))
		})
	}
}

func TestScanSockets(t *testing.T) {
	f, err := os.CreateTemp(t.TempDir(), "udp")
	require.NoError(t, err)
	_, err = f.WriteString("  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n" +
		"   1: 0100007F:13C4 00000000:0000 07 00000000:00000000 00:00000000 00000000     0        0 1 2\n" +
		"   2: 0100007F:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 1 2\n")
	require.NoError(t, err)
	for _, tc := range []struct {
		proto string
		port  int
		want  bool
	}{
		{"udp", 5060, true},
		{"udp", 5061, false},
		{"tcp", 8080, true},
		{"tcp", 5060, false}, // bound but not listening
	} {
		t.Run(tc.proto, func(t *testing.T) {
			_, err := f.Seek(0, 0)
			require.NoError(t, err)
			got, err := scanSockets(f, tc.proto, tc.port)
			require.NoError(t, err)
			assert.Equal(t, tc.want, got)
		})
	}
}

func FuzzDecodeWAV(f *testing.F) {
	f.Add(wavBytes(wavPCM, 1, 8000, 16, make([]byte, 64)))
	f.Add(wavBytes(wavMuLaw, 2, 8000, 8, make([]byte, 64)))
	f.Fuzz(func(t *testing.T, b []byte) {
		a, err := DecodeWAV(b)
		if err != nil {
			return
		}
		for _, x := range a.Samples {
			if math.IsNaN(x) {
				return // float WAVs may carry NaN; no panic is the property
			}
		}
		_ = ToneAmplitude(a.Samples, a.Rate, 1000)
	})
}

func FuzzParseSippMessages(f *testing.F) {
	f.Add("----------------------------------------------- x\nUDP message sent (3 bytes):\n\nBYE sip:a SIP/2.0\nCSeq: 1 BYE\n\n")
	f.Fuzz(func(t *testing.T, log string) {
		for _, m := range ParseSippMessages(log) {
			_ = m.Method()
			_ = m.Status()
			_ = m.Header("CSeq")
		}
	})
}

func FuzzReadNetstring(f *testing.F) {
	f.Add([]byte(`5:hello,`))
	f.Fuzz(func(t *testing.T, b []byte) {
		_, _ = readNetstring(bufio.NewReader(strings.NewReader(string(b))))
	})
}
