package brevo

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/sluicehq/sluice/connectors/destination"
)

// APIError is an answer of Brevo's that is not a success: the HTTP status
// and Brevo's {"code", "message"} body.
type APIError struct {
	Status  int
	Code    string
	Message string
}

func (e *APIError) Error() string {
	msg := e.Message
	if msg == "" {
		msg = "(no message)"
	}
	if e.Code != "" {
		return fmt.Sprintf("HTTP %d %s: %s", e.Status, e.Code, msg)
	}
	return fmt.Sprintf("HTTP %d: %s", e.Status, msg)
}

// fatal reports whether an answer means the destination is not usable
// (credentials refused, or still failing after retries): the run stops.
func (e *APIError) fatal() bool {
	return e.Status == http.StatusUnauthorized || e.Status == http.StatusForbidden || destination.Retryable(e.Status)
}

// errFatal wraps the errors that stop a run with what to do about them.
func (b *Brevo) errFatal(what string, err error) error {
	var ae *APIError
	if errors.As(err, &ae) && (ae.Status == http.StatusUnauthorized || ae.Status == http.StatusForbidden) {
		return b.cfg.Errorf("%s: Brevo refused the API key (%v): check api_key", what, err)
	}
	return b.cfg.Errorf("%s: %w", what, err)
}

// call sends a JSON request to path (under base_url) and decodes a JSON
// answer into out (nil: ignored). A non-2xx answer is an *APIError.
func (b *Brevo) call(ctx context.Context, method, path string, in, out any) error {
	_, err := b.callStatus(ctx, method, path, in, out)
	return err
}

func (b *Brevo) callStatus(ctx context.Context, method, path string, in, out any) (int, error) {
	var body []byte
	if in != nil {
		var err error
		if body, err = json.Marshal(in); err != nil {
			return 0, fmt.Errorf("encoding the request: %w", err)
		}
	}
	return b.send(ctx, method, path, body, out)
}

func (b *Brevo) send(ctx context.Context, method, path string, body []byte, out any) (int, error) {
	status, rb, err := b.exchange(ctx, method, path, body)
	if err != nil {
		return status, err
	}
	if status < 200 || status > 299 {
		return status, apiError(status, rb)
	}
	if out != nil && len(bytes.TrimSpace(rb)) > 0 {
		if err := json.Unmarshal(rb, out); err != nil {
			return status, fmt.Errorf("reading the answer to %s %s: %w (body: %s)", method, redactPath(path), err, destination.Snippet(rb))
		}
	}
	return status, nil
}

// exchange sends a request to path (under base_url) and reads the answer,
// whatever its status: the transport's errors (retries exhausted, context
// done) are the only errors.
func (b *Brevo) exchange(ctx context.Context, method, path string, body []byte) (int, []byte, error) {
	resp, err := b.client.Do(ctx, method, b.base+path, b.header, body)
	if err != nil {
		if resp != nil {
			resp.Body.Close()
		}
		if ctx.Err() != nil {
			return 0, nil, ctx.Err()
		}
		return 0, nil, fmt.Errorf("%s %s: %w", method, redactPath(path), err)
	}
	rb, err := destination.ReadBody(resp, maxAnswer)
	if err != nil {
		return resp.StatusCode, nil, fmt.Errorf("reading the answer to %s %s: %w", method, redactPath(path), err)
	}
	return resp.StatusCode, rb, nil
}

// apiError reads Brevo's {"code", "message"} error body, or keeps a
// snippet of a body of another shape.
func apiError(status int, body []byte) *APIError {
	ae := &APIError{Status: status}
	if code, msg, ok := errorBody(body); ok {
		ae.Code, ae.Message = code, msg
	} else {
		ae.Message = destination.Snippet(body)
	}
	return ae
}

// errorBody reads Brevo's error shape; ok is false for any other body.
func errorBody(body []byte) (code, msg string, ok bool) {
	var eb struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	}
	if json.Unmarshal(body, &eb) != nil || (eb.Code == "" && eb.Message == "") {
		return "", "", false
	}
	return eb.Code, eb.Message, true
}

// contactPath is /contacts/{identifier} for one contact. The identifier is
// escaped as Brevo's reference asks ("Email (urlencoded)"): everything but
// unreserved characters, so the '+' of an E.164 number or of an e-mail's
// tag reaches Brevo as %2B and never as a space.
func contactPath(identifier string) string {
	const hex = "0123456789ABCDEF"
	var sb strings.Builder
	sb.WriteString("/contacts/")
	for i := 0; i < len(identifier); i++ {
		c := identifier[i]
		if 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '.' || c == '_' || c == '~' {
			sb.WriteByte(c)
			continue
		}
		sb.WriteByte('%')
		sb.WriteByte(hex[c>>4])
		sb.WriteByte(hex[c&15])
	}
	return sb.String()
}

// redactPath keeps contact identifiers (e-mails, phone numbers) out of
// messages; a query (identifierType, paging) is kept.
func redactPath(p string) string {
	path, query, hasQuery := strings.Cut(p, "?")
	rest, ok := strings.CutPrefix(path, "/contacts/")
	if !ok || rest == "" || strings.Contains(rest, "/") {
		return p
	}
	switch rest {
	case "batch", "import", "lists", "folders", "attributes", "export":
		return p
	}
	if hasQuery {
		return "/contacts/{identifier}?" + query
	}
	return "/contacts/{identifier}"
}

// listInfo is a Brevo list.
type listInfo struct {
	ID   int64  `json:"id"`
	Name string `json:"name"`
}

// list resolves the sync's list to its id: a number is an id (checked),
// anything else a name looked up among the account's lists. A missing
// named list is created when create is set and create_lists allows it.
func (b *Brevo) list(ctx context.Context, create bool) (int64, error) {
	b.listMu.Lock()
	defer b.listMu.Unlock()
	if b.listID != 0 {
		return b.listID, nil
	}
	if id, err := strconv.ParseInt(b.listRef, 10, 64); err == nil && id > 0 {
		var li listInfo
		if err := b.call(ctx, http.MethodGet, fmt.Sprintf("/contacts/lists/%d", id), nil, &li); err != nil {
			var ae *APIError
			if errors.As(err, &ae) && ae.Status == http.StatusNotFound {
				return 0, fmt.Errorf("Brevo has no list with id %d (write an existing list's id, or its name)", id)
			}
			return 0, err
		}
		b.listID = id
		return id, nil
	}
	id, err := b.findList(ctx, b.listRef)
	if err != nil {
		return 0, err
	}
	if id != 0 {
		b.listID = id
		return id, nil
	}
	if !b.createLists {
		return 0, fmt.Errorf("Brevo has no list named %q: create it, write its id, or set create_lists: true", b.listRef)
	}
	if !create {
		return 0, nil // created by the first run that sends something
	}
	folder := b.folderID
	if folder == 0 {
		var fs struct {
			Folders []struct {
				ID int64 `json:"id"`
			} `json:"folders"`
		}
		if err := b.call(ctx, http.MethodGet, "/contacts/folders?limit=1&offset=0&sort=asc", nil, &fs); err != nil {
			return 0, fmt.Errorf("finding a folder for list %q: %w", b.listRef, err)
		}
		if len(fs.Folders) == 0 {
			return 0, fmt.Errorf("the Brevo account has no folder to create list %q in: create one, or set list_folder_id", b.listRef)
		}
		folder = fs.Folders[0].ID
	}
	var created struct {
		ID int64 `json:"id"`
	}
	if err := b.call(ctx, http.MethodPost, "/contacts/lists", map[string]any{"name": b.listRef, "folderId": folder}, &created); err != nil {
		return 0, fmt.Errorf("creating list %q: %w", b.listRef, err)
	}
	b.cfg.Logger.Info("created a Brevo list", "list", b.listRef, "id", created.ID)
	b.listID = created.ID
	return created.ID, nil
}

// findList pages through the account's lists (50 a page, Brevo's most)
// for one named name; 0 when there is none.
func (b *Brevo) findList(ctx context.Context, name string) (int64, error) {
	var found []int64
	for offset := 0; ; offset += 50 {
		var page struct {
			Lists []listInfo `json:"lists"`
			Count int        `json:"count"`
		}
		q := url.Values{"limit": {"50"}, "offset": {strconv.Itoa(offset)}, "sort": {"asc"}}
		if err := b.call(ctx, http.MethodGet, "/contacts/lists?"+q.Encode(), nil, &page); err != nil {
			return 0, fmt.Errorf("looking up list %q: %w", name, err)
		}
		for _, l := range page.Lists {
			if l.Name == name {
				found = append(found, l.ID)
			}
		}
		if len(page.Lists) < 50 || offset+50 >= page.Count {
			break
		}
	}
	switch len(found) {
	case 0:
		return 0, nil
	case 1:
		return found[0], nil
	}
	return 0, fmt.Errorf("%d Brevo lists are named %q: write the id of the one to use (ids %v)", len(found), name, found)
}
