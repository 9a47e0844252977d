package brevo

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/sluicehq/sluice/connectors/destination"
)

// Write implements destination.Destination: removals, then list entries,
// then upserts, each with as few requests as Brevo allows (see the package
// documentation). Rejections are per record; an error stops the run.
func (b *Brevo) Write(ctx context.Context, batch *destination.Batch) ([]error, error) {
	cs := make([]*contact, len(batch.Records))
	var upserts, deletes, unsubscribes, adds, removes []*contact
	for i, r := range batch.Records {
		c, err := b.mapping.toContact(i, r)
		cs[i] = c
		if err != nil {
			c.err = err
			continue
		}
		switch r.Op {
		case destination.OpUpsert:
			upserts = append(upserts, c)
		case destination.OpDelete:
			// Withdrawn consent always unsubscribes, whatever on_delete
			// says: erasing a contact is never a side effect of an opt-out.
			if r.Reason == destination.ReasonConsent {
				unsubscribes = append(unsubscribes, c)
			} else {
				deletes = append(deletes, c)
			}
		case destination.OpAdd:
			adds = append(adds, c)
		case destination.OpRemove:
			removes = append(removes, c)
		default:
			c.err = fmt.Errorf("operation %q is not one Brevo understands", r.Op)
		}
	}
	var list int64
	if b.listRef != "" {
		var err error
		if list, err = b.list(ctx, true); err != nil {
			return nil, b.cfg.Errorf("list %q: %w", b.listRef, err)
		}
	} else if len(adds)+len(removes) > 0 {
		return nil, b.cfg.Errorf("sync %s sends list entries and exits: give it a list (the sync's list: or the destination's list option), a Brevo list id or name", batch.Sync)
	}
	steps := []func() error{
		func() error { return b.removeFromList(ctx, removes, list) },
		func() error { return b.deleteContacts(ctx, deletes, list) },
		func() error { return b.unsubscribe(ctx, unsubscribes, list) },
		func() error { return b.addToList(ctx, adds, list) },
		func() error { return b.upsert(ctx, upserts, list, batch.Mode) },
	}
	for _, step := range steps {
		if err := step(); err != nil {
			return nil, err
		}
	}
	errs := make([]error, len(cs))
	for i, c := range cs {
		errs[i] = c.err
	}
	return errs, nil
}

// upsert updates the contacts Brevo has and creates the others (not in
// update mode, where a contact Brevo lacks is left alone).
func (b *Brevo) upsert(ctx context.Context, cs []*contact, list int64, mode string) error {
	if len(cs) == 0 {
		return nil
	}
	var missing []*contact
	if mode != "update" && !b.probe() {
		// Recent batches were all new contacts (a first sync): creating
		// updates a contact that exists, so skip asking.
		missing = cs
	} else {
		var err error
		if missing, err = b.update(ctx, cs, list, 0); err != nil {
			return err
		}
		b.noteProbe(len(cs), len(missing))
	}
	if mode == "update" || !b.createContacts {
		lack, err := b.lacking(ctx, missing)
		if err != nil || mode == "update" {
			return err // update mode: Brevo updates only the contacts it has
		}
		for _, c := range lack {
			c.err = errNoCreate
		}
		return nil
	}
	return b.create(ctx, missing, list)
}

var errNoCreate = errors.New("Brevo has no such contact and create_contacts is false")

// probe tells whether to ask /contacts/batch which contacts exist before
// creating: not while batch after batch were all new (a first sync), when
// the answer is a wasted request; every eighth batch asks anyway, to notice
// when the new contacts run out.
func (b *Brevo) probe() bool {
	return b.allNew.Load() < 2 || b.skipped.Add(1)%8 == 0
}

func (b *Brevo) noteProbe(sent, missing int) {
	if sent > 0 && missing == sent {
		b.allNew.Add(1)
	} else if sent > 0 {
		b.allNew.Store(0)
	}
}

// update sends contacts to POST /contacts/batch, adding them to listAdd
// and taking them out of listRemove (0: neither). It returns the contacts
// Brevo does not have; a contact it refuses gets its error.
func (b *Brevo) update(ctx context.Context, cs []*contact, listAdd, listRemove int64) ([]*contact, error) {
	var send, missing []*contact
	for _, c := range cs {
		if c.err != nil {
			continue
		}
		if !c.identified() {
			missing = append(missing, c) // only creation can know it
			continue
		}
		send = append(send, c)
	}
	more, err := b.updateBatch(ctx, send, listAdd, listRemove)
	return append(missing, more...), err
}

// notFound reads the indexes of "No contact found for indexes 3,4".
var notFound = regexp.MustCompile(`(?i)index(?:es)?\s*[:=]?\s*([0-9][0-9,\s]*)`)

func (b *Brevo) updateBatch(ctx context.Context, cs []*contact, listAdd, listRemove int64) ([]*contact, error) {
	if len(cs) == 0 {
		return nil, nil
	}
	items := make([]map[string]any, len(cs))
	for i, c := range cs {
		items[i] = c.batchItem(listAdd, listRemove)
	}
	var ans batchAnswer
	err := b.call(ctx, http.MethodPost, "/contacts/batch", map[string]any{"contacts": items}, &ans)
	if err == nil {
		return b.updated(ctx, cs, ans, listAdd, listRemove)
	}
	var ae *APIError
	if !errors.As(err, &ae) || ae.fatal() {
		return nil, b.errFatal("updating contacts", err)
	}
	if ae.Status == http.StatusNotFound {
		// All or nothing: the named contacts do not exist, nothing was
		// applied; send the others again.
		if idx, ok := parseIndexes(ae.Message, len(cs)); ok {
			var missing, rest []*contact
			for i, c := range cs {
				if idx[i] {
					missing = append(missing, c)
				} else {
					rest = append(rest, c)
				}
			}
			more, err := b.updateBatch(ctx, rest, listAdd, listRemove)
			return append(missing, more...), err
		}
		if len(cs) == 1 {
			return cs, nil
		}
	}
	if len(cs) == 1 {
		cs[0].err = ae
		return nil, nil
	}
	// Narrow the refusal down to the contacts that cause it.
	return b.updateHalves(ctx, cs, listAdd, listRemove)
}

// updateHalves sends each half of cs again.
func (b *Brevo) updateHalves(ctx context.Context, cs []*contact, listAdd, listRemove int64) ([]*contact, error) {
	half := len(cs) / 2
	m1, err := b.updateBatch(ctx, cs[:half], listAdd, listRemove)
	if err != nil {
		return nil, err
	}
	m2, err := b.updateBatch(ctx, cs[half:], listAdd, listRemove)
	return append(m1, m2...), err
}

// updated reads a 2xx answer (the documented 207, or a 204): the contacts
// it lists as not updated are returned like those a 404 names, to be
// created (creating updates one that exists, and gives Brevo's reason for
// one it refuses). Contacts it does not tell about are sent again, by
// halves when it tells about none (an update applied twice is the same).
func (b *Brevo) updated(ctx context.Context, cs []*contact, ans batchAnswer, listAdd, listRemove int64) ([]*contact, error) {
	var missing, unsure []*contact
	for i, o := range ans.outcomes(cs) {
		switch o {
		case applied:
			cs[i].existed = true
		case notApplied:
			cs[i].notUpdated = true
			missing = append(missing, cs[i])
		default:
			unsure = append(unsure, cs[i])
		}
	}
	var more []*contact
	var err error
	switch {
	case len(unsure) == 0:
	case len(unsure) < len(cs):
		more, err = b.updateBatch(ctx, unsure, listAdd, listRemove)
	default: // several contacts (one always has an outcome)
		more, err = b.updateHalves(ctx, cs, listAdd, listRemove)
	}
	return append(missing, more...), err
}

// errNotApplied is the rejection of a contact that exists but that a 2xx
// answer of /contacts/batch lists as not updated, without a reason.
var errNotApplied = errors.New("Brevo did not apply the change: its /contacts/batch answer lists the contact under failureIds, without a reason")

// lacking keeps, of contacts /contacts/batch did not update, those Brevo
// does not have, for the steps that create nothing (mode update,
// create_contacts false, removals, unsubscribes). A 404 says which are
// unknown; a 2xx answer does not say why, so each contact it lists is
// looked up: one that exists refused the change, and is rejected.
func (b *Brevo) lacking(ctx context.Context, cs []*contact) ([]*contact, error) {
	var out []*contact
	for _, c := range cs {
		if c.err != nil {
			continue
		}
		if !c.notUpdated {
			out = append(out, c)
			continue
		}
		id := c.email
		if id == "" {
			id = c.sms
		}
		err := b.call(ctx, http.MethodGet, contactPath(id), nil, nil)
		var ae *APIError
		switch {
		case err == nil:
			c.err = errNotApplied
		case errors.As(err, &ae) && ae.Status == http.StatusNotFound:
			out = append(out, c)
		case errors.As(err, &ae) && !ae.fatal():
			c.err = ae
		default:
			return nil, b.errFatal("looking up a contact Brevo did not update", err)
		}
	}
	return out, nil
}

func parseIndexes(msg string, n int) (map[int]bool, bool) {
	m := notFound.FindStringSubmatch(msg)
	if m == nil {
		return nil, false
	}
	out := map[int]bool{}
	for _, f := range strings.FieldsFunc(m[1], func(r rune) bool { return r == ',' || r == ' ' }) {
		i, err := strconv.Atoi(f)
		if err != nil || i < 0 || i >= n {
			return nil, false
		}
		out[i] = true
	}
	return out, len(out) > 0
}

// create creates contacts Brevo does not have, into list (0: none): with
// one import when they are many and there is a list, else one request each.
func (b *Brevo) create(ctx context.Context, cs []*contact, list int64) error {
	var todo []*contact
	for _, c := range cs {
		if c.err != nil {
			continue
		}
		if !c.identified() {
			c.err = errors.New("a new Brevo contact needs an email or an SMS number: map email or SMS")
			continue
		}
		todo = append(todo, c)
	}
	if len(todo) == 0 {
		return nil
	}
	if list != 0 && len(todo) >= b.importThreshold {
		left, err := b.importContacts(ctx, todo, list)
		if err != nil {
			return err
		}
		todo = left
	}
	for _, c := range todo {
		if err := b.createOne(ctx, c, list); err != nil {
			return err
		}
	}
	return nil
}

// createOne creates (or, in a race, updates) one contact with POST
// /contacts: Brevo's answer is the contact's own outcome.
func (b *Brevo) createOne(ctx context.Context, c *contact, list int64) error {
	err := b.call(ctx, http.MethodPost, "/contacts", c.createBody(list), nil)
	var ae *APIError
	switch {
	case err == nil:
		c.created = true
	case errors.As(err, &ae) && !ae.fatal():
		c.err = ae
	default:
		return b.errFatal("creating a contact", err)
	}
	return nil
}

// importContacts imports contacts into list and waits until Brevo shows
// them, confirming each with /contacts/batch (which also sets what an
// import cannot: ext_id and the blacklist flags). It returns the contacts
// the import did not create, to be created one by one.
func (b *Brevo) importContacts(ctx context.Context, cs []*contact, list int64) ([]*contact, error) {
	rows := make([]map[string]any, len(cs))
	for i, c := range cs {
		rows[i] = c.importRow()
	}
	body, err := json.Marshal(map[string]any{
		"jsonBody": rows, "listIds": []int64{list},
		"updateExistingContacts": true, "emptyContactsAttributes": false, "disableNotification": true,
	})
	if err != nil {
		return nil, b.cfg.Errorf("encoding an import: %w", err)
	}
	if len(body) > MaxImportBody && len(cs) > 1 {
		half := len(cs) / 2
		l1, err := b.importContacts(ctx, cs[:half], list)
		if err != nil {
			return nil, err
		}
		l2, err := b.importContacts(ctx, cs[half:], list)
		return append(l1, l2...), err
	}
	started := time.Now()
	var proc struct {
		ProcessID int64 `json:"processId"`
	}
	if _, err := b.send(ctx, http.MethodPost, "/contacts/import", body, &proc); err != nil {
		var ae *APIError
		if errors.As(err, &ae) && !ae.fatal() {
			return cs, nil // create them one by one: each gets Brevo's own answer
		}
		return nil, b.errFatal("importing contacts", err)
	}
	b.importMu.Lock()
	wait := b.importWait
	b.importMu.Unlock()
	deadline := started.Add(b.importTimeout)
	pending := cs
	for misses := 1; ; misses++ {
		if err := sleep(ctx, min(wait, time.Until(deadline))); err != nil {
			return nil, err
		}
		missing, err := b.update(ctx, pending, list, 0)
		if err != nil {
			return nil, err
		}
		for _, c := range pending {
			if c.existed {
				c.created = true
			}
		}
		if len(missing) == 0 {
			b.noteImport(misses == 1, time.Since(started))
			return nil, nil
		}
		if time.Now().After(deadline) {
			return nil, b.cfg.Errorf("Brevo's import process %d has not shown %d of its contacts after %s (import_timeout): the run stops, and the next run sends them again", proc.ProcessID, len(missing), b.importTimeout)
		}
		// Still importing, or skipped? Asking /processes spends the
		// hourly quota of Brevo's other endpoints, so only after the
		// contacts have been looked for a few times.
		if misses >= 3 {
			var st struct {
				Status string `json:"status"`
			}
			if err := b.call(ctx, http.MethodGet, fmt.Sprintf("/processes/%d", proc.ProcessID), nil, &st); err != nil {
				return nil, b.errFatal(fmt.Sprintf("following import process %d", proc.ProcessID), err)
			}
			if st.Status == "completed" {
				// One more look: they may have appeared between the two calls.
				again, err := b.update(ctx, missing, list, 0)
				if err != nil {
					return nil, err
				}
				return again, nil
			}
		}
		pending = missing
		wait = min(2*wait, 10*time.Second)
	}
}

// noteImport tunes the first wait for the next import: shorter after an
// import whose contacts were all there at the first look (it may have been
// done long before), else the time this one took.
func (b *Brevo) noteImport(firstLook bool, took time.Duration) {
	b.importMu.Lock()
	defer b.importMu.Unlock()
	if firstLook {
		b.importWait = max(100*time.Millisecond, b.importWait*3/4)
	} else {
		b.importWait = min(took, 10*time.Second)
	}
}

func sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// listAnswer is the answer of a list add or remove call.
type listAnswer struct {
	Contacts struct {
		Success []string `json:"success"`
		Failure []string `json:"failure"`
	} `json:"contacts"`
}

// addToList makes contacts members of list with their attributes.
func (b *Brevo) addToList(ctx context.Context, cs []*contact, list int64) error {
	var byEmail, others, withData []*contact
	for _, c := range cs {
		switch {
		case c.err != nil:
		case c.email == "":
			others = append(others, c)
		default:
			byEmail = append(byEmail, c)
			if c.hasData() {
				withData = append(withData, c)
			}
		}
	}
	// Contacts without an e-mail: attributes and membership in one call.
	missing, err := b.update(ctx, others, list, 0)
	if err != nil {
		return err
	}
	// Attributes first, so that new contacts are created into the list.
	var more []*contact
	if b.probe() {
		if more, err = b.update(ctx, withData, 0, 0); err != nil {
			return err
		}
		b.noteProbe(len(withData), len(more))
	} else {
		more = withData // a first sync: create them (creating updates one that exists)
	}
	missing = append(missing, more...)
	var members []*contact
	for _, c := range byEmail {
		if c.err == nil && (c.existed || !c.hasData()) {
			members = append(members, c)
		}
	}
	failed, err := b.listCall(ctx, "add", members, list)
	if err != nil {
		return err
	}
	// Brevo lists a contact under failure when it is already a member, or
	// does not exist: a contact that took the attribute update exists.
	var unsure []*contact
	for _, c := range failed {
		if !c.existed {
			unsure = append(unsure, c)
		}
	}
	more, err = b.update(ctx, unsure, list, 0)
	if err != nil {
		return err
	}
	missing = append(missing, more...)
	if !b.createContacts {
		lack, err := b.lacking(ctx, missing)
		for _, c := range lack {
			c.err = errNoCreate
		}
		return err
	}
	return b.create(ctx, missing, list)
}

// removeFromList takes contacts out of list; they stay in Brevo.
func (b *Brevo) removeFromList(ctx context.Context, cs []*contact, list int64) error {
	var byEmail, others []*contact
	for _, c := range cs {
		switch {
		case c.err != nil:
		case c.email != "":
			byEmail = append(byEmail, c)
		default:
			others = append(others, c)
		}
	}
	// A contact Brevo does not have is not in the list: nothing to do.
	missing, err := b.update(ctx, others, 0, list)
	if err != nil {
		return err
	}
	if _, err := b.lacking(ctx, missing); err != nil {
		return err
	}
	// Failures mean "already out of the list, or no such contact": the
	// removal holds either way.
	_, err = b.listCall(ctx, "remove", byEmail, list)
	return err
}

// listCall adds contacts to, or removes them from, list by e-mail, 150 a
// call, and returns those Brevo lists under failure.
func (b *Brevo) listCall(ctx context.Context, verb string, cs []*contact, list int64) ([]*contact, error) {
	var failed []*contact
	for start := 0; start < len(cs); start += MaxListCall {
		chunk := cs[start:min(len(cs), start+MaxListCall)]
		emails := make([]string, len(chunk))
		for i, c := range chunk {
			emails[i] = c.email
		}
		var ans listAnswer
		err := b.call(ctx, http.MethodPost, fmt.Sprintf("/contacts/lists/%d/contacts/%s", list, verb), map[string]any{"emails": emails}, &ans)
		var ae *APIError
		switch {
		case err == nil:
		case errors.As(err, &ae) && ae.Status == http.StatusNotFound && ae.Code == "document_not_found" && strings.Contains(strings.ToLower(ae.Message), "list"):
			return nil, b.cfg.Errorf("list %d no longer exists in Brevo", list)
		case errors.As(err, &ae) && !ae.fatal():
			// A refusal of the whole call (an e-mail Brevo finds invalid):
			// find the contacts that cause it.
			if len(chunk) == 1 {
				chunk[0].err = ae
				continue
			}
			half := len(chunk) / 2
			f1, err := b.listCall(ctx, verb, chunk[:half], list)
			if err != nil {
				return nil, err
			}
			f2, err := b.listCall(ctx, verb, chunk[half:], list)
			if err != nil {
				return nil, err
			}
			failed = append(failed, f1...)
			failed = append(failed, f2...)
			continue
		default:
			return nil, b.errFatal(verb+" list members", err)
		}
		fail := make(map[string]bool, len(ans.Contacts.Failure))
		for _, e := range ans.Contacts.Failure {
			fail[strings.ToLower(e)] = true
		}
		for _, c := range chunk {
			if fail[strings.ToLower(c.email)] {
				failed = append(failed, c)
			}
		}
	}
	return failed, nil
}

// deleteContacts applies a record sync's deletes of records that left the
// model as on_delete says.
func (b *Brevo) deleteContacts(ctx context.Context, cs []*contact, list int64) error {
	if len(cs) == 0 {
		return nil
	}
	if b.onDelete == "delete_contact" {
		for _, c := range cs {
			if c.err == nil {
				if err := b.deleteOne(ctx, c); err != nil {
					return err
				}
			}
		}
		return nil
	}
	return b.unsubscribe(ctx, cs, list)
}

// unsubscribe sets the blacklist flags of the sync's channels and takes the
// contacts out of the list, keeping them and their history.
func (b *Brevo) unsubscribe(ctx context.Context, cs []*contact, list int64) error {
	if len(cs) == 0 {
		return nil
	}
	yes := true
	for _, c := range cs {
		c.attrs = nil
		c.emailBL, c.smsBL = nil, nil
		if b.mapping.email {
			c.emailBL = &yes
		}
		if b.mapping.sms {
			c.smsBL = &yes
		}
	}
	// A contact Brevo does not have needs no unsubscribing.
	missing, err := b.update(ctx, cs, 0, list)
	if err != nil {
		return err
	}
	_, err = b.lacking(ctx, missing)
	return err
}

// deleteOne deletes a contact; one already gone counts as deleted.
func (b *Brevo) deleteOne(ctx context.Context, c *contact) error {
	id := c.email
	if id == "" && c.sms != "" {
		// DELETE takes an e-mail or a Brevo id: find the id by SMS.
		var info struct {
			ID int64 `json:"id"`
		}
		err := b.call(ctx, http.MethodGet, contactPath(c.sms), nil, &info)
		var ae *APIError
		switch {
		case err == nil:
			id = strconv.FormatInt(info.ID, 10)
		case errors.As(err, &ae) && ae.Status == http.StatusNotFound:
			return nil
		case errors.As(err, &ae) && !ae.fatal():
			c.err = ae
			return nil
		default:
			return b.errFatal("finding a contact to delete", err)
		}
	}
	if id == "" {
		c.err = errors.New("Brevo deletes a contact by email or SMS: add email (or SMS) to the mapping and to removal_fields")
		return nil
	}
	err := b.call(ctx, http.MethodDelete, contactPath(id), nil, nil)
	var ae *APIError
	switch {
	case err == nil:
	case errors.As(err, &ae) && ae.Status == http.StatusNotFound:
	case errors.As(err, &ae) && !ae.fatal():
		c.err = ae
	default:
		return b.errFatal("deleting a contact", err)
	}
	return nil
}
