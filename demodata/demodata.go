package demodata

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"
)

// File names written by Generate and expected as keys by WriteTo.
const (
	ContactsFile = "crm_contacts.csv"
	EventsFile   = "web_events.csv"
	OrdersFile   = "orders.csv"
)

// Header rows, exactly as written.
const (
	ContactsHeader = "contact_id,email,phone,first_name,last_name,country,email_consent,email_consent_at,sms_consent,sms_consent_at,created_at,updated_at"
	EventsHeader   = "event_id,anonymous_id,user_id,email,event_type,page,occurred_at"
	OrdersHeader   = "order_id,contact_id,email,phone,amount,currency,status,ordered_at"
)

// DefaultNow is the reference time used when Options.Now is zero. It is fixed
// rather than time.Now() so that output is reproducible.
var DefaultNow = time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)

// ErrInvalidOptions is wrapped by errors caused by bad Options.
var ErrInvalidOptions = errors.New("demodata: invalid options")

// Options controls generation.
type Options struct {
	Profiles int       // number of real people to simulate (>0)
	Seed     uint64    // same seed + same Profiles (+ same Now) => byte-identical output
	Now      time.Time // reference "now"; zero means DefaultNow
}

// Stats reports what was written.
type Stats struct {
	Files map[string]int64 // file name -> data rows written (header excluded)
	Bytes int64            // total bytes written, headers included
}

// Generate writes crm_contacts.csv, web_events.csv and orders.csv into dir,
// creating dir if needed and overwriting existing files.
func Generate(dir string, opt Options) (Stats, error) {
	if err := opt.validate(); err != nil {
		return Stats{}, err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return Stats{}, fmt.Errorf("demodata: create directory %s: %w", dir, err)
	}
	var files []*os.File
	ws := make(map[string]io.Writer, 3)
	for _, name := range fileNames {
		f, err := os.Create(filepath.Join(dir, name))
		if err != nil {
			for _, f := range files {
				_ = f.Close()
			}
			return Stats{}, fmt.Errorf("demodata: create %s: %w", name, err)
		}
		files = append(files, f)
		ws[name] = f
	}
	st, err := WriteTo(ws, opt)
	for _, f := range files {
		if cerr := f.Close(); cerr != nil && err == nil {
			err = fmt.Errorf("demodata: close %s: %w", f.Name(), cerr)
		}
	}
	return st, err
}

var fileNames = [...]string{ContactsFile, EventsFile, OrdersFile}

// WriteTo streams the three files to the writers keyed by file name
// (ContactsFile, EventsFile, OrdersFile); all three must be present. Writers
// receive large chunks, so they need no extra buffering.
func WriteTo(w map[string]io.Writer, opt Options) (Stats, error) {
	if err := opt.validate(); err != nil {
		return Stats{}, err
	}
	for _, name := range fileNames {
		if w[name] == nil {
			return Stats{}, fmt.Errorf("%w: no writer for %s", ErrInvalidOptions, name)
		}
	}
	g := newGenerator(opt,
		newRowWriter(ContactsFile, w[ContactsFile], ContactsHeader),
		newRowWriter(EventsFile, w[EventsFile], EventsHeader),
		newRowWriter(OrdersFile, w[OrdersFile], OrdersHeader),
	)
	outs := [...]*rowWriter{g.contacts, g.events, g.orders}
	var err error
	for i := range opt.Profiles {
		g.person(i)
		// Checking every few thousand people is enough: a failed writer
		// stops writing, so only CPU time is wasted until the check.
		if i&4095 == 0 {
			if err = firstErr(outs[:]); err != nil {
				break
			}
		}
	}
	st := Stats{Files: make(map[string]int64, len(outs))}
	for _, o := range outs {
		o.flush()
		st.Files[o.name] = o.rows
		st.Bytes += o.bytes
	}
	if err == nil {
		err = firstErr(outs[:])
	}
	return st, err
}

func firstErr(outs []*rowWriter) error {
	for _, o := range outs {
		if o.err != nil {
			return o.err
		}
	}
	return nil
}

func (o Options) validate() error {
	if o.Profiles <= 0 {
		return fmt.Errorf("%w: Profiles must be > 0, got %d", ErrInvalidOptions, o.Profiles)
	}
	return nil
}
