package config

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"reflect"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// EnvPrefix starts every environment variable the configuration reads.
const EnvPrefix = "BRIDGE_"

// Load reads the YAML file at path (none if path is empty), applies the
// BRIDGE_* variables of the process environment over it, then fills
// defaults. Unknown keys are errors naming the key and its line. Load does
// not validate; call Validate.
func Load(path string) (*Config, error) {
	c := &Config{}
	presetSwitches(c)
	if path != "" {
		data, err := os.ReadFile(path)
		if err != nil {
			return nil, fmt.Errorf("%w: %w", ErrParse, err)
		}
		if err := decodeYAML(data, c); err != nil {
			return nil, fmt.Errorf("%w %s: %w", ErrParse, path, err)
		}
	}
	if err := ApplyEnv(c, os.Environ()); err != nil {
		return nil, err
	}
	c.SetDefaults()
	return c, nil
}

// Parse is Load for YAML already in memory; it applies no environment.
func Parse(data []byte) (*Config, error) {
	c := &Config{}
	presetSwitches(c)
	if err := decodeYAML(data, c); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrParse, err)
	}
	c.SetDefaults()
	return c, nil
}

// yamlTypeNames turns yaml.v3's Go type names into the file's sections so an
// unknown-key error reads "field colour not found in seats[]".
var yamlTypeNames = strings.NewReplacer(
	"type config.Config", "the top level",
	"type config.HTTP", "http",
	"type config.Auth", "auth",
	"type config.SIP", "sip",
	"type config.WebRTC", "webrtc",
	"type config.ICEServer", "webrtc.ice_servers[]",
	"type config.Seat", "seats[]",
	"type config.Webhook", "webhook",
	"type config.Store", "store",
	"type config.Log", "log",
	"type config.Dialing", "dialing",
	"type config.Limits", "limits",
	"type config.Metrics", "metrics",
	"field ", "unknown key ",
)

func decodeYAML(data []byte, out any) error {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(out); err != nil {
		if errors.Is(err, io.EOF) {
			return nil // empty document
		}
		return errors.New(yamlTypeNames.Replace(err.Error()))
	}
	return nil
}

// EnvVar names the variable that overrides a key given as its YAML path,
// e.g. "webrtc.ice_interfaces" -> "BRIDGE_WEBRTC_ICE_INTERFACES".
func EnvVar(key string) string {
	return EnvPrefix + strings.ToUpper(strings.ReplaceAll(key, ".", "_"))
}

// Keys lists every key of the file as a YAML path ("sip.rtp_ports"), in
// file order. Seats and ICE servers are one key each ("seats",
// "webrtc.ice_servers"): they are lists of objects.
func Keys() []string {
	var keys []string
	walkLeaves(reflect.ValueOf(&Config{}).Elem(), "", func(key string, _ reflect.Value) error {
		keys = append(keys, key)
		return nil
	})
	return keys
}

// ApplyEnv sets every key for which environ (KEY=VALUE strings, as from
// os.Environ) has a non-empty BRIDGE_* variable. Scalars are written as in
// YAML; durations as "60s"; string lists as "a,b,c" or a JSON array; lists
// of objects (BRIDGE_SEATS, BRIDGE_WEBRTC_ICE_SERVERS) and maps
// (BRIDGE_WEBHOOK_HEADERS) as JSON with the file's key names. A variable
// that matches no key is ignored; a value that does not fit is an error.
func ApplyEnv(c *Config, environ []string) error {
	env := make(map[string]string, len(environ))
	for _, kv := range environ {
		if k, v, ok := strings.Cut(kv, "="); ok && strings.HasPrefix(k, EnvPrefix) {
			env[k] = v
		}
	}
	var errs []error
	walkLeaves(reflect.ValueOf(c).Elem(), "", func(key string, v reflect.Value) error {
		name := EnvVar(key)
		raw, ok := env[name]
		if !ok || strings.TrimSpace(raw) == "" {
			return nil
		}
		if err := setFromEnv(v, raw); err != nil {
			errs = append(errs, fmt.Errorf("%w %s (key %s): %w", ErrEnv, name, key, err))
		}
		return nil
	})
	return errors.Join(errs...)
}

var durationType = reflect.TypeOf(time.Duration(0))

// walkLeaves calls fn for every key below v: struct fields recurse, anything
// else (scalars, lists, maps) is a leaf.
func walkLeaves(v reflect.Value, prefix string, fn func(key string, v reflect.Value) error) {
	t := v.Type()
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		tag, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		if tag == "" || tag == "-" {
			continue
		}
		key := tag
		if prefix != "" {
			key = prefix + "." + tag
		}
		fv := v.Field(i)
		if fv.Kind() == reflect.Struct && fv.Type() != durationType {
			walkLeaves(fv, key, fn)
			continue
		}
		_ = fn(key, fv)
	}
}

func setFromEnv(v reflect.Value, raw string) error {
	switch {
	case v.Type() == durationType:
		d, err := time.ParseDuration(strings.TrimSpace(raw))
		if err != nil {
			return fmt.Errorf("want a duration such as 30s or 2m: %w", err)
		}
		v.SetInt(int64(d))
	case v.Kind() == reflect.String:
		v.SetString(raw)
	case v.Kind() == reflect.Bool:
		b, err := strconv.ParseBool(strings.TrimSpace(raw))
		if err != nil {
			return fmt.Errorf("want true or false, got %q", raw)
		}
		v.SetBool(b)
	case v.Kind() == reflect.Int:
		n, err := strconv.Atoi(strings.TrimSpace(raw))
		if err != nil {
			return fmt.Errorf("want an integer, got %q", raw)
		}
		v.SetInt(int64(n))
	case v.Kind() == reflect.Slice && v.Type().Elem().Kind() == reflect.String && !strings.HasPrefix(strings.TrimSpace(raw), "["):
		var list []string
		for _, s := range strings.Split(raw, ",") {
			if s = strings.TrimSpace(s); s != "" {
				list = append(list, s)
			}
		}
		v.Set(reflect.ValueOf(list))
	default:
		// Lists of objects and maps: JSON, decoded with the YAML decoder
		// (JSON is YAML) so the file's key names apply and unknown keys fail.
		if !json.Valid([]byte(raw)) {
			return errors.New("want JSON")
		}
		p := reflect.New(v.Type())
		if err := decodeYAML([]byte(raw), p.Interface()); err != nil {
			return err
		}
		v.Set(p.Elem())
	}
	return nil
}
