package config

import "errors"

var (
	// ErrInvalid wraps every problem Validate finds.
	ErrInvalid = errors.New("invalid configuration")
	// ErrParse wraps YAML syntax errors and unknown keys in the file.
	ErrParse = errors.New("cannot parse configuration")
	// ErrEnv wraps a BRIDGE_* variable whose value does not fit its key.
	ErrEnv = errors.New("bad environment variable")
)
