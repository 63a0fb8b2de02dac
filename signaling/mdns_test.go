package signaling_test

import (
	"bytes"
	"runtime/pprof"
	"testing"

	"github.com/pion/webrtc/v4"
	"github.com/stretchr/testify/require"

	"github.com/callbridge/callbridge/config"
	"github.com/callbridge/callbridge/signaling"
)

// The bridge's peer connections run no mDNS: gathering candidates starts
// no mDNS goroutines (pion's default starts them for every connection).
func TestNoMulticastDNS(t *testing.T) {
	api, err := signaling.NewAPI(config.WebRTC{ICEInterfaces: []string{"127.0.0.1"}}, testLogger(t), nil)
	require.NoError(t, err)
	pc, err := api.NewPeerConnection(webrtc.Configuration{})
	require.NoError(t, err)
	defer pc.Close()
	_, err = pc.AddTransceiverFromKind(webrtc.RTPCodecTypeAudio)
	require.NoError(t, err)
	offer, err := pc.CreateOffer(nil)
	require.NoError(t, err)
	gathered := webrtc.GatheringCompletePromise(pc)
	require.NoError(t, pc.SetLocalDescription(offer))
	<-gathered
	var dump bytes.Buffer
	require.NoError(t, pprof.Lookup("goroutine").WriteTo(&dump, 1))
	require.NotContains(t, dump.String(), "pion/mdns", "a peer connection runs mDNS")
}
