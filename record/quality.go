package record

import "math"

// EModelMOS is the ITU-T G.107 E-model for G.711 (Ie = 0): d is the
// one-way delay in ms, ppl the packet loss in percent, bpl the codec's
// loss robustness (25.1 with PLC, 4.3 without; G.113 Appendix I).
func EModelMOS(d, ppl, bpl float64) float64 {
	const roIs = 93.2
	id := 0.024 * d
	if d > 177.3 {
		id += 0.11 * (d - 177.3)
	}
	ie := 0.0
	ieEff := ie + (95-ie)*ppl/(ppl+bpl) // BurstR = 1, G.107 eq. 7-29
	r := roIs - id - ieEff
	var mos float64
	switch {
	case r <= 0:
		mos = 1
	case r >= 100:
		mos = 4.5
	default:
		mos = 1 + 0.035*r + r*(r-60)*(100-r)*7e-6
	}
	return math.Round(mos*100) / 100
}
