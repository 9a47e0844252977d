// Package demodata generates deterministic, realistic and deliberately messy
// customer sample data as CSV files. It feeds the quickstart example (about
// 2,000 profiles) and the benchmarks (a million profiles and more).
//
// # Determinism and scale
//
// Output depends only on Options: the same Profiles, Seed and Now give
// byte-identical files. Every simulated person draws from its own PCG stream
// derived from (Seed, person index), so a person's data does not depend on the
// others. IDs are sequential counters, so the files for N profiles are a
// prefix (row-wise) of the files for N+k profiles with the same Seed and Now.
// Rows are streamed through large buffers; memory stays proportional to one
// person, not to the data set.
//
// # Files
//
// crm_contacts.csv — one row per CRM record (about 85% of people have one;
// about 4% of people have two):
//
//	contact_id        C000123-style, unique (primary key)
//	email             messy e-mail (see below)
//	phone             messy phone number (see below)
//	first_name        from built-in lists, with accents (Hélène, Jürgen) and
//	last_name         a few values that need CSV quoting (Smith, Jr.; Robert "Bob")
//	country           ISO-2: FR 45%, GB 20%, US 20%, DE 15%
//	email_consent     true / false / blank
//	email_consent_at  RFC 3339 UTC, set when email_consent is set
//	sms_consent       true / false / blank
//	sms_consent_at    RFC 3339 UTC, set when sms_consent is set
//	created_at        RFC 3339 UTC, within the ~3 years before Now
//	updated_at        RFC 3339 UTC, >= created_at
//
// web_events.csv — page-level tracking (about 70% of people are active on the
// web, about 4 events each on average, heavily skewed):
//
//	event_id      E0000001-style, unique (primary key)
//	anonymous_id  anon-<16 hex>; a person uses 1–3 devices over time
//	user_id       the person's contact_id on ~40% of events of CRM people
//	              (logged in; always on login and signup), blank otherwise
//	email         on ~10% of events (newsletter form), messy
//	event_type    page_view (most), product_view, add_to_cart, checkout,
//	              signup, login
//	page          URL path such as /products/sku-123 or /?utm_source=newsletter
//	occurred_at   RFC 3339 UTC, within the 2 years before Now; per person in
//	              time order
//
// orders.csv — about 60% of people ordered, 1–20 orders (geometric-ish, ~3% big
// spenders with many large orders):
//
//	order_id    O0000001-style, unique (primary key)
//	contact_id  set for logged-in orders (~70%), blank for guest checkouts
//	email       messy; guest checkouts carry only e-mail and sometimes phone
//	phone       messy, on about half of the orders
//	amount      decimal with two places, e.g. 49.90
//	currency    EUR (FR, DE), GBP (GB), USD (US)
//	status      completed (~90%), refunded, cancelled
//	ordered_at  RFC 3339 UTC, within the 2 years before Now; ~35% of buyers are
//	            lapsed (nothing in the last 90 days), the rest ordered recently
//
// # Mess
//
// The point of the data is to exercise identity resolution, normalisation and
// survivorship, so the following problems are injected on purpose (rates are
// per value written, approximate):
//
//   - E-mail: ~15% mixed or upper case (Jane.Doe42@Gmail.com), ~3% leading or
//     trailing spaces, ~3% blank, ~1% the junk value test@example.com shared by
//     many unrelated people, ~0.5% the strings "null" or "undefined"; ~3% of
//     guest orders use a second address of the same person.
//   - Phone: national and international formats mixed per occurrence
//     (06 12 34 56 78, +33612345678, 0033612345678, 07123 456789,
//     (415) 234-5678, +1 415-234-5678, 0151 23456789, +49 (0)151 23456789,
//     with dots, dashes or slashes); ~10% blank, ~0.5% junk 0000000000,
//     ~0.5% too short. Valid numbers use mobile ranges libphonenumber accepts
//     (FR 06/07, GB 071–073/079, US real area codes with non-555 exchanges,
//     DE 015x/016x/017x).
//   - CRM duplicates: ~4% of people have a second contact row with another
//     contact_id, an e-mail equal after lower-casing and trimming, possibly
//     different consent (or consent copied with its original timestamp,
//     which may predate the duplicate's created_at) and phone format; its
//     updated_at is usually later
//     (about a quarter of the time earlier), so "most recent wins" needs the
//     timestamps, not the row order.
//   - Names: occasional all-caps last names, trailing spaces, blank first
//     names; countries occasionally lower-case or blank.
//   - Web: anonymous-only visitors (about one extra visitor per ten people)
//     whose anonymous ids never link to anything, and shared junk anonymous
//     ids (00000000-0000-0000-0000-000000000000, undefined, null) from
//     tracking bugs, spread over unrelated people.
//
// Canonical e-mails are unique per person (the local part ends with the
// person's number), so two people never legitimately share an address; only
// the junk values are shared.
package demodata
