package demodata

// appendTime appends unix seconds as RFC 3339 UTC (2025-03-04T10:11:12Z).
// It is hand-rolled because it runs for almost every row and avoids building
// time.Time values; a test checks it against time.Format.
func appendTime(dst []byte, sec int64) []byte {
	days := sec / 86400
	sod := sec % 86400
	if sod < 0 {
		sod += 86400
		days--
	}
	// Civil-from-days (Howard Hinnant), proleptic Gregorian calendar.
	z := days + 719468
	era := z
	if era < 0 {
		era -= 146096
	}
	era /= 146097
	doe := z - era*146097
	yoe := (doe - doe/1460 + doe/36524 - doe/146096) / 365
	y := yoe + era*400
	doy := doe - (365*yoe + yoe/4 - yoe/100)
	mp := (5*doy + 2) / 153
	d := doy - (153*mp+2)/5 + 1
	m := mp + 3
	if mp >= 10 {
		m = mp - 9
	}
	if m <= 2 {
		y++
	}
	h, mi, s := sod/3600, sod/60%60, sod%60
	return append(dst,
		byte('0'+y/1000%10), byte('0'+y/100%10), byte('0'+y/10%10), byte('0'+y%10), '-',
		byte('0'+m/10), byte('0'+m%10), '-',
		byte('0'+d/10), byte('0'+d%10), 'T',
		byte('0'+h/10), byte('0'+h%10), ':',
		byte('0'+mi/10), byte('0'+mi%10), ':',
		byte('0'+s/10), byte('0'+s%10), 'Z')
}
