package fake

import (
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"time"
)

// DeletionRequest is one profile deletion the fake accepted (POST
// /api/data-privacy-deletion-jobs answered 202), with the one identifier
// it named.
type DeletionRequest struct {
	Time        time.Time
	Email       string
	PhoneNumber string
	ProfileID   string
}

// DeletionRequests returns the deletions accepted so far, in order.
func (s *Server) DeletionRequests() []DeletionRequest {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.deletions)
}

// requestDeletion serves POST /api/data-privacy-deletion-jobs. As Klaviyo
// does, the request names exactly one of email, phone_number or the
// profile id; the answer is 202 without a body, and every profile the
// identifier matches is deleted when the job runs (after
// Options.DeletionDelay), leaving every list. An e-mail or phone number
// no profile has is accepted all the same: the job finds nothing. An id
// that names no profile is a 404, as for any resource named by id.
func (s *Server) requestDeletion(c *call) {
	var body struct {
		Data struct {
			Type       string `json:"type"`
			Attributes struct {
				Profile *struct {
					Data *struct {
						Type       string  `json:"type"`
						ID         *string `json:"id"`
						Attributes *struct {
							Email       *string `json:"email"`
							PhoneNumber *string `json:"phone_number"`
						} `json:"attributes"`
					} `json:"data"`
				} `json:"profile"`
			} `json:"attributes"`
		} `json:"data"`
	}
	if err := json.Unmarshal(c.body, &body); err != nil {
		c.invalid("Invalid JSON in request body: "+err.Error(), pointer("/data"))
		return
	}
	if body.Data.Type != "data-privacy-deletion-job" {
		c.invalid("The type of the resource must be 'data-privacy-deletion-job'.", pointer("/data/type"))
		return
	}
	prof := body.Data.Attributes.Profile
	if prof == nil || prof.Data == nil || prof.Data.Type != "profile" || prof.Data.Attributes == nil {
		c.invalid("'profile' needs data with type 'profile' and attributes.", pointer("/data/attributes/profile/data"))
		return
	}
	d := prof.Data
	var req DeletionRequest
	given := 0
	if d.ID != nil && *d.ID != "" {
		req.ProfileID, given = *d.ID, given+1
	}
	if a := d.Attributes; a.Email != nil && *a.Email != "" {
		req.Email, given = *a.Email, given+1
	}
	if a := d.Attributes; a.PhoneNumber != nil && *a.PhoneNumber != "" {
		req.PhoneNumber, given = *a.PhoneNumber, given+1
	}
	const attrs = "/data/attributes/profile/data/attributes"
	switch {
	case given == 0:
		c.invalid("One of 'email', 'phone_number' or 'id' is required.", pointer(attrs))
		return
	case given > 1:
		c.invalid("Only one of 'email', 'phone_number' or 'id' may be provided.", pointer(attrs))
		return
	case req.Email != "" && !validEmail(req.Email):
		c.invalid("Invalid email address.", pointer(attrs+"/email"))
		return
	case req.PhoneNumber != "" && !e164.MatchString(req.PhoneNumber):
		c.invalid("Invalid phone number format (Example of a valid format: +12345678901).", pointer(attrs+"/phone_number"))
		return
	}
	s.mu.Lock()
	if req.ProfileID != "" && s.profiles[req.ProfileID] == nil {
		s.mu.Unlock()
		c.fail(http.StatusNotFound, apiError{Code: "not_found", Title: "Not found.", Detail: "A profile with id " + req.ProfileID + " does not exist.", Source: pointer("/data/attributes/profile/data/id")})
		return
	}
	req.Time = time.Now()
	s.deletions = append(s.deletions, req)
	ids := identifiers{Email: req.Email, Phone: req.PhoneNumber}
	run := func() { s.deleteProfiles(req.ProfileID, ids) }
	if s.opts.DeletionDelay > 0 {
		s.schedule(s.opts.DeletionDelay, run)
	} else {
		run()
	}
	s.mu.Unlock()
	c.noContent(http.StatusAccepted)
}

// deleteProfiles removes the profile with this id, or every profile the
// identifiers match, from the store and from every list; the caller holds
// s.mu.
func (s *Server) deleteProfiles(id string, ids identifiers) {
	var doomed []string
	for _, pid := range s.order {
		p := s.profiles[pid]
		switch {
		case id != "":
			if pid == id {
				doomed = append(doomed, pid)
			}
		case ids.Email != "" && strings.EqualFold(p.Email, ids.Email),
			ids.Phone != "" && p.Phone == ids.Phone:
			doomed = append(doomed, pid)
		}
	}
	for _, pid := range doomed {
		p := s.profiles[pid]
		if p.Email != "" {
			delete(s.byEmail, strings.ToLower(p.Email))
		}
		if p.Phone != "" {
			delete(s.byPhone, p.Phone)
		}
		if p.ExternalID != "" {
			delete(s.byExternal, p.ExternalID)
		}
		for _, l := range s.lists {
			l.leave(pid)
		}
		delete(s.profiles, pid)
	}
	if len(doomed) > 0 {
		s.order = slices.DeleteFunc(s.order, func(pid string) bool { return s.profiles[pid] == nil })
		s.deleted += len(doomed)
	}
}
