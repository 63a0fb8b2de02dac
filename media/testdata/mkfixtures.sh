#!/usr/bin/env bash
# Regenerates the Ogg/Opus fixtures used by media tests and benchmarks.
# Needs Debian's sox and opus-tools. Output is deterministic enough for tests
# (they detect tones with an amplitude window, never compare samples).
#
# Opus encoder ctls passed with --set-ctl-int (opus_defines.h):
#   4008 OPUS_SET_BANDWIDTH: 1101 NB, 1103 WB, 1105 FB
#   4024 OPUS_SET_SIGNAL:    3001 voice, 3002 music
set -euo pipefail
cd "$(dirname "$0")"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# 2 s of a 1 kHz tone at -6 dBFS, 48 kHz mono.
sox -n -r 48000 -b 16 -c 1 "$tmp/tone1k.wav" synth 2 sine 1000 vol 0.5

enc() { # name bitrate bandwidth signal [extra...]
  local name=$1 br=$2 bw=$3 sig=$4; shift 4
  opusenc --quiet --framesize 20 --bitrate "$br" --comp 10 \
    --set-ctl-int 4008="$bw" --set-ctl-int 4024="$sig" "$@" \
    "$tmp/tone1k.wav" "$name"
}
enc tone1k_silknb.opus   12  1101 3001   # SILK narrowband (what browsers send with maxplaybackrate=8000)
enc tone1k_silkwb.opus   20  1103 3001   # SILK wideband
enc tone1k_hybridfb.opus 32  1105 3001   # hybrid SILK+CELT fullband
enc tone1k_celt.opus     64  1105 3002   # CELT only fullband

# 10 s of 440 Hz as SILK-NB for loss concealment tests: long enough for
# loss statistics, and a pitch period that is not a whole number of samples.
sox -n -r 48000 -b 16 -c 1 "$tmp/tone440.wav" synth 10 sine 440 vol 0.5
opusenc --quiet --framesize 20 --bitrate 12 --comp 10 \
  --set-ctl-int 4008=1101 --set-ctl-int 4024=3001 "$tmp/tone440.wav" tone440_silknb_10s.opus

# Resampler quality: 0.3 s steps of one tone each at -6 dBFS, CELT fullband at
# a high bitrate so the codec itself stays out of the measurement. Passband
# tones first, then tones that must not alias into the 8 kHz output.
steps=""
for f in 300 1000 2000 3000 3400 4200 5000 8000 12000 16000 20000; do
  sox -n -r 48000 -b 16 -c 1 "$tmp/s$f.wav" synth 0.3 sine "$f" vol 0.5
  steps="$steps $tmp/s$f.wav"
done
# shellcheck disable=SC2086
sox $steps "$tmp/steps.wav"
opusenc --quiet --framesize 20 --bitrate 128 --comp 10 \
  --set-ctl-int 4008=1105 --set-ctl-int 4024=3002 "$tmp/steps.wav" steps_celt.opus
