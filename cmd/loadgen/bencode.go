package main

import (
	"bytes"
	"errors"
	"fmt"
	"slices"
	"strconv"
)

// Bencode (the rtpengine ng protocol's encoding): integers, byte strings,
// lists and dictionaries with sorted keys. Only what the ng messages use.

func bencode(buf *bytes.Buffer, v any) error {
	switch x := v.(type) {
	case int:
		fmt.Fprintf(buf, "i%de", x)
	case string:
		fmt.Fprintf(buf, "%d:%s", len(x), x)
	case []string:
		buf.WriteByte('l')
		for _, s := range x {
			_ = bencode(buf, s)
		}
		buf.WriteByte('e')
	case []any:
		buf.WriteByte('l')
		for _, e := range x {
			if err := bencode(buf, e); err != nil {
				return err
			}
		}
		buf.WriteByte('e')
	case map[string]any:
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		buf.WriteByte('d')
		for _, k := range keys {
			_ = bencode(buf, k)
			if err := bencode(buf, x[k]); err != nil {
				return err
			}
		}
		buf.WriteByte('e')
	default:
		return fmt.Errorf("bencode: cannot encode %T", v)
	}
	return nil
}

var errBencode = errors.New("bdecode: malformed input")

const maxBencodeDepth = 32

// bdecode decodes one value: int, string, []any or map[string]any.
func bdecode(b []byte) (any, error) {
	v, rest, err := bdecodeAt(b, 0)
	if err != nil {
		return nil, err
	}
	if len(rest) != 0 {
		return nil, fmt.Errorf("%w: %d trailing bytes", errBencode, len(rest))
	}
	return v, nil
}

func bdecodeAt(b []byte, depth int) (any, []byte, error) {
	if len(b) == 0 {
		return nil, nil, fmt.Errorf("%w: unexpected end", errBencode)
	}
	if depth > maxBencodeDepth {
		return nil, nil, fmt.Errorf("%w: nested too deep", errBencode)
	}
	switch c := b[0]; {
	case c == 'i':
		end := bytes.IndexByte(b, 'e')
		if end < 0 {
			return nil, nil, fmt.Errorf("%w: unterminated integer", errBencode)
		}
		n, err := strconv.Atoi(string(b[1:end]))
		if err != nil {
			return nil, nil, fmt.Errorf("%w: integer: %v", errBencode, err)
		}
		return n, b[end+1:], nil
	case c == 'l':
		var out []any
		b = b[1:]
		for len(b) > 0 && b[0] != 'e' {
			v, rest, err := bdecodeAt(b, depth+1)
			if err != nil {
				return nil, nil, err
			}
			out = append(out, v)
			b = rest
		}
		if len(b) == 0 {
			return nil, nil, fmt.Errorf("%w: unterminated list", errBencode)
		}
		return out, b[1:], nil
	case c == 'd':
		out := map[string]any{}
		b = b[1:]
		for len(b) > 0 && b[0] != 'e' {
			k, rest, err := bdecodeAt(b, depth+1)
			if err != nil {
				return nil, nil, err
			}
			key, ok := k.(string)
			if !ok {
				return nil, nil, fmt.Errorf("%w: dictionary key is not a string", errBencode)
			}
			v, rest, err := bdecodeAt(rest, depth+1)
			if err != nil {
				return nil, nil, err
			}
			out[key] = v
			b = rest
		}
		if len(b) == 0 {
			return nil, nil, fmt.Errorf("%w: unterminated dictionary", errBencode)
		}
		return out, b[1:], nil
	case c >= '0' && c <= '9':
		colon := bytes.IndexByte(b, ':')
		if colon < 0 {
			return nil, nil, fmt.Errorf("%w: string without length", errBencode)
		}
		n, err := strconv.Atoi(string(b[:colon]))
		if err != nil || n < 0 || n > len(b)-colon-1 {
			return nil, nil, fmt.Errorf("%w: string length %q", errBencode, b[:colon])
		}
		return string(b[colon+1 : colon+1+n]), b[colon+1+n:], nil
	default:
		return nil, nil, fmt.Errorf("%w: unexpected byte %q", errBencode, c)
	}
}
