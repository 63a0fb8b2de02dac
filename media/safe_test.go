package media

import (
	"errors"
	"testing"

	"github.com/pion/rtp"
)

type panicky struct{}

func (panicky) HandleRTP(*rtp.Header, []byte) error { panic("boom") }
func (panicky) String() string                      { return "panicky" }

func TestHandleSafely(t *testing.T) {
	err := HandleSafely(panicky{}, &rtp.Header{}, nil)
	if !errors.Is(err, ErrHandlerPanic) {
		t.Fatalf("got %v, want ErrHandlerPanic", err)
	}
}
