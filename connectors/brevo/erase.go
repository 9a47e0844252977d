package brevo

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"

	"github.com/sluicehq/sluice/connectors/destination"
)

// Erasure deletes contacts with DELETE /contacts/{identifier}?identifierType=…,
// one request per person: Brevo has no batch delete. The identifierType
// query parameter is in Brevo's API reference (email_id, phone_id,
// contact_id, ext_id, whatsapp_id, landline_number_id) though not in the
// Swagger file of February 2025, whose DELETE takes an e-mail or a contact
// id only; it is always sent, so that Brevo never guesses what the
// identifier is.

var _ destination.Eraser = (*Brevo)(nil)

// The values of identifierType that name a sync's key.
const (
	IdentifierEmail = "email_id"
	IdentifierPhone = "phone_id"
	IdentifierExtID = "ext_id"
)

// identifierType names the sync's key to DELETE /contacts/{identifier}.
func (k idKind) identifierType() (string, error) {
	switch k {
	case byEmail:
		return IdentifierEmail, nil
	case bySMS:
		return IdentifierPhone, nil
	case byExtID:
		return IdentifierExtID, nil
	}
	return "", fmt.Errorf("key kind %d has no Brevo identifierType", int(k))
}

// identifier is the key as Write sent it: a trimmed e-mail, an E.164
// number, an ext_id verbatim.
func (k idKind) identifier(key string) (string, error) {
	if strings.TrimSpace(key) == "" {
		return "", errors.New("the key is empty: Brevo has no contact under an empty identifier")
	}
	id := key
	switch k {
	case bySMS:
		sms, err := E164(key)
		if err != nil {
			return "", fmt.Errorf("the key is not a number Brevo holds (%w): erase the contact by hand in Brevo if it is there", err)
		}
		id = sms
	case byEmail:
		id = strings.TrimSpace(key)
	}
	return id, nil
}

// Erase implements destination.Eraser: one DELETE per key, as many at once
// as concurrency allows, all paced by the shared client (rate, 429 with
// x-sib-ratelimit-reset, 5xx retries). A contact Brevo does not have is not
// held (nil outcome); a contact Brevo refuses to delete is that key's
// error. Credentials refused, or a failure that outlasts the retries, stop
// the whole call: every key stays pending.
func (b *Brevo) Erase(ctx context.Context, e *destination.Erasure) ([]destination.ErasureOutcome, error) {
	if e == nil || len(e.Keys) == 0 {
		return []destination.ErasureOutcome{}, nil
	}
	typ, err := b.key.identifierType()
	if err != nil {
		return nil, b.cfg.Errorf("erasing for sync %s: %w", e.Sync, err)
	}
	out := make([]destination.ErasureOutcome, len(e.Keys))
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	next := make(chan int)
	var wg sync.WaitGroup
	for range min(max(1, b.limits.Concurrency), len(e.Keys)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				o, err := b.eraseOne(ctx, typ, e.Keys[i])
				if err != nil {
					cancel(err)
					return
				}
				out[i] = o
			}
		}()
	}
feed:
	for i := range e.Keys {
		select {
		case next <- i:
		case <-ctx.Done():
			break feed
		}
	}
	close(next)
	wg.Wait()
	if err := context.Cause(ctx); err != nil {
		if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
			return nil, b.cfg.Errorf("erasing contacts for sync %s: %w", e.Sync, err)
		}
		return nil, err
	}
	return out, nil
}

// eraseOne deletes one contact. The error is for the whole call; a refusal
// of this contact is in the outcome.
func (b *Brevo) eraseOne(ctx context.Context, typ, key string) (destination.ErasureOutcome, error) {
	id, err := b.key.identifier(key)
	if err != nil {
		return destination.ErasureOutcome{Err: err}, nil
	}
	status, body, err := b.exchange(ctx, http.MethodDelete, contactPath(id)+"?identifierType="+typ, nil)
	if err != nil {
		return destination.ErasureOutcome{}, b.cfg.Errorf("erasing a contact: %w", err)
	}
	return b.erasureOutcome(typ, id, status, body)
}

// erasureOutcome reads Brevo's answer to a DELETE. Only 204, or a 2xx
// whose body is not an error, says deleted; only Brevo's own 404
// (document_not_found) says not held: a 404 of another shape (a proxy, a
// wrong base_url) erases nothing and stops the call.
func (b *Brevo) erasureOutcome(typ, id string, status int, body []byte) (destination.ErasureOutcome, error) {
	code, msg, isError := errorBody(body)
	switch {
	case status >= 200 && status <= 299 && !isError:
		return destination.ErasureOutcome{Ref: "brevo: contact deleted (identifierType " + typ + ")"}, nil
	case status >= 200 && status <= 299:
		ae := &APIError{Status: status, Code: code, Message: redactIdentifier(msg, id)}
		return destination.ErasureOutcome{Err: fmt.Errorf("Brevo answered the delete with an error in a success: %w", ae)}, nil
	case status == http.StatusNotFound && code == "document_not_found":
		return destination.ErasureOutcome{Ref: "brevo: no such contact, nothing to delete (identifierType " + typ + ")"}, nil
	}
	ae := apiError(status, body)
	ae.Message = redactIdentifier(ae.Message, id)
	switch {
	case status == http.StatusNotFound:
		return destination.ErasureOutcome{}, b.cfg.Errorf("erasing a contact: Brevo's DELETE /contacts/{identifier} answered a 404 that is not its \"contact not found\" (%v): check base_url", ae)
	case ae.fatal():
		return destination.ErasureOutcome{}, b.errFatal("erasing a contact", ae)
	}
	return destination.ErasureOutcome{Err: fmt.Errorf("Brevo refused to delete the contact: %w", ae)}, nil
}

// redactIdentifier keeps the identifier out of a message of Brevo's that
// quotes it.
func redactIdentifier(msg, id string) string {
	if id == "" {
		return msg
	}
	msg = strings.ReplaceAll(msg, id, "{identifier}")
	return strings.ReplaceAll(msg, strings.ToLower(id), "{identifier}")
}
