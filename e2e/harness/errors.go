package harness

import "errors"

// Sentinel errors; callers test them with errors.Is.
var (
	// ErrNotWAV means the bytes are not a RIFF/WAVE file.
	ErrNotWAV = errors.New("harness: not a RIFF/WAVE file")
	// ErrWAVFormat means a WAV file is well formed but in an encoding ReadWAV does not decode.
	ErrWAVFormat = errors.New("harness: unsupported WAV encoding")
	// ErrWAVTruncated means a WAV chunk runs past the end of the file.
	ErrWAVTruncated = errors.New("harness: truncated WAV file")
	// ErrProcessExited means a process ended before it became ready.
	ErrProcessExited = errors.New("harness: process exited")
	// ErrNotReady means a process did not become ready in time.
	ErrNotReady = errors.New("harness: process not ready in time")
	// ErrNoModule means no go.mod was found above the working directory.
	ErrNoModule = errors.New("harness: go.mod not found")
)
