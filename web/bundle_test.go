package web

import (
	"bytes"
	"os"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/callbridge/callbridge/web/internal/widgetbundle"
)

// The served /softphone.js is the bundle of the modules in softphone/src:
// re-bundling them gives the committed file byte for byte.
func TestSoftphoneBundleIsFresh(t *testing.T) {
	want, err := widgetbundle.Bundle("softphone")
	require.NoError(t, err)
	got, err := os.ReadFile("softphone/softphone.js")
	require.NoError(t, err)
	if !bytes.Equal(got, want) {
		t.Fatal("web/softphone/softphone.js is stale: run `go generate ./web` and commit it")
	}
}

func TestWidgetVersionIsThePackages(t *testing.T) {
	v, err := widgetbundle.Version("softphone")
	require.NoError(t, err)
	assert.Equal(t, v, WidgetVersion())
	b, err := softphoneFS.ReadFile("softphone/softphone.js")
	require.NoError(t, err)
	assert.Contains(t, string(b), `"`+v+`"`, "the bundle carries the package's version")
}
