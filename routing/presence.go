package routing

import (
	"github.com/nyaruka/phonenumbers"
)

// Why a caller id was chosen (PickCallerID), for the widget's picker and
// the call record.
const (
	WhyRequested   = "requested"    // the agent picked it
	WhySameArea    = "same_area"    // a DID in the destination's area code
	WhySameCountry = "same_country" // a DID in the destination's country
	WhyDefault     = "default"      // the seat's default: no DID matches
)

// DID is one of a seat's numbers.
type DID struct {
	Number  string `json:"number"`
	Default bool   `json:"default"`
}

// Choice is the caller id picked for a call, and why.
type Choice struct {
	Number string `json:"number"`
	Why    string `json:"why"`
	// Country and Area say what matched (Why same_area / same_country).
	Country string `json:"country,omitempty"`
	Area    string `json:"area,omitempty"`
}

// place is where a number is: its region and, when the plan has
// geographic area codes, its country code + area code.
type place struct {
	region, area string
}

func locate(e164 string) place {
	num, err := phonenumbers.Parse(e164, "")
	if err != nil {
		return place{}
	}
	p := place{region: Region(e164)}
	nsn := phonenumbers.GetNationalSignificantNumber(num)
	n := phonenumbers.GetLengthOfGeographicalAreaCode(num)
	if n == 0 && num.GetCountryCode() == 1 && len(nsn) == 10 {
		// NANP: every number has a three-digit area code, also in the
		// ranges the library's metadata does not list as assigned.
		n = 3
	}
	if n > 0 && n < len(nsn) {
		p.area = nsn[:n]
	}
	return p
}

// PickCallerID chooses a seat's caller id for a destination (local
// presence): among dids (the seat's, in their order), the first in the
// destination's area code, else the first in its country, else the
// default (the one marked Default, or the first). ok is false when the
// seat has no DIDs.
func PickCallerID(dest string, dids []DID) (Choice, bool) {
	if len(dids) == 0 {
		return Choice{}, false
	}
	to := locate(dest)
	var country *Choice
	for _, d := range dids {
		at := locate(d.Number)
		if to.region == "" || at.region != to.region {
			continue
		}
		if to.area != "" && at.area == to.area {
			return Choice{Number: d.Number, Why: WhySameArea, Country: to.region, Area: to.area}, true
		}
		if country == nil {
			country = &Choice{Number: d.Number, Why: WhySameCountry, Country: to.region}
		}
	}
	if country != nil {
		return *country, true
	}
	def := dids[0]
	for _, d := range dids {
		if d.Default {
			def = d
			break
		}
	}
	return Choice{Number: def.Number, Why: WhyDefault}, true
}
