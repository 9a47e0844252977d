package main

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestReadPublicKey(t *testing.T) {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	pkix1, _ := x509.MarshalPKIXPublicKey(&key.PublicKey)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "sluice"},
		NotBefore: time.Now(), NotAfter: time.Now().Add(time.Hour)}
	cert, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	write := func(name, typ string, der []byte) string {
		p := filepath.Join(dir, name)
		data := []byte("not pem")
		if typ != "" {
			data = pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der})
		}
		if err := os.WriteFile(p, data, 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	cases := []struct {
		name, path, err string
	}{
		{"PKIX", write("pkix.pem", "PUBLIC KEY", pkix1), ""},
		{"PKCS1", write("pkcs1.pem", "RSA PUBLIC KEY", x509.MarshalPKCS1PublicKey(&key.PublicKey)), ""},
		{"certificate", write("cert.pem", "CERTIFICATE", cert), ""},
		{"not PEM", write("bad.pem", "", nil), "no PEM block"},
		{"garbage key", write("garbage.pem", "PUBLIC KEY", []byte("xx")), "parsing the key"},
		{"missing", filepath.Join(dir, "none.pem"), "reading"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := readPublicKey(tc.path)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("error %v, want %q", err, tc.err)
				}
				return
			}
			if err != nil || !got.Equal(&key.PublicKey) {
				t.Fatalf("%v, %v", got, err)
			}
		})
	}
}

func TestParseFlags(t *testing.T) {
	cases := []struct {
		name     string
		args     []string
		min, max int
		err      string
	}{
		{"defaults serve the destination's default version", []string{"-client-id", "k"}, 46, 67, ""},
		{"versions knob", []string{"-client-id", "k", "-min-version", "50", "-max-version", "60"}, 50, 60, ""},
		{"max below min", []string{"-client-id", "k", "-min-version", "60", "-max-version", "50"}, 0, 0, "want 1 <= min <= max"},
		{"no client id", nil, 0, 0, "-client-id is required"},
		{"not loopback", []string{"-client-id", "k", "-addr", "0.0.0.0:8791"}, 0, 0, "loopback"},
		{"unknown flag", []string{"-client-id", "k", "-shoe"}, 0, 0, "not defined"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cfg, err := parseFlags(tc.args)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("error %v, want %q", err, tc.err)
				}
				return
			}
			if err != nil || cfg.opts.MinVersion != tc.min || cfg.opts.MaxVersion != tc.max {
				t.Fatalf("versions %d..%d, %v; want %d..%d", cfg.opts.MinVersion, cfg.opts.MaxVersion, err, tc.min, tc.max)
			}
		})
	}
}
