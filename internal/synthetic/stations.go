package synthetic

// station is one station complex as MTA turnstile files name it: its control
// areas (CA) and remote unit (UNIT), its STATION, LINENAME and DIVISION, a
// relative weight of traffic (peak entries per turnstile-hour), and whether it
// is a business district (busier in the evening than in the morning).
type station struct {
	name, lines, division string
	unit                  string
	cas                   []string
	weight                float64
	business              bool
}

// stations are real NYC subway stations, with the names, lines, divisions and
// booth/remote identifiers of the MTA turnstile files.
var stations = []station{
	{name: "59 ST", lines: "NQR456W", division: "BMT", unit: "R051", cas: []string{"A002", "A003"}, weight: 420, business: true},
	{name: "5 AV/59 ST", lines: "NQRW", division: "BMT", unit: "R079", cas: []string{"A006", "A007"}, weight: 260, business: true},
	{name: "57 ST-7 AV", lines: "NQRW", division: "BMT", unit: "R080", cas: []string{"A010", "A011"}, weight: 300, business: true},
	{name: "TIMES SQ-42 ST", lines: "1237ACENQRSW", division: "IRT", unit: "R033", cas: []string{"R151", "R145"}, weight: 650, business: true},
	{name: "42 ST-PORT AUTH", lines: "ACENQRS1237W", division: "IND", unit: "R011", cas: []string{"N063A", "N062"}, weight: 540, business: true},
	{name: "GRD CNTRL-42 ST", lines: "4567S", division: "IRT", unit: "R046", cas: []string{"R238", "R240"}, weight: 700, business: true},
	{name: "34 ST-HERALD SQ", lines: "BDFMNQRW", division: "BMT", unit: "R022", cas: []string{"A022", "N506"}, weight: 600, business: true},
	{name: "34 ST-PENN STA", lines: "ACE", division: "IND", unit: "R012", cas: []string{"N067", "N068"}, weight: 620, business: true},
	{name: "14 ST-UNION SQ", lines: "LNQR456W", division: "BMT", unit: "R170", cas: []string{"A033", "A034"}, weight: 550, business: false},
	{name: "FULTON ST", lines: "2345ACJZ", division: "IND", unit: "R014", cas: []string{"N095", "N094"}, weight: 480, business: true},
	{name: "47-50 STS ROCK", lines: "BDFM", division: "IND", unit: "R020", cas: []string{"N501", "N500"}, weight: 500, business: true},
	{name: "WALL ST", lines: "23", division: "IRT", unit: "R102", cas: []string{"R111"}, weight: 350, business: true},
	{name: "CANAL ST", lines: "JNQRZ6W", division: "BMT", unit: "R463", cas: []string{"A046", "A047"}, weight: 330, business: false},
	{name: "59 ST COLUMBUS", lines: "ABCD1", division: "IND", unit: "R084", cas: []string{"N051", "N049"}, weight: 400, business: true},
	{name: "86 ST", lines: "456", division: "IRT", unit: "R180", cas: []string{"R248", "R249"}, weight: 420, business: false},
	{name: "125 ST", lines: "456", division: "IRT", unit: "R132", cas: []string{"R258"}, weight: 380, business: false},
	{name: "103 ST", lines: "1", division: "IRT", unit: "R191", cas: []string{"R170"}, weight: 260, business: false},
	{name: "SOUTH FERRY", lines: "1RW", division: "IRT", unit: "R001", cas: []string{"R101"}, weight: 240, business: false},
	{name: "BEDFORD AV", lines: "L", division: "BMT", unit: "R235", cas: []string{"H009"}, weight: 380, business: false},
	{name: "JKSN HT-ROOSVLT", lines: "EFMR7", division: "IND", unit: "R018", cas: []string{"N324", "N325A"}, weight: 500, business: false},
	{name: "FLUSHING-MAIN", lines: "7", division: "IRT", unit: "R055", cas: []string{"R533", "R534"}, weight: 560, business: false},
	{name: "WOODHAVEN BLVD", lines: "MR", division: "IND", unit: "R201", cas: []string{"N329"}, weight: 220, business: false},
	{name: "ATL AV-BARCLAY", lines: "2345BDNQR", division: "IRT", unit: "R057", cas: []string{"R610", "R612"}, weight: 450, business: false},
	{name: "FRANKLIN AV", lines: "2345S", division: "IRT", unit: "R123", cas: []string{"R622"}, weight: 200, business: false},
	{name: "AVENUE H", lines: "BQ", division: "BMT", unit: "R263", cas: []string{"B020"}, weight: 90, business: false},
	{name: "104 ST", lines: "JZ", division: "BMT", unit: "R007", cas: []string{"J034"}, weight: 70, business: false},
	{name: "161/YANKEE STAD", lines: "4BD", division: "IRT", unit: "R204", cas: []string{"R262", "N203"}, weight: 330, business: false},
	{name: "FORDHAM RD", lines: "BD", division: "IND", unit: "R226", cas: []string{"N213"}, weight: 240, business: false},
	{name: "BROADWAY JCT", lines: "ACJLZ", division: "BMT", unit: "R028", cas: []string{"H041"}, weight: 150, business: false},
	{name: "CORTLANDT ST", lines: "RW", division: "BMT", unit: "R043", cas: []string{"A060"}, weight: 200, business: true},
}
