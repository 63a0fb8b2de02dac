package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"
)

// procSample is a process's resource use at one moment.
type procSample struct {
	At         time.Time     `json:"at"`
	CPU        time.Duration `json:"-"`
	CPUSeconds float64       `json:"cpu_seconds"` // user+system since start
	RSSKB      int64         `json:"rss_kb"`
	FDs        int           `json:"fds"`
	Threads    int           `json:"threads"`
	Goroutines int           `json:"goroutines,omitempty"` // from /metrics go_goroutines
	HeapInuse  int64         `json:"heap_inuse_bytes,omitempty"`
	CallsUp    int           `json:"calls_active,omitempty"` // callbridge_calls_active
	LoadAvg    string        `json:"loadavg"`
}

// sampleProc reads /proc/PID and, when metricsURL is set, the bridge's
// Prometheus page.
func sampleProc(pid int, metricsURL string) (procSample, error) {
	s := procSample{At: time.Now()}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return s, err
	}
	// Fields after the parenthesised command name; utime and stime are
	// fields 14 and 15 (proc(5)), in clock ticks of 100 Hz.
	str := string(b)
	f := strings.Fields(str[strings.LastIndexByte(str, ')')+2:])
	if len(f) < 13 {
		return s, errors.New("short /proc stat")
	}
	ut, _ := strconv.ParseInt(f[11], 10, 64)
	st, _ := strconv.ParseInt(f[12], 10, 64)
	s.CPU = time.Duration(ut+st) * 10 * time.Millisecond
	s.CPUSeconds = s.CPU.Seconds()
	if st, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid)); err == nil {
		sc := bufio.NewScanner(strings.NewReader(string(st)))
		for sc.Scan() {
			k, v, _ := strings.Cut(sc.Text(), ":")
			v = strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB"))
			switch k {
			case "VmRSS":
				s.RSSKB, _ = strconv.ParseInt(v, 10, 64)
			case "Threads":
				s.Threads, _ = strconv.Atoi(v)
			}
		}
	}
	if ents, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid)); err == nil {
		s.FDs = len(ents)
	}
	if la, err := os.ReadFile("/proc/loadavg"); err == nil {
		s.LoadAvg = strings.Join(strings.Fields(string(la))[:3], " ")
	}
	if metricsURL != "" {
		m, err := scrape(metricsURL)
		if err == nil {
			s.Goroutines = int(m["go_goroutines"])
			s.HeapInuse = int64(m["go_memstats_heap_inuse_bytes"])
			s.CallsUp = int(m["callbridge_calls_active"])
		}
	}
	return s, nil
}

// scrape reads the unlabelled series and the labelled ones (name{labels})
// of a Prometheus text page.
func scrape(url string) (map[string]float64, error) {
	c := http.Client{Timeout: 20 * time.Second} // a loaded bridge answers slowly
	res, err := c.Get(url)
	if err != nil {
		return nil, err
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("%s: HTTP %d", url, res.StatusCode)
	}
	body, err := io.ReadAll(io.LimitReader(res.Body, 4<<20))
	if err != nil {
		return nil, err
	}
	out := map[string]float64{}
	for _, line := range strings.Split(string(body), "\n") {
		if line == "" || line[0] == '#' {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		if i < 0 {
			continue
		}
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if err != nil {
			continue
		}
		out[line[:i]] = v
	}
	return out, nil
}

// udpErrors reads the machine's UDP receive-buffer and in errors
// (/proc/net/snmp): datagrams the kernel dropped because a socket's queue
// was full, whichever process owned it.
func udpErrors() (rcvbuf, inErrs int64) {
	b, err := os.ReadFile("/proc/net/snmp")
	if err != nil {
		return 0, 0
	}
	var head []string
	for _, line := range strings.Split(string(b), "\n") {
		if !strings.HasPrefix(line, "Udp: ") {
			continue
		}
		f := strings.Fields(line)
		if head == nil {
			head = f
			continue
		}
		for i := 1; i < len(f) && i < len(head); i++ {
			v, _ := strconv.ParseInt(f[i], 10, 64)
			switch head[i] {
			case "RcvbufErrors":
				rcvbuf = v
			case "InErrors":
				inErrs = v
			}
		}
		break
	}
	return rcvbuf, inErrs
}
