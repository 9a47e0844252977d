package demodata

import (
	"math"
	"math/rand/v2"
	"slices"
)

const (
	day   = 86400
	year  = 365 * day
	hexes = "0123456789abcdef"

	// Stream salts: each kind of simulated entity draws from its own PCG
	// stream so adding draws to one never shifts the other.
	saltPerson    = 1
	saltAnonymous = 2
)

// Junk values shared by unrelated people: exactly the kind of placeholder
// that breaks naive identity resolution.
const junkEmail = "test@example.com"

var (
	junkEmailStrings = [...]string{"null", "undefined"}
	junkAnonIDs      = [...]string{"00000000-0000-0000-0000-000000000000", "undefined", "null"}
	junkPhone        = "0000000000"
	altDomains       = [...]string{"proton.me", "icloud.com", "yahoo.com", "hotmail.com", "outlook.com"}
)

// Event types with their weights (per 100 events).
var eventTypes = weighted(
	"page_view", 60,
	"product_view", 20,
	"add_to_cart", 7,
	"checkout", 3,
	"signup", 3,
	"login", 7,
)

var (
	blogSlugs    = [...]string{"summer-lookbook", "care-guide", "gift-ideas", "behind-the-seams", "size-guide", "black-friday"}
	categories   = [...]string{"women", "men", "kids", "shoes", "accessories", "sale", "new-in"}
	searchTerms  = [...]string{"sneakers", "red+dress", "jacket", "gift+card", "linen+shirt", "boots"}
	otherPages   = [...]string{"/", "/", "/", "/about", "/stores", "/account", "/faq", "/cart"}
	utmLandings  = [...]string{"/?utm_source=google&utm_medium=cpc", "/?utm_source=facebook&utm_medium=paid_social", "/?utm_source=newsletter&utm_medium=email"}
	orderStatus  = weighted("completed", 90, "refunded", 6, "cancelled", 4)
	priceEndings = [...]uint64{90, 99, 0, 50, 95}
)

// generator holds the output writers, the ID counters and the scratch state
// of the person being simulated. Scratch slices are reused from person to
// person, which keeps memory flat whatever Profiles is.
type generator struct {
	seed uint64
	now  int64 // unix seconds
	pcg  rand.PCG
	r    *rand.Rand

	contacts, events, orders *rowWriter

	nextContact, nextEvent, nextOrder uint64

	// The current person.
	c           *country
	first, last *name
	email       []byte    // canonical, lower-case, unique per person
	local       []byte    // local part of email, reused for the alternate address
	alt         []byte    // alternate address on some guest orders
	nsn         []byte    // mobile national significant number
	ids         [2]uint64 // contact ids of the person's CRM rows
	created     [2]int64  // created_at of those rows
	nIDs        int
	times       []int64
	anon        [3][]byte
	tmp         []byte
}

func newGenerator(opt Options, contacts, events, orders *rowWriter) *generator {
	now := opt.Now
	if now.IsZero() {
		now = DefaultNow
	}
	g := &generator{
		seed:     opt.Seed,
		now:      now.Unix(),
		contacts: contacts,
		events:   events,
		orders:   orders,
	}
	g.r = rand.New(&g.pcg)
	return g
}

// mix is the SplitMix64 finaliser, a bijection with good avalanche, used to
// derive independent-looking PCG seeds from (Seed, salt, index).
func mix(x uint64) uint64 {
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	x ^= x >> 31
	return x
}

func (g *generator) seedStream(i int, salt uint64) {
	a := mix(g.seed + salt*0x9e3779b97f4a7c15)
	g.pcg.Seed(a, mix(a^uint64(i)))
}

// between returns a uniform time in [a, b] (a when b <= a).
func (g *generator) between(a, b int64) int64 {
	if b <= a {
		return a
	}
	return a + int64(g.r.Float64()*float64(b-a+1))
}

// geom returns the number of failures before the first success of a
// Bernoulli(p) process: a cheap skewed count.
func geom(r *rand.Rand, p float64) int {
	return int(math.Log(1-r.Float64()) / math.Log(1-p))
}

// person simulates one real person and writes all their rows.
func (g *generator) person(i int) {
	g.seedStream(i, saltPerson)
	r := g.r
	g.c = pickCountry(r)
	g.first = &g.c.firsts[r.IntN(len(g.c.firsts))]
	g.last = &g.c.lasts[r.IntN(len(g.c.lasts))]
	g.buildEmail(uint64(i) + 1)
	g.nsn = g.c.mobile(r, g.nsn[:0])

	u := r.Float64()
	hasCRM := u < 0.85
	g.nIDs = 0
	if hasCRM {
		g.writeContacts(u < 0.04)
	}
	if r.Float64() < 0.70 {
		g.writeEvents()
	}
	// Customers with an account buy more often than people without one;
	// overall ~60% of people have ordered.
	pOrder := 0.32
	if hasCRM {
		pOrder = 0.65
	}
	if r.Float64() < pOrder {
		g.writeOrders()
	}
	if r.Float64() < 0.10 {
		g.anonymousVisitor(i)
	}
}

// buildEmail builds the person's canonical address. The trailing number n is
// unique per person and the rest of the local part has no digits, so no two
// people share an address by accident.
func (g *generator) buildEmail(n uint64) {
	r := g.r
	f, l := g.first.fold, g.last.fold
	b := g.local[:0]
	switch r.IntN(10) {
	case 0, 1, 2, 3:
		b = append(append(append(b, f...), '.'), l...)
	case 4, 5:
		b = append(append(b, f...), l...)
	case 6:
		b = append(append(append(b, f[0]), '.'), l...)
	case 7:
		b = append(append(append(b, f...), '_'), l...)
	case 8:
		b = append(append(append(b, l...), '.'), f...)
	default:
		b = append(append(append(b, f...), '.'), l[0])
	}
	b = appendUint(b, n)
	g.local = b
	e := append(g.email[:0], b...)
	e = append(e, '@')
	g.email = append(e, g.c.domains[r.IntN(len(g.c.domains))]...)
}

// Case/whitespace variants of an e-mail, used for CRM duplicates which must
// be equal after lower-casing and trimming.
const (
	varLower = iota
	varTitle
	varUpper
	varTrailing
	varLeading
	varTitleTrailing
	numVariants
)

func appendEmailVariant(dst, email []byte, v int) []byte {
	if v == varLeading {
		dst = append(dst, ' ')
	}
	start := len(dst)
	dst = append(dst, email...)
	switch v {
	case varTitle, varTitleTrailing:
		titleCase(dst[start:])
	case varUpper:
		upperASCII(dst[start:])
	}
	if v == varTrailing || v == varTitleTrailing {
		dst = append(dst, ' ')
	}
	return dst
}

// appendMessyEmail appends one occurrence of email with the mess described in
// the package doc (blank, shared junk, null strings, case, spaces).
func appendMessyEmail(dst []byte, r *rand.Rand, email []byte) []byte {
	u := r.Float64()
	switch {
	case u < 0.03:
		return dst
	case u < 0.04:
		return append(dst, junkEmail...)
	case u < 0.045:
		return append(dst, junkEmailStrings[r.IntN(2)]...)
	}
	sp := r.Float64()
	if sp < 0.01 || (sp >= 0.02 && sp < 0.03) {
		dst = append(dst, ' ')
	}
	start := len(dst)
	dst = append(dst, email...)
	switch c := r.Float64(); {
	case c < 0.12:
		titleCase(dst[start:])
	case c < 0.15:
		upperASCII(dst[start:])
	}
	if sp >= 0.01 && sp < 0.03 {
		dst = append(dst, ' ')
		if sp >= 0.025 {
			dst = append(dst, ' ')
		}
	}
	return dst
}

// titleCase upper-cases the first letter of each dot/underscore-separated
// part of the local part and of the domain, as autocorrecting keyboards and
// people do: jane.doe42@gmail.com -> Jane.Doe42@Gmail.com.
func titleCase(b []byte) {
	up, domain := true, false
	for i, c := range b {
		if up && c >= 'a' && c <= 'z' {
			b[i] = c - 32
		}
		domain = domain || c == '@'
		up = c == '@' || (!domain && (c == '.' || c == '_'))
	}
}

func upperASCII(b []byte) {
	for i, c := range b {
		if c >= 'a' && c <= 'z' {
			b[i] = c - 32
		}
	}
}

// appendMessyPhone appends one occurrence of the person's phone number in a
// random national or international format, or one of the junk values.
func (g *generator) appendMessyPhone(dst []byte) []byte {
	r := g.r
	u := r.Float64()
	switch {
	case u < 0.10:
		return dst
	case u < 0.105:
		return append(dst, junkPhone...)
	case u < 0.11:
		dst = append(dst, g.c.short...)
		return append(dst, g.nsn[:4+r.IntN(2)]...)
	}
	return appendPhone(dst, g.c.formats[r.IntN(len(g.c.formats))], g.nsn)
}

// nameField appends a first or last name with occasional mess.
func (g *generator) appendName(dst []byte, n *name, pUpper float64) []byte {
	u := g.r.Float64()
	switch {
	case u < pUpper:
		return appendField(dst, n.upper)
	case u < pUpper+0.01:
		// Trailing space from a copy-paste.
		g.tmp = append(append(g.tmp[:0], n.display...), ' ')
		return appendField(dst, g.tmp)
	}
	return appendField(dst, n.display)
}

type consent struct {
	set, value bool
	at         int64
}

func (g *generator) drawConsent(pTrue, pFalse float64, from, to int64) consent {
	u := g.r.Float64()
	if u >= pTrue+pFalse {
		return consent{}
	}
	return consent{set: true, value: u < pTrue, at: g.between(from, to)}
}

func appendConsent(dst []byte, c consent) []byte {
	if !c.set {
		return append(dst, ',', ',')
	}
	if c.value {
		dst = append(dst, "true,"...)
	} else {
		dst = append(dst, "false,"...)
	}
	return append(appendTime(dst, c.at), ',')
}

func (g *generator) writeContacts(dup bool) {
	r := g.r
	// Skewed towards recent sign-ups (a growing business).
	created := g.now - 3600 - int64(math.Pow(r.Float64(), 1.5)*float64(3*year))
	updated := created
	if r.Float64() >= 0.25 {
		updated = g.between(created, g.now-60)
	}
	ec := g.drawConsent(0.55, 0.30, created, updated)
	sc := g.drawConsent(0.30, 0.40, created, updated)

	v1 := -1 // -1: the usual mess; otherwise a fixed case/space variant
	if dup {
		switch u := r.Float64(); {
		case u < 0.80:
			v1 = varLower
		case u < 0.92:
			v1 = varTitle
		case u < 0.95:
			v1 = varUpper
		default:
			v1 = varTrailing
		}
	}
	g.contactRow(v1, created, updated, ec, sc)
	if !dup {
		return
	}

	// The duplicate: another record of the same person, usually touched
	// later, sometimes a stale import (earlier updated_at) so that row
	// order alone cannot decide survivorship.
	var created2, updated2 int64
	if r.Float64() < 0.25 && updated > created {
		created2 = g.between(created, updated-1)
		updated2 = g.between(created2, updated-1)
	} else {
		created2 = created + int64(0.8*r.Float64()*float64(g.now-created))
		updated2 = g.between(max(updated, created2)+1, g.now-1)
	}
	if r.Float64() >= 0.5 {
		ec = g.drawConsent(0.55, 0.30, created2, updated2)
		sc = g.drawConsent(0.30, 0.40, created2, updated2)
	}
	v2 := 1 + r.IntN(numVariants-1)
	if v2 == v1 {
		v2 = varLower
	}
	g.contactRow(v2, created2, updated2, ec, sc)
}

func (g *generator) contactRow(variant int, created, updated int64, ec, sc consent) {
	r := g.r
	g.nextContact++
	g.ids[g.nIDs] = g.nextContact
	g.created[g.nIDs] = created
	g.nIDs++

	b := g.contacts.buf
	b = appendID(b, 'C', g.nextContact, 6)
	b = append(b, ',')
	if variant < 0 {
		g.tmp = appendMessyEmail(g.tmp[:0], r, g.email)
	} else {
		g.tmp = appendEmailVariant(g.tmp[:0], g.email, variant)
	}
	b = appendField(b, g.tmp)
	b = append(b, ',')
	b = g.appendMessyPhone(b)
	b = append(b, ',')
	if r.Float64() >= 0.01 {
		b = g.appendName(b, g.first, 0)
	}
	b = append(b, ',')
	pUpper := 0.01
	if g.c.code == "FR" {
		pUpper = 0.05
	}
	b = g.appendName(b, g.last, pUpper)
	b = append(b, ',')
	switch u := r.Float64(); {
	case u < 0.01:
	case u < 0.02:
		b = append(b, g.c.lower...)
	default:
		b = append(b, g.c.code...)
	}
	b = append(b, ',')
	b = appendConsent(b, ec)
	b = appendConsent(b, sc)
	b = appendTime(b, created)
	b = append(b, ',')
	b = appendTime(b, updated)
	g.contacts.buf = b
	g.contacts.endRow()
}

// contactID picks which of the person's CRM records an event or order at
// time t is attributed to (duplicates get a minority share); ok is false
// when no record existed yet at t, as nobody logs into a future account.
func (g *generator) contactID(t int64) (id uint64, ok bool) {
	if g.nIDs == 2 && t >= g.created[1] && g.r.IntN(10) < 3 {
		return g.ids[1], true
	}
	if g.nIDs > 0 && t >= g.created[0] {
		return g.ids[0], true
	}
	return 0, false
}

// activeFrom is where a person's web and order history starts: two years
// back, or for CRM people shortly before their account was created, so most
// of their activity can be logged in.
func (g *generator) activeFrom(lead int64) int64 {
	from := g.now - 2*year
	if g.nIDs > 0 {
		from = max(from, g.created[0]-lead)
	}
	return from
}

func (g *generator) newAnonID(d int) {
	b := append(g.anon[d][:0], "anon-"...)
	x := g.r.Uint64()
	for s := 60; s >= 0; s -= 4 {
		b = append(b, hexes[x>>uint(s)&15])
	}
	g.anon[d] = b
}

// sortedTimes fills g.times with n times: one at last, the rest uniform in
// [from, last], sorted so each person's history reads forwards.
func (g *generator) sortedTimes(n int, from, last int64) {
	g.times = append(g.times[:0], last)
	for range n - 1 {
		g.times = append(g.times, g.between(from, last))
	}
	slices.Sort(g.times)
}

func (g *generator) writeEvents() {
	r := g.r
	n := min(1+geom(r, 0.25), 150)
	nDev := 1
	switch u := r.Float64(); {
	case u < 0.10:
		nDev = 3
	case u < 0.40:
		nDev = 2
	}
	nDev = min(nDev, n)
	for d := range nDev {
		g.newAnonID(d)
	}
	from := g.activeFrom(90 * day)
	g.sortedTimes(n, from, g.between(from, g.now-1))

	for k, t := range g.times {
		// Devices follow each other in time, with some back-and-forth.
		dev := k * nDev / n
		if r.Float64() < 0.2 {
			dev = r.IntN(nDev)
		}
		typ := eventTypes[r.IntN(len(eventTypes))]
		id, hasAccount := g.contactID(t)
		if (typ == "signup" || typ == "login") && !hasAccount {
			typ = "page_view"
		}
		loggedIn := hasAccount && (typ == "login" || typ == "signup" || r.Float64() < 0.62)

		g.nextEvent++
		b := g.events.buf
		b = appendID(b, 'E', g.nextEvent, 7)
		b = append(b, ',')
		if r.Float64() < 0.004 {
			b = append(b, junkAnonIDs[r.IntN(len(junkAnonIDs))]...)
		} else {
			b = append(b, g.anon[dev]...)
		}
		b = append(b, ',')
		if loggedIn {
			b = appendID(b, 'C', id, 6)
		}
		b = append(b, ',')
		withEmail := r.Float64() < 0.10
		if withEmail {
			g.tmp = appendMessyEmail(g.tmp[:0], r, g.email)
			b = appendField(b, g.tmp)
		}
		b = append(b, ',')
		b = append(b, typ...)
		b = append(b, ',')
		b = g.appendPage(b, typ, withEmail)
		b = append(b, ',')
		b = appendTime(b, t)
		g.events.buf = b
		g.events.endRow()
	}
}

func (g *generator) appendPage(b []byte, typ string, newsletter bool) []byte {
	r := g.r
	switch typ {
	case "product_view", "add_to_cart":
		// A few products are far more popular than the rest.
		f := r.Float64()
		b = append(b, "/products/sku-"...)
		return appendUint(b, 1+uint64(f*f*f*999))
	case "checkout":
		return append(b, "/checkout"...)
	case "signup":
		return append(b, "/signup"...)
	case "login":
		return append(b, "/login"...)
	}
	if newsletter {
		return append(b, "/newsletter"...)
	}
	switch u := r.IntN(20); {
	case u < 8:
		return append(b, otherPages[r.IntN(len(otherPages))]...)
	case u < 12:
		return append(append(b, "/category/"...), categories[r.IntN(len(categories))]...)
	case u < 15:
		return append(append(b, "/blog/"...), blogSlugs[r.IntN(len(blogSlugs))]...)
	case u < 17:
		return append(append(b, "/search?q="...), searchTerms[r.IntN(len(searchTerms))]...)
	default:
		return append(b, utmLandings[r.IntN(len(utmLandings))]...)
	}
}

func (g *generator) writeOrders() {
	r := g.r
	big := r.Float64() < 0.03
	var n int
	if big {
		n = 8 + r.IntN(13)
	} else {
		n = min(1+geom(r, 0.45), 20)
	}
	from := g.activeFrom(7 * day)
	var last int64
	if r.Float64() < 0.35 && from < g.now-91*day {
		last = g.between(from, g.now-91*day) // lapsed
	} else {
		last = g.now - g.between(60, 90*day) // recent
	}
	g.sortedTimes(n, from, last)
	// Per-person basket size: log-normal around ~45 in local currency.
	basket := math.Exp(math.Log(45) + 0.6*r.NormFloat64())
	if big {
		basket *= 2.5
	}
	for _, t := range g.times {
		g.nextOrder++
		b := g.orders.buf
		b = appendID(b, 'O', g.nextOrder, 7)
		b = append(b, ',')
		id, hasAccount := g.contactID(t)
		loggedIn := hasAccount && r.Float64() < 0.90
		if loggedIn {
			b = appendID(b, 'C', id, 6)
		}
		b = append(b, ',')
		email := g.email
		if !loggedIn && r.Float64() < 0.03 {
			// Guest checkout with a second address of the same person.
			g.alt = append(append(g.alt[:0], g.local...), '@')
			g.alt = append(g.alt, altDomains[r.IntN(len(altDomains))]...)
			email = g.alt
		}
		g.tmp = appendMessyEmail(g.tmp[:0], r, email)
		b = appendField(b, g.tmp)
		b = append(b, ',')
		pPhone := 0.40
		if loggedIn {
			pPhone = 0.50
		}
		if r.Float64() < pPhone {
			b = g.appendMessyPhone(b)
		}
		b = append(b, ',')
		b = appendAmount(b, g.amount(basket))
		b = append(b, ',')
		b = append(b, g.c.currency...)
		b = append(b, ',')
		b = append(b, orderStatus[r.IntN(len(orderStatus))]...)
		b = append(b, ',')
		b = appendTime(b, t)
		g.orders.buf = b
		g.orders.endRow()
	}
}

// amount draws an order total in cents around the person's basket size, with
// the price endings shops actually use.
func (g *generator) amount(basket float64) uint64 {
	r := g.r
	if r.Float64() < 0.003 {
		return 0 // fully discounted order
	}
	v := basket * math.Exp(0.5*r.NormFloat64())
	cents := uint64(max(v, 5) * 100)
	if r.Float64() < 0.6 {
		cents = cents/100*100 + priceEndings[r.IntN(len(priceEndings))]
	}
	return cents
}

func appendAmount(b []byte, cents uint64) []byte {
	b = appendUint(b, cents/100)
	return append(b, '.', byte('0'+cents/10%10), byte('0'+cents%10))
}

// anonymousVisitor writes a visitor who never signs up, logs in, leaves an
// e-mail or orders: their anonymous id links to nothing.
func (g *generator) anonymousVisitor(i int) {
	g.seedStream(i, saltAnonymous)
	r := g.r
	n := min(1+geom(r, 0.5), 10)
	g.newAnonID(0)
	from := g.now - 2*year
	g.sortedTimes(n, from, g.between(from, g.now-1))
	for _, t := range g.times {
		typ := "page_view"
		if r.IntN(4) == 0 {
			typ = "product_view"
		}
		g.nextEvent++
		b := g.events.buf
		b = appendID(b, 'E', g.nextEvent, 7)
		b = append(b, ',')
		if r.Float64() < 0.004 {
			b = append(b, junkAnonIDs[r.IntN(len(junkAnonIDs))]...)
		} else {
			b = append(b, g.anon[0]...)
		}
		b = append(b, ",,,"...)
		b = append(b, typ...)
		b = append(b, ',')
		b = g.appendPage(b, typ, false)
		b = append(b, ',')
		b = appendTime(b, t)
		g.events.buf = b
		g.events.endRow()
	}
}

func appendUint(b []byte, n uint64) []byte {
	var tmp [20]byte
	i := len(tmp)
	for {
		i--
		tmp[i] = byte('0' + n%10)
		n /= 10
		if n == 0 {
			break
		}
	}
	return append(b, tmp[i:]...)
}
