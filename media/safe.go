package media

import (
	"fmt"

	"github.com/pion/rtp"
)

// HandleSafely runs one packet through h; a panic becomes that packet's
// error, so a bad packet never ends a call or the process.
func HandleSafely(h RTPHandler, hdr *rtp.Header, payload []byte) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("%w: %v", ErrHandlerPanic, r)
		}
	}()
	return h.HandleRTP(hdr, payload)
}
