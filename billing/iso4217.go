package billing

// iso4217Exponents holds every active code of ISO 4217 List One (currencies and funds)
// that has a minor unit, with that unit's exponent. Source: the List One published
// 2024-06-25 (amendment 177, ZWG added), plus the later amendments: XCG added and ANG
// withdrawn (amendment 176, in force 2025-03-31), XAD added (amendment 179), BGN
// withdrawn (Bulgaria joined the euro 2026-01-01) and CUC withdrawn.
//
// The table is ours rather than golang.org/x/text/currency's because that package
// carries CLDR cash digits, not ISO minor units (it says IDR 0, COP 0, IQD 0; ISO says
// 2, 2, 3). Update it from the ISO maintenance agency's List One when an amendment
// lands; currency_test.go pins the exponents that differ most between sources.
var iso4217Exponents = map[string]int8{
	"AED": 2, "AFN": 2, "ALL": 2, "AMD": 2, "AOA": 2, "ARS": 2, "AUD": 2, "AWG": 2,
	"AZN": 2, "BAM": 2, "BBD": 2, "BDT": 2, "BHD": 3, "BIF": 0, "BMD": 2, "BND": 2,
	"BOB": 2, "BOV": 2, "BRL": 2, "BSD": 2, "BTN": 2, "BWP": 2, "BYN": 2, "BZD": 2,
	"CAD": 2, "CDF": 2, "CHE": 2, "CHF": 2, "CHW": 2, "CLF": 4, "CLP": 0, "CNY": 2,
	"COP": 2, "COU": 2, "CRC": 2, "CUP": 2, "CVE": 2, "CZK": 2, "DJF": 0, "DKK": 2,
	"DOP": 2, "DZD": 2, "EGP": 2, "ERN": 2, "ETB": 2, "EUR": 2, "FJD": 2, "FKP": 2,
	"GBP": 2, "GEL": 2, "GHS": 2, "GIP": 2, "GMD": 2, "GNF": 0, "GTQ": 2, "GYD": 2,
	"HKD": 2, "HNL": 2, "HTG": 2, "HUF": 2, "IDR": 2, "ILS": 2, "INR": 2, "IQD": 3,
	"IRR": 2, "ISK": 0, "JMD": 2, "JOD": 3, "JPY": 0, "KES": 2, "KGS": 2, "KHR": 2,
	"KMF": 0, "KPW": 2, "KRW": 0, "KWD": 3, "KYD": 2, "KZT": 2, "LAK": 2, "LBP": 2,
	"LKR": 2, "LRD": 2, "LSL": 2, "LYD": 3, "MAD": 2, "MDL": 2, "MGA": 2, "MKD": 2,
	"MMK": 2, "MNT": 2, "MOP": 2, "MRU": 2, "MUR": 2, "MVR": 2, "MWK": 2, "MXN": 2,
	"MXV": 2, "MYR": 2, "MZN": 2, "NAD": 2, "NGN": 2, "NIO": 2, "NOK": 2, "NPR": 2,
	"NZD": 2, "OMR": 3, "PAB": 2, "PEN": 2, "PGK": 2, "PHP": 2, "PKR": 2, "PLN": 2,
	"PYG": 0, "QAR": 2, "RON": 2, "RSD": 2, "RUB": 2, "RWF": 0, "SAR": 2, "SBD": 2,
	"SCR": 2, "SDG": 2, "SEK": 2, "SGD": 2, "SHP": 2, "SLE": 2, "SOS": 2, "SRD": 2,
	"SSP": 2, "STN": 2, "SVC": 2, "SYP": 2, "SZL": 2, "THB": 2, "TJS": 2, "TMT": 2,
	"TND": 3, "TOP": 2, "TRY": 2, "TTD": 2, "TWD": 2, "TZS": 2, "UAH": 2, "UGX": 0,
	"USD": 2, "USN": 2, "UYI": 0, "UYU": 2, "UYW": 4, "UZS": 2, "VED": 2, "VES": 2,
	"VND": 0, "VUV": 0, "WST": 2, "XAD": 2, "XAF": 0, "XCD": 2, "XCG": 2, "XOF": 0,
	"XPF": 0, "YER": 2, "ZAR": 2, "ZMW": 2, "ZWG": 2,
}

// noMinorUnit lists the active List One codes whose minor unit is "N.A.": precious
// metals, bond-market units, SDR and the testing and no-currency codes. They are valid
// ISO codes but nothing can be charged in them.
var noMinorUnit = map[string]bool{
	"XAG": true, "XAU": true, "XBA": true, "XBB": true, "XBC": true, "XBD": true,
	"XDR": true, "XPD": true, "XPT": true, "XSU": true, "XTS": true, "XUA": true,
	"XXX": true,
}

// withdrawnCurrencies maps codes that were once in List One (List Three, historic) and
// are still seen in the wild to the code that replaced them, so the error can say what
// to use instead.
var withdrawnCurrencies = map[string]string{
	"ANG": "XCG", "ATS": "EUR", "AZM": "AZN", "BEF": "EUR", "BGL": "EUR", "BGN": "EUR",
	"BYB": "BYN", "BYR": "BYN", "CSD": "RSD", "CUC": "CUP", "CYP": "EUR", "DEM": "EUR",
	"EEK": "EUR", "ESP": "EUR", "FIM": "EUR", "FRF": "EUR", "GHC": "GHS", "GRD": "EUR",
	"HRK": "EUR", "IEP": "EUR", "ITL": "EUR", "LTL": "EUR", "LUF": "EUR", "LVL": "EUR",
	"MGF": "MGA", "MRO": "MRU", "MTL": "EUR", "MZM": "MZN", "NLG": "EUR", "PTE": "EUR",
	"ROL": "RON", "RUR": "RUB", "SDD": "SDG", "SIT": "EUR", "SKK": "EUR", "SLL": "SLE",
	"STD": "STN", "TMM": "TMT", "TRL": "TRY", "VEB": "VES", "VEF": "VES", "YUM": "RSD",
	"ZMK": "ZMW", "ZWD": "ZWG", "ZWL": "ZWG", "ZWN": "ZWG", "ZWR": "ZWG",
}
