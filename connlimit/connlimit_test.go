package connlimit

import (
	"io"
	"net"
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Connections beyond a cap are closed at accept; closing one frees its slot.
func TestListenCaps(t *testing.T) {
	inner, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	var mu sync.Mutex
	refused := map[string]int{}
	l := Listen(inner, Options{Max: 3, PerIP: 2, OnRefuse: func(reason string, _ netip.Addr) {
		mu.Lock()
		refused[reason]++
		mu.Unlock()
	}})
	defer l.Close()

	accepted := make(chan net.Conn, 10)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			accepted <- c
		}
	}()
	dial := func(src string) net.Conn {
		d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(src)}}
		c, err := d.Dial("tcp", inner.Addr().String())
		require.NoError(t, err)
		t.Cleanup(func() { _ = c.Close() })
		return c
	}
	closedByServer := func(c net.Conn) bool {
		_ = c.SetReadDeadline(time.Now().Add(10 * time.Second)) // guards a hung test only
		_, err := c.Read(make([]byte, 1))
		return err == io.EOF || err != nil && !isTimeout(err)
	}

	dial("127.0.0.2")
	dial("127.0.0.2")
	<-accepted
	<-accepted
	third := dial("127.0.0.2")
	assert.True(t, closedByServer(third), "a third from one address is over the per-address cap")
	dial("127.0.0.3")
	a := <-accepted
	fourth := dial("127.0.0.4")
	assert.True(t, closedByServer(fourth), "a fourth in all is over the total cap")
	total, from2 := l.Open(netip.MustParseAddr("127.0.0.2"))
	assert.Equal(t, 3, total)
	assert.Equal(t, 2, from2)

	require.NoError(t, a.Close())
	dial("127.0.0.4")
	<-accepted
	mu.Lock()
	assert.Equal(t, map[string]int{ReasonPerIP: 1, ReasonTotal: 1}, refused)
	mu.Unlock()
	require.NoError(t, l.Close())
	<-done
}

func isTimeout(err error) bool {
	ne, ok := err.(net.Error)
	return ok && ne.Timeout()
}
