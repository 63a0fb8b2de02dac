// Package libopusref wraps the libopus decoder (cgo, Debian's libopus-dev)
// as a reference for benchmarks. It is built only with the libopus build
// tag, so the product itself never needs cgo:
//
//	go test -tags libopus -bench . ./media/
package libopusref
