package config

// Valid returns a configuration that passes Validate, for the external tests.
func Valid() *Config { return valid() }
